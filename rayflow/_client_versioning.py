"""Worker versioning on the client: build-id version sets, reachability and worker deployments.

Temporal's names: ``BuildIdOp...`` operations, ``WorkerBuildIdVersionSets``, ``WorkerTaskReachability``; worker
deployments as in Temporal's current design. ``Client`` inherits ``VersioningClient``; ``rayflow.client``
exports the types.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rayflow.common import WorkerDeploymentVersion

__all__ = [
    "BuildIdOp",
    "BuildIdOpAddNewCompatible",
    "BuildIdOpAddNewDefault",
    "BuildIdOpMergeSets",
    "BuildIdOpPromoteBuildIdWithinSet",
    "BuildIdOpPromoteSetByBuildId",
    "BuildIdReachability",
    "BuildIdVersionSet",
    "TaskReachability",
    "TaskReachabilityType",
    "VersionDrainageInfo",
    "VersioningClient",
    "WorkerBuildIdVersionSets",
    "WorkerDeploymentDescription",
    "WorkerDeploymentVersionStatus",
    "WorkerDeploymentVersionSummary",
    "WorkerTaskReachability",
]


# -- build-id version sets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildIdOpAddNewDefault:
    """Add ``build_id`` in a new set that becomes the overall default."""

    build_id: str

    def _to_dict(self) -> dict[str, Any]:
        return {"op": "add_new_default", "build_id": self.build_id}


@dataclass(frozen=True)
class BuildIdOpAddNewCompatible:
    """Add ``build_id`` to the set of ``existing_compatible_build_id``, as that set's new default; with
    ``promote_set`` the set also becomes the overall default."""

    build_id: str
    existing_compatible_build_id: str
    promote_set: bool = False

    def _to_dict(self) -> dict[str, Any]:
        return {"op": "add_new_compatible", "build_id": self.build_id,
                "existing_compatible_build_id": self.existing_compatible_build_id, "promote_set": self.promote_set}


@dataclass(frozen=True)
class BuildIdOpPromoteSetByBuildId:
    """Make the set holding ``build_id`` the overall default."""

    build_id: str

    def _to_dict(self) -> dict[str, Any]:
        return {"op": "promote_set_by_build_id", "build_id": self.build_id}


@dataclass(frozen=True)
class BuildIdOpPromoteBuildIdWithinSet:
    """Make ``build_id`` the default of its set."""

    build_id: str

    def _to_dict(self) -> dict[str, Any]:
        return {"op": "promote_build_id_within_set", "build_id": self.build_id}


@dataclass(frozen=True)
class BuildIdOpMergeSets:
    """Merge the set of ``secondary_build_id`` into the set of ``primary_build_id`` (whose default stays)."""

    primary_build_id: str
    secondary_build_id: str

    def _to_dict(self) -> dict[str, Any]:
        return {"op": "merge_sets", "primary_build_id": self.primary_build_id,
                "secondary_build_id": self.secondary_build_id}


BuildIdOp = (BuildIdOpAddNewDefault | BuildIdOpAddNewCompatible | BuildIdOpPromoteSetByBuildId
             | BuildIdOpPromoteBuildIdWithinSet | BuildIdOpMergeSets)


@dataclass(frozen=True)
class BuildIdVersionSet:
    """Compatible build ids, oldest first: the last one is the set's default."""

    build_ids: Sequence[str]

    def default(self) -> str:
        return self.build_ids[-1]


@dataclass(frozen=True)
class WorkerBuildIdVersionSets:
    """A task queue's version sets, oldest first: the last one is the overall default."""

    version_sets: Sequence[BuildIdVersionSet]

    def default_set(self) -> BuildIdVersionSet | None:
        return self.version_sets[-1] if self.version_sets else None

    def default_build_id(self) -> str | None:
        default = self.default_set()
        return default.default() if default is not None else None

    @staticmethod
    def _from_dict(data: Mapping[str, Any]) -> WorkerBuildIdVersionSets:
        return WorkerBuildIdVersionSets([BuildIdVersionSet(list(ids)) for ids in data.get("sets", ())])


