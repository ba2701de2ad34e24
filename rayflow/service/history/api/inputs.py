"""Signals, cancel requests and terminations from clients (internal).

Each is idempotent by its request id, as in Temporal: the id is kept in the run's state with the input it
brought (``MutableState.signal_request_ids``, the latest ``children.SIGNAL_REQUEST_IDS_KEPT``; carried over
to the next run on continue-as-new), so a retry, the client's or Ray's re-execution of the call on a restarted
shard, finds it and changes nothing. A request without a run id goes to the workflow id's current run;
``first_execution_run_id`` restricts that to the current run of one chain (a parent's close policy).
"""

from __future__ import annotations

from collections.abc import Callable

from rayflow.exceptions import WorkflowNotFoundError
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import children, id_policy
from rayflow.service.history.context import UNCHANGED, ShardContext
from rayflow.service.history.mutable_state import StateBuilder

# A run found continued-as-new under its lock is resolved again (its successor); a chain that switches runs
# faster than this many times in a row gives up rather than loop.
_MAX_RESOLVES = 10


async def signal_workflow(ctx: ShardContext, request: RR.SignalWorkflowExecutionRequest) -> str:
    """Add a signal to a running run; returns its run id."""
    if not request.signal_name:
        raise ValueError("signal_workflow: signal_name is required")
    ctx.check_payload(request.input, f"the input of signal {request.signal_name!r}")
    return await add_input(ctx, request, "signalled",
                           lambda builder: builder.signal(request.signal_name, request.input, request.identity,
                                                                          request.header))


async def request_cancel_workflow(ctx: ShardContext, request: RR.RequestCancelWorkflowExecutionRequest) -> str:
    """Ask a running run to cancel (its code sees asyncio.CancelledError); returns its run id."""
    return await add_input(ctx, request, "cancelled",
                           lambda builder: builder.request_cancel(request.reason, request.identity))


async def terminate_workflow(ctx: ShardContext, request: RR.TerminateWorkflowExecutionRequest) -> str:
    """End a running run at once as TERMINATED; returns its run id. Its pending tasks become stale."""
    ctx.check_payload(request.details, "the details of terminate")
    details = request.details if request.HasField("details") else None
    return await add_input(ctx, request, "terminated",
                           lambda builder: builder.terminate(request.reason, details, request.identity))


async def add_input(ctx: ShardContext, request, what: str, add: Callable[[StateBuilder], None]) -> str:
    """Apply ``add`` to the run the request names (or the current run), once per request id."""
    request_id, first_run = request.request_id, getattr(request, "first_execution_run_id", "")
    for _ in range(_MAX_RESOLVES):
        key = await ctx.cache.resolve(request.namespace, request.workflow_id, request.run_id)
        continued = False

        def mutate(builder: StateBuilder, key: tuple[str, str, str] = key) -> object:
            nonlocal continued
            if request_id and request_id in builder.state.signal_request_ids:
                return UNCHANGED  # done already: a retry
            info = builder.info
            if not request.run_id and info.status == RR.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
                continued = True  # it continued as new since it was resolved: the input goes to its successor
                return False
            if first_run and (info.first_execution_run_id or info.run_id) != first_run:
                raise WorkflowNotFoundError(
                    f"workflow {key[1]!r}: its current run {key[2]!r} is not of the chain that began with run "
                    f"{first_run!r}"
                )
            if not builder.is_open:
                raise WorkflowNotFoundError(
                    f"workflow {key[1]!r} run {key[2]!r} is already closed ({id_policy.status_name(info.status)}): "
                    f"only a running workflow can be {what}"
                )
            children.remember_signal_request(builder.state, request_id)
            add(builder)
            return True

        if await ctx.transact(key, mutate) is not None:
            return key[2]
        if not continued:
            raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
    raise WorkflowNotFoundError(
        f"workflow {request.workflow_id!r} kept continuing as new while it was being {what}; try again"
    )
