"""Building commands, and matching them against the command events history recorded (internal).

Each command a workflow task answers with becomes one event, written right after the task's
WORKFLOW_TASK_COMPLETED in the same order. On replay the code must issue the same commands again: a
command and its event match when their types correspond and their identity (activity type and id,
timer id, marker name) is equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from rayflow._runtime import ActivityRequest
from rayflow.common import duration_to_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, message_pb2

__all__ = [
    "COMMAND_EVENT_TYPES",
    "accept_update",
    "command_update_id",
    "complete_update",
    "cancel_timer",
    "cancel_workflow",
    "complete_workflow",
    "continue_as_new",
    "describe_command",
    "describe_event",
    "event_update_id",
    "fail_workflow",
    "matches",
    "request_cancel_activity",
    "schedule_activity",
    "set_header",
    "start_timer",
]

Command = command_pb2.Command
HistoryEvent = history_pb2.HistoryEvent

#: The event each command type becomes once the service accepts it.
EVENT_FOR_COMMAND: dict[int, int] = {
    command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: history_pb2.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
    command_pb2.COMMAND_TYPE_START_TIMER: history_pb2.EVENT_TYPE_TIMER_STARTED,
    command_pb2.COMMAND_TYPE_CANCEL_TIMER: history_pb2.EVENT_TYPE_TIMER_CANCELED,
    command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    command_pb2.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    command_pb2.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    command_pb2.COMMAND_TYPE_RECORD_MARKER: history_pb2.EVENT_TYPE_MARKER_RECORDED,
    command_pb2.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: (
        history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    ),
    command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: (
        history_pb2.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ),
    command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: (
        history_pb2.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
    ),
    command_pb2.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: (
        history_pb2.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
    ),
    command_pb2.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE: history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE: history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}

#: Events that record a command; each must match the next command the code issued.
COMMAND_EVENT_TYPES = frozenset(EVENT_FOR_COMMAND.values()) | {
    history_pb2.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
}

_COMMAND_NAMES = {
    command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: "ScheduleActivityTask",
    command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: "RequestCancelActivityTask",
    command_pb2.COMMAND_TYPE_START_TIMER: "StartTimer",
    command_pb2.COMMAND_TYPE_CANCEL_TIMER: "CancelTimer",
    command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: "CompleteWorkflowExecution",
    command_pb2.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: "FailWorkflowExecution",
    command_pb2.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: "CancelWorkflowExecution",
    command_pb2.COMMAND_TYPE_RECORD_MARKER: "RecordMarker",
    command_pb2.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: "ContinueAsNewWorkflowExecution",
    command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: "StartChildWorkflowExecution",
    command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: "SignalExternalWorkflowExecution",
    command_pb2.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: "RequestCancelExternalWorkflowExecution",
}


# -- building -----------------------------------------------------------------------------------------


def schedule_activity(
    request: ActivityRequest, *, activity_id: str, default_task_queue: str, data_converter: DataConverter
) -> Command:
    """A ScheduleActivityTask command; raises ``PayloadError`` when an argument cannot be encoded."""
    try:
        payloads = data_converter.to_payloads(list(request.args))
    except PayloadError as err:
        raise PayloadError(f"Activity {request.activity_type}: cannot encode its arguments: {err}") from err.__cause__
    attrs = command_pb2.ScheduleActivityTaskCommandAttributes(
        activity_id=activity_id,
        activity_type=request.activity_type,
        task_queue=request.task_queue or default_task_queue,
        input=payloads,
        schedule_to_close_timeout=duration_to_proto(request.schedule_to_close_timeout),
        schedule_to_start_timeout=duration_to_proto(request.schedule_to_start_timeout),
        start_to_close_timeout=duration_to_proto(request.start_to_close_timeout),
        heartbeat_timeout=duration_to_proto(request.heartbeat_timeout),
        retry_policy=request.retry_policy.to_proto() if request.retry_policy is not None else None,
        resource_label=request.resource_label or "",
        versioning_intent=request.versioning_intent,
    )
    return Command(
        command_type=command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, schedule_activity_task_command_attributes=attrs
    )


def start_timer(timer_id: str, seconds: float) -> Command:
    """A StartTimer command firing after ``seconds``."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_START_TIMER,
        start_timer_command_attributes=command_pb2.StartTimerCommandAttributes(
            timer_id=timer_id, start_to_fire_timeout=duration_to_proto(timedelta(seconds=seconds))
        ),
    )


