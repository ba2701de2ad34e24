"""What the describe and list calls of ``Client`` and ``WorkflowHandle`` return: executions, task queues and the
service (re-exported by ``rayflow.client``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rayflow.common import PendingActivityState, WorkflowExecutionStatus, timestamp_from_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import FailureError
from rayflow.proto.rayflow.v1 import request_response_pb2

__all__ = [
    "PendingActivityInfo",
    "PollerInfo",
    "ServiceActorInfo",
    "ServiceDescription",
    "TaskQueueDescription",
    "TaskQueuePartitionInfo",
    "TaskQueueTypeDescription",
    "WorkflowExecution",
    "WorkflowExecutionDescription",
]


@dataclass(frozen=True)
class PendingActivityInfo:
    """An activity of a running workflow that has not finished (``describe().pending_activities``)."""

    activity_id: str
    activity_type: str
    state: PendingActivityState
    attempt: int
    maximum_attempts: int
    scheduled_time: datetime | None
    last_started_time: datetime | None
    last_heartbeat_time: datetime | None
    heartbeat_details: list[Any]
    last_failure: FailureError | None
    last_worker_identity: str


@dataclass(frozen=True)
class WorkflowExecutionDescription:
    """What ``handle.describe()`` returns."""

    id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: WorkflowExecutionStatus
    start_time: datetime | None
    close_time: datetime | None
    history_length: int
    first_execution_run_id: str
    pending_activities: list[PendingActivityInfo]
    raw: request_response_pb2.DescribeWorkflowExecutionResponse
    #: The parent's workflow id and run id when this run is a child workflow, else None.
    parent_id: str | None = None
    parent_run_id: str | None = None
    #: Worker versioning: the BuildIds entries, the build id its latest workflow task completed on, and for
    #: worker deployments that task's version (``<deployment>.<build id>``) and behavior, and the override.
    build_ids: list[str] = field(default_factory=list)
    assigned_build_id: str = ""
    worker_deployment_version: str = ""
    versioning_behavior: int = 0
    versioning_override: str = ""
    #: When a closed run's history and external payloads are deleted (its close time plus its namespace's
    #: retention, as set now); None while it runs.
    expire_time: datetime | None = None

    @staticmethod
    def _from_proto(response: request_response_pb2.DescribeWorkflowExecutionResponse,
                    converter: DataConverter) -> WorkflowExecutionDescription:
        info = response.workflow_execution_info
        return WorkflowExecutionDescription(
            id=info.execution.workflow_id,
            run_id=info.execution.run_id,
            workflow_type=info.workflow_type,
            task_queue=info.task_queue,
            status=WorkflowExecutionStatus(info.status),
            start_time=timestamp_from_proto(info.start_time),
            close_time=timestamp_from_proto(info.close_time),
            history_length=info.history_length,
            first_execution_run_id=info.first_execution_run_id,
            pending_activities=[
                PendingActivityInfo(
                    activity_id=p.activity_id,
                    activity_type=p.activity_type,
                    state=PendingActivityState(p.state),
                    attempt=p.attempt,
                    maximum_attempts=p.maximum_attempts,
                    scheduled_time=timestamp_from_proto(p.scheduled_time),
                    last_started_time=timestamp_from_proto(p.last_started_time),
                    last_heartbeat_time=timestamp_from_proto(p.last_heartbeat_time),
                    heartbeat_details=converter.from_payloads(p.heartbeat_details),
                    last_failure=converter.from_failure(p.last_failure) if p.HasField("last_failure") else None,
                    last_worker_identity=p.last_worker_identity,
                )
                for p in response.pending_activities
            ],
            raw=response,
            parent_id=info.parent_workflow_id or None,
            parent_run_id=info.parent_run_id or None,
            build_ids=list(info.build_ids),
            assigned_build_id=info.assigned_build_id,
            worker_deployment_version=info.worker_deployment_version,
            versioning_behavior=info.versioning_behavior,
            versioning_override=info.versioning_override,
            expire_time=timestamp_from_proto(info.expire_time),
        )


@dataclass(frozen=True)
class WorkflowExecution:
    """One execution as ``client.list_workflows()`` yields it (Temporal's ``WorkflowExecution``)."""

    id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: WorkflowExecutionStatus
    start_time: datetime | None
    close_time: datetime | None
    history_length: int
    raw: request_response_pb2.WorkflowExecutionInfo
    #: The run's BuildIds entries (``"versioned:2.0"``, ``"unversioned"``, ``"pinned:dep.1"``...; Temporal's
    #: search attribute): what ``list_workflows(build_id=...)`` matches.
    build_ids: list[str] = field(default_factory=list)

    @staticmethod
    def _from_proto(info: request_response_pb2.WorkflowExecutionInfo) -> WorkflowExecution:
        return WorkflowExecution(
            id=info.execution.workflow_id,
            run_id=info.execution.run_id,
            workflow_type=info.workflow_type,
            task_queue=info.task_queue,
            status=WorkflowExecutionStatus(info.status),
            start_time=timestamp_from_proto(info.start_time),
            close_time=timestamp_from_proto(info.close_time),
            history_length=info.history_length,
            raw=info,
            build_ids=list(info.build_ids),
        )


@dataclass(frozen=True)
class PollerInfo:
    """A worker replica that polled the queue in the last 5 minutes (pollers of all partitions merged)."""

    identity: str
    last_access_time: datetime
    labels: list[str]
    build_id: str
    rate_limit: float | None  # the queue-wide activities/s limit its pool asks for (None: none)
    node_id: str
    node_ip: str
    actor_id: str
    #: Worker versioning: whether its build id routes, its worker deployment, and why it gets no new tasks
    #: ("" when it may get them), e.g. its build id is not in the queue's version sets.
    use_versioning: bool = False
    deployment_name: str = ""
    no_tasks_reason: str = ""
    #: The GPU ids Ray gave its replica (empty: none).
    gpus: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskQueuePartitionInfo:
    """One partition of a task queue: its backlog (``""`` = tasks that need no label) and tasks/s handed out."""

    partition: int
    backlog: int
    backlog_age: timedelta | None
    backlog_by_label: dict[str, int]
    dispatch_rate: float


@dataclass(frozen=True)
class TaskQueueTypeDescription:
    """The workflow or the activity queue of a name: totals over its partitions.

    ``backlog_age`` is the age of the oldest backlogged task (None: no backlog); ``dispatch_rate`` is tasks
    handed to pollers per second over the last 30 s; ``rate_limit`` is the queue-wide activities/s limit
    (activity queue only; None: no limit).
    """

    pollers: list[PollerInfo]
    backlog: int
    backlog_age: timedelta | None
    backlog_by_label: dict[str, int]
    partitions: list[TaskQueuePartitionInfo]
    dispatch_rate: float
    rate_limit: float | None

    @staticmethod
    def _from_partitions(raw: list[dict[str, Any]]) -> TaskQueueTypeDescription:
        pollers: dict[str, dict[str, Any]] = {}
        partitions = []
        by_label: dict[str, int] = {}
        rate_limit: tuple[float, float] | None = None  # (set_at, rate) of the latest setting
        for part in raw:
            for poller in part["pollers"]:
                seen = pollers.get(poller["poller_id"])
                if seen is None or poller["last_access_time"] > seen["last_access_time"]:
                    pollers[poller["poller_id"]] = poller
            for label, count in part["backlog_by_label"].items():
                by_label[label] = by_label.get(label, 0) + count
            if part.get("rate_limit") is not None and (rate_limit is None or part["rate_limit_set_at"] > rate_limit[0]):
                rate_limit = (part["rate_limit_set_at"], part["rate_limit"])
            partitions.append(TaskQueuePartitionInfo(
                partition=part["partition"],
                backlog=part["backlog"],
                backlog_age=timedelta(seconds=part["backlog_age_s"]) if part["backlog"] else None,
                backlog_by_label=dict(part["backlog_by_label"]),
                dispatch_rate=part.get("dispatch_rate", 0.0),
            ))
        ages = [p.backlog_age for p in partitions if p.backlog_age is not None]
        return TaskQueueTypeDescription(
            pollers=[
                PollerInfo(
                    identity=p["identity"],
                    last_access_time=datetime.fromtimestamp(p["last_access_time"], UTC),
                    labels=list(p["labels"]),
                    build_id=p.get("build_id", ""),
                    rate_limit=p.get("rate_limit"),
                    node_id=p.get("node_id", ""),
                    node_ip=p.get("node_ip", ""),
                    actor_id=p.get("actor_id", ""),
                    use_versioning=bool(p.get("use_versioning", False)),
                    deployment_name=p.get("deployment_name", ""),
                    no_tasks_reason=p.get("no_tasks_reason", ""),
                    gpus=tuple(p.get("gpus") or ()),
                )
                for p in sorted(pollers.values(), key=lambda p: (p["identity"], p["poller_id"]))
            ],
            backlog=sum(p.backlog for p in partitions),
            backlog_age=max(ages) if ages else None,
            backlog_by_label=by_label,
            partitions=partitions,
            dispatch_rate=sum(p.dispatch_rate for p in partitions),
            rate_limit=None if rate_limit is None else rate_limit[1],
        )


@dataclass(frozen=True)
class TaskQueueDescription:
    """What ``client.describe_task_queue(name)`` returns: the workflow and the activity queue of that name."""

    name: str
    workflow: TaskQueueTypeDescription
    activity: TaskQueueTypeDescription


@dataclass(frozen=True)
class ServiceActorInfo:
    """One service actor (a history shard or a Matching actor) and where it runs.

    ``state`` is ``"running"``, or ``"unavailable"`` when it did not answer (e.g. Ray is moving it after its
    node died; ``error`` says why). ``accelerator_node``: its node has GPUs or an accelerator-type label.
    """

    kind: str
    index: int
    name: str
    node_id: str
    node_ip: str
    pid: int
    actor_id: str
    accelerator_node: bool
    state: str
    error: str = ""


@dataclass(frozen=True)
class ServiceDescription:
    """What ``client.describe_service()`` returns: the service's layout, its store (without secrets) and where
    each of its actors runs."""

    ray_namespace: str
    store: str
    num_shards: int
    num_matching: int
    actors: list[ServiceActorInfo]

    @property
    def shards(self) -> list[ServiceActorInfo]:
        return [actor for actor in self.actors if actor.kind == "history"]

    @property
    def matching(self) -> list[ServiceActorInfo]:
        return [actor for actor in self.actors if actor.kind == "matching"]

    @staticmethod
    def _from_dict(raw: dict[str, Any]) -> ServiceDescription:
        return ServiceDescription(
            ray_namespace=raw["ray_namespace"],
            store=raw["store"],
            num_shards=raw["num_shards"],
            num_matching=raw["num_matching"],
            actors=[
                ServiceActorInfo(
                    kind=actor["kind"],
                    index=int(actor["index"]),
                    name=actor["name"],
                    node_id=actor.get("node_id", ""),
                    node_ip=actor.get("node_ip", ""),
                    pid=int(actor.get("pid", 0)),
                    actor_id=actor.get("actor_id", ""),
                    accelerator_node=bool(actor.get("accelerator_node", False)),
                    state=actor.get("state", ""),
                    error=actor.get("error", ""),
                )
                for actor in raw["actors"]
            ],
        )
