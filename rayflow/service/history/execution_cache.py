"""The shard's one mirror of its store (internal): open executions, the current run of each workflow id, and
the per-workflow-id locks.

Every fact here is the store's, and changes only where the store's does, after the write committed
(``committed``): the current run of a workflow id changes only when a write creates a run (as the store's
``current_executions`` row does), never because an older run was written to; a closed run leaves the open set
and the current-run map (the store still has both, and answers lookups of them). So the mirror cannot drift
from the store, and it is rebuilt from the store when the shard restarts (``load_open``).

Its size follows what is open: a workflow id is kept while its current run is open, a dispatched task only
until it is started, an execution only while it runs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from rayflow.exceptions import WorkflowNotFoundError
from rayflow.persistence import Store
from rayflow.proto.rayflow.v1 import internal_pb2
from rayflow.service.history.mutable_state import RUNNING, TaskIdent, unstarted_task_idents

__all__ = ["Execution", "ExecutionCache", "Key"]

Key = tuple[str, str, str]  # (namespace, workflow_id, run_id)


@dataclass(eq=False)
class Execution:
    """A stored execution as the shard last wrote it.

    ``dispatched_at``: monotonic time each of its unstarted tasks was last handed to Matching (the shard sends
    it again when it is not started soon: a crashed Matching loses tasks).
    """

    state: internal_pb2.MutableState
    dispatched_at: dict[TaskIdent, float] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.state.execution_info.status == RUNNING


class _Lock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ExecutionCache:
    """Open executions and current runs of one shard, kept equal to what its store holds."""

    def __init__(self, store: Store, shard_id: int) -> None:
        self._store = store
        self._shard_id = shard_id
        self._open: dict[Key, Execution] = {}
        self._current: dict[tuple[str, str], str] = {}  # workflow ids whose current run is open
        self._locks: dict[tuple[str, str], _Lock] = {}
        self._awaiting_start: set[Key] = set()  # open executions with dispatched, unstarted tasks

    # -- reads --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._open)

    def open_keys(self) -> list[Key]:
        return list(self._open)

    def get_open(self, key: Key) -> Execution | None:
        return self._open.get(key)

    def awaiting_start(self) -> list[tuple[Key, Execution]]:
        """Open executions with tasks dispatched and not started (what the redispatch loop checks)."""
        return [(key, self._open[key]) for key in list(self._awaiting_start) if key in self._open]

    async def current_run(self, namespace: str, workflow_id: str) -> str:
        """The current run of the workflow id ("" when it never ran on this shard)."""
        run_id = self._current.get((namespace, workflow_id))
        if run_id is None:
            current = await self._store.get_current_execution(self._shard_id, namespace, workflow_id)
            run_id = current.run_id if current is not None else ""
        return run_id

    async def resolve(self, namespace: str, workflow_id: str, run_id: str) -> Key:
        """The key of the run; an empty run id means the current run.

        Raises:
            WorkflowNotFoundError: the workflow id never ran on this shard.
        """
        run_id = run_id or await self.current_run(namespace, workflow_id)
        if not run_id:
            raise WorkflowNotFoundError(
                f"workflow {workflow_id!r} not found in namespace {namespace!r}: no execution with this id was started"
            )
        return namespace, workflow_id, run_id

    async def load(self, key: Key) -> Execution:
        """The execution (open ones from memory, closed ones from the store).

        Raises:
            WorkflowNotFoundError: no such run.
        """
        execution = self._open.get(key)
        if execution is not None:
            return execution
        record = await self._store.get_execution(self._shard_id, *key)
        if record is None:
            raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
        execution = Execution(internal_pb2.MutableState.FromString(record.state))
        if execution.is_open:  # written before this incarnation loaded its open executions: keep it now
            self._keep_open(key, execution)
        return execution

    def locked(self, namespace: str, workflow_id: str) -> _Locked:
        """``async with cache.locked(ns, wf):`` serializes every change of one workflow id's runs."""
        return _Locked(self, (namespace, workflow_id))

    def stats(self) -> dict[str, int]:
        return {
            "open_executions": len(self._open),
            "current_runs": len(self._current),
            "locks": len(self._locks),
            "awaiting_start": len(self._awaiting_start),
            "dispatched_tasks": sum(len(e.dispatched_at) for e in self._open.values()),
        }

    # -- changes (each after the store committed it) ------------------------------------------------
    def load_open(self, key: Key, state: internal_pb2.MutableState) -> Execution:
        """A running execution read by a starting shard."""
        execution = Execution(state)
        self._keep_open(key, execution)
        return execution

    def committed(self, key: Key, state: internal_pb2.MutableState, *, created: bool) -> Execution | None:
        """Mirror a committed write of ``key``; the open execution, or None once it closed."""
        workflow = key[:2]
        if created:
            self._current[workflow] = key[2]  # as the store: only a new run changes the current run
        if state.execution_info.status == RUNNING:
            execution = self._open.get(key)
            if execution is None:
                execution = Execution(state)
                self._keep_open(key, execution)
            execution.state = state
            self._prune_dispatched(key, execution)
            return execution
        self._open.pop(key, None)
        self._awaiting_start.discard(key)
        if self._current.get(workflow) == key[2]:
            del self._current[workflow]  # its current run closed: the store answers for it from now on
        return None

    def dispatched(self, key: Key, execution: Execution, ident: TaskIdent) -> None:
        execution.dispatched_at[ident] = time.monotonic()
        self._awaiting_start.add(key)

    def _keep_open(self, key: Key, execution: Execution) -> None:
        self._open[key] = execution
        self._current[key[:2]] = key[2]  # the store allows one open run per workflow id: it is the current one

    def _prune_dispatched(self, key: Key, execution: Execution) -> None:
        if not execution.dispatched_at:
            return
        unstarted = unstarted_task_idents(execution.state)
        for ident in [ident for ident in execution.dispatched_at if ident not in unstarted]:
            del execution.dispatched_at[ident]
        if not execution.dispatched_at:
            self._awaiting_start.discard(key)


class _Locked:
    def __init__(self, cache: ExecutionCache, workflow: tuple[str, str]) -> None:
        self._cache, self._workflow = cache, workflow

    async def __aenter__(self) -> None:
        locks = self._cache._locks
        entry = locks.get(self._workflow)
        if entry is None:
            entry = locks[self._workflow] = _Lock()
        entry.users += 1
        try:
            await entry.lock.acquire()
        except BaseException:  # cancelled while waiting: it never held the lock
            self._release_entry(entry)
            raise

    def _release_entry(self, entry: _Lock) -> None:
        entry.users -= 1
        if entry.users == 0:
            del self._cache._locks[self._workflow]

    async def __aexit__(self, *exc: object) -> None:
        entry = self._cache._locks[self._workflow]
        entry.lock.release()
        self._release_entry(entry)
