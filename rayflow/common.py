"""Option types and enums shared by clients, workflows and activities (Temporal's names and defaults)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from rayflow.proto.rayflow.v1 import history_pb2, message_pb2, request_response_pb2

__all__ = [
    "RetryPolicy",
    "TimeoutType",
    "RetryState",
    "WorkflowExecutionStatus",
    "EventType",
    "PendingActivityState",
    "WorkflowIDReusePolicy",
    "WorkflowIDConflictPolicy",
    "ActivityCancellationType",
    "ParentClosePolicy",
    "VersioningIntent",
    "VersioningBehavior",
    "WorkerDeploymentVersion",
    "PinnedVersioningOverride",
    "AutoUpgradeVersioningOverride",
    "VersioningOverride",
]


class ParentClosePolicy(enum.IntEnum):
    """What happens to a running child workflow when its parent closes (Temporal's values).

    TERMINATE (default): the child is terminated. ABANDON: it runs on. REQUEST_CANCEL: it is asked to cancel.
    """

    TERMINATE = 1
    ABANDON = 2
    REQUEST_CANCEL = 3


class VersioningIntent(enum.IntEnum):
    """Where an activity, child workflow or continue-as-new of a versioned workflow runs (Temporal's names).

    COMPATIBLE (what UNSPECIFIED means): on the same task queue, on workers compatible with the workflow's
    build id; on another queue, that queue's default. DEFAULT: on the target queue's default build id.
    """

    UNSPECIFIED = 0
    COMPATIBLE = 1
    DEFAULT = 2


class VersioningBehavior(enum.IntEnum):
    """How a workflow of a worker deployment moves between versions (Temporal's names).

    PINNED: it runs to completion on the version that ran its first workflow task. AUTO_UPGRADE: each workflow
    task runs on the deployment's current (or ramping) version of the moment.
    """

    UNSPECIFIED = 0
    PINNED = 1
    AUTO_UPGRADE = 2


@dataclass(frozen=True)
class WorkerDeploymentVersion:
    """One version of a worker deployment: ``deployment_name`` and ``build_id`` (Temporal's names)."""

    deployment_name: str
    build_id: str

    def __post_init__(self) -> None:
        if not self.deployment_name or not self.build_id:
            raise ValueError("WorkerDeploymentVersion: deployment_name and build_id are both required")
        if "." in self.deployment_name:
            raise ValueError(f"WorkerDeploymentVersion: a deployment name cannot contain '.', got "
                             f"{self.deployment_name!r}")

    def to_canonical_string(self) -> str:
        """``<deployment_name>.<build_id>``, as Temporal writes a version."""
        return f"{self.deployment_name}.{self.build_id}"

    @staticmethod
    def from_canonical_string(value: str) -> WorkerDeploymentVersion:
        name, sep, build_id = value.partition(".")
        if not sep:
            raise ValueError(f"not a worker deployment version ('<deployment>.<build id>'): {value!r}")
        return WorkerDeploymentVersion(name, build_id)


@dataclass(frozen=True)
class PinnedVersioningOverride:
    """``start_workflow(versioning_override=...)``: run the whole workflow on this version."""

    version: WorkerDeploymentVersion


@dataclass(frozen=True)
class AutoUpgradeVersioningOverride:
    """``start_workflow(versioning_override=...)``: always run on the deployment's current version."""


VersioningOverride = PinnedVersioningOverride | AutoUpgradeVersioningOverride


def versioning_override_string(override: VersioningOverride | None) -> str:
    """How the service keeps an override: "", "auto_upgrade" or "pinned:<deployment>.<build id>"."""
    if override is None:
        return ""
    if isinstance(override, PinnedVersioningOverride):
        return f"pinned:{override.version.to_canonical_string()}"
    if isinstance(override, AutoUpgradeVersioningOverride):
        return "auto_upgrade"
    raise TypeError(f"versioning_override must be a PinnedVersioningOverride or an AutoUpgradeVersioningOverride, "
                    f"not {override!r}")


class ActivityCancellationType(enum.IntEnum):
    """What cancelling an activity from a workflow waits for (Temporal's names; TRY_CANCEL is the default).

    TRY_CANCEL: ask the service to cancel the activity and raise in the workflow at once.
    WAIT_CANCELLATION_COMPLETED: ask the service to cancel it and raise once the activity has ended
    (it reported the cancellation, completed or failed).
    ABANDON: do not tell the service; raise in the workflow at once and let the activity run on.
    """

    TRY_CANCEL = 0
    WAIT_CANCELLATION_COMPLETED = 1
    ABANDON = 2


class TimeoutType(enum.IntEnum):
    """Which timeout fired (values match the proto enum)."""

    START_TO_CLOSE = message_pb2.TIMEOUT_TYPE_START_TO_CLOSE
    SCHEDULE_TO_START = message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_START
    SCHEDULE_TO_CLOSE = message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
    HEARTBEAT = message_pb2.TIMEOUT_TYPE_HEARTBEAT


class RetryState(enum.IntEnum):
    """Why retrying stopped (values match the proto enum)."""

    IN_PROGRESS = message_pb2.RETRY_STATE_IN_PROGRESS
    NON_RETRYABLE_FAILURE = message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE
    TIMEOUT = message_pb2.RETRY_STATE_TIMEOUT
    MAXIMUM_ATTEMPTS_REACHED = message_pb2.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED
    RETRY_POLICY_NOT_SET = message_pb2.RETRY_STATE_RETRY_POLICY_NOT_SET
    INTERNAL_SERVER_ERROR = message_pb2.RETRY_STATE_INTERNAL_SERVER_ERROR
    CANCEL_REQUESTED = message_pb2.RETRY_STATE_CANCEL_REQUESTED


class WorkflowExecutionStatus(enum.IntEnum):
    """Status of a workflow execution (values match the proto enum)."""

    RUNNING = request_response_pb2.WORKFLOW_EXECUTION_STATUS_RUNNING
    COMPLETED = request_response_pb2.WORKFLOW_EXECUTION_STATUS_COMPLETED
    FAILED = request_response_pb2.WORKFLOW_EXECUTION_STATUS_FAILED
    CANCELED = request_response_pb2.WORKFLOW_EXECUTION_STATUS_CANCELED
    TERMINATED = request_response_pb2.WORKFLOW_EXECUTION_STATUS_TERMINATED
    CONTINUED_AS_NEW = request_response_pb2.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
    TIMED_OUT = request_response_pb2.WORKFLOW_EXECUTION_STATUS_TIMED_OUT


class PendingActivityState(enum.IntEnum):
    """State of a pending activity in ``describe()``."""

    SCHEDULED = request_response_pb2.PENDING_ACTIVITY_STATE_SCHEDULED
    STARTED = request_response_pb2.PENDING_ACTIVITY_STATE_STARTED
    CANCEL_REQUESTED = request_response_pb2.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED


class WorkflowIDReusePolicy(enum.IntEnum):
    """May a workflow id whose current run is closed start a new run? (Temporal's; values match the proto enum.)

    ``ALLOW_DUPLICATE`` (default): always. ``ALLOW_DUPLICATE_FAILED_ONLY``: only if that run failed, was
    cancelled, terminated or timed out. ``REJECT_DUPLICATE``: never. ``TERMINATE_IF_RUNNING``: always, and a
    running run is terminated first (the older spelling of ``WorkflowIDConflictPolicy.TERMINATE_EXISTING``).
    """

    ALLOW_DUPLICATE = request_response_pb2.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
    ALLOW_DUPLICATE_FAILED_ONLY = request_response_pb2.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
    REJECT_DUPLICATE = request_response_pb2.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
    TERMINATE_IF_RUNNING = request_response_pb2.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING


class WorkflowIDConflictPolicy(enum.IntEnum):
    """What a start does while a run of its workflow id is running (Temporal's; values match the proto enum).

    ``FAIL`` (default): raise ``WorkflowAlreadyStartedError``. ``USE_EXISTING``: start nothing and return a
    handle to the running run. ``TERMINATE_EXISTING``: terminate the running run and start a new one.
    """

    FAIL = request_response_pb2.WORKFLOW_ID_CONFLICT_POLICY_FAIL
    USE_EXISTING = request_response_pb2.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
    TERMINATE_EXISTING = request_response_pb2.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING


# Event types keep Temporal's names without the proto prefix: EventType.ACTIVITY_TASK_STARTED.
EventType = enum.IntEnum(  # type: ignore[misc]
    "EventType",
    {
        name.removeprefix("EVENT_TYPE_"): value
        for name, value in history_pb2.EventType.items()
        if value != history_pb2.EVENT_TYPE_UNSPECIFIED
    },
    module=__name__,
)
EventType.__doc__ = "Type of a history event; ``.name`` is Temporal's name, e.g. ``ACTIVITY_TASK_STARTED``."


@dataclass(frozen=True)
class RetryPolicy:
    """How an activity (or workflow) is retried. Defaults are Temporal's.

    Args:
        initial_interval: wait before the first retry (default 1 s).
        backoff_coefficient: each wait is the previous one times this (default 2.0, must be >= 1).
        maximum_interval: cap on the wait (default 100 x initial_interval).
        maximum_attempts: attempts in all, 0 = unlimited (default 0).
        non_retryable_error_types: ``ApplicationError`` types (exception class names) never retried.
    """

    initial_interval: timedelta = timedelta(seconds=1)
    backoff_coefficient: float = 2.0
    maximum_interval: timedelta | None = None
    maximum_attempts: int = 0
    non_retryable_error_types: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the bad field."""
        if self.initial_interval <= timedelta(0):
            raise ValueError(f"RetryPolicy.initial_interval must be positive, got {self.initial_interval}")
        if self.backoff_coefficient < 1.0:
            raise ValueError(
                f"RetryPolicy.backoff_coefficient must be >= 1.0, got {self.backoff_coefficient}"
            )
        if self.maximum_interval is not None and self.maximum_interval < self.initial_interval:
            raise ValueError(
                f"RetryPolicy.maximum_interval ({self.maximum_interval}) must be >= initial_interval "
                f"({self.initial_interval})"
            )
        if self.maximum_attempts < 0:
            raise ValueError(f"RetryPolicy.maximum_attempts must be >= 0 (0 = unlimited), got {self.maximum_attempts}")
        if isinstance(self.non_retryable_error_types, str):
            raise ValueError("RetryPolicy.non_retryable_error_types must be a list of type names, not a string")

    def to_proto(self) -> message_pb2.RetryPolicy:
        return message_pb2.RetryPolicy(
            initial_interval=duration_to_proto(self.initial_interval),
            backoff_coefficient=self.backoff_coefficient,
            maximum_interval=duration_to_proto(self.maximum_interval or self.initial_interval * 100),
            maximum_attempts=self.maximum_attempts,
            non_retryable_error_types=list(self.non_retryable_error_types),
        )

    @staticmethod
    def from_proto(proto: message_pb2.RetryPolicy) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=proto.initial_interval.ToTimedelta(),
            backoff_coefficient=proto.backoff_coefficient,
            maximum_interval=proto.maximum_interval.ToTimedelta() if proto.HasField("maximum_interval") else None,
            maximum_attempts=proto.maximum_attempts,
            non_retryable_error_types=tuple(proto.non_retryable_error_types),
        )


def duration_to_proto(value: timedelta | None) -> duration_pb2.Duration | None:
    """``timedelta`` to ``Duration`` (``None`` stays ``None``)."""
    if value is None:
        return None
    proto = duration_pb2.Duration()
    proto.FromTimedelta(value)
    return proto


def timestamp_to_proto(value: datetime) -> timestamp_pb2.Timestamp:
    proto = timestamp_pb2.Timestamp()
    proto.FromDatetime(value)
    return proto


def timestamp_from_proto(proto: timestamp_pb2.Timestamp) -> datetime | None:
    """``Timestamp`` to an aware UTC ``datetime``; an unset timestamp is ``None``."""
    if proto.seconds == 0 and proto.nanos == 0:
        return None
    return proto.ToDatetime(tzinfo=UTC)
