"""Worker versioning on the worker side: how a pool says which version it is, and when it may retire.

``WorkerDeploymentConfig`` is Temporal's (``Worker(deployment_config=...)``); ``VersionOptions`` is what the
replicas send with their polls and completions; ``RetireWatch`` is what Ray adds: a pool whose version no
workflow can reach any more stops polling, finishes what it runs and removes its replicas, freeing their
resources (GPUs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rayflow import workflow
from rayflow.common import VersioningBehavior, WorkerDeploymentVersion

if TYPE_CHECKING:
    from rayflow.client import Client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerDeploymentConfig:
    """A worker that is one version of a worker deployment (Temporal's names).

    Args:
        version: the deployment name and this worker's build id.
        use_worker_versioning: route by the version (default True); False only records it in history.
        default_versioning_behavior: the behavior of workflow types without
            ``@workflow.defn(versioning_behavior=...)``; with versioning on, each workflow type must have one.
    """

    version: WorkerDeploymentVersion
    use_worker_versioning: bool = True
    default_versioning_behavior: VersioningBehavior = VersioningBehavior.UNSPECIFIED


@dataclass(frozen=True)
class VersionOptions:
    """What a replica tells Matching (on polls) and the history shard (on completions) about its version."""

    build_id: str = ""
    use_versioning: bool = False
    deployment_name: str = ""
    default_versioning_behavior: int = 0

    def poller_fields(self) -> dict[str, Any]:
        return {"build_id": self.build_id, "use_versioning": self.use_versioning,
                "deployment_name": self.deployment_name}


def version_options(workflows: Sequence[type], build_id: str | None, use_worker_versioning: bool,
                    deployment_config: WorkerDeploymentConfig | None) -> VersionOptions:
    """Check the Worker's versioning arguments; the options its replicas use."""
    if deployment_config is not None:
        if build_id is not None or use_worker_versioning:
            raise ValueError("Worker: give either deployment_config (worker deployments) or build_id with "
                             "use_worker_versioning (build-id version sets), not both")
        if not isinstance(deployment_config, WorkerDeploymentConfig):
            raise TypeError(f"Worker: deployment_config must be a WorkerDeploymentConfig, got {deployment_config!r}")
        version = deployment_config.version
        default = int(deployment_config.default_versioning_behavior)
        if deployment_config.use_worker_versioning and not default:
            missing = [workflow.get_definition(cls).name for cls in workflows
                       if not workflow.get_definition(cls).versioning_behavior]
            if missing:
                raise ValueError(
                    f"Worker: workflow types {', '.join(missing)} have no versioning behavior; set "
                    f"@workflow.defn(versioning_behavior=VersioningBehavior.PINNED or AUTO_UPGRADE) or "
                    f"WorkerDeploymentConfig(default_versioning_behavior=...)"
                )
        _check_build_id(version.build_id)
        return VersionOptions(version.build_id, deployment_config.use_worker_versioning, version.deployment_name,
                              default)
    if use_worker_versioning and not build_id:
        raise ValueError("Worker: use_worker_versioning=True needs a build_id")
    if build_id is not None:
        _check_build_id(build_id)
    return VersionOptions(build_id or "", use_worker_versioning)


def _check_build_id(build_id: str) -> None:
    if not isinstance(build_id, str) or not build_id:
        raise ValueError(f"Worker: build_id must be a non-empty string, got {build_id!r}")
    if "|" in build_id:
        raise ValueError(f"Worker: a build id cannot contain '|', got {build_id!r}")


class RetireWatch:
    """Watches a pool's version; calls ``retire`` once the version was reachable and no longer is.

    Build-id version sets: reachable while the build id gets new workflows or has open ones on the task queue
    (``get_worker_task_reachability``). Worker deployments: while the version is CURRENT, RAMPING or DRAINING
    (``describe_worker_deployment``). A version that never was reachable (deployed beside the current one,
    not promoted yet) is waited for, not retired.
    """

    def __init__(self, client: Client, task_queue: str, options: VersionOptions, interval_s: float,
                 retire: Callable[[], Awaitable[None]]) -> None:
        self._client = client
        self._task_queue = task_queue
        self._options = options
        self._interval_s = interval_s
        self._retire = retire
        self.was_reachable = False

    async def reachable(self) -> bool:
        from rayflow.client import TaskReachabilityType, WorkerDeploymentVersionStatus

        if self._options.deployment_name:
            description = await self._client.describe_worker_deployment(self._options.deployment_name)
            summary = description.version(self._options.build_id)
            return summary is not None and summary.status in (
                WorkerDeploymentVersionStatus.CURRENT, WorkerDeploymentVersionStatus.RAMPING,
                WorkerDeploymentVersionStatus.DRAINING)
        answer = await self._client.get_worker_task_reachability([self._options.build_id], [self._task_queue])
        found = answer.build_id_reachability[self._options.build_id].task_queue_reachability.get(self._task_queue, [])
        return TaskReachabilityType.NEW_WORKFLOWS in found or TaskReachabilityType.OPEN_WORKFLOWS in found

    async def run(self) -> None:
        while True:
            try:
                reachable = await self.reachable()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                logger.info("worker on %s: could not check whether its version is reachable: %s", self._task_queue,
                            err)
                reachable = True  # never retire on a failed check
            if reachable:
                self.was_reachable = True
            elif self.was_reachable:
                what = (f"{self._options.deployment_name}.{self._options.build_id}" if self._options.deployment_name
                        else f"build id {self._options.build_id!r}")
                logger.warning("worker on task queue %s: %s is no longer reachable by any workflow; retiring the "
                               "pool", self._task_queue, what)
                await self._retire()
                return
            await asyncio.sleep(self._interval_s)
