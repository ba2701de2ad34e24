"""Deadlines derived from mutable state, and what happens when one passes (no I/O).

``deadlines(state)`` lists every (time, timer) an open execution has; ``fire(builder, timer)``
re-checks the state (a timer may be stale) and applies the transition. Timers are rebuilt from
state after every write and after a shard restart, so none is persisted on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rayflow.common import timestamp_from_proto
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2, message_pb2, request_response_pb2
from rayflow.service.config import is_sticky_queue
from rayflow.service.history.mutable_state import ET, RUNNING, StateBuilder
from rayflow.service.history.retry import next_retry_delay

Timer = tuple  # (kind, *ids)

WFT_TIMEOUT = "wft_timeout"
WFT_DISPATCH = "wft_dispatch"
STICKY_TIMEOUT = "sticky_timeout"
USER_TIMER = "timer"
ACTIVITY_TIMEOUT = "activity_timeout"
ACTIVITY_RETRY = "activity_retry"
RUN_TIMEOUT = "run_timeout"

_TIMEOUT_NAMES = {
    message_pb2.TIMEOUT_TYPE_START_TO_CLOSE: "StartToClose",
    message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_START: "ScheduleToStart",
    message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: "ScheduleToClose",
    message_pb2.TIMEOUT_TYPE_HEARTBEAT: "Heartbeat",
}


def _time(proto) -> datetime | None:
    return timestamp_from_proto(proto)


def deadlines(state: internal_pb2.MutableState, sticky_timeout: timedelta) -> list[tuple[datetime, Timer]]:
    info = state.execution_info
    if info.status != RUNNING:
        return []
    out: list[tuple[datetime, Timer]] = []
    if info.HasField("run_expiration_time"):
        out.append((_time(info.run_expiration_time), (RUN_TIMEOUT,)))
    wft = state.workflow_task
    if wft.scheduled_event_id:
        ids = (wft.scheduled_event_id, wft.attempt)
        if wft.started_event_id:
            out.append((_time(wft.started_time) + info.task_timeout.ToTimedelta(), (WFT_TIMEOUT, *ids)))
        else:
            dispatch = _time(wft.dispatch_time)
            if dispatch is not None and dispatch > _time(wft.scheduled_time):
                out.append((dispatch, (WFT_DISPATCH, *ids)))
            if is_sticky_queue(wft.task_queue):
                timeout = info.sticky_schedule_to_start_timeout.ToTimedelta() or sticky_timeout
                out.append((_time(wft.scheduled_time) + timeout, (STICKY_TIMEOUT, *ids)))
    for timer in state.timers.values():
        out.append((_time(timer.expiry_time), (USER_TIMER, timer.timer_id)))
    for act in state.activities.values():
        ids = (act.scheduled_event_id, act.attempt)
        if act.HasField("schedule_to_close_timeout"):
            out.append((_time(act.scheduled_time) + act.schedule_to_close_timeout.ToTimedelta(),
                        (ACTIVITY_TIMEOUT, *ids, message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)))
        started = _time(act.started_time)
        attempt_scheduled = _time(act.current_attempt_scheduled_time)
        if started is None:
            if attempt_scheduled is not None and attempt_scheduled > _time(act.scheduled_time):
                out.append((attempt_scheduled, (ACTIVITY_RETRY, *ids)))
            if act.HasField("schedule_to_start_timeout"):
                out.append((attempt_scheduled + act.schedule_to_start_timeout.ToTimedelta(),
                            (ACTIVITY_TIMEOUT, *ids, message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_START)))
            continue
        out.append((started + act.start_to_close_timeout.ToTimedelta(),
                    (ACTIVITY_TIMEOUT, *ids, message_pb2.TIMEOUT_TYPE_START_TO_CLOSE)))
        if act.HasField("heartbeat_timeout"):
            last = _time(act.last_heartbeat_time) or started
            out.append((last + act.heartbeat_timeout.ToTimedelta(),
                        (ACTIVITY_TIMEOUT, *ids, message_pb2.TIMEOUT_TYPE_HEARTBEAT)))
    return out


def fire(builder: StateBuilder, timer: Timer, sticky_timeout: timedelta) -> bool:
    """Apply an expired timer; False when it is stale (nothing to write)."""
    state = builder.state
    if state.execution_info.status != RUNNING:
        return False
    due = {t for when, t in deadlines(state, sticky_timeout) if when <= builder.now}
    if timer not in due:
        return False
    kind = timer[0]
    if kind == USER_TIMER:
        builder.fire_timer(timer[1])
    elif kind == WFT_TIMEOUT:
        builder.fail_workflow_task(0, message_pb2.Failure(), "", timed_out=True)
    elif kind == WFT_DISPATCH:
        builder.tasks.append(builder.workflow_matching_task())
    elif kind == STICKY_TIMEOUT:
        # Nobody took it from the replica's sticky queue in time: any replica of the normal queue may.
        builder.info.sticky_task_queue = ""
        state.workflow_task.task_queue = builder.info.task_queue
        builder.tasks.append(builder.workflow_matching_task())
    elif kind == ACTIVITY_RETRY:
        builder.tasks.append(builder.activity_matching_task(state.activities[timer[1]]))
    elif kind == ACTIVITY_TIMEOUT:
        timeout_activity(builder, state.activities[timer[1]], timer[3])
    elif kind == RUN_TIMEOUT:
        builder.close(
            request_response_pb2.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
            ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
            history_pb2.WorkflowExecutionTimedOutEventAttributes(retry_state=message_pb2.RETRY_STATE_TIMEOUT),
        )
    else:
        return False
    return True


def timeout_activity(builder: StateBuilder, act: internal_pb2.ActivityInfo, timeout_type: int) -> None:
    """An activity attempt timed out: retry it (start-to-close, heartbeat) or end it."""
    never_started = not act.HasField("started_time") and act.attempt == 1
    if timeout_type == message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE and never_started:
        # No worker ever picked it up: say so, as Temporal does.
        timeout_type = message_pb2.TIMEOUT_TYPE_SCHEDULE_TO_START
    failure = message_pb2.Failure(
        message=f"activity {_TIMEOUT_NAMES[timeout_type]} timeout",
        source="rayflow-service",
    )
    failure.timeout_failure_info.timeout_type = timeout_type
    if act.HasField("heartbeat_details"):
        failure.timeout_failure_info.last_heartbeat_details.CopyFrom(act.heartbeat_details)
    retryable = timeout_type in (message_pb2.TIMEOUT_TYPE_START_TO_CLOSE, message_pb2.TIMEOUT_TYPE_HEARTBEAT)
    if retryable and act.cancel_requested:
        retry_state = message_pb2.RETRY_STATE_CANCEL_REQUESTED  # no retry once cancellation was requested
    elif retryable:
        delay, retry_state = next_retry_delay(
            act.retry_policy, act.attempt, failure, builder.now, _expiration(act)
        )
        if delay is not None:
            builder.retry_activity(act, failure, delay)
            return
    else:
        retry_state = message_pb2.RETRY_STATE_TIMEOUT
    builder.finish_activity(
        act,
        ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        history_pb2.ActivityTaskTimedOutEventAttributes(failure=failure, retry_state=retry_state),
    )


def fail_activity(
    builder: StateBuilder, act: internal_pb2.ActivityInfo, failure: message_pb2.Failure, identity: str
) -> None:
    """An attempt failed: retry per the policy, or record ActivityTaskFailed."""
    delay, retry_state = next_retry_delay(act.retry_policy, act.attempt, failure, builder.now, _expiration(act))
    if act.cancel_requested:
        delay, retry_state = None, message_pb2.RETRY_STATE_CANCEL_REQUESTED  # no retry once cancellation was requested
    if delay is not None:
        builder.retry_activity(act, failure, delay)
        return
    builder.finish_activity(
        act,
        ET.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        history_pb2.ActivityTaskFailedEventAttributes(failure=failure, identity=identity, retry_state=retry_state),
    )


def _expiration(act: internal_pb2.ActivityInfo) -> datetime | None:
    if not act.HasField("schedule_to_close_timeout"):
        return None
    return _time(act.scheduled_time) + act.schedule_to_close_timeout.ToTimedelta()
