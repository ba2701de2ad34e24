"""Workflow updates (internal): register or join an update, make sure a workflow task offers it, wait for the
stage asked for (see updates.py for the bookkeeping)."""

from __future__ import annotations

import asyncio
from typing import Any

from rayflow.exceptions import WorkflowNotFoundError
from rayflow.proto.rayflow.v1 import history_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history.context import UNCHANGED, ShardContext
from rayflow.service.history.updates import STAGE_ACCEPTED, STAGE_COMPLETED, is_trimmed


async def update_workflow(ctx: ShardContext, request: RR.UpdateWorkflowExecutionRequest
                          ) -> RR.UpdateWorkflowExecutionResponse:
    if not request.update_id or not request.name:
        raise ValueError("update_workflow: update_id and name are required")
    ctx.check_payload(request.input, f"the input of update {request.name!r}")
    key = await ctx.cache.resolve(request.namespace, request.workflow_id, request.run_id)
    known = (await ctx.cache.load(key)).state.updates.get(request.update_id)
    if known is not None and is_trimmed(known):  # an old update asked again: its outcome is in history
        return await _from_history(ctx, key, request.update_id, known.completed_event_id)
    outcome: list[Any] = []

    def register(builder: Any) -> object:
        result = ctx.updates.register(key, builder.state, builder.is_open, request)
        outcome.append(result)
        if isinstance(result, tuple) and result[1] and not builder.state.workflow_task.scheduled_event_id:
            builder.schedule_workflow_task()
            return True
        return UNCHANGED

    if await ctx.transact(key, register) is None and not outcome:
        raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
    result = outcome[0]
    if isinstance(result, RR.UpdateWorkflowExecutionResponse):
        return result
    pending = result[0]
    if request.wait_for_stage and request.wait_for_stage <= STAGE_ACCEPTED:
        return await asyncio.shield(pending.accepted)
    return await asyncio.shield(pending.completed)


async def _from_history(ctx: ShardContext, key: tuple[str, str, str], update_id: str, completed_event_id: int
                        ) -> RR.UpdateWorkflowExecutionResponse:
    [data] = await ctx.store.read_history(ctx.index, *key, first_event_id=completed_event_id,
                                          last_event_id=completed_event_id)
    attrs = history_pb2.HistoryEvent.FromString(data).workflow_execution_update_completed_event_attributes
    response = RR.UpdateWorkflowExecutionResponse(update_id=update_id, run_id=key[2], stage=STAGE_COMPLETED)
    if attrs.HasField("failure"):
        response.failure.CopyFrom(attrs.failure)
    else:
        response.result.CopyFrom(attrs.result)
    return response
