"""Namespace settings (retention), run by history shard 0 for the whole cluster (internal; see
``rayflow.service.namespaces``), and the note every shard gets when one changed."""

from __future__ import annotations

from typing import Any

from rayflow.service import namespaces
from rayflow.service.history.context import ShardContext


async def namespace_operation(ctx: ShardContext, operation: str, namespace: str, args: dict[str, Any]
                              ) -> dict[str, Any]:
    result = await namespaces.run(ctx.store, operation, namespace, args)
    ctx.retention.forget(namespace)
    return result


def setting_changed(ctx: ShardContext, namespace: str) -> None:
    """A namespace's setting changed (``HistoryClient.namespace_operation`` tells every shard): read it again."""
    ctx.retention.forget(namespace)
