"""StartWorkflowExecution on the shard: the id reuse and conflict policies, signal-with-start (internal)."""

from __future__ import annotations

from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import children, id_policy
from rayflow.service.history.context import ShardContext, now
from rayflow.service.history.mutable_state import StateBuilder


async def start_workflow(ctx: ShardContext, request: RR.StartWorkflowExecutionRequest) -> RR.StartWorkflowExecutionResponse:
    ctx.check_payload(request.input, f"the input of workflow {request.workflow_type!r}")
    ctx.check_payload(request.start_signal_input, f"the input of signal {request.start_signal_name!r}")
    ns, wf_id = request.namespace, request.workflow_id
    async with ctx.cache.locked(ns, wf_id):
        current_run = await ctx.cache.current_run(ns, wf_id)
        current = await ctx.cache.load((ns, wf_id, current_run)) if current_run else None
        if request.start_signal_name and not request.workflow_id_conflict_policy and (
                request.workflow_id_reuse_policy != id_policy.TERMINATE_IF_RUNNING):
            # Signal-with-start (Temporal's SignalWithStart): a running run is signalled by default.
            request.workflow_id_conflict_policy = id_policy.USE_EXISTING
        decision = id_policy.decide(request, current.state.execution_info if current else None)
        if decision.existing_run_id:
            state = current.state
            if request.start_signal_name and state.execution_info.request_id != request.request_id and (
                    request.request_id not in state.signal_request_ids):
                # Signal-with-start on a running run (neither the start that made it nor a retry of this
                # request, which is remembered by its request id): signal it.
                signaled = StateBuilder(state, now())
                children.remember_signal_request(signaled.state, request.request_id)
                signaled.signal(request.start_signal_name, request.start_signal_input, request.identity,
                                request.header)
                await ctx.commit((ns, wf_id, current_run), signaled)
            return RR.StartWorkflowExecutionResponse(run_id=decision.existing_run_id, started=False)
        at = now()
        builder = StateBuilder.start_execution(request, at)
        if request.start_signal_name:  # signal-with-start: the signal follows the start event
            builder.signal(request.start_signal_name, request.start_signal_input, request.identity, request.header)
        key = (ns, wf_id, builder.info.run_id)
        changes = [(key, builder, True)]
        if decision.terminate_reason and current is not None:
            # The running run ends as TERMINATED in the same atomic write that starts its successor.
            ended = StateBuilder(current.state, at)
            ended.terminate(decision.terminate_reason, None, request.identity)
            changes.insert(0, ((ns, wf_id, current_run), ended, False))
        await ctx.commit_all(changes)
        return RR.StartWorkflowExecutionResponse(run_id=key[2], started=True)