def request_cancel_activity(scheduled_event_id: int) -> Command:
    """A RequestCancelActivityTask command for the activity scheduled at ``scheduled_event_id``."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
        request_cancel_activity_task_command_attributes=command_pb2.RequestCancelActivityTaskCommandAttributes(
            scheduled_event_id=scheduled_event_id
        ),
    )


def cancel_timer(timer_id: str) -> Command:
    """A CancelTimer command."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_CANCEL_TIMER,
        cancel_timer_command_attributes=command_pb2.CancelTimerCommandAttributes(timer_id=timer_id),
    )


def complete_workflow(result: message_pb2.Payloads) -> Command:
    """A CompleteWorkflowExecution command carrying the encoded result."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
        complete_workflow_execution_command_attributes=command_pb2.CompleteWorkflowExecutionCommandAttributes(
            result=result
        ),
    )


def fail_workflow(failure: message_pb2.Failure) -> Command:
    """A FailWorkflowExecution command carrying the failure."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
        fail_workflow_execution_command_attributes=command_pb2.FailWorkflowExecutionCommandAttributes(failure=failure),
    )


def cancel_workflow() -> Command:
    """A CancelWorkflowExecution command: the run ends CANCELED (after a cancel request)."""
    return Command(
        command_type=command_pb2.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
        cancel_workflow_execution_command_attributes=command_pb2.CancelWorkflowExecutionCommandAttributes(),
    )


def continue_as_new(
    payloads: message_pb2.Payloads,
    *,
    workflow_type: str | None = None,
    task_queue: str | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    memo: dict[str, message_pb2.Payload] | None = None,
    versioning_intent: int = 0,
) -> Command:
    """A ContinueAsNewWorkflowExecution command: the run ends CONTINUED_AS_NEW and a new run starts
    (fields left unset are inherited from the closing run; ``memo=None`` inherits the memo)."""
    attrs = command_pb2.ContinueAsNewWorkflowExecutionCommandAttributes(
        workflow_type=workflow_type or "",
        task_queue=task_queue or "",
        input=payloads,
        workflow_run_timeout=duration_to_proto(run_timeout),
        workflow_task_timeout=duration_to_proto(task_timeout),
        inherit_memo=memo is None,
        versioning_intent=versioning_intent,
    )
    for key, value in (memo or {}).items():
        attrs.memo[key].CopyFrom(value)
    return Command(
        command_type=command_pb2.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
        continue_as_new_workflow_execution_command_attributes=attrs,
    )


def start_child_workflow(
    *, workflow_id: str, workflow_type: str, task_queue: str, input: message_pb2.Payloads,
    parent_close_policy: int, execution_timeout: timedelta | None = None, retry_policy: message_pb2.RetryPolicy | None = None,
    versioning_intent: int = 0,
) -> Command:
    """A StartChildWorkflowExecution command."""
    attrs = command_pb2.StartChildWorkflowExecutionCommandAttributes(
        workflow_id=workflow_id, workflow_type=workflow_type, task_queue=task_queue, input=input,
        parent_close_policy=parent_close_policy, workflow_execution_timeout=duration_to_proto(execution_timeout),
        retry_policy=retry_policy, versioning_intent=versioning_intent,
    )
    return Command(
        command_type=command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
        start_child_workflow_execution_command_attributes=attrs,
    )


