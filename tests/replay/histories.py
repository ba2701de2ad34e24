"""Hand-built histories for replay tests: a tiny in-memory stand-in for the history service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rayflow.common import timestamp_to_proto
from rayflow.converter import DataConverter
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, message_pb2

H = history_pb2
START_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CONVERTER = DataConverter.default


class HistoryBuilder:
    """Appends events with consecutive ids and a clock that moves one second per event.

    Args:
        workflow_type: the type in the start event.
        args: the workflow's arguments.
        task_queue: the task queue in the start event.
    """

    def __init__(self, workflow_type: str = "Wf", *args: Any, task_queue: str = "tq", attempt: int = 1) -> None:
        self.events: list[history_pb2.HistoryEvent] = []
        self.time = START_TIME
        self.add(
            H.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=H.WorkflowExecutionStartedEventAttributes(
                workflow_type=workflow_type,
                task_queue=task_queue,
                input=CONVERTER.to_payloads(list(args)),
                attempt=attempt,
                first_execution_run_id="first-run",
            ),
        )

    @property
    def last_id(self) -> int:
        return self.events[-1].event_id

    def since(self, event_id: int) -> list[history_pb2.HistoryEvent]:
        """The events from ``event_id`` on (what a cached instance is given)."""
        return self.events[event_id - 1 :]

    def add(
        self, event_type: int, *, advance: timedelta = timedelta(seconds=1), **attrs: Any
    ) -> history_pb2.HistoryEvent:
        self.time += advance
        event = history_pb2.HistoryEvent(
            event_id=len(self.events) + 1, event_time=timestamp_to_proto(self.time), event_type=event_type, **attrs
        )
        self.events.append(event)
        return event

    # -- workflow tasks ----------------------------------------------------------------------------

    def workflow_task(self, *, advance: timedelta = timedelta(seconds=1)) -> int:
        """WORKFLOW_TASK_SCHEDULED + WORKFLOW_TASK_STARTED; returns the started event id."""
        scheduled = self.add(H.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, advance=advance)
        started = self.add(
            H.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            workflow_task_started_event_attributes=H.WorkflowTaskStartedEventAttributes(
                scheduled_event_id=scheduled.event_id
            ),
        )
        return started.event_id

    def task_completed(self, commands: Sequence[command_pb2.Command] = ()) -> int:
        """WORKFLOW_TASK_COMPLETED then one event per command, as the service records them."""
        completed = self.add(
            H.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            workflow_task_completed_event_attributes=H.WorkflowTaskCompletedEventAttributes(
                scheduled_event_id=self.last_id - 1, started_event_id=self.last_id
            ),
        )
        for command in commands:
            self.record(command, completed.event_id)
        return completed.event_id

    def task_failed(self) -> None:
        self.add(
            H.EVENT_TYPE_WORKFLOW_TASK_FAILED,
            workflow_task_failed_event_attributes=H.WorkflowTaskFailedEventAttributes(
                scheduled_event_id=self.last_id - 1,
                started_event_id=self.last_id,
                cause=H.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
            ),
        )

    def record(self, command: command_pb2.Command, completed_id: int) -> history_pb2.HistoryEvent:
        kind = command.command_type
        if kind == command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
            a = command.schedule_activity_task_command_attributes
            return self.activity_scheduled(a.activity_type, a.activity_id, completed_id=completed_id, input=a.input)
        if kind == command_pb2.COMMAND_TYPE_START_TIMER:
            a = command.start_timer_command_attributes
            return self.add(
                H.EVENT_TYPE_TIMER_STARTED,
                timer_started_event_attributes=H.TimerStartedEventAttributes(
                    timer_id=a.timer_id,
                    start_to_fire_timeout=a.start_to_fire_timeout,
                    workflow_task_completed_event_id=completed_id,
                ),
            )
        if kind == command_pb2.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
            return self.activity_cancel_requested(
                command.request_cancel_activity_task_command_attributes.scheduled_event_id, completed_id
            )
        if kind == command_pb2.COMMAND_TYPE_CANCEL_TIMER:
            return self.add(
                H.EVENT_TYPE_TIMER_CANCELED,
                timer_canceled_event_attributes=H.TimerCanceledEventAttributes(
                    timer_id=command.cancel_timer_command_attributes.timer_id,
                    workflow_task_completed_event_id=completed_id,
                ),
            )
        if kind == command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
            return self.add(
                H.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
                workflow_execution_completed_event_attributes=H.WorkflowExecutionCompletedEventAttributes(
                    result=command.complete_workflow_execution_command_attributes.result,
                    workflow_task_completed_event_id=completed_id,
                ),
            )
        if kind == command_pb2.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
            return self.add(
                H.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
                workflow_execution_failed_event_attributes=H.WorkflowExecutionFailedEventAttributes(
                    failure=command.fail_workflow_execution_command_attributes.failure,
                    workflow_task_completed_event_id=completed_id,
                ),
            )
        if kind == command_pb2.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
            return self.add(
                H.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
                workflow_execution_canceled_event_attributes=H.WorkflowExecutionCanceledEventAttributes(
                    workflow_task_completed_event_id=completed_id
                ),
            )
        raise AssertionError(f"no event for command {command}")

    # -- activities and timers ---------------------------------------------------------------------

    def activity_scheduled(
        self, activity_type: str, activity_id: str, *, completed_id: int = 0, input: Any = None
    ) -> history_pb2.HistoryEvent:
        return self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=H.ActivityTaskScheduledEventAttributes(
                activity_id=activity_id,
                activity_type=activity_type,
                task_queue="tq",
                input=input,
                workflow_task_completed_event_id=completed_id,
            ),
        )

    def activity_started(self, scheduled_id: int) -> int:
        return self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=H.ActivityTaskStartedEventAttributes(
                scheduled_event_id=scheduled_id, identity="worker-1", attempt=1
            ),
        ).event_id

    def activity_completed(self, scheduled_id: int, result: Any) -> None:
        started = self.activity_started(scheduled_id)
        self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=H.ActivityTaskCompletedEventAttributes(
                result=CONVERTER.to_payload(result), scheduled_event_id=scheduled_id, started_event_id=started
            ),
        )

    def activity_failed(self, scheduled_id: int, error: BaseException) -> None:
        started = self.activity_started(scheduled_id)
        self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            activity_task_failed_event_attributes=H.ActivityTaskFailedEventAttributes(
                failure=CONVERTER.to_failure(error),
                scheduled_event_id=scheduled_id,
                started_event_id=started,
                identity="worker-1",
                retry_state=message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE,
            ),
        )

    def activity_cancel_requested(self, scheduled_id: int, completed_id: int = 0) -> history_pb2.HistoryEvent:
        return self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
            activity_task_cancel_requested_event_attributes=H.ActivityTaskCancelRequestedEventAttributes(
                scheduled_event_id=scheduled_id, workflow_task_completed_event_id=completed_id
            ),
        )

    def activity_canceled(self, scheduled_id: int, *details: Any, started_id: int = 0) -> None:
        self.add(
            H.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
            activity_task_canceled_event_attributes=H.ActivityTaskCanceledEventAttributes(
                details=CONVERTER.to_payloads(list(details)),
                scheduled_event_id=scheduled_id,
                started_event_id=started_id,
                identity="worker-1",
            ),
        )

    def timer_fired(self, timer_id: str, started_id: int, *, advance: timedelta = timedelta(seconds=1)) -> None:
        self.add(
            H.EVENT_TYPE_TIMER_FIRED,
            advance=advance,
            timer_fired_event_attributes=H.TimerFiredEventAttributes(timer_id=timer_id, started_event_id=started_id),
        )

    # -- from outside ------------------------------------------------------------------------------

    def signaled(self, signal_name: str, *args: Any) -> None:
        self.add(
            H.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
            workflow_execution_signaled_event_attributes=H.WorkflowExecutionSignaledEventAttributes(
                signal_name=signal_name, input=CONVERTER.to_payloads(list(args)), identity="client"
            ),
        )

    def cancel_requested(self) -> None:
        self.add(
            H.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
            workflow_execution_cancel_requested_event_attributes=H.WorkflowExecutionCancelRequestedEventAttributes(
                identity="client"
            ),
        )

    def find(self, event_type: int) -> list[history_pb2.HistoryEvent]:
        return [event for event in self.events if event.event_type == event_type]


def decode_result(command: command_pb2.Command) -> Any:
    assert command.command_type == command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, command
    return CONVERTER.from_payload(command.complete_workflow_execution_command_attributes.result)


def command_types(commands: Sequence[command_pb2.Command]) -> list[str]:
    return [command_pb2.CommandType.Name(c.command_type).removeprefix("COMMAND_TYPE_") for c in commands]


def new_instance(workflow_cls: type, *, run_id: str = "run-1", workflow_id: str = "wf-1", **options: Any) -> Any:
    """A WorkflowInstance of the class; ``options`` are more of its keyword arguments."""
    from rayflow import workflow
    from rayflow.worker.replay import WorkflowInstance

    definition = workflow.get_definition(workflow_cls)
    return WorkflowInstance(
        definition,
        namespace="default",
        workflow_id=workflow_id,
        run_id=run_id,
        workflow_type=definition.name,
        task_queue="tq",
        **options,
    )


class Driver:
    """Runs a workflow task by task as the service would, on one cached instance fed only new events.

    At every task it also replays the whole history on a fresh instance and checks both answer the same
    (commands, or the type of the task failure): incremental and from-scratch replay must agree.
    """

    def __init__(self, workflow_cls: type, *args: Any, run_id: str = "run-1") -> None:
        from rayflow import workflow

        self.workflow_cls = workflow_cls
        self.run_id = run_id
        self.history = HistoryBuilder(workflow.get_definition(workflow_cls).name, *args)
        self.instance = new_instance(workflow_cls, run_id=run_id)

    def task(self, *, advance: timedelta = timedelta(seconds=1)) -> Any:
        """Schedule and start a workflow task, run it, and return the cached instance's ActivationResult."""
        self.history.workflow_task(advance=advance)
        result = self.instance.apply(self.history.since(self.instance.next_event_id))
        fresh = new_instance(self.workflow_cls, run_id=self.run_id)
        try:
            replayed = fresh.apply(self.history.events)
        finally:
            fresh.close()
        assert type(replayed.task_failure) is type(result.task_failure), (replayed.task_failure, result.task_failure)
        assert replayed.task_failure_cause == result.task_failure_cause
        assert [_comparable(c) for c in replayed.commands] == [_comparable(c) for c in result.commands]
        return result

    def complete(self, result: Any) -> list[history_pb2.HistoryEvent]:
        """Record the task as completed with its commands; returns the command events."""
        completed = self.history.task_completed(result.commands)
        return self.history.events[completed:]

    def scheduled_id(self, activity_id: str) -> int:
        for event in self.history.find(H.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED):
            if event.activity_task_scheduled_event_attributes.activity_id == activity_id:
                return event.event_id
        raise AssertionError(f"activity {activity_id} was not scheduled")

    def timer_started_id(self, timer_id: str) -> int:
        for event in self.history.find(H.EVENT_TYPE_TIMER_STARTED):
            if event.timer_started_event_attributes.timer_id == timer_id:
                return event.event_id
        raise AssertionError(f"timer {timer_id} was not started")


def _comparable(command: command_pb2.Command) -> command_pb2.Command:
    copy = command_pb2.Command()
    copy.CopyFrom(command)
    if copy.HasField("fail_workflow_execution_command_attributes"):
        _clear_stacks(copy.fail_workflow_execution_command_attributes.failure)
    return copy


def _clear_stacks(failure: message_pb2.Failure) -> None:
    failure.stack_trace = ""
    if failure.HasField("cause"):
        _clear_stacks(failure.cause)