class TaskReachabilityType(enum.IntEnum):
    """How tasks may reach a build id (Temporal's values)."""

    NEW_WORKFLOWS = 1
    EXISTING_WORKFLOWS = 2
    OPEN_WORKFLOWS = 3
    CLOSED_WORKFLOWS = 4


#: The name the issue tracker and Temporal's API docs use.
TaskReachability = TaskReachabilityType


@dataclass(frozen=True)
class BuildIdReachability:
    task_queue_reachability: Mapping[str, Sequence[TaskReachabilityType]]
    unretrieved_task_queues: Sequence[str] = ()


@dataclass(frozen=True)
class WorkerTaskReachability:
    build_id_reachability: Mapping[str, BuildIdReachability]


# -- worker deployments ----------------------------------------------------------------------------------
class WorkerDeploymentVersionStatus(enum.StrEnum):
    INACTIVE = "INACTIVE"
    CURRENT = "CURRENT"
    RAMPING = "RAMPING"
    DRAINING = "DRAINING"
    DRAINED = "DRAINED"


@dataclass(frozen=True)
class VersionDrainageInfo:
    """Whether open workflows are still pinned to a version no longer current or ramping."""

    status: WorkerDeploymentVersionStatus
    last_changed_time: datetime | None
    last_checked_time: datetime | None


@dataclass(frozen=True)
class WorkerDeploymentVersionSummary:
    version: WorkerDeploymentVersion
    status: WorkerDeploymentVersionStatus
    create_time: datetime | None
    task_queues: Sequence[tuple[str, str]]  # (task queue, "workflow" | "activity")
    drainage_info: VersionDrainageInfo | None = None


@dataclass(frozen=True)
class WorkerDeploymentDescription:
    name: str
    create_time: datetime | None
    version_summaries: Sequence[WorkerDeploymentVersionSummary]
    current_version: WorkerDeploymentVersion | None
    ramping_version: WorkerDeploymentVersion | None
    ramping_percentage: float
    routing_changed_time: datetime | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def version(self, build_id: str) -> WorkerDeploymentVersionSummary | None:
        return next((v for v in self.version_summaries if v.version.build_id == build_id), None)

    @staticmethod
    def _from_dict(data: Mapping[str, Any]) -> WorkerDeploymentDescription:
        name = data["name"]
        summaries = []
        for build_id, version in sorted(data.get("versions", {}).items(), key=lambda kv: kv[1]["create_time"]):
            status = _status(data, build_id, version)
            drainage = None
            if status in (WorkerDeploymentVersionStatus.DRAINING, WorkerDeploymentVersionStatus.DRAINED):
                drainage = VersionDrainageInfo(status, _time(version.get("drainage_changed_time")),
                                               _time(version.get("drainage_checked_time")))
            queues = [(q, "workflow" if int(t) == 1 else "activity") for q, t in version.get("task_queues", ())]
            summaries.append(WorkerDeploymentVersionSummary(WorkerDeploymentVersion(name, build_id), status,
                                                            _time(version.get("create_time")), queues, drainage))
        current, ramping = data.get("current_build_id"), data.get("ramping_build_id")
        return WorkerDeploymentDescription(
            name=name,
            create_time=_time(data.get("create_time")),
            version_summaries=summaries,
            current_version=WorkerDeploymentVersion(name, current) if current else None,
            ramping_version=WorkerDeploymentVersion(name, ramping) if ramping else None,
            ramping_percentage=float(data.get("ramping_percentage") or 0.0),
            routing_changed_time=_time(data.get("routing_changed_time")),
            raw=dict(data),
        )


def _status(data: Mapping[str, Any], build_id: str, version: Mapping[str, Any]) -> WorkerDeploymentVersionStatus:
    if build_id == data.get("current_build_id"):
        return WorkerDeploymentVersionStatus.CURRENT
    if build_id == data.get("ramping_build_id"):
        return WorkerDeploymentVersionStatus.RAMPING
    if not version.get("first_activation_time"):
        return WorkerDeploymentVersionStatus.INACTIVE
    return WorkerDeploymentVersionStatus(version.get("drainage") or "DRAINING")


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


