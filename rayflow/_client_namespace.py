"""Namespace settings on the client: describe the namespace, and set how long its closed workflows are kept.

Temporal's namespace retention (``WorkflowExecutionRetentionTtl``): a closed workflow's history and its external
payloads are deleted once its close time plus the retention passed (3 days unless set); ``handle.describe()``
shows when (``expire_time``). What an open workflow can still read is never deleted. ``Client`` inherits
``NamespaceClient``; ``rayflow.client`` exports ``NamespaceDescription``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["NamespaceClient", "NamespaceDescription"]


@dataclass(frozen=True)
class NamespaceDescription:
    """What ``client.describe_namespace()`` returns.

    Attributes:
        name: the namespace.
        retention: how long its closed workflows (histories and external payloads) are kept after they close.
        retention_is_default: no retention was set for it (the service's default, 3 days, applies).
    """

    name: str
    retention: timedelta
    retention_is_default: bool = False

    @staticmethod
    def _from_dict(raw: dict[str, Any]) -> NamespaceDescription:
        return NamespaceDescription(name=str(raw["name"]), retention=timedelta(seconds=float(raw["retention_s"])),
                                    retention_is_default=bool(raw.get("retention_is_default")))


class NamespaceClient:
    """The namespace calls of ``Client`` (it provides ``_service`` and ``namespace``)."""

    _service: Any
    namespace: str

    async def describe_namespace(self) -> NamespaceDescription:
        """This client's namespace and its settings."""
        return NamespaceDescription._from_dict(await self._service.namespace_operation(self.namespace, "describe", {}))

    async def update_namespace_retention(self, retention: timedelta) -> NamespaceDescription:
        """Keep this namespace's closed workflows for ``retention`` after they close (Temporal's default: 3 days).

        Applies to every closed run of the namespace, those closed before included: each history shard deletes,
        within ``retention_sweep_interval_s`` (60 s by default), the runs whose close time plus the retention has
        passed. Runs that are open, or that still have work for the service (a parent to notify), are never
        deleted, nor the external payloads another kept run references.

        Raises:
            TypeError / ValueError: ``retention`` is not a ``timedelta`` / is not positive (nothing was changed).
        """
        if not isinstance(retention, timedelta):
            raise TypeError(f"update_namespace_retention: retention must be a timedelta, got {retention!r}")
        if retention <= timedelta(0):
            raise ValueError(f"update_namespace_retention: retention must be above 0, got {retention}")
        raw = await self._service.namespace_operation(self.namespace, "update_retention",
                                                      {"retention_s": retention.total_seconds()})
        return NamespaceDescription._from_dict(raw)