def signal_external_workflow(
    *, workflow_id: str, run_id: str, signal_name: str, input: message_pb2.Payloads, seq: int,
    child_workflow_only: bool = True,
) -> Command:
    """A SignalExternalWorkflowExecution command (``seq`` numbers the workflow's signals, as ``control``)."""
    attrs = command_pb2.SignalExternalWorkflowExecutionCommandAttributes(
        workflow_id=workflow_id, run_id=run_id, signal_name=signal_name, input=input, control=str(seq),
        child_workflow_only=child_workflow_only,
    )
    return Command(
        command_type=command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION,
        signal_external_workflow_execution_command_attributes=attrs,
    )


def accept_update(update_id: str, name: str, input: message_pb2.Payloads,
                  header: message_pb2.Header | None = None) -> Command:
    """An AcceptWorkflowUpdate command (becomes WORKFLOW_EXECUTION_UPDATE_ACCEPTED, which keeps the header for
    replay)."""
    attrs = command_pb2.AcceptWorkflowUpdateCommandAttributes(update_id=update_id, name=name, input=input)
    if header is not None and header.fields:
        attrs.header.CopyFrom(header)
    return Command(command_type=command_pb2.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE,
                   accept_workflow_update_command_attributes=attrs)


def set_header(attrs: Any, headers: Mapping[str, message_pb2.Payload] | None) -> None:
    """Put interceptors' ``headers`` on a command's attributes (nothing when there are none)."""
    if headers:
        for key, value in headers.items():
            attrs.header.fields[key].CopyFrom(value)


def complete_update(
    update_id: str, *, result: message_pb2.Payloads | None = None, failure: message_pb2.Failure | None = None
) -> Command:
    """A CompleteWorkflowUpdate command (becomes WORKFLOW_EXECUTION_UPDATE_COMPLETED)."""
    attrs = command_pb2.CompleteWorkflowUpdateCommandAttributes(update_id=update_id)
    if failure is not None:
        attrs.failure.CopyFrom(failure)
    elif result is not None:
        attrs.result.CopyFrom(result)
    return Command(
        command_type=command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE,
        complete_workflow_update_command_attributes=attrs,
    )


def command_update_id(command: Command) -> str | None:
    """The update id of an update command (None for other commands)."""
    if command.command_type == command_pb2.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE:
        return command.accept_workflow_update_command_attributes.update_id
    if command.command_type == command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE:
        return command.complete_workflow_update_command_attributes.update_id
    return None


def event_update_id(event: HistoryEvent) -> str | None:
    """The update id of an update event (None for other events)."""
    if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return event.workflow_execution_update_accepted_event_attributes.update_id
    if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        return event.workflow_execution_update_completed_event_attributes.update_id
    return None


# -- matching ----------------------------------------------------------------------------------------


def matches(command: Command, event: HistoryEvent) -> bool:
    """True when ``event`` records ``command``: corresponding types and the same identity."""
    if EVENT_FOR_COMMAND.get(command.command_type) != event.event_type:
        return False
    kind = command.command_type
    if kind == command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        cmd_attrs = command.schedule_activity_task_command_attributes
        ev_attrs = event.activity_task_scheduled_event_attributes
        return cmd_attrs.activity_type == ev_attrs.activity_type and cmd_attrs.activity_id == ev_attrs.activity_id
    if kind == command_pb2.COMMAND_TYPE_START_TIMER:
        return command.start_timer_command_attributes.timer_id == event.timer_started_event_attributes.timer_id
    if kind == command_pb2.COMMAND_TYPE_CANCEL_TIMER:
        return command.cancel_timer_command_attributes.timer_id == event.timer_canceled_event_attributes.timer_id
    if kind == command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return (
            command.request_cancel_activity_task_command_attributes.scheduled_event_id
            == event.activity_task_cancel_requested_event_attributes.scheduled_event_id
        )
    if kind == command_pb2.COMMAND_TYPE_RECORD_MARKER:
        return (
            command.record_marker_command_attributes.marker_name == event.marker_recorded_event_attributes.marker_name
        )
    if kind == command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        cmd_child = command.start_child_workflow_execution_command_attributes
        ev_child = event.start_child_workflow_execution_initiated_event_attributes
        return cmd_child.workflow_id == ev_child.workflow_id and cmd_child.workflow_type == ev_child.workflow_type
    if kind == command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        cmd_sig = command.signal_external_workflow_execution_command_attributes
        ev_sig = event.signal_external_workflow_execution_initiated_event_attributes
        return (cmd_sig.workflow_id == ev_sig.workflow_execution.workflow_id
                and cmd_sig.signal_name == ev_sig.signal_name and cmd_sig.control == ev_sig.control)
    if kind in (command_pb2.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE, command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE):
        return command_update_id(command) == event_update_id(event)
    return True


