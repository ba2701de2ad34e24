"""Reads of a shard's executions: describe, history pages, list and count (internal; nothing is written)."""

from __future__ import annotations

from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import listing
from rayflow.service.history.context import ShardContext
from rayflow.service.history.mutable_state import RUNNING


async def describe(ctx: ShardContext, namespace: str, workflow_id: str, run_id: str) -> RR.DescribeWorkflowExecutionResponse:
    key = await ctx.cache.resolve(namespace, workflow_id, run_id)
    state = (await ctx.cache.load(key)).state
    info = state.execution_info
    response = RR.DescribeWorkflowExecutionResponse()
    out = response.workflow_execution_info
    out.execution.workflow_id = info.workflow_id
    out.execution.run_id = info.run_id
    out.workflow_type = info.workflow_type
    out.start_time.CopyFrom(info.start_time)
    if info.HasField("close_time"):
        out.close_time.CopyFrom(info.close_time)
        if info.status != RUNNING:  # when retention deletes it, at the namespace's retention as of now
            retention_ns = round(await ctx.retention.seconds(namespace) * 1e9)
            out.expire_time.FromNanoseconds(info.close_time.ToNanoseconds() + retention_ns)
    out.status = info.status
    out.history_length = info.next_event_id - 1
    out.task_queue = info.task_queue
    out.first_execution_run_id = info.first_execution_run_id
    out.sticky_task_queue = info.sticky_task_queue
    out.parent_namespace = info.parent_namespace
    out.parent_workflow_id = info.parent_workflow_id
    out.parent_run_id = info.parent_run_id
    out.build_ids.extend(info.build_ids)
    out.assigned_build_id = info.build_id
    out.worker_deployment_version = info.deployment_version
    out.versioning_behavior = info.versioning_behavior
    out.versioning_override = info.versioning_override
    for act in sorted(state.activities.values(), key=lambda a: a.scheduled_event_id):
        pending = response.pending_activities.add(
            activity_id=act.activity_id,
            activity_type=act.activity_type,
            state=RR.PENDING_ACTIVITY_STATE_STARTED if act.HasField("started_time")
            else RR.PENDING_ACTIVITY_STATE_SCHEDULED,
            attempt=act.attempt,
            maximum_attempts=act.retry_policy.maximum_attempts,
            last_worker_identity=act.started_identity,
        )
        pending.scheduled_time.CopyFrom(act.current_attempt_scheduled_time)
        for src, dst in (("heartbeat_details", "heartbeat_details"), ("last_heartbeat_time", "last_heartbeat_time"),
                         ("started_time", "last_started_time"), ("last_failure", "last_failure")):
            if act.HasField(src):
                getattr(pending, dst).CopyFrom(getattr(act, src))
    wft = state.workflow_task
    if wft.scheduled_event_id:
        pending_wft = response.pending_workflow_task
        pending_wft.scheduled_event_id = wft.scheduled_event_id
        pending_wft.started_event_id = wft.started_event_id
        pending_wft.attempt = wft.attempt
        pending_wft.task_queue = wft.task_queue
        pending_wft.scheduled_time.CopyFrom(wft.scheduled_time)
        if wft.HasField("started_time"):
            pending_wft.started_time.CopyFrom(wft.started_time)
        if wft.HasField("last_failure"):
            pending_wft.last_failure.CopyFrom(wft.last_failure)
    return response


async def get_history(ctx: ShardContext, namespace: str, workflow_id: str, run_id: str, first_event_id: int = 1,
                      last_event_id: int | None = None) -> tuple[str, list[bytes]]:
    key = await ctx.cache.resolve(namespace, workflow_id, run_id)
    events = await ctx.store.read_history(ctx.index, *key, first_event_id=first_event_id,
                                          last_event_id=last_event_id)
    if not events:
        await ctx.cache.load(key)  # WorkflowNotFoundError for a run that is not there (or deleted by retention)
    return key[2], events


async def close_event(ctx: ShardContext, key: tuple[str, str, str], close_event_id: int) -> bytes:
    """The serialized closing event of a closed run."""
    events = await ctx.store.read_history(ctx.index, *key, first_event_id=close_event_id, last_event_id=close_event_id)
    return events[0]


async def list_executions(ctx: ShardContext, request: RR.ListWorkflowExecutionsRequest) -> list[listing.Row]:
    """This shard's executions matching the request, newest first: up to ``page_size`` rows after the token."""
    summaries = await ctx.store.list_executions(
        ctx.index, request.namespace, **listing.filters(request),
        before=listing.decode_token(request.next_page_token), limit=max(request.page_size, 1),
    )
    return [listing.row(summary) for summary in summaries]


async def count_executions(ctx: ShardContext, request: RR.ListWorkflowExecutionsRequest) -> int:
    return await ctx.store.count_executions(ctx.index, request.namespace, **listing.filters(request))
