"""Worker deployments (Temporal's current worker-versioning design; internal, no I/O).

A deployment is a name; its versions are build ids that workers of ``WorkerDeploymentConfig(version=...)``
polled with (a version is registered, with the task queues it polls, when its first poll arrives). At most
one version is current (new and auto-upgrade workflows run there; none: unversioned workers) and at most one
other is ramping: that share of workflows, chosen by a stable hash of the workflow id, runs there instead.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from rayflow.exceptions import VersioningError

INACTIVE, CURRENT, RAMPING, DRAINING, DRAINED = "INACTIVE", "CURRENT", "RAMPING", "DRAINING", "DRAINED"


def ramp_position(workflow_id: str) -> float:
    """Where a workflow falls in [0, 100): it goes to the ramping version when below the percentage."""
    digest = hashlib.sha256(workflow_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


@dataclass(frozen=True)
class VersionInfo:
    build_id: str
    create_time: float
    task_queues: tuple[tuple[str, int], ...] = ()  # (task queue, task queue type) its workers polled
    first_activation_time: float = 0.0  # first time it became current or ramping
    last_deactivation_time: float = 0.0  # last time it stopped being current or ramping
    drainage: str = ""  # DRAINING or DRAINED once deactivated (refreshed by the service)
    drainage_changed_time: float = 0.0
    drainage_checked_time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["task_queues"] = [list(q) for q in self.task_queues]
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VersionInfo:
        data = dict(data)
        data["task_queues"] = tuple((str(q), int(t)) for q, t in data.get("task_queues", ()))
        return VersionInfo(**data)


@dataclass(frozen=True)
class Deployment:
    name: str
    create_time: float = 0.0
    versions: dict[str, VersionInfo] = field(default_factory=dict)
    current_build_id: str = ""  # "": unversioned workers are current
    ramping_build_id: str = ""
    ramping_percentage: float = 0.0
    routing_changed_time: float = 0.0
    revision: int = 0

    # -- reading -------------------------------------------------------------------------------
    def status(self, build_id: str) -> str:
        if build_id == self.current_build_id:
            return CURRENT
        if build_id == self.ramping_build_id:
            return RAMPING
        info = self.versions.get(build_id)
        if info is None or not info.first_activation_time:
            return INACTIVE
        return info.drainage or DRAINING

    def target_build_id(self, workflow_id: str) -> str:
        """The build id a new or auto-upgrade workflow's task goes to ("" = unversioned workers)."""
        if self.ramping_build_id and ramp_position(workflow_id) < self.ramping_percentage:
            return self.ramping_build_id
        return self.current_build_id

    # -- changes (each returns a new Deployment, or raises VersioningError and changes nothing) ----
    def register(self, build_id: str, task_queue: str, task_queue_type: int) -> Deployment:
        now = time.time()
        info = self.versions.get(build_id) or VersionInfo(build_id, now)
        queue = (task_queue, int(task_queue_type))
        if queue in info.task_queues and build_id in self.versions:
            return self
        versions = dict(self.versions)
        versions[build_id] = replace(info, task_queues=tuple(sorted({*info.task_queues, queue})))
        return replace(self, versions=versions, create_time=self.create_time or now, revision=self.revision + 1)

    def set_current(self, build_id: str) -> Deployment:
        if build_id and build_id not in self.versions:
            raise self._unknown(build_id)
        if build_id == self.current_build_id:
            return self
        now = time.time()
        versions = self._activated(dict(self.versions), build_id, now)
        versions = self._deactivated(versions, self.current_build_id, now)
        ramping, percentage = self.ramping_build_id, self.ramping_percentage
        if ramping == build_id:  # the ramping version became current: the ramp is over
            ramping, percentage = "", 0.0
        return replace(self, versions=versions, current_build_id=build_id, ramping_build_id=ramping,
                       ramping_percentage=percentage, routing_changed_time=now, revision=self.revision + 1)

    def set_ramping(self, build_id: str, percentage: float) -> Deployment:
        if build_id and build_id not in self.versions:
            raise self._unknown(build_id)
        if not 0.0 <= float(percentage) <= 100.0:
            raise VersioningError(f"ramping percentage must be between 0 and 100, got {percentage!r}")
        if build_id and build_id == self.current_build_id:
            raise VersioningError(
                f"version {self.name}.{build_id} is the current version; ramp another version, or none"
            )
        now = time.time()
        versions = dict(self.versions)
        if build_id != self.ramping_build_id:
            versions = self._deactivated(versions, self.ramping_build_id, now)
            versions = self._activated(versions, build_id, now)
        return replace(self, versions=versions, ramping_build_id=build_id,
                       ramping_percentage=float(percentage) if build_id else 0.0, routing_changed_time=now,
                       revision=self.revision + 1)

    def with_drainage(self, build_id: str, drainage: str) -> Deployment:
        info = self.versions.get(build_id)
        if info is None:
            return self
        now = time.time()
        changed = info.drainage_changed_time if info.drainage == drainage else now
        versions = dict(self.versions)
        versions[build_id] = replace(info, drainage=drainage, drainage_changed_time=changed,
                                     drainage_checked_time=now)
        return replace(self, versions=versions, revision=self.revision + 1)

    @staticmethod
    def _activated(versions: dict[str, VersionInfo], build_id: str, now: float) -> dict[str, VersionInfo]:
        info = versions.get(build_id)
        if info is not None:
            versions[build_id] = replace(info, first_activation_time=info.first_activation_time or now,
                                         drainage="", drainage_changed_time=0.0)
        return versions

    @staticmethod
    def _deactivated(versions: dict[str, VersionInfo], build_id: str, now: float) -> dict[str, VersionInfo]:
        info = versions.get(build_id)
        if info is not None:
            versions[build_id] = replace(info, last_deactivation_time=now, drainage=DRAINING,
                                         drainage_changed_time=now)
        return versions

    def _unknown(self, build_id: str) -> VersioningError:
        known = ", ".join(repr(b) for b in sorted(self.versions)) or "none yet"
        return VersioningError(
            f"worker deployment {self.name!r} has no version {build_id!r} (versions: {known}); a version exists "
            f"once a worker with WorkerDeploymentConfig(version=WorkerDeploymentVersion({self.name!r}, "
            f"{build_id!r})) has polled"
        )

    # -- wire ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "create_time": self.create_time,
                "versions": {b: v.to_dict() for b, v in self.versions.items()},
                "current_build_id": self.current_build_id, "ramping_build_id": self.ramping_build_id,
                "ramping_percentage": self.ramping_percentage, "routing_changed_time": self.routing_changed_time,
                "revision": self.revision}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Deployment:
        data = dict(data)
        data["versions"] = {b: VersionInfo.from_dict(v) for b, v in data.get("versions", {}).items()}
        return Deployment(**data)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @staticmethod
    def from_bytes(name: str, data: bytes | None) -> Deployment:
        return Deployment.from_dict(json.loads(data)) if data else Deployment(name)