def describe_command(command: Command) -> str:
    """A command for error messages, e.g. ``ScheduleActivityTask activity 'a' (id 1)``."""
    kind = command.command_type
    name = _COMMAND_NAMES.get(
        kind, command_pb2.CommandType.Name(kind) if kind in command_pb2.CommandType.values() else str(kind)
    )
    if kind == command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        attrs = command.schedule_activity_task_command_attributes
        return f"{name} activity {attrs.activity_type!r} (id {attrs.activity_id})"
    if kind == command_pb2.COMMAND_TYPE_START_TIMER:
        return f"{name} timer (id {command.start_timer_command_attributes.timer_id})"
    if kind == command_pb2.COMMAND_TYPE_CANCEL_TIMER:
        return f"{name} timer (id {command.cancel_timer_command_attributes.timer_id})"
    if kind == command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        scheduled = command.request_cancel_activity_task_command_attributes.scheduled_event_id
        return f"{name} (activity scheduled at event {scheduled})"
    if kind == command_pb2.COMMAND_TYPE_RECORD_MARKER:
        return f"{name} {command.record_marker_command_attributes.marker_name!r}"
    if kind == command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        attrs_s = command.signal_external_workflow_execution_command_attributes
        return f"{name} signal {attrs_s.signal_name!r} to workflow {attrs_s.workflow_id!r} (seq {attrs_s.control})"
    return name


def describe_event(event: HistoryEvent) -> str:
    """An event for error messages, e.g. ``ACTIVITY_TASK_SCHEDULED activity 'b' (id 1)``."""
    kind = event.event_type
    name = event_type_name(kind)
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        attrs = event.activity_task_scheduled_event_attributes
        return f"{name} activity {attrs.activity_type!r} (id {attrs.activity_id})"
    if kind == history_pb2.EVENT_TYPE_TIMER_STARTED:
        return f"{name} timer (id {event.timer_started_event_attributes.timer_id})"
    if kind == history_pb2.EVENT_TYPE_TIMER_CANCELED:
        return f"{name} timer (id {event.timer_canceled_event_attributes.timer_id})"
    if kind == history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
        scheduled = event.activity_task_cancel_requested_event_attributes.scheduled_event_id
        return f"{name} (activity scheduled at event {scheduled})"
    if kind == history_pb2.EVENT_TYPE_MARKER_RECORDED:
        return f"{name} {event.marker_recorded_event_attributes.marker_name!r}"
    if kind == history_pb2.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        attrs_s = event.signal_external_workflow_execution_initiated_event_attributes
        return (f"{name} signal {attrs_s.signal_name!r} to workflow {attrs_s.workflow_execution.workflow_id!r} "
                f"(seq {attrs_s.control})")
    return name


def event_type_name(kind: int) -> str:
    """Temporal's name of an event type, e.g. ``TIMER_FIRED``."""
    if kind in history_pb2.EventType.values():
        return history_pb2.EventType.Name(kind).removeprefix("EVENT_TYPE_")
    return f"event type {kind}"
