"""Mutable state of one execution and the events that change it (no I/O).

A ``StateBuilder`` works on a copy of the stored ``MutableState``: each method appends the history
events of one transition and updates the state to match; the shard then writes state and events
in one atomic store write and, only after it committed, dispatches ``tasks`` to Matching.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rayflow import constants
from rayflow.common import timestamp_from_proto
from rayflow.proto.rayflow.v1 import (
    command_pb2,
    history_pb2,
    internal_pb2,
    message_pb2,
    request_response_pb2,
)
from rayflow.service.history import _wire, versioning
from rayflow.service.history.retry import with_defaults

ET = history_pb2
RUNNING = request_response_pb2.WORKFLOW_EXECUTION_STATUS_RUNNING
#: A new run's history rides with its first workflow task up to this size (``with_history``).
HISTORY_WITH_TASK_MAX_BYTES = 16 * 1024

# Which oneof field holds the attributes of each event type.
_ATTRIBUTE_FIELDS = {
    field.message_type.name: field.name
    for field in history_pb2.HistoryEvent.DESCRIPTOR.oneofs_by_name["attributes"].fields
}

_OUTCOME_EVENTS = (
    ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    ET.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
)


def _ts(value: datetime):
    from google.protobuf import timestamp_pb2

    proto = timestamp_pb2.Timestamp()
    proto.FromDatetime(value)
    return proto


def new_event(event_type: int, attributes, now: datetime, event_id: int = 0) -> history_pb2.HistoryEvent:
    event = history_pb2.HistoryEvent(event_id=event_id, event_type=event_type)
    event.event_time.FromDatetime(now)
    getattr(event, _ATTRIBUTE_FIELDS[type(attributes).__name__]).CopyFrom(attributes)
    return event


class StateBuilder:
    """Applies one transition to a copy of an execution's state, collecting events and tasks."""

    def __init__(self, state: internal_pb2.MutableState, now: datetime, *, copy: bool = True) -> None:
        if copy:
            copied = internal_pb2.MutableState()
            copied.CopyFrom(state)
            state = copied
        self.state = state
        self.now = now
        self.new_events: list[history_pb2.HistoryEvent] = []
        self.tasks: list[internal_pb2.MatchingTask] = []
        self.closed = False
        self.successor: StateBuilder | None = None  # the run a continue-as-new starts

    def adopt(self, other: StateBuilder) -> None:
        """Take over the outcome of a trial builder (used to discard a rejected set of commands)."""
        self.state = other.state
        self.new_events = other.new_events
        self.tasks = other.tasks
        self.closed = other.closed
        self.successor = other.successor

    @property
    def info(self) -> internal_pb2.ExecutionInfo:
        return self.state.execution_info

    @property
    def is_open(self) -> bool:
        return self.info.status == RUNNING

    # -- events -------------------------------------------------------------------------------
    def add_event(self, event_type: int, attributes) -> history_pb2.HistoryEvent:
        event = new_event(event_type, attributes, self.now, self.info.next_event_id)
        self.info.next_event_id += 1
        self.new_events.append(event)
        return event

    def add_input_event(self, event_type: int, attributes) -> None:
        """An event the workflow must see: buffered while a workflow task runs, else appended
        (scheduling a workflow task if none is pending)."""
        wft = self.state.workflow_task
        if wft.started_event_id:
            self.state.buffered_events.append(new_event(event_type, attributes, self.now))
            return
        self.add_event(event_type, attributes)
        if not wft.scheduled_event_id:
            self.schedule_workflow_task()

    def flush_buffered_events(self) -> bool:
        """Append buffered events with real ids (fixing activity started-event references)."""
        if not self.state.buffered_events:
            return False
        started_ids: dict[int, int] = {}
        for buffered in self.state.buffered_events:
            event = history_pb2.HistoryEvent()
            event.CopyFrom(buffered)
            event.event_id = self.info.next_event_id
            self.info.next_event_id += 1
            if event.event_type == ET.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started_ids[event.activity_task_started_event_attributes.scheduled_event_id] = event.event_id
            elif event.event_type in _OUTCOME_EVENTS:
                attrs = getattr(event, event.WhichOneof("attributes"))
                attrs.started_event_id = started_ids.get(attrs.scheduled_event_id, attrs.started_event_id)
            self.new_events.append(event)
        del self.state.buffered_events[:]
        return True

    # -- start --------------------------------------------------------------------------------
    @staticmethod
    def start_execution(
        request: request_response_pb2.StartWorkflowExecutionRequest, now: datetime
    ) -> StateBuilder:
        versioning.check_override(request.versioning_override)
        run_id = str(uuid.uuid4())
        state = internal_pb2.MutableState()
        info = state.execution_info
        info.namespace = request.namespace
        info.workflow_id = request.workflow_id
        info.run_id = run_id
        info.workflow_type = request.workflow_type
        info.task_queue = request.task_queue
        info.status = RUNNING
        info.start_time.FromDatetime(now)
        info.first_execution_run_id = run_id
        info.request_id = request.request_id
        info.next_event_id = 1
        info.versioning_override = request.versioning_override
        info.version_directive = versioning.start_directive(request)
        if request.parent_workflow_id:  # started as a child workflow
            info.parent_namespace = request.parent_namespace
            info.parent_workflow_id = request.parent_workflow_id
            info.parent_run_id = request.parent_run_id
            info.parent_initiated_event_id = request.parent_initiated_event_id
        if request.HasField("workflow_task_timeout") and request.workflow_task_timeout.ToTimedelta() > timedelta(0):
            info.task_timeout.CopyFrom(request.workflow_task_timeout)
        else:
            info.task_timeout.FromTimedelta(constants.DEFAULT_WORKFLOW_TASK_TIMEOUT)
        expirations = []
        if request.HasField("workflow_execution_timeout"):
            info.execution_timeout.CopyFrom(request.workflow_execution_timeout)
            info.execution_expiration_time.FromDatetime(now + request.workflow_execution_timeout.ToTimedelta())
            expirations.append(now + request.workflow_execution_timeout.ToTimedelta())
        if request.HasField("workflow_run_timeout"):
            info.run_timeout.CopyFrom(request.workflow_run_timeout)
            expirations.append(now + request.workflow_run_timeout.ToTimedelta())
        if expirations:
            info.run_expiration_time.FromDatetime(min(expirations))
        builder = StateBuilder(state, now, copy=False)
        attrs = history_pb2.WorkflowExecutionStartedEventAttributes(
            workflow_type=request.workflow_type,
            task_queue=request.task_queue,
            input=request.input,
            original_execution_run_id=run_id,
            first_execution_run_id=run_id,
            attempt=1,
            identity=request.identity,
            request_id=request.request_id,
        )
        attrs.workflow_task_timeout.CopyFrom(info.task_timeout)
        if request.HasField("workflow_execution_timeout"):
            attrs.workflow_execution_timeout.CopyFrom(request.workflow_execution_timeout)
            attrs.workflow_execution_expiration_time.CopyFrom(info.execution_expiration_time)
        if request.HasField("workflow_run_timeout"):
            attrs.workflow_run_timeout.CopyFrom(request.workflow_run_timeout)
        if request.HasField("retry_policy"):
            attrs.retry_policy.CopyFrom(request.retry_policy)
        if request.HasField("header"):
            attrs.header.CopyFrom(request.header)
        builder.add_event(ET.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, attrs)
        builder.schedule_workflow_task()
        return builder

    def continue_as_new(
        self, attrs: command_pb2.ContinueAsNewWorkflowExecutionCommandAttributes, completed_event_id: int,
        identity: str,
    ) -> StateBuilder:
        """Close this run as CONTINUED_AS_NEW and return the builder of its successor (same workflow id, a
        new run id, a fresh history); the caller writes both in one atomic write.

        Type, task queue, timeouts and memo are inherited unless the command gives them; the execution
        timeout spans the chain (the successor keeps this run's execution expiration time).
        """
        info = self.info
        request = request_response_pb2.StartWorkflowExecutionRequest(
            namespace=info.namespace,
            workflow_id=info.workflow_id,
            workflow_type=attrs.workflow_type or info.workflow_type,
            task_queue=attrs.task_queue or info.task_queue,
            input=attrs.input,
            identity=identity,
            # The chain keeps the request id of the start that made it: a retry of that start (a client's, or a
            # parent's StartChild after a restart) finds the chain's current run, not a conflict.
            request_id=info.request_id or f"continue-as-new-{uuid.uuid4()}",
            versioning_override=info.versioning_override,
            version_directive=versioning.start_request_directive(info, attrs.task_queue, attrs.versioning_intent),
        )
        if attrs.HasField("header"):
            request.header.CopyFrom(attrs.header)
        for name, inherited in (("workflow_run_timeout", "run_timeout"), ("workflow_task_timeout", "task_timeout")):
            if attrs.HasField(name) and getattr(attrs, name).ToTimedelta() > timedelta(0):
                getattr(request, name).CopyFrom(getattr(attrs, name))
            elif info.HasField(inherited) and getattr(info, inherited).ToTimedelta() > timedelta(0):
                getattr(request, name).CopyFrom(getattr(info, inherited))
        successor = StateBuilder.start_execution(request, self.now)
        new_info = successor.info
        started = successor.new_events[0].workflow_execution_started_event_attributes
        new_info.first_execution_run_id = info.first_execution_run_id or info.run_id
        for name in ("parent_namespace", "parent_workflow_id", "parent_run_id", "parent_initiated_event_id"):
            setattr(new_info, name, getattr(info, name))  # a child's successor stays its parent's child
        started.first_execution_run_id = new_info.first_execution_run_id
        # Inputs are idempotent by request id across the chain: a retry after the switch is not delivered again.
        successor.state.signal_request_ids.extend(self.state.signal_request_ids)
        started.original_execution_run_id = new_info.run_id
        started.continued_execution_run_id = info.run_id
        if info.HasField("execution_expiration_time"):
            expiration = info.execution_expiration_time.ToDatetime(tzinfo=self.now.tzinfo)
            new_info.execution_timeout.CopyFrom(info.execution_timeout)
            new_info.execution_expiration_time.CopyFrom(info.execution_expiration_time)
            started.workflow_execution_timeout.CopyFrom(info.execution_timeout)
            started.workflow_execution_expiration_time.CopyFrom(info.execution_expiration_time)
            if not new_info.HasField("run_expiration_time") or (
                    new_info.run_expiration_time.ToDatetime(tzinfo=self.now.tzinfo) > expiration):
                new_info.run_expiration_time.CopyFrom(info.execution_expiration_time)
        memo = info.memo if attrs.inherit_memo else attrs.memo
        for key, value in memo.items():
            started.memo[key].CopyFrom(value)
            new_info.memo[key].CopyFrom(value)
        event_attrs = history_pb2.WorkflowExecutionContinuedAsNewEventAttributes(
            new_execution_run_id=new_info.run_id,
            workflow_type=request.workflow_type,
            task_queue=request.task_queue,
            input=attrs.input,
            workflow_task_completed_event_id=completed_event_id,
        )
        if request.HasField("workflow_run_timeout"):
            event_attrs.workflow_run_timeout.CopyFrom(request.workflow_run_timeout)
        event_attrs.workflow_task_timeout.CopyFrom(new_info.task_timeout)
        if attrs.HasField("header"):
            event_attrs.header.CopyFrom(attrs.header)
        self.close(
            request_response_pb2.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
            ET.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            event_attrs,
        )
        self.successor = successor
        return successor

    # -- workflow tasks -----------------------------------------------------------------------
    def schedule_workflow_task(self, attempt: int = 1, delay: timedelta = timedelta(0)) -> None:
        info = self.info
        queue = info.sticky_task_queue if info.sticky_task_queue and attempt == 1 else info.task_queue
        attrs = history_pb2.WorkflowTaskScheduledEventAttributes(task_queue=queue, attempt=attempt)
        attrs.start_to_close_timeout.CopyFrom(info.task_timeout)
        event = self.add_event(ET.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, attrs)
        wft = self.state.workflow_task
        wft.Clear()
        wft.scheduled_event_id = event.event_id
        wft.attempt = attempt
        wft.scheduled_time.FromDatetime(self.now)
        wft.task_queue = queue
        wft.dispatch_time.FromDatetime(self.now + delay)
        if delay <= timedelta(0):
            self.tasks.append(self.workflow_matching_task())

    def workflow_matching_task(self) -> internal_pb2.MatchingTask:
        wft = self.state.workflow_task
        return versioning.stamp(matching_task(
            self.info, wft.scheduled_event_id, wft.attempt, request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW,
            wft.task_queue, self.now,
        ), self.info.version_directive, self.info.task_queue)

    def start_workflow_task(self, identity: str, request_id: str) -> history_pb2.HistoryEvent:
        wft = self.state.workflow_task
        event = self.add_event(
            ET.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            history_pb2.WorkflowTaskStartedEventAttributes(
                scheduled_event_id=wft.scheduled_event_id, identity=identity, request_id=request_id
            ),
        )
        wft.started_event_id = event.event_id
        wft.started_time.FromDatetime(self.now)
        wft.request_id = request_id
        wft.identity = identity
        return event

    def complete_workflow_task(self, identity: str) -> history_pb2.HistoryEvent:
        wft = self.state.workflow_task
        event = self.add_event(
            ET.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            history_pb2.WorkflowTaskCompletedEventAttributes(
                scheduled_event_id=wft.scheduled_event_id, started_event_id=wft.started_event_id, identity=identity
            ),
        )
        self.info.previous_started_event_id = wft.started_event_id
        wft.Clear()
        return event

    def fail_workflow_task(self, cause: int, failure: message_pb2.Failure, identity: str, *, timed_out: bool) -> None:
        """Record a failed or timed-out workflow task and schedule the next attempt (with backoff)."""
        wft = self.state.workflow_task
        attempt = wft.attempt
        if timed_out:
            self.add_event(
                ET.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
                history_pb2.WorkflowTaskTimedOutEventAttributes(
                    scheduled_event_id=wft.scheduled_event_id,
                    started_event_id=wft.started_event_id,
                    timeout_type=message_pb2.TIMEOUT_TYPE_START_TO_CLOSE,
                ),
            )
        else:
            self.add_event(
                ET.EVENT_TYPE_WORKFLOW_TASK_FAILED,
                history_pb2.WorkflowTaskFailedEventAttributes(
                    scheduled_event_id=wft.scheduled_event_id,
                    started_event_id=wft.started_event_id,
                    cause=cause,
                    failure=failure,
                    identity=identity,
                ),
            )
        # The next attempt replays the full history on any replica.
        self.info.sticky_task_queue = ""
        self.flush_buffered_events()
        if cause == history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND:
            # Not the code's fault (signals arrived while it completed): as in Temporal, not counted as an
            # attempt, so a steady stream of signals never backs the workflow off.
            self.schedule_workflow_task(attempt=attempt)
            return
        backoff = min(0.1 * 2 ** (attempt - 1), constants.MAX_WORKFLOW_TASK_BACKOFF_S) if attempt > 1 else 0.0
        self.schedule_workflow_task(attempt=attempt + 1, delay=timedelta(seconds=backoff))
        if not timed_out:
            self.state.workflow_task.last_failure.CopyFrom(failure)

    # -- activities ---------------------------------------------------------------------------
    def schedule_activity(
        self, attrs: command_pb2.ScheduleActivityTaskCommandAttributes, completed_event_id: int
    ) -> history_pb2.HistoryEvent:
        event_attrs = history_pb2.ActivityTaskScheduledEventAttributes(
            activity_id=attrs.activity_id,
            activity_type=attrs.activity_type,
            task_queue=attrs.task_queue or self.info.task_queue,
            input=attrs.input,
            workflow_task_completed_event_id=completed_event_id,
            retry_policy=with_defaults(attrs.retry_policy if attrs.HasField("retry_policy") else None),
            resource_label=attrs.resource_label,
        )
        for name in ("schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
                     "heartbeat_timeout"):
            if attrs.HasField(name) and getattr(attrs, name).ToTimedelta() > timedelta(0):
                getattr(event_attrs, name).CopyFrom(getattr(attrs, name))
        if not event_attrs.HasField("start_to_close_timeout"):
            event_attrs.start_to_close_timeout.CopyFrom(event_attrs.schedule_to_close_timeout)
        if attrs.HasField("header"):
            event_attrs.header.CopyFrom(attrs.header)
        event = self.add_event(ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, event_attrs)
        info = self.state.activities[event.event_id]
        info.scheduled_event_id = event.event_id
        info.activity_id = event_attrs.activity_id
        info.activity_type = event_attrs.activity_type
        info.task_queue = event_attrs.task_queue
        info.resource_label = event_attrs.resource_label
        info.version_directive = versioning.follow_on_directive(self.info, event_attrs.task_queue,
                                                                attrs.versioning_intent)
        info.input.CopyFrom(event_attrs.input)
        for name in ("schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
                     "heartbeat_timeout"):
            if event_attrs.HasField(name):
                getattr(info, name).CopyFrom(getattr(event_attrs, name))
        info.retry_policy.CopyFrom(event_attrs.retry_policy)
        if event_attrs.HasField("header"):
            info.header.CopyFrom(event_attrs.header)
        info.attempt = 1
        info.scheduled_time.FromDatetime(self.now)
        info.current_attempt_scheduled_time.FromDatetime(self.now)
        self.tasks.append(self.activity_matching_task(info))
        return event

    def activity_matching_task(self, info: internal_pb2.ActivityInfo) -> internal_pb2.MatchingTask:
        task = matching_task(
            self.info, info.scheduled_event_id, info.attempt, request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY,
            info.task_queue, self.now,
        )
        task.resource_label = info.resource_label
        return versioning.stamp(task, info.version_directive, info.task_queue)

    def start_activity(self, info: internal_pb2.ActivityInfo, identity: str, request_id: str) -> None:
        info.started_time.FromDatetime(self.now)
        info.started_identity = identity
        info.request_id = request_id

    def retry_activity(self, info: internal_pb2.ActivityInfo, failure: message_pb2.Failure, delay: timedelta) -> None:
        info.attempt += 1
        info.ClearField("started_time")
        info.started_identity = ""
        info.request_id = ""
        info.ClearField("last_heartbeat_time")
        info.last_failure.CopyFrom(failure)
        info.current_attempt_scheduled_time.FromDatetime(self.now + delay)
        if delay <= timedelta(0):
            self.tasks.append(self.activity_matching_task(info))

    def finish_activity(self, info: internal_pb2.ActivityInfo, event_type: int, attributes) -> None:
        """Record the final outcome: ActivityTaskStarted (when the last attempt started) then the outcome.

        An attempt that never started (no worker picked it up, or it timed out between retries) gets no
        ActivityTaskStarted, as in Temporal: the outcome's started_event_id stays 0.
        """
        scheduled_event_id = info.scheduled_event_id
        if not info.HasField("started_time"):
            attributes.scheduled_event_id = scheduled_event_id
            del self.state.activities[scheduled_event_id]
            self.add_input_event(event_type, attributes)
            return
        started_attrs = history_pb2.ActivityTaskStartedEventAttributes(
            scheduled_event_id=scheduled_event_id,
            identity=info.started_identity,
            request_id=info.request_id,
            attempt=info.attempt,
        )
        if info.HasField("last_failure"):
            started_attrs.last_failure.CopyFrom(info.last_failure)
        attributes.scheduled_event_id = scheduled_event_id
        del self.state.activities[scheduled_event_id]
        if self.state.workflow_task.started_event_id:
            self.add_input_event(ET.EVENT_TYPE_ACTIVITY_TASK_STARTED, started_attrs)
            self.add_input_event(event_type, attributes)  # started_event_id fixed when flushed
            return
        started = self.add_event(ET.EVENT_TYPE_ACTIVITY_TASK_STARTED, started_attrs)
        attributes.started_event_id = started.event_id
        self.add_input_event(event_type, attributes)

    def request_cancel_activity(self, scheduled_event_id: int, completed_event_id: int, identity: str) -> None:
        """A RequestCancelActivityTask command: ACTIVITY_TASK_CANCEL_REQUESTED, then (Temporal's rules)
        ACTIVITY_TASK_CANCELED at once when no attempt is running; a running attempt learns of it from its
        next heartbeat response. An activity that already ended gets the request event only."""
        requested = self.add_event(
            ET.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
            history_pb2.ActivityTaskCancelRequestedEventAttributes(
                scheduled_event_id=scheduled_event_id, workflow_task_completed_event_id=completed_event_id
            ),
        )
        info = self.state.activities.get(scheduled_event_id)
        if info is None:
            return
        info.cancel_requested = True
        info.cancel_requested_event_id = requested.event_id
        if not info.HasField("started_time"):
            self.finish_activity(
                info,
                ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
                history_pb2.ActivityTaskCanceledEventAttributes(
                    latest_cancel_requested_event_id=requested.event_id, identity=identity
                ),
            )

    # -- timers -------------------------------------------------------------------------------
    def start_timer(self, attrs: command_pb2.StartTimerCommandAttributes, completed_event_id: int) -> None:
        event_attrs = history_pb2.TimerStartedEventAttributes(
            timer_id=attrs.timer_id, workflow_task_completed_event_id=completed_event_id
        )
        event_attrs.start_to_fire_timeout.CopyFrom(attrs.start_to_fire_timeout)
        event = self.add_event(ET.EVENT_TYPE_TIMER_STARTED, event_attrs)
        timer = self.state.timers[attrs.timer_id]
        timer.timer_id = attrs.timer_id
        timer.started_event_id = event.event_id
        timer.expiry_time.FromDatetime(self.now + attrs.start_to_fire_timeout.ToTimedelta())

    def fire_timer(self, timer_id: str) -> None:
        timer = self.state.timers.pop(timer_id)
        self.add_input_event(
            ET.EVENT_TYPE_TIMER_FIRED,
            history_pb2.TimerFiredEventAttributes(timer_id=timer_id, started_event_id=timer.started_event_id),
        )

    def cancel_timer(self, timer_id: str, completed_event_id: int, identity: str) -> None:
        timer = self.state.timers.pop(timer_id, None)
        self.add_event(
            ET.EVENT_TYPE_TIMER_CANCELED,
            history_pb2.TimerCanceledEventAttributes(
                timer_id=timer_id,
                started_event_id=timer.started_event_id if timer is not None else 0,
                workflow_task_completed_event_id=completed_event_id,
                identity=identity,
            ),
        )

    # -- messages from outside ----------------------------------------------------------------
    def signal(self, signal_name: str, payloads: message_pb2.Payloads, identity: str,
               header: message_pb2.Header | None = None) -> None:
        """A signal: delivered to the workflow in the order received (buffered while a workflow task runs)."""
        attrs = history_pb2.WorkflowExecutionSignaledEventAttributes(
            signal_name=signal_name, input=payloads, identity=identity
        )
        if header is not None and header.fields:
            attrs.header.CopyFrom(header)
        self.add_input_event(ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, attrs)

    def request_cancel(self, reason: str, identity: str) -> None:
        """Ask the workflow to cancel: its code sees asyncio.CancelledError at its next await."""
        self.add_input_event(
            ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
            history_pb2.WorkflowExecutionCancelRequestedEventAttributes(cause=reason, identity=identity),
        )

    def terminate(self, reason: str, details: message_pb2.Payloads | None, identity: str) -> None:
        """End the run at once as TERMINATED (no workflow code runs)."""
        attributes = history_pb2.WorkflowExecutionTerminatedEventAttributes(reason=reason, identity=identity)
        if details is not None:
            attributes.details.CopyFrom(details)
        self.close(
            request_response_pb2.WORKFLOW_EXECUTION_STATUS_TERMINATED,
            ET.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
            attributes,
        )

    # -- close --------------------------------------------------------------------------------
    def close(self, status: int, event_type: int, attributes) -> None:
        event = self.add_event(event_type, attributes)
        info = self.info
        info.status = status
        info.close_time.FromDatetime(self.now)
        info.close_event_id = event.event_id
        info.sticky_task_queue = ""
        self.state.workflow_task.Clear()
        self.state.activities.clear()
        self.state.timers.clear()
        del self.state.buffered_events[:]
        self.closed = True


