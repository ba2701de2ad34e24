"""What every request handler of a history shard works through (internal): Temporal's shard context.

``ShardContext`` owns the shard's store (fenced by its ownership counter), its one mirror of the store
(``ExecutionCache``), and what follows a commit: tasks to Matching, timers, waiters, cross-shard child work.
Handlers in ``api/`` change an execution only through ``transact`` (under the workflow id's lock: load, apply
a transition, write, mirror) or ``commit_all``; nothing else writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rayflow import constants
from rayflow.exceptions import WorkflowNotFoundError
from rayflow.persistence import ExecutionWrite, ShardOwnershipLostError, Store
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2
from rayflow.service.config import ServiceConfig
from rayflow.service.errors import TaskNotFoundError
from rayflow.service.history import children, payload_limits, timeouts
from rayflow.service.history.close_waits import CloseWaits
from rayflow.service.history.execution_cache import ExecutionCache, Key
from rayflow.service.history.mutable_state import (
    RUNNING,
    StateBuilder,
    pending_tasks,
    task_ident,
    with_history,
)
from rayflow.service.history.payload_refs import external_refs
from rayflow.service.history.queries import PendingQueries
from rayflow.service.history.timer_queue import TimerQueue
from rayflow.service.history.updates import PendingUpdates
from rayflow.service.matching.client import MatchingClient
from rayflow.service.namespaces import RetentionCache
from rayflow.service.resilient_store import UnknownWriteOutcome

logger = logging.getLogger(__name__)

#: What a transaction's mutate function returns when it only read the state (nothing to write).
UNCHANGED = object()
#: A task not started this long after it was dispatched is dispatched again (Matching dedupes).
REDISPATCH_AFTER_S = 10.0

#: After a commit: ``(key, state, close_event)`` starts the cross-shard work of children and parents.
ChildWork = Callable[[Key, internal_pb2.MutableState, "history_pb2.HistoryEvent | None"], None]


def now() -> datetime:
    return datetime.now(UTC)


class ShardContext:
    """One history shard's state and the single path by which it changes."""

    def __init__(self, config: ServiceConfig, index: int, store: Store) -> None:
        self.config = config
        self.index = index
        self.store = store
        self.range_id = 0
        self.cache = ExecutionCache(store, index, config.mutable_state_cache_size)
        self.queries = PendingQueries()  # in memory only: a query is never persisted
        self.updates = PendingUpdates()  # updates not yet completed (in memory; see updates.py)
        self.close_waits = CloseWaits()  # who waits for which run to close (in memory; clients re-register)
        self.matching = MatchingClient(config)
        self.sticky_timeout = constants.DEFAULT_STICKY_SCHEDULE_TO_START_TIMEOUT
        self.timers = TimerQueue(self._on_timer)
        self.child_work: ChildWork = lambda key, state, close_event: None  # set by the shard (api/child_work.py)
        self.retention = RetentionCache(store)  # namespaces' retentions (describe, the retention sweep)
        self._background: set[asyncio.Task[Any]] = set()

    # -- transactions -------------------------------------------------------------------------------
    async def transact(self, key: Key, mutate: Callable[[StateBuilder], object], *, missing_ok: bool = True
                       ) -> internal_pb2.MutableState | None:
        """Apply ``mutate`` under the workflow id's lock and write what it changed.

        ``mutate`` returns True when it changed the state (it is written), ``UNCHANGED`` when it only read
        it, False when there is nothing to do. Returns the new state, or None for False (or a missing run
        with ``missing_ok``; without, a missing run raises ``TaskNotFoundError``).
        """
        async with self.cache.locked(key[0], key[1]):
            try:
                execution = await self.cache.load(key)
            except WorkflowNotFoundError:
                if missing_ok:
                    return None
                raise TaskNotFoundError(f"workflow {key[1]!r} run {key[2]!r} does not exist") from None
            builder = StateBuilder(execution.state, now(), copy=False)  # ``state`` is a fresh copy
            outcome = mutate(builder)
            if not outcome:
                return None
            if outcome is not UNCHANGED:
                await self.commit(key, builder)
            return builder.state

    async def commit(self, key: Key, builder: StateBuilder, *, create: bool = False) -> None:
        changes = [(key, builder, create)]
        if builder.successor is not None:  # continue-as-new: the closed run and its successor, atomically
            changes.append(((key[0], key[1], builder.successor.info.run_id), builder.successor, True))
        await self.commit_all(changes)

    async def commit_all(self, changes: list[tuple[Key, StateBuilder, bool]]) -> None:
        """Write the ``(key, builder, create)`` changes in one atomic store write, in order, then mirror them."""
        writes = [_write(key, builder, create) for key, builder, create in changes]
        try:
            await self.store.write(self.index, self.range_id, writes)
        except ShardOwnershipLostError:
            # Another owner acquired the shard since this actor did: its memory is stale and every later
            # write would fail too. Exit so that Ray restarts it (max_restarts=-1): the new incarnation
            # acquires the shard again, reloads from the store, and Ray re-runs the in-flight calls on it
            # (max_task_retries=-1; handlers are idempotent). A zombie twin that Ray already replaced just ends.
            logger.error("history shard %d lost ownership (range %d): exiting to be restarted", self.index,
                         self.range_id)
            os._exit(1)
        except UnknownWriteOutcome:
            # The store went away while a commit was in flight and stayed away: whether it was written is
            # unknown, so this actor's memory may be behind the store. Restart and reload, as above.
            logger.error("history shard %d: a write's outcome is unknown (store unreachable): exiting to be "
                         "restarted", self.index)
            os._exit(1)
        for (key, builder, create), write in zip(changes, writes, strict=True):
            self._committed(key, builder, create, write.state)

    def _committed(self, key: Key, builder: StateBuilder, created: bool, data: bytes) -> None:
        """After the commit (``data``: the state as written): the mirror, then the tasks, timers, waiters and
        child work follow."""
        state, info = builder.state, builder.info
        self.updates.committed(key, state, builder.new_events, info.status != RUNNING)
        execution = self.cache.committed(key, state, created=created, data=data)
        self.register_timers(key, state)  # a closed run has none left
        if execution is not None:
            for task in builder.tasks:
                self.dispatch(key, with_history(task, builder.new_events))
            self.child_work(key, state, None)
            return
        close_event = next((e for e in builder.new_events if e.event_id == info.close_event_id), None)
        if close_event is not None:
            self.close_waits.closed(key, close_event.SerializeToString())
        self.child_work(key, state, close_event)

    # -- dispatch and timers ------------------------------------------------------------------------
    def dispatch(self, key: Key, task: internal_pb2.MatchingTask) -> None:
        self.cache.dispatched(key, task_ident(task))
        self.spawn(self.add_task(task))

    async def add_task(self, task: internal_pb2.MatchingTask) -> None:
        try:
            await self.matching.add_task(task)
        except Exception:  # the redispatch loop sends it again
            logger.warning("dispatch of %s to matching failed; will retry", task.workflow_id, exc_info=True)

    async def redispatch_loop(self) -> None:
        """Dispatch again tasks not started long after dispatch (lost by a crashed Matching). Only executions
        with such tasks are looked at (their state read back from the store if it was evicted): a workflow
        waiting for a signal costs nothing here."""
        while True:
            await asyncio.sleep(REDISPATCH_AFTER_S / 2)
            try:
                await self._redispatch_overdue()
            except Exception:  # the store is away: the next round tries again
                logger.warning("history shard %d: redispatch round failed", self.index, exc_info=True)

    async def _redispatch_overdue(self) -> None:
        current, mono = now(), time.monotonic()
        for key, dispatched in self.cache.awaiting_start():
            if all(mono - at < REDISPATCH_AFTER_S for at in dispatched.values()):
                continue
            try:
                execution = await self.cache.load(key)
            except WorkflowNotFoundError:
                continue
            for task in pending_tasks(execution.state, current):
                if mono - dispatched.get(task_ident(task), 0.0) >= REDISPATCH_AFTER_S:
                    self.dispatch(key, task)

    def register_timers(self, key: Key, state: internal_pb2.MutableState) -> None:
        """Schedule exactly the timers of the execution's committed state (none once it closed)."""
        deadlines = timeouts.deadlines(state, self.sticky_timeout)
        self.timers.set_timers(key, [(when.timestamp(), timer) for when, timer in deadlines])

    async def _on_timer(self, key: Key, timer: tuple) -> None:
        await self.transact(key, lambda builder: timeouts.fire(builder, timer, self.sticky_timeout))

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- payload limits -----------------------------------------------------------------------------
    def check_payload(self, payloads: Any, what: str) -> None:
        """Reject a client request carrying a payload over the limit (PayloadError; nothing is recorded)."""
        payload_limits.check_payloads(payloads, self.config.max_payload_size, what)

    def oversized(self, payloads: Any, what: str) -> str | None:
        """The error text when ``payloads`` is over the limit, else None."""
        return payload_limits.oversized_message(payloads, self.config.max_payload_size, what)

    def stats(self) -> dict[str, int]:
        return {**self.cache.stats(), "timers": len(self.timers), "close_watches": len(self.close_waits),
                "background_tasks": len(self._background)}


def _write(key: Key, builder: StateBuilder, create: bool) -> ExecutionWrite:
    info = builder.info
    state = builder.state.SerializeToString()
    events = [(event, event.SerializeToString()) for event in builder.new_events]
    return ExecutionWrite(
        namespace=key[0], workflow_id=key[1], run_id=key[2],
        state=state,
        status=info.status,
        next_event_id=info.next_event_id,
        new_events=[(event.event_id, data) for event, data in events],
        create=create,
        workflow_type=info.workflow_type,
        task_queue=info.task_queue,
        start_time=info.start_time.ToDatetime().timestamp(),
        close_time=info.close_time.ToDatetime().timestamp() if info.HasField("close_time") else 0.0,
        request_id=info.request_id,
        build_ids=tuple(info.build_ids),
        needs_attention=info.status != RUNNING and children.needs_attention(builder.state),
        payload_refs=external_refs([(state, builder.state), *((data, event) for event, data in events)]),
    )
