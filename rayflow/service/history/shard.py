"""The HistoryShard actor: single writer of the executions whose workflow ids hash to it (internal).

A thin actor over ``ShardContext`` (context.py): each remote method decodes its request, hands it to its
handler in ``api/`` and encodes the answer. Every state change is one atomic store write (events + mutable
state, group-committed with other executions' writes); only after it committed do tasks go to Matching and
timers to the timer queue. A restarted shard bumps its ownership counter (so a stale twin can no longer
write), reloads the open executions, rebuilds their timers and dispatches their pending tasks again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import Any

from rayflow.persistence import ExecutionRecord, StoreUnavailableError, open_store
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service import logs, placement
from rayflow.service._batcher import run_batch
from rayflow.service.call_counts import counted
from rayflow.service.config import ServiceConfig
from rayflow.service.history import listing
from rayflow.service.history.api import (
    child_work,
    inputs,
    namespace,
    query,
    read,
    respond,
    start,
    tasks,
    update,
    waits,
)
from rayflow.service.history.context import ShardContext, now
from rayflow.service.history.mutable_state import RUNNING, pending_tasks
from rayflow.service.history.retention import RetentionSweeper
from rayflow.service.resilient_store import ResilientStore
from rayflow.telemetry.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

# The remote methods callers may send in a batch (HistoryClient batches these).
_BATCHABLE = (
    "start_workflow", "signal_workflow", "record_task_started", "respond_workflow_task_completed",
    "respond_workflow_task_failed", "respond_activity_task_completed", "respond_activity_task_failed",
    "respond_activity_task_canceled", "record_activity_heartbeat",
)


@counted
class HistoryShard:
    """Ray actor (created by ``rayflow.service.bootstrap``) owning shard ``index``."""

    def __init__(self, config: ServiceConfig, index: int) -> None:
        logs.configure(f"history-{index}", config.log_level)
        store = ResilientStore(open_store(config.store, durability=config.durability), what=f"history shard {index}")
        self._ctx = ShardContext(config, index, store)
        self._child_work = self._ctx.child_work = child_work.ChildWork(self._ctx)
        self._retention = RetentionSweeper(self._ctx)
        self._batchable = {name: getattr(self, name) for name in _BATCHABLE}
        self._metrics = ServiceMetrics("history")
        self._started = asyncio.get_running_loop().create_task(self._start())

    # -- lifecycle ----------------------------------------------------------------------------------
    async def _start(self) -> None:
        ctx = self._ctx
        ctx.range_id = await self._while_store_down(lambda: ctx.store.acquire_shard(ctx.index))
        at, after, loaded = now(), None, 0
        while True:  # page by page: a shard with 100,000 open executions never holds all their states at once
            records = await self._while_store_down(lambda after=after: ctx.store.list_open_executions_page(ctx.index, after))
            if not records:
                break
            for record in records:
                await self._load_open(record, at)
            loaded += len(records)
            after = (records[-1].namespace, records[-1].workflow_id, records[-1].run_id)
        ctx.timers.start()
        ctx.spawn(ctx.redispatch_loop())
        ctx.spawn(self._retention.loop())
        logger.info("history shard %d ready: store %s, range %d, %d open executions (%d states cached)", ctx.index,
                    ctx.config.store_url.redacted, ctx.range_id, loaded, len(ctx.cache))

    async def _while_store_down(self, call: Any) -> Any:
        """``await call()``, again and again while the store is unreachable: a store that is down when the shard
        (re)starts delays it, never breaks it."""
        while True:
            try:
                return await call()
            except StoreUnavailableError:
                logger.warning("history shard %d: the store %s is unreachable; retrying", self._ctx.index,
                               self._ctx.config.store_url.redacted)

    async def _load_open(self, record: ExecutionRecord, at: datetime) -> None:
        """What a starting shard keeps of an open execution: its timers and pending tasks (dispatched again),
        its cross-shard work, and its state while the cache has room (the others are read back when used)."""
        ctx = self._ctx
        state = internal_pb2.MutableState.FromString(record.state)
        key = (record.namespace, record.workflow_id, record.run_id)
        if state.execution_info.status != RUNNING:
            # Closed, with cross-shard work left when the shard died (tell the parent, close children).
            data = await read.close_event(ctx, key, state.execution_info.close_event_id)
            self._child_work(key, state, history_pb2.HistoryEvent.FromString(data))
            return
        ctx.cache.load_open(key, record.state, record.status)
        ctx.register_timers(key, state)
        for task in pending_tasks(state, at):
            ctx.dispatch(key, task)
        self._child_work(key, state)

    async def ready(self) -> int:
        await self._started
        return len(self._ctx.cache)

    async def get_config(self) -> ServiceConfig:
        return self._ctx.config

    async def pid(self) -> int:
        return os.getpid()

    async def location(self) -> dict[str, Any]:
        return placement.actor_location()

    async def batch(self, calls: list[tuple[str, tuple]]) -> list[Any]:
        """Several calls in one hop (``_batcher.CallBatcher``): run concurrently, one result (or ``Failed``)
        each. Only the methods that clients, workers and Matching batch are allowed."""
        await self._started
        return await run_batch(self._batchable, calls, self._metrics)

    async def memory_stats(self) -> dict[str, int]:
        """Sizes of what the shard holds in memory (each bounded by what is open or awaited)."""
        await self._started
        return self._ctx.stats()

    # -- clients ------------------------------------------------------------------------------------
    async def start_workflow(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.StartWorkflowExecutionRequest.FromString(request_bytes)
        return (await start.start_workflow(self._ctx, request)).SerializeToString()

    async def describe(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        await self._started
        return (await read.describe(self._ctx, namespace, workflow_id, run_id)).SerializeToString()

    async def get_history(self, namespace: str, workflow_id: str, run_id: str, first_event_id: int = 1,
                          last_event_id: int | None = None) -> tuple[str, list[bytes]]:
        await self._started
        return await read.get_history(self._ctx, namespace, workflow_id, run_id, first_event_id, last_event_id)

    async def list_executions(self, request_bytes: bytes) -> list[listing.Row]:
        await self._started
        return await read.list_executions(self._ctx, RR.ListWorkflowExecutionsRequest.FromString(request_bytes))

    async def count_executions(self, request_bytes: bytes) -> int:
        await self._started
        return await read.count_executions(self._ctx, RR.ListWorkflowExecutionsRequest.FromString(request_bytes))

    async def watch_closes(self, client_id: str, register: list, forget: list, wait_s: float) -> dict[str, Any]:
        """A client's waits for runs to close (see api/waits.py): one long poll per client, not one per run."""
        await self._started
        return await waits.watch_closes(self._ctx, client_id, register, forget, wait_s)

    async def signal_workflow(self, request_bytes: bytes) -> str:
        await self._started
        return await inputs.signal_workflow(self._ctx, RR.SignalWorkflowExecutionRequest.FromString(request_bytes))

    async def request_cancel_workflow(self, request_bytes: bytes) -> str:
        await self._started
        request = RR.RequestCancelWorkflowExecutionRequest.FromString(request_bytes)
        return await inputs.request_cancel_workflow(self._ctx, request)

    async def terminate_workflow(self, request_bytes: bytes) -> str:
        await self._started
        request = RR.TerminateWorkflowExecutionRequest.FromString(request_bytes)
        return await inputs.terminate_workflow(self._ctx, request)

    async def query_workflow(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.QueryWorkflowRequest.FromString(request_bytes)
        return (await query.query_workflow(self._ctx, request)).SerializeToString()

    async def respond_query_task_completed(self, request_bytes: bytes) -> None:
        query.respond_query_task_completed(self._ctx, RR.RespondQueryTaskCompletedRequest.FromString(request_bytes))

    async def update_workflow(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.UpdateWorkflowExecutionRequest.FromString(request_bytes)
        return (await update.update_workflow(self._ctx, request)).SerializeToString()

    # -- namespaces and retention ---------------------------------------------------------------------
    async def namespace_operation(self, operation: str, namespace_name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A namespace operation (``rayflow.service.namespaces.OPERATIONS``); shard 0 runs them for the cluster."""
        await self._started
        return await namespace.namespace_operation(self._ctx, operation, namespace_name, args)

    async def namespace_changed(self, namespace_name: str) -> None:
        namespace.setting_changed(self._ctx, namespace_name)

    async def sweep_retention(self, at: float | None = None) -> int:
        """Run a retention sweep now (as of ``at``, epoch seconds); how many closed runs it deleted."""
        await self._started
        return await self._retention.sweep(at)

    # -- Matching -----------------------------------------------------------------------------------
    async def record_task_started(self, task_bytes: bytes, identity: str, request_id: str) -> bytes | None:
        await self._started
        task = internal_pb2.MatchingTask.FromString(task_bytes)
        return await tasks.record_task_started(self._ctx, task, identity, request_id)

    # -- workers ------------------------------------------------------------------------------------
    async def respond_workflow_task_completed(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.RespondWorkflowTaskCompletedRequest.FromString(request_bytes)
        return (await respond.respond_workflow_task_completed(self._ctx, request)).SerializeToString()

    async def respond_workflow_task_failed(self, request_bytes: bytes) -> None:
        await self._started
        request = RR.RespondWorkflowTaskFailedRequest.FromString(request_bytes)
        await respond.respond_workflow_task_failed(self._ctx, request)

    async def respond_activity_task_completed(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.RespondActivityTaskCompletedRequest.FromString(request_bytes)
        return (await respond.respond_activity_task_completed(self._ctx, request)).SerializeToString()

    async def respond_activity_task_failed(self, request_bytes: bytes) -> None:
        await self._started
        request = RR.RespondActivityTaskFailedRequest.FromString(request_bytes)
        await respond.respond_activity_task_failed(self._ctx, request)

    async def respond_activity_task_canceled(self, request_bytes: bytes) -> None:
        await self._started
        request = RR.RespondActivityTaskCanceledRequest.FromString(request_bytes)
        await respond.respond_activity_task_canceled(self._ctx, request)

    async def record_activity_heartbeat(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.RecordActivityTaskHeartbeatRequest.FromString(request_bytes)
        return (await respond.record_activity_heartbeat(self._ctx, request)).SerializeToString()

    # -- other shards -------------------------------------------------------------------------------
    async def record_child_completed(self, namespace: str, workflow_id: str, run_id: str, initiated_event_id: int,
                                     child_run_id: str, close_event_bytes: bytes, child_first_run_id: str = "") -> None:
        """A child of this shard's run closed: record CHILD_WORKFLOW_EXECUTION_<outcome> (idempotent)."""
        await self._started
        await child_work.record_child_completed(
            self._ctx, namespace, workflow_id, run_id, initiated_event_id, child_run_id,
            history_pb2.HistoryEvent.FromString(close_event_bytes), child_first_run_id,
        )
