"""Validates the commands of a completed workflow task and applies them to the state builder."""

from __future__ import annotations

from datetime import timedelta

from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, request_response_pb2
from rayflow.service.history import children
from rayflow.service.history.mutable_state import ET, StateBuilder

CT = command_pb2


class BadCommandError(Exception):
    """A command the service cannot accept; the workflow task fails with ``cause`` (never the workflow)."""

    def __init__(self, cause: int, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def apply_commands(
    builder: StateBuilder, commands: list[command_pb2.Command], completed_event_id: int, identity: str
) -> None:
    """Turn each command into its event; raises ``BadCommandError`` (the caller discards the builder)."""
    for command in commands:
        if builder.closed:
            break  # nothing may follow a command that closed the workflow
        kind = command.command_type
        if kind == CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
            attrs = command.schedule_activity_task_command_attributes
            _validate_activity(builder, attrs)
            builder.schedule_activity(attrs, completed_event_id)
        elif kind == CT.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
            attrs = command.request_cancel_activity_task_command_attributes
            if attrs.scheduled_event_id <= 0:
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
                    "RequestCancelActivityTask: scheduled_event_id is required",
                )
            builder.request_cancel_activity(attrs.scheduled_event_id, completed_event_id, identity)
        elif kind == CT.COMMAND_TYPE_START_TIMER:
            attrs = command.start_timer_command_attributes
            if not attrs.timer_id or attrs.timer_id in builder.state.timers:
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                    f"StartTimer: timer id {attrs.timer_id!r} is empty or already in use",
                )
            if attrs.start_to_fire_timeout.ToTimedelta() <= timedelta(0):
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                    f"StartTimer {attrs.timer_id!r}: start_to_fire_timeout must be positive",
                )
            builder.start_timer(attrs, completed_event_id)
        elif kind == CT.COMMAND_TYPE_CANCEL_TIMER:
            builder.cancel_timer(command.cancel_timer_command_attributes.timer_id, completed_event_id, identity)
        elif kind == CT.COMMAND_TYPE_RECORD_MARKER:
            attrs = command.record_marker_command_attributes
            event_attrs = history_pb2.MarkerRecordedEventAttributes(
                marker_name=attrs.marker_name, workflow_task_completed_event_id=completed_event_id
            )
            for key, value in attrs.details.items():
                event_attrs.details[key].CopyFrom(value)
            builder.add_event(ET.EVENT_TYPE_MARKER_RECORDED, event_attrs)
        elif kind == CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
            builder.close(
                request_response_pb2.WORKFLOW_EXECUTION_STATUS_COMPLETED,
                ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
                history_pb2.WorkflowExecutionCompletedEventAttributes(
                    result=command.complete_workflow_execution_command_attributes.result,
                    workflow_task_completed_event_id=completed_event_id,
                ),
            )
        elif kind == CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
            builder.close(
                request_response_pb2.WORKFLOW_EXECUTION_STATUS_FAILED,
                ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
                history_pb2.WorkflowExecutionFailedEventAttributes(
                    failure=command.fail_workflow_execution_command_attributes.failure,
                    retry_state=0,
                    workflow_task_completed_event_id=completed_event_id,
                ),
            )
        elif kind == CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
            builder.close(
                request_response_pb2.WORKFLOW_EXECUTION_STATUS_CANCELED,
                ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
                history_pb2.WorkflowExecutionCanceledEventAttributes(
                    details=command.cancel_workflow_execution_command_attributes.details,
                    workflow_task_completed_event_id=completed_event_id,
                ),
            )
        elif kind == CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
            # Closes the run as CONTINUED_AS_NEW; builder.successor is the new run, written in the same write.
            builder.continue_as_new(
                command.continue_as_new_workflow_execution_command_attributes, completed_event_id, identity
            )
        elif kind == CT.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
            attrs = command.start_child_workflow_execution_command_attributes
            if not attrs.workflow_id or not attrs.workflow_type:
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                    "StartChildWorkflowExecution: workflow_id and workflow_type are required",
                )
            children.initiate(builder, attrs, completed_event_id, identity)
        elif kind == CT.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
            attrs = command.signal_external_workflow_execution_command_attributes
            if not attrs.workflow_id or not attrs.signal_name:
                raise BadCommandError(
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                    "SignalExternalWorkflowExecution: workflow_id and signal_name are required",
                )
            children.initiate_signal(builder, attrs, completed_event_id)
        elif kind in (CT.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE, CT.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE):
            from rayflow.service.history import updates

            try:
                if kind == CT.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE:
                    updates.apply_accept(builder, command.accept_workflow_update_command_attributes, completed_event_id)
                else:
                    updates.apply_complete(builder, command.complete_workflow_update_command_attributes,
                                           completed_event_id)
            except updates.BadUpdateCommandError as err:
                raise BadCommandError(history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND, str(err)) from None
        else:
            raise BadCommandError(
                history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                f"command {command_pb2.CommandType.Name(kind)} is not supported by this service version",
            )


def _validate_activity(builder: StateBuilder, attrs: command_pb2.ScheduleActivityTaskCommandAttributes) -> None:
    bad = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES
    if not attrs.activity_type:
        raise BadCommandError(bad, "ScheduleActivityTask: activity_type is required")
    if not attrs.activity_id:
        raise BadCommandError(bad, f"ScheduleActivityTask {attrs.activity_type}: activity_id is required")
    if any(a.activity_id == attrs.activity_id for a in builder.state.activities.values()):
        raise BadCommandError(bad, f"ScheduleActivityTask: activity id {attrs.activity_id!r} is already in use")
    has_start_to_close = attrs.HasField("start_to_close_timeout") and attrs.start_to_close_timeout.ToTimedelta() > timedelta(0)
    has_schedule_to_close = (
        attrs.HasField("schedule_to_close_timeout") and attrs.schedule_to_close_timeout.ToTimedelta() > timedelta(0)
    )
    if not (has_start_to_close or has_schedule_to_close):
        raise BadCommandError(
            bad,
            f"Activity {attrs.activity_type!r}: start_to_close_timeout or schedule_to_close_timeout is required",
        )
