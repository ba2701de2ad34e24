"""Queries (internal): answered by a worker from the run's state; nothing is recorded (queries.py)."""

from __future__ import annotations

import asyncio
import time

from rayflow.exceptions import WorkflowNotFoundError, WorkflowQueryFailedError
from rayflow.proto.rayflow.v1 import internal_pb2, message_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import _wire, versioning
from rayflow.service.history.context import ShardContext, now
from rayflow.service.history.execution_cache import Key
from rayflow.service.history.mutable_state import RUNNING
from rayflow.service.history.queries import STICKY_FALLBACK_S, query_timeout, timeout_message


async def query_workflow(ctx: ShardContext, request: RR.QueryWorkflowRequest) -> RR.QueryWorkflowResponse:
    """Have a worker answer a query from the run's state."""
    if not request.query_type:
        raise ValueError("query_workflow: query_type is required")
    ctx.check_payload(request.query_args, f"the arguments of query {request.query_type!r}")
    key = await ctx.cache.resolve(request.namespace, request.workflow_id, request.run_id)
    timeout = query_timeout(request)
    deadline = time.monotonic() + timeout
    state = (await ctx.cache.load(key)).state
    # As Temporal, a query sees what the run has been sent: it waits for a workflow task scheduled or running
    # (e.g. for a signal just accepted) to complete, and the workflow object exists once its first one did.
    while _task_pending(state) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        state = (await ctx.cache.load(key)).state
    info = state.execution_info
    query_id, pending = ctx.queries.add(key, request.query_type, request.query_args, request.header)
    task = internal_pb2.MatchingTask(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                     task_queue_type=RR.TASK_QUEUE_TYPE_WORKFLOW, task_queue=info.task_queue,
                                     query_id=query_id)
    versioning.stamp(task, info.version_directive, info.task_queue)
    task.create_time.FromDatetime(now())
    try:
        if info.status == RUNNING and info.sticky_task_queue:  # the worker that caches the run answers best
            sticky = internal_pb2.MatchingTask()
            sticky.CopyFrom(task)
            sticky.task_queue = info.sticky_task_queue
            ctx.spawn(ctx.add_task(sticky))
            ctx.spawn(_fallback(ctx, task))
        else:
            ctx.spawn(ctx.add_task(task))
        remaining = max(deadline - time.monotonic(), 0.0)
        result, failure = await asyncio.wait_for(asyncio.shield(pending.future), remaining)
    except TimeoutError:
        raise WorkflowQueryFailedError(timeout_message(request, key[2], info.task_queue, timeout, pending.started)) \
            from None
    finally:
        ctx.queries.drop(query_id)
    if failure is not None:
        raise WorkflowQueryFailedError(failure.message)
    return RR.QueryWorkflowResponse(query_result=result)


def _task_pending(state: internal_pb2.MutableState) -> bool:
    """A running run whose first workflow task has not completed, or with a first attempt of a workflow task
    scheduled or started. A failing one (attempt > 1) is not waited for: the query sees the last good state."""
    info, wft = state.execution_info, state.workflow_task
    return info.status == RUNNING and (not info.previous_started_event_id
                                       or (wft.scheduled_event_id > 0 and wft.attempt <= 1))


async def _fallback(ctx: ShardContext, task: internal_pb2.MatchingTask) -> None:
    """A query task its sticky worker did not take soon goes to the normal task queue too."""
    await asyncio.sleep(STICKY_FALLBACK_S)
    pending = ctx.queries.get(task.query_id)
    if pending is not None and not pending.started:
        await ctx.add_task(task)


async def query_task_started(ctx: ShardContext, key: Key, task: internal_pb2.MatchingTask) -> bytes | None:
    """A worker took a query task: the query and the run's history; None when the query is gone."""
    pending = ctx.queries.start(task.query_id)
    if pending is None:
        return None
    try:
        info = (await ctx.cache.load(key)).state.execution_info
    except WorkflowNotFoundError:
        ctx.queries.drop(task.query_id)
        return None
    events = await ctx.store.read_history(ctx.index, *key)
    response = RR.PollWorkflowTaskQueueResponse(
        workflow_type=info.workflow_type,
        previous_started_event_id=info.previous_started_event_id,
        task_queue=info.task_queue,
        namespace=key[0],
    )
    response.workflow_execution.workflow_id = key[1]
    response.workflow_execution.run_id = key[2]
    response.query.query_id = task.query_id
    response.query.query_type = pending.query_type
    response.query.query_args.CopyFrom(pending.args)
    if pending.header is not None and pending.header.fields:
        response.query.header.CopyFrom(pending.header)
    return response.SerializeToString() + _wire.length_delimited(7, _wire.history_bytes(events))


def respond_query_task_completed(ctx: ShardContext, request: RR.RespondQueryTaskCompletedRequest) -> None:
    """A worker's answer to a query; ignored when the query already timed out."""
    failure = request.failure if request.HasField("failure") else None
    result = request.query_result if failure is None else None
    oversized = ctx.oversized(result, "the query result")
    if oversized is not None:
        failure, result = message_pb2.Failure(message=oversized, source="rayflow-service"), None
    ctx.queries.resolve(request.query_id, result, failure)
