"""The in-Ray connection of a ``Client``: calls the service actors directly (no frontend in between).

It has the same methods as the gRPC one (``rayflow.service.frontend.remote.GrpcServiceConnection``), so
``Client`` and ``WorkflowHandle`` are written once for both.
"""

from __future__ import annotations

from typing import Any

from rayflow.service.history.client import HistoryClient
from rayflow.service.matching.client import MatchingClient


class RayServiceConnection(HistoryClient):
    """The history client plus the matching calls a client makes."""

    async def describe_task_queue(self, namespace: str, task_queue: str) -> dict[str, Any]:
        return await MatchingClient(self.config).describe_task_queue(namespace, task_queue)

    async def versioning(self, namespace: str, operation: str, args: dict[str, Any]) -> Any:
        """A worker-versioning operation (``rayflow.service.versioning.run``)."""
        from rayflow.service import versioning

        return await versioning.run(operation, namespace, args, self, MatchingClient(self.config))

    async def describe_service(self) -> dict[str, Any]:
        from rayflow.service.bootstrap import describe_service  # lazy: bootstrap imports the actors' modules

        config = self.config
        return {
            "ray_namespace": config.ray_namespace,
            "store": config.store_url.redacted,
            "num_shards": config.num_shards,
            "num_matching": config.num_matching,
            "actors": await describe_service(config),
        }

    async def close(self) -> None:
        """Nothing to close: actor handles need no teardown."""
