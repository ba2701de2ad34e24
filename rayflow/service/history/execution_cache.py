"""The shard's one mirror of its store (internal): a bounded cache of open executions' mutable states, the
current run of each cached workflow id, the tasks dispatched and not yet started, and the per-workflow-id locks.

Every fact here is the store's, and changes only where the store's does, after the write committed
(``committed``): the current run of a workflow id changes only when a write creates a run (as the store's
``current_executions`` row does), never because an older run was written to; a closed run leaves the cache and
the current-run map (the store still has both, and answers lookups of them). So the mirror cannot drift from the
store, and it is rebuilt from the store when the shard restarts.

Its size is bounded, not proportional to what is open (Temporal's mutable-state cache): at most ``capacity``
states, least recently used evicted first. An evicted execution is read back from the store on its next use;
the shard is the single, fenced writer of its executions, so what it reads back is what it evicted. What the
shard needs for the executions it does not hold is kept apart and small: the timers (``timer_queue.py``) and the
tasks dispatched and not started (``awaiting_start``, for the redispatch loop). A workflow waiting for a signal
costs nothing here once its state is evicted.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from rayflow import constants
from rayflow.exceptions import WorkflowNotFoundError
from rayflow.persistence import Store
from rayflow.proto.rayflow.v1 import internal_pb2
from rayflow.service.history.mutable_state import RUNNING, TaskIdent, unstarted_task_idents

__all__ = ["Execution", "ExecutionCache", "Key"]

Key = tuple[str, str, str]  # (namespace, workflow_id, run_id)


class Execution:
    """A stored execution as the shard last wrote it, kept serialized: a parsed ``MutableState`` costs several
    times its wire size in memory (bench/RESULTS.md, W4 at rest), and each transaction works on a fresh copy
    anyway, so ``state`` parses one (callers may change it; the cached bytes change only in ``committed``)."""

    __slots__ = ("data", "status")

    def __init__(self, data: bytes, status: int) -> None:
        self.data = data
        self.status = status

    @classmethod
    def of(cls, state: internal_pb2.MutableState, data: bytes | None = None) -> Execution:
        """``state`` kept as ``data`` (its serialized form, when at hand) or serialized now."""
        return cls(state.SerializeToString() if data is None else data, state.execution_info.status)

    @property
    def state(self) -> internal_pb2.MutableState:
        return internal_pb2.MutableState.FromString(self.data)

    @property
    def is_open(self) -> bool:
        return self.status == RUNNING


class _Lock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ExecutionCache:
    """Open executions and current runs of one shard, kept equal to what its store holds (at most ``capacity``
    mutable states in memory)."""

    def __init__(self, store: Store, shard_id: int, capacity: int = constants.DEFAULT_MUTABLE_STATE_CACHE_SIZE
                 ) -> None:
        if capacity < 1:
            raise ValueError(f"mutable_state_cache_size must be >= 1, got {capacity}: set it in ServiceConfig")
        self._store = store
        self._shard_id = shard_id
        self._capacity = capacity
        self._states: OrderedDict[Key, Execution] = OrderedDict()  # open executions, least recently used first
        self._current: dict[tuple[str, str], str] = {}  # workflow ids whose open current run is cached
        self._locks: dict[tuple[str, str], _Lock] = {}
        # Open executions with tasks dispatched and not started: when each was last handed to Matching
        # (monotonic; the shard sends it again when it is not started soon: a crashed Matching loses tasks).
        self._dispatched: dict[Key, dict[TaskIdent, float]] = {}
        # Store reads in flight, and the commits that happened meanwhile (such a read is stale: not cached).
        self._commits = 0
        self._reads: dict[Key, int] = {}
        self._committed_during_read: dict[Key, int] = {}
        self._evictions = 0

    # -- reads --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Mutable states held in memory (at most the capacity, but for executions pinned while in use)."""
        return len(self._states)

    def awaiting_start(self) -> list[tuple[Key, dict[TaskIdent, float]]]:
        """Open executions with tasks dispatched and not started, and when each was dispatched (what the
        redispatch loop checks): kept for every such execution, cached or not."""
        return list(self._dispatched.items())

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
        """The execution: a cached open one from memory, any other from the store (an open one is cached then).

        Raises:
            WorkflowNotFoundError: no such run.
        """
        execution = self._states.get(key)
        if execution is not None:
            self._states.move_to_end(key)
            return execution
        commits = self._commits
        self._reads[key] = self._reads.get(key, 0) + 1
        try:
            record = await self._store.get_execution(self._shard_id, *key)
        finally:
            stale = self._end_read(key, commits)
        cached = self._states.get(key)
        if cached is not None:  # cached meanwhile (by a commit or another read): as new as the store or newer
            return cached
        if record is None:
            raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
        execution = Execution(record.state, record.status)
        if execution.is_open and not stale:
            self._keep(key, execution)
        return execution

    def locked(self, namespace: str, workflow_id: str) -> _Locked:
        """``async with cache.locked(ns, wf):`` serializes every change of one workflow id's runs."""
        return _Locked(self, (namespace, workflow_id))

    def stats(self) -> dict[str, int]:
        return {
            "open_executions": len(self._states),  # the cached ones: the others are in the store only
            "cache_capacity": self._capacity,
            "evictions": self._evictions,
            "current_runs": len(self._current),
            "locks": len(self._locks),
            "awaiting_start": len(self._dispatched),
            "dispatched_tasks": sum(len(d) for d in self._dispatched.values()),
        }

    # -- changes (each after the store committed it) ------------------------------------------------
    def load_open(self, key: Key, data: bytes, status: int) -> None:
        """A running execution read by a starting shard (its state as stored, and its status): cached while the
        cache has room (the rest stays in the store until used)."""
        if len(self._states) < self._capacity and key not in self._states:
            self._keep(key, Execution(data, status))

    def committed(self, key: Key, state: internal_pb2.MutableState, *, created: bool,
                  data: bytes | None = None) -> Execution | None:
        """Mirror a committed write of ``key`` (``data``: the state as written, if at hand); the open execution,
        or None once it closed."""
        self._commits += 1
        if key in self._reads:
            self._committed_during_read[key] = self._commits
        workflow = key[:2]
        if state.execution_info.status == RUNNING:
            execution = self._states.get(key)
            if execution is None:
                execution = Execution.of(state, data)
                self._keep(key, execution)
            else:
                execution.data = state.SerializeToString() if data is None else data
                execution.status = state.execution_info.status
                self._states.move_to_end(key)
            # As the store, only a new run changes the current run (``created``): an open run is the current
            # one (one open run per workflow id), and ``_keep`` recorded it when it was cached.
            self._prune_dispatched(key, state)
            return execution
        self._states.pop(key, None)
        self._dispatched.pop(key, None)
        if self._current.get(workflow) == key[2]:
            del self._current[workflow]  # its current run closed: the store answers for it from now on
        return None

    def dispatched(self, key: Key, ident: TaskIdent) -> None:
        self._dispatched.setdefault(key, {})[ident] = time.monotonic()

    def trim(self) -> None:
        """Evict least recently used states down to the capacity, skipping those in use (their workflow id's
        lock is held or awaited: a transaction is reading or writing them). Nothing is lost: the store has them."""
        skipped = 0
        while len(self._states) > self._capacity and skipped < len(self._states):
            key = next(iter(self._states))
            if key[:2] in self._locks:
                self._states.move_to_end(key)
                skipped += 1
                continue
            del self._states[key]
            if self._current.get(key[:2]) == key[2]:
                del self._current[key[:2]]  # the store's current_executions row answers for it
            self._evictions += 1

    def _keep(self, key: Key, execution: Execution) -> None:
        self._states[key] = execution
        self._current[key[:2]] = key[2]  # the store allows one open run per workflow id: it is the current one
        self.trim()

    def _end_read(self, key: Key, commits: int) -> bool:
        """Close a store read of ``key`` begun when ``commits`` writes had been mirrored; True if one of the key
        was mirrored meanwhile (what was read may be older than it)."""
        stale = self._committed_during_read.get(key, 0) > commits
        readers = self._reads[key] - 1
        if readers:
            self._reads[key] = readers
        else:
            del self._reads[key]
            self._committed_during_read.pop(key, None)
        return stale

    def _prune_dispatched(self, key: Key, state: internal_pb2.MutableState) -> None:
        dispatched = self._dispatched.get(key)
        if not dispatched:
            return
        unstarted = unstarted_task_idents(state)
        for ident in [ident for ident in dispatched if ident not in unstarted]:
            del dispatched[ident]
        if not dispatched:
            del self._dispatched[key]


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
            if len(self._cache) > self._cache._capacity:  # states kept past the capacity while in use
                self._cache.trim()

    async def __aexit__(self, *exc: object) -> None:
        entry = self._cache._locks[self._workflow]
        entry.lock.release()
        self._release_entry(entry)