def matching_task(
    info: internal_pb2.ExecutionInfo, scheduled_event_id: int, attempt: int, queue_type: int, task_queue: str,
    now: datetime,
) -> internal_pb2.MatchingTask:
    task = internal_pb2.MatchingTask(
        namespace=info.namespace,
        workflow_id=info.workflow_id,
        run_id=info.run_id,
        scheduled_event_id=scheduled_event_id,
        attempt=attempt,
        task_queue_type=queue_type,
        task_queue=task_queue,
    )
    task.create_time.FromDatetime(now)
    return task


def with_history(task: internal_pb2.MatchingTask, new_events: list[history_pb2.HistoryEvent]
                 ) -> internal_pb2.MatchingTask:
    """The task, carrying the run's whole history when the events just written are all of it (a new run's
    first workflow task) and small: the shard answers its start from it instead of reading the store."""
    if (task.task_queue_type != request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW or task.query_id or not new_events
            or new_events[0].event_id != 1):
        return task
    events = [event.SerializeToString() for event in new_events]
    if sum(len(event) for event in events) > HISTORY_WITH_TASK_MAX_BYTES:
        return task
    task.history = _wire.history_bytes(events)
    task.history_last_event_id = new_events[-1].event_id
    return task


def pending_tasks(state: internal_pb2.MutableState, now: datetime) -> list[internal_pb2.MatchingTask]:
    """Tasks of an open execution that are due and not started: what a (re)started shard dispatches."""
    info = state.execution_info
    if info.status != RUNNING:
        return []
    tasks = []
    wft = state.workflow_task
    if wft.scheduled_event_id and not wft.started_event_id and _due(wft.dispatch_time, now):
        tasks.append(versioning.stamp(
            matching_task(info, wft.scheduled_event_id, wft.attempt, request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW,
                          wft.task_queue, now), info.version_directive, info.task_queue))
    for activity in state.activities.values():
        if not activity.HasField("started_time") and _due(activity.current_attempt_scheduled_time, now):
            task = matching_task(info, activity.scheduled_event_id, activity.attempt,
                                 request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY, activity.task_queue, now)
            task.resource_label = activity.resource_label
            tasks.append(versioning.stamp(task, activity.version_directive, activity.task_queue))
    return tasks


TaskIdent = tuple[int, int, int]  # (task queue type, scheduled event id, attempt)


def unstarted_task_idents(state: internal_pb2.MutableState) -> set[TaskIdent]:
    """The tasks of an open execution that were scheduled and not started (due or not)."""
    if state.execution_info.status != RUNNING:
        return set()
    idents = set()
    wft = state.workflow_task
    if wft.scheduled_event_id and not wft.started_event_id:
        idents.add((request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW, wft.scheduled_event_id, wft.attempt))
    for activity in state.activities.values():
        if not activity.HasField("started_time"):
            idents.add((request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY, activity.scheduled_event_id, activity.attempt))
    return idents


def task_ident(task: internal_pb2.MatchingTask) -> TaskIdent:
    return (task.task_queue_type, task.scheduled_event_id, task.attempt)


def _due(when, now: datetime) -> bool:
    value = timestamp_from_proto(when)
    return value is None or value <= now
