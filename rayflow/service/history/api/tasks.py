"""A task handed to a poller, recorded as started, and what the poller needs to run it (internal)."""

from __future__ import annotations

from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.config import is_sticky_queue
from rayflow.service.history import _wire
from rayflow.service.history.api.query import query_task_started
from rayflow.service.history.context import UNCHANGED, ShardContext
from rayflow.service.history.execution_cache import Key
from rayflow.service.history.mutable_state import StateBuilder


async def record_task_started(ctx: ShardContext, task: internal_pb2.MatchingTask, identity: str,
                              request_id: str) -> bytes | None:
    """Mark a dispatched task started and build what the poller needs; None if the task is stale.

    A call repeated with the same request id (Matching retrying after a failure) answers again.
    """
    key = (task.namespace, task.workflow_id, task.run_id)
    if task.query_id:
        return await query_task_started(ctx, key, task)
    if task.task_queue_type == RR.TASK_QUEUE_TYPE_WORKFLOW:
        return await _record_workflow_task_started(ctx, key, task, identity, request_id)
    return await _record_activity_task_started(ctx, key, task, identity, request_id)


async def _record_workflow_task_started(ctx: ShardContext, key: Key, task: internal_pb2.MatchingTask, identity: str,
                                        request_id: str) -> bytes | None:
    written: list[history_pb2.HistoryEvent] = []

    def start(builder: StateBuilder) -> object:
        wft = builder.state.workflow_task
        if not builder.is_open or wft.scheduled_event_id != task.scheduled_event_id or wft.attempt != task.attempt:
            return False
        if wft.started_event_id:
            return UNCHANGED if wft.request_id == request_id else False  # a retried call: answer again
        builder.start_workflow_task(identity, request_id)
        written.extend(builder.new_events)
        return True

    state = await ctx.transact(key, start)
    if state is None:
        return None
    history = _carried_history(task, written, state.workflow_task.started_event_id)
    return await workflow_task(ctx, key, state, is_sticky_queue(task.task_queue), history=history)


def _carried_history(task: internal_pb2.MatchingTask, written: list[history_pb2.HistoryEvent],
                     started_event_id: int) -> list[bytes] | None:
    """The whole history up to the started event without reading the store: what the task carries
    (``mutable_state.with_history``) followed by what this start wrote, when the two meet exactly."""
    if (not task.history or not written or written[0].event_id != task.history_last_event_id + 1
            or written[-1].event_id != started_event_id):
        return None
    return [task.history, _wire.history_bytes(event.SerializeToString() for event in written)]


async def workflow_task(ctx: ShardContext, key: Key, state: internal_pb2.MutableState, sticky: bool,
                        history: list[bytes] | None = None) -> bytes:
    """The started workflow task with its history: all of it, or (sticky) what the worker has not seen.
    ``history``: the whole history as serialized ``History`` parts, when the caller has it (not read again)."""
    info, wft = state.execution_info, state.workflow_task
    sticky = sticky and info.previous_started_event_id > 0
    first = info.previous_started_event_id + 1 if sticky else 1
    if history is not None and not sticky:
        history_data = b"".join(history)
    else:
        events = await ctx.store.read_history(ctx.index, *key, first_event_id=first,
                                              last_event_id=wft.started_event_id)
        history_data = _wire.history_bytes(events)
    token = internal_pb2.TaskToken(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                   scheduled_event_id=wft.scheduled_event_id,
                                   started_event_id=wft.started_event_id, attempt=wft.attempt)
    response = RR.PollWorkflowTaskQueueResponse(
        task_token=token.SerializeToString(),
        workflow_type=info.workflow_type,
        previous_started_event_id=info.previous_started_event_id,
        started_event_id=wft.started_event_id,
        attempt=wft.attempt,
        task_queue=info.task_queue,
        namespace=key[0],
    )
    response.workflow_execution.workflow_id = key[1]
    response.workflow_execution.run_id = key[2]
    response.scheduled_time.CopyFrom(wft.scheduled_time)
    response.started_time.CopyFrom(wft.started_time)
    response.updates.extend(ctx.updates.offers(key))
    return response.SerializeToString() + _wire.length_delimited(7, history_data)


async def _record_activity_task_started(ctx: ShardContext, key: Key, task: internal_pb2.MatchingTask, identity: str,
                                        request_id: str) -> bytes | None:
    def start(builder: StateBuilder) -> object:
        act = builder.state.activities.get(task.scheduled_event_id)
        if not builder.is_open or act is None or act.attempt != task.attempt:
            return False
        if act.HasField("started_time"):
            return UNCHANGED if act.request_id == request_id else False
        builder.start_activity(act, identity, request_id)
        return True

    state = await ctx.transact(key, start)
    if state is None:
        return None
    return activity_task(key, state, state.activities[task.scheduled_event_id]).SerializeToString()


def activity_task(key: Key, state: internal_pb2.MutableState, act: internal_pb2.ActivityInfo
                  ) -> RR.PollActivityTaskQueueResponse:
    """What the worker needs to run one started activity attempt."""
    token = internal_pb2.TaskToken(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                   scheduled_event_id=act.scheduled_event_id, attempt=act.attempt,
                                   activity_id=act.activity_id)
    response = RR.PollActivityTaskQueueResponse(
        task_token=token.SerializeToString(),
        workflow_namespace=key[0],
        workflow_type=state.execution_info.workflow_type,
        activity_type=act.activity_type,
        activity_id=act.activity_id,
        input=act.input,
        attempt=act.attempt,
        task_queue=act.task_queue,
        retry_policy=act.retry_policy,
    )
    response.workflow_execution.workflow_id = key[1]
    response.workflow_execution.run_id = key[2]
    for name in ("heartbeat_details", "scheduled_time", "current_attempt_scheduled_time", "started_time",
                 "schedule_to_close_timeout", "start_to_close_timeout", "heartbeat_timeout", "header"):
        if act.HasField(name):
            getattr(response, name).CopyFrom(getattr(act, name))
    return response