class VersioningClient:
    """The worker-versioning calls of ``Client`` (it provides ``_service`` and ``namespace``)."""

    _service: Any
    namespace: str

    async def _versioning(self, call: str, **args: Any) -> Any:
        return await self._service.versioning(self.namespace, call, args)

    async def update_worker_build_id_compatibility(self, task_queue: str, operation: BuildIdOp) -> None:
        """Change a task queue's version sets (Temporal's UpdateWorkerBuildIdCompatibility).

        Raises:
            VersioningError: the operation names an unknown build id, adds one twice, or passes a limit
                (100 build ids, 10 sets, 255 characters by default); nothing was changed.
        """
        if not hasattr(operation, "_to_dict"):
            raise TypeError(f"update_worker_build_id_compatibility: operation must be a BuildIdOp..., got "
                            f"{operation!r}")
        await self._versioning("update_build_id_compatibility", task_queue=task_queue,
                               operation=operation._to_dict())

    async def get_worker_build_id_compatibility(self, task_queue: str, max_sets: int | None = None
                                                ) -> WorkerBuildIdVersionSets:
        """A task queue's version sets (the newest ``max_sets`` when given)."""
        sets = WorkerBuildIdVersionSets._from_dict(
            await self._versioning("get_build_id_compatibility", task_queue=task_queue))
        if max_sets:
            sets = WorkerBuildIdVersionSets(list(sets.version_sets)[-max_sets:])
        return sets

    async def get_worker_task_reachability(
        self, build_ids: Sequence[str], task_queues: Sequence[str] = (),
        reachability_type: TaskReachabilityType | None = None,
    ) -> WorkerTaskReachability:
        """Whether tasks may still reach these build ids on these task queues (see
        ``rayflow.service.versioning``: NEW_WORKFLOWS for the default set, OPEN/CLOSED/EXISTING_WORKFLOWS by the
        workflows whose last workflow task ran in the build id's set; nothing for a build id that is not its
        set's default)."""
        raw = await self._versioning("get_task_reachability", build_ids=list(build_ids), task_queues=list(task_queues),
                                     reachability_type=int(reachability_type or 0))
        return WorkerTaskReachability({
            build_id: BuildIdReachability({q: [TaskReachabilityType(v) for v in values] for q, values in queues.items()})
            for build_id, queues in raw.items()
        })

    async def set_worker_deployment_current_version(self, deployment_name: str, build_id: str | None
                                                    ) -> WorkerDeploymentVersion | None:
        """Make a version current (None: unversioned workers); returns the previous current version.

        Raises:
            VersioningError: no worker of that version has polled yet, or no such deployment.
        """
        answer = await self._versioning("set_current_version", deployment_name=deployment_name,
                                        build_id=build_id or "")
        previous = answer.get("previous_build_id")
        return WorkerDeploymentVersion(deployment_name, previous) if previous else None

    async def set_worker_deployment_ramping_version(self, deployment_name: str, build_id: str | None,
                                                    percentage: float) -> None:
        """Send ``percentage`` (0-100) of new and auto-upgrade workflows, chosen by a stable hash of their id,
        to this version instead of the current one (None or 0 %: stop ramping)."""
        await self._versioning("set_ramping_version", deployment_name=deployment_name, build_id=build_id or "",
                               percentage=float(percentage))

    async def describe_worker_deployment(self, deployment_name: str) -> WorkerDeploymentDescription:
        """The deployment's versions with their status, and drainage checked now."""
        return WorkerDeploymentDescription._from_dict(
            await self._versioning("describe_deployment", deployment_name=deployment_name))

    async def list_worker_deployments(self) -> list[WorkerDeploymentDescription]:
        """Every worker deployment of the namespace (drainage as last checked)."""
        return [WorkerDeploymentDescription._from_dict(d) for d in await self._versioning("list_deployments")]
