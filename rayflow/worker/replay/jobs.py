"""Which history events are inputs to workflow code ("jobs"), and the errors they carry (internal).

A job is an event the next workflow task delivers to the code: the start of the run, an activity
result, a fired timer, a signal. Events that only record progress (ACTIVITY_TASK_STARTED,
WORKFLOW_TASK_SCHEDULED, ...) are informational, and command events are matched against the commands
the code issued (``commands.py``).
"""

from __future__ import annotations

from rayflow.common import RetryState
from rayflow.converter import DataConverter
from rayflow.exceptions import ActivityError, ApplicationError, CancelledError, TimeoutError
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2

__all__ = [
    "ACTIVITY_RESOLUTION_TYPES",
    "JOB_EVENT_TYPES",
    "activity_cancelled_error",
    "activity_error",
    "scheduled_event_id",
]

#: Events that end an activity; each refers to its ACTIVITY_TASK_SCHEDULED by ``scheduled_event_id``.
ACTIVITY_RESOLUTION_TYPES = frozenset(
    {
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    }
)

#: Events about a child workflow; each refers to its START_CHILD_WORKFLOW_EXECUTION_INITIATED.
CHILD_EVENT_TYPES = frozenset(
    {
        history_pb2.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
    }
)

#: Outcomes of a signal the workflow sent; each refers to its SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED.
EXTERNAL_SIGNAL_EVENT_TYPES = frozenset(
    {
        history_pb2.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        history_pb2.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
    }
)

#: Events delivered to workflow code by the next workflow task, in event order.
JOB_EVENT_TYPES = ACTIVITY_RESOLUTION_TYPES | CHILD_EVENT_TYPES | EXTERNAL_SIGNAL_EVENT_TYPES | {
    history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    history_pb2.EVENT_TYPE_TIMER_FIRED,
    history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
}


def scheduled_event_id(event: history_pb2.HistoryEvent) -> int:
    """The ACTIVITY_TASK_SCHEDULED event id an activity resolution refers to."""
    kind = event.event_type
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        return event.activity_task_completed_event_attributes.scheduled_event_id
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        return event.activity_task_failed_event_attributes.scheduled_event_id
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        return event.activity_task_timed_out_event_attributes.scheduled_event_id
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        return event.activity_task_canceled_event_attributes.scheduled_event_id
    raise ValueError(f"event {event.event_id} does not resolve an activity")


def activity_error(
    event: history_pb2.HistoryEvent, *, activity_type: str, activity_id: str, data_converter: DataConverter
) -> ActivityError:
    """The ``ActivityError`` an ACTIVITY_TASK_FAILED / TIMED_OUT / CANCELED event raises in the workflow.

    Its ``__cause__`` is the error that ended the activity (``ApplicationError``, ``TimeoutError``,
    ``CancelledError``), decoded from the event's failure.
    """
    kind = event.event_type
    failure: message_pb2.Failure | None
    cause: BaseException
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        attrs = event.activity_task_failed_event_attributes
        message, identity, retry_state = "Activity task failed", attrs.identity, attrs.retry_state
        started, failure = attrs.started_event_id, attrs.failure if attrs.HasField("failure") else None
    elif kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        attrs_t = event.activity_task_timed_out_event_attributes
        message, identity, retry_state = "Activity task timed out", "", attrs_t.retry_state
        started, failure = attrs_t.started_event_id, attrs_t.failure if attrs_t.HasField("failure") else None
    elif kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        attrs_c = event.activity_task_canceled_event_attributes
        message, identity, retry_state = (
            "Activity task canceled",
            attrs_c.identity,
            message_pb2.RETRY_STATE_CANCEL_REQUESTED,
        )
        started, failure = attrs_c.started_event_id, None
    else:
        raise ValueError(f"event {event.event_id} is not an activity failure")
    error = ActivityError(
        message,
        scheduled_event_id=scheduled_event_id(event),
        started_event_id=started,
        identity=identity,
        activity_type=activity_type,
        activity_id=activity_id,
        retry_state=RetryState(retry_state) if retry_state else None,
    )
    if failure is not None:
        # The service records the error that ended the activity; if it ever wraps it in an
        # activity failure, the error is that wrapper's cause.
        if failure.WhichOneof("failure_info") == "activity_failure_info" and failure.HasField("cause"):
            failure = failure.cause
        cause = data_converter.from_failure(failure)
    elif kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        details = data_converter.from_payloads(event.activity_task_canceled_event_attributes.details)
        cause = CancelledError("Activity cancelled", *details)
    elif kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        cause = TimeoutError("Activity timed out (no failure recorded)", type=None)
    else:
        cause = ApplicationError("Activity failed (no failure recorded)")
    error.__cause__ = cause
    return error


def activity_cancelled_error(*, scheduled_event_id: int, activity_type: str, activity_id: str) -> ActivityError:
    """The ``ActivityError`` (cause ``CancelledError``) a cancelled handle raises before the activity ended.

    TRY_CANCEL and ABANDON resolve the handle as soon as the workflow cancels it, as Temporal does.
    """
    error = ActivityError(
        "Activity cancelled",
        scheduled_event_id=scheduled_event_id,
        started_event_id=0,
        identity="",
        activity_type=activity_type,
        activity_id=activity_id,
        retry_state=RetryState(message_pb2.RETRY_STATE_CANCEL_REQUESTED),
    )
    error.__cause__ = CancelledError("Activity cancelled")
    return error


def child_initiated_event_id(event: history_pb2.HistoryEvent) -> int:
    """The START_CHILD_WORKFLOW_EXECUTION_INITIATED event id a child event refers to."""
    return getattr(event, event.WhichOneof("attributes")).initiated_event_id


def child_error(event: history_pb2.HistoryEvent, *, data_converter: DataConverter):
    """The ``ChildWorkflowError`` (with its cause) of a child that did not complete."""
    from rayflow.exceptions import ChildWorkflowError, TerminatedError

    kind = event.event_type
    attrs = getattr(event, event.WhichOneof("attributes"))
    if kind == history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
        message = "Child Workflow execution failed"
        cause = data_converter.from_failure(attrs.failure) if attrs.HasField("failure") else ApplicationError(
            "Child workflow failed (no failure recorded)")
    elif kind == history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
        message = "Child Workflow execution canceled"
        cause = CancelledError("Child workflow cancelled", *data_converter.from_payloads(attrs.details))
    elif kind == history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
        message = "Child Workflow execution timed out"
        cause = TimeoutError("Child workflow timed out", type=None)
    else:
        message = "Child Workflow execution terminated"
        cause = TerminatedError("Child workflow terminated")
    retry_state = getattr(attrs, "retry_state", 0)
    error = ChildWorkflowError(
        message, namespace=attrs.namespace, workflow_id=attrs.workflow_execution.workflow_id,
        run_id=attrs.workflow_execution.run_id, workflow_type=attrs.workflow_type,
        initiated_event_id=attrs.initiated_event_id, started_event_id=attrs.started_event_id,
        retry_state=RetryState(retry_state) if retry_state else None,
    )
    error.__cause__ = cause
    return error
