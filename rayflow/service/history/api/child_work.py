"""Cross-shard work of child workflows and their parents, after each commit (internal; see children.py).

A parent's commit may leave a child to start or a signal to send; a child's close, its parent to tell; a
parent's close, its children's close policies to apply. Each runs in the background until it succeeds (the
state says what is left, so a step retried or repeated after a shard restart is harmless), and its outcome is
written back to the run. A child is known by the first run of its chain: the parent follows the chain to its
last run, and close policies reach the chain's current run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rayflow.exceptions import WorkflowAlreadyStartedError, WorkflowNotFoundError
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service._ray_calls import call
from rayflow.service.history import children
from rayflow.service.history.api.read import close_event as read_close_event
from rayflow.service.history.client import HistoryClient
from rayflow.service.history.context import ShardContext
from rayflow.service.history.execution_cache import Key
from rayflow.service.history.mutable_state import RUNNING, StateBuilder

logger = logging.getLogger(__name__)


async def record_child_completed(ctx: ShardContext, namespace: str, workflow_id: str, run_id: str,
                                 initiated_event_id: int, child_run_id: str, close_event: history_pb2.HistoryEvent,
                                 child_first_run_id: str = "") -> None:
    """A child of this shard's run closed (the chain that began with ``child_first_run_id`` ended with
    ``child_run_id``): record CHILD_WORKFLOW_EXECUTION_<outcome> (idempotent)."""
    await ctx.transact((namespace, workflow_id, run_id), lambda builder: children.record_closed(
        builder, initiated_event_id, child_run_id, close_event, child_first_run_id))


class ChildWork:
    """The shard's background child work, one step per (kind, run, child) in flight at a time."""

    def __init__(self, ctx: ShardContext) -> None:
        self._ctx = ctx
        self._history = HistoryClient(ctx.config)  # other shards: children and parents
        self._inflight: set[tuple] = set()

    def __call__(self, key: Key, state: internal_pb2.MutableState,
                 close_event: history_pb2.HistoryEvent | None = None) -> None:
        """After a commit (or on start): start unstarted children, send pending signals, notify the parent of a
        close, and apply the parent close policy to the open children of a closed run."""
        for child in children.unstarted(state):
            self._spawn(("start", key, child.initiated_event_id), lambda c=child: self._start_child(key, c))
        for pending in children.unsent_signals(state):
            self._spawn(("signal", key, pending.initiated_event_id), lambda p=pending: self._send_signal(key, p))
        if close_event is not None and children.needs_parent_notice(state):
            self._spawn(("notify", key), lambda: self._notify_parent(key, state, close_event))
        for child in children.needs_close_policy(state):
            self._spawn(("close", key, child.initiated_event_id), lambda c=child: self._close_child(key, c))

    def _spawn(self, ident: tuple, first: Callable[[], Awaitable[None]]) -> None:
        if ident in self._inflight:
            return
        self._inflight.add(ident)

        async def run() -> None:
            step, delay = first, 0.2
            try:
                while True:
                    try:
                        await step()
                        return
                    except Exception:
                        logger.warning("child workflow step %s failed; retrying", ident[0], exc_info=True)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)
                        step = lambda: self._retry(ident)  # noqa: E731 - retries re-read what is left to do
            finally:
                self._inflight.discard(ident)

        self._ctx.spawn(run())

    async def _retry(self, ident: tuple) -> None:
        key = ident[1]
        state = (await self._ctx.cache.load(key)).state
        running = state.execution_info.status == RUNNING
        if ident[0] == "start":
            child = state.children.get(ident[2])
            if child is not None and not child.run_id and running:
                await self._start_child(key, child)
        elif ident[0] == "signal":
            pending = state.external_signals.get(ident[2])
            if pending is not None and running:
                await self._send_signal(key, pending)
        elif ident[0] == "notify":
            if children.needs_parent_notice(state):
                info = state.execution_info
                event = history_pb2.HistoryEvent.FromString(await read_close_event(self._ctx, key, info.close_event_id))
                await self._notify_parent(key, state, event)
        elif ident[0] == "close":
            child = state.children.get(ident[2])
            if child is not None and child.run_id and not child.close_policy_applied:
                await self._close_child(key, child)

    async def _start_child(self, key: Key, child: internal_pb2.ChildInfo) -> None:
        request = RR.StartWorkflowExecutionRequest()
        request.CopyFrom(child.request)
        initiated = child.initiated_event_id
        try:
            response = await self._history.start_workflow(request)
        except WorkflowAlreadyStartedError:
            await self._ctx.transact(key, lambda builder: children.record_start_failed(builder, initiated))
            return
        await self._ctx.transact(key, lambda builder: children.record_started(builder, initiated, response.run_id))

    async def _send_signal(self, key: Key, pending: internal_pb2.ExternalSignalInfo) -> None:
        """Deliver a signal this run initiated (idempotent by its request id) and record the outcome."""
        initiated = pending.initiated_event_id
        try:
            await self._history.signal_workflow(RR.SignalWorkflowExecutionRequest(
                namespace=pending.namespace, workflow_id=pending.workflow_id, run_id=pending.run_id,
                signal_name=pending.signal_name, input=pending.input, identity=f"workflow {key[1]}",
                request_id=pending.request_id, header=pending.header,
            ))
        except WorkflowNotFoundError:
            await self._ctx.transact(key, lambda builder: children.record_signal_sent(builder, initiated, False))
            return
        await self._ctx.transact(key, lambda builder: children.record_signal_sent(builder, initiated, True))

    async def _notify_parent(self, key: Key, state: internal_pb2.MutableState,
                             close_event: history_pb2.HistoryEvent) -> None:
        info = state.execution_info
        parent = self._history.shard_for(info.parent_namespace, info.parent_workflow_id)
        await call(parent.record_child_completed.remote(
            info.parent_namespace, info.parent_workflow_id, info.parent_run_id, info.parent_initiated_event_id,
            key[2], close_event.SerializeToString(), info.first_execution_run_id or key[2]), "record child completed")

        def notified(builder: StateBuilder) -> bool:
            if builder.info.parent_notified:
                return False
            builder.info.parent_notified = True
            return True

        await self._ctx.transact(key, notified)

    async def _close_child(self, key: Key, child: internal_pb2.ChildInfo) -> None:
        """The parent closed: terminate the child's current run or ask it to cancel (its close policy).

        The child is named by its chain (``first_execution_run_id``): the policy reaches the run the chain is on
        now, and a request id of its own makes a repeated step a no-op.
        """
        target = dict(namespace=child.namespace, workflow_id=child.workflow_id, first_execution_run_id=child.run_id,
                      identity="rayflow-history", reason="parent closed",
                      request_id=f"close-policy-{key[2]}-{child.initiated_event_id}")
        try:
            if child.parent_close_policy == children.REQUEST_CANCEL:
                await self._history.request_cancel_workflow(RR.RequestCancelWorkflowExecutionRequest(**target))
            else:
                await self._history.terminate_workflow(RR.TerminateWorkflowExecutionRequest(**target))
        except WorkflowNotFoundError:
            pass  # the child's chain closed already
        initiated = child.initiated_event_id

        def applied(builder: StateBuilder) -> bool:
            entry = builder.state.children.get(initiated)
            if entry is None or entry.close_policy_applied:
                return False
            entry.close_policy_applied = True  # clears the run's needs_attention in the same write
            return True

        await self._ctx.transact(key, applied)
