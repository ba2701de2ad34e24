"""One task-queue partition: a FIFO backlog and FIFO long-pollers, sync match first (internal).

Pure asyncio, no Ray. A partition never talks to another partition directly: it goes through a
``Forwarder``, which the Matching actor implements with local calls for partitions it hosts and actor
calls for the others (``LocalForwarder`` is the in-process one).

Partition 0 of a queue is the root (Temporal's model). A child partition with no local poller offers an
added task to the root (sync match only) before backlogging it, and then tells the root it has backlog;
a poll on a child whose backlog has nothing for it is forwarded to the root; the root serves its own
backlog, then pulls one task from a child known to have backlog, else waits. So one poller anywhere gets
tasks added anywhere.

Tasks live only in memory: the history shard re-dispatches anything lost. Hence the dedupe of added tasks,
and the care taken never to drop a task that was handed to a poll that was then cancelled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from rayflow.proto.rayflow.v1 import internal_pb2

logger = logging.getLogger(__name__)

#: A poller not seen for this long is left out of ``describe`` (Temporal keeps pollers 5 minutes).
POLLER_TTL_S = 300.0
#: After ``cancel(poller_id)``, polls of that id that arrive late (in flight, forwarded) return None at once.
CANCELLED_POLLER_TTL_S = 10.0

MatchingTask = internal_pb2.MatchingTask
TaskKey = tuple[str, str, str, int, int, int]


class PartitionKey(NamedTuple):
    namespace: str
    task_queue: str
    task_queue_type: int
    partition: int

    @property
    def root(self) -> PartitionKey:
        return self._replace(partition=0)

    @property
    def is_root(self) -> bool:
        return self.partition == 0


def task_key(task: MatchingTask) -> TaskKey:
    """What makes two added tasks the same dispatch (the history shard may send one twice)."""
    return (
        task.namespace,
        task.workflow_id,
        task.run_id,
        task.scheduled_event_id,
        task.attempt,
        int(task.task_queue_type),
    )


@dataclass(frozen=True)
class Poller:
    """Who polls: a labelled task goes only to a poller with its label, an unlabelled one to any poller
    with ``accept_unlabelled`` (default True)."""

    identity: str
    poller_id: str
    labels: frozenset[str] = frozenset()
    accept_unlabelled: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Poller:
        return cls(
            identity=str(data.get("identity", "")),
            poller_id=str(data.get("poller_id", "")),
            labels=frozenset(data.get("labels") or ()),
            accept_unlabelled=bool(data.get("accept_unlabelled", True)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "poller_id": self.poller_id,
            "labels": sorted(self.labels),
            "accept_unlabelled": self.accept_unlabelled,
        }

    def can_take(self, label: str) -> bool:
        return label in self.labels if label else self.accept_unlabelled


class Forwarder(Protocol):
    """How a partition reaches the other partitions of its queue."""

    async def offer_to_root(self, child: PartitionKey, task: MatchingTask) -> bool: ...

    async def poll_root(self, child: PartitionKey, poller: Poller, timeout_s: float) -> MatchingTask | None: ...

    async def take_from_child(self, child: PartitionKey, poller: Poller) -> tuple[MatchingTask | None, bool]: ...

    async def notify_backlog(self, child: PartitionKey, label: str) -> None: ...


class LocalForwarder:
    """Forwarding between partitions of one process, found by ``lookup`` (created on demand)."""

    def __init__(self, lookup: Callable[[PartitionKey], TaskQueuePartition]) -> None:
        self._lookup = lookup

    async def offer_to_root(self, child: PartitionKey, task: MatchingTask) -> bool:
        return self._lookup(child.root).offer(task)

    async def poll_root(self, child: PartitionKey, poller: Poller, timeout_s: float) -> MatchingTask | None:
        return await self._lookup(child.root).poll(poller, timeout_s, forwarded=True)

    async def take_from_child(self, child: PartitionKey, poller: Poller) -> tuple[MatchingTask | None, bool]:
        return self._lookup(child).take(poller)

    async def notify_backlog(self, child: PartitionKey, label: str) -> None:
        self._lookup(child.root).child_has_backlog(child.partition, label)


class Cancellations:
    """Poller ids cancelled recently, shared by the partitions of one process."""

    def __init__(self, ttl_s: float = CANCELLED_POLLER_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._until: dict[str, float] = {}

    def cancel(self, poller_id: str) -> None:
        now = time.monotonic()
        self._until = {pid: until for pid, until in self._until.items() if until > now}
        self._until[poller_id] = now + self._ttl_s

    def is_cancelled(self, poller_id: str) -> bool:
        until = self._until.get(poller_id)
        return until is not None and until > time.monotonic()


class _Recheck:
    """Wakes a waiting root poll: a child reported backlog, look again."""


_RECHECK = _Recheck()


@dataclass(slots=True)
class _Entry:
    seq: int
    created: float  # wall clock: the task's create_time, else when it arrived here
    key: TaskKey
    task: MatchingTask


@dataclass(slots=True)
class _Waiter:
    poller: Poller
    future: asyncio.Future[Any]


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


class TaskQueuePartition:
    """One partition ``(namespace, task_queue, task_queue_type, partition)``.

    Args:
        key: which partition this is; partition 0 is the root.
        forwarder: reaches the root (children) and the children (root); None for a queue of one partition.
        cancellations: cancelled poller ids, shared by the partitions of one process (default: own).
        poller_ttl_s: pollers not seen for this long are left out of ``describe`` (default 300 s).
    """

    def __init__(
        self,
        key: PartitionKey,
        forwarder: Forwarder | None = None,
        cancellations: Cancellations | None = None,
        *,
        poller_ttl_s: float = POLLER_TTL_S,
    ) -> None:
        self.key = key
        self._forwarder = forwarder
        self._cancellations = cancellations or Cancellations()
        self._poller_ttl_s = poller_ttl_s
        self._backlog: dict[str, deque[_Entry]] = {}  # label -> FIFO; ordered across labels by seq
        self._keys: set[TaskKey] = set()  # backlogged or being offered to the root
        self._seq = itertools.count(1)
        self._front_seq = 0  # put-back tasks go before everything (negative seqs)
        self._waiters: deque[_Waiter] = deque()
        self._pollers: dict[str, tuple[Poller, float]] = {}
        self._children: dict[int, int] = {}  # root only: child partition -> last backlog notice
        self._notices = itertools.count(1)
        self._generation = 0  # bumped on anything a scanning poll may have missed
        self._background: set[asyncio.Task[Any]] = set()
        self.last_activity = time.monotonic()

    # -- adding ------------------------------------------------------------------------------
    async def add(self, task: MatchingTask) -> None:
        """Sync match to a waiting poller, else (child) offer to the root, else backlog. Duplicates are ignored."""
        key = task_key(task)
        if key in self._keys:
            return
        self._touch()
        if self._match_waiter(task):
            return
        if self._forwarder is None or self.key.is_root:
            self._push(task, key)
            return
        self._keys.add(key)  # dedupe while the offer is in flight
        accepted = False
        try:
            accepted = await self._forwarder.offer_to_root(self.key, task)
        except asyncio.CancelledError:
            self._keys.discard(key)
            self.put_back(task)  # the root may have taken it too: a duplicate is harmless, a loss is not
            raise
        except Exception:
            logger.warning("matching: offering a task of %s to its root failed", self.key, exc_info=True)
        self._keys.discard(key)
        if accepted or self._match_waiter(task):
            return
        self._push(task, key)
        await self._notify_root(task.resource_label)

    def offer(self, task: MatchingTask) -> bool:
        """Root side of a child's offer: hand the task to a waiting poller, or decline (never backlog it)."""
        self._touch()
        return self._match_waiter(task)

    def put_back(self, task: MatchingTask) -> None:
        """Return a task that was taken but not delivered: to a waiting poller, else the front of the backlog."""
        key = task_key(task)
        if key in self._keys or self._match_waiter(task):
            return
        self._push(task, key, front=True)
        if self._forwarder is not None and not self.key.is_root:
            self._spawn(self._notify_root(task.resource_label))

    def child_has_backlog(self, child: int, label: str) -> None:
        """Root side: a child backlogged a task; wake the waiting polls that could take it.

        The root declined that task a moment ago, so these are only polls that arrived since: few.
        """
        self._children[child] = next(self._notices)
        self._generation += 1
        self._wake(label)

    # -- polling -----------------------------------------------------------------------------
    async def poll(self, poller: Poller, timeout_s: float, *, forwarded: bool = False) -> MatchingTask | None:
        """The oldest task this poller can take, waiting up to ``timeout_s``; None on timeout or cancel.

        ``forwarded`` marks a poll a child passed to the root: its poller is recorded at the child only.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        self._touch()
        if not forwarded:
            self._pollers[poller.poller_id] = (poller, time.time())
        if self._cancellations.is_cancelled(poller.poller_id):
            return None
        if self._forwarder is not None and not self.key.is_root:
            task = self._take_local(poller)
            if task is not None:
                return task
            try:
                remaining = max(0.0, deadline - loop.time())
                return await self._keep_on_cancel(self._forwarder.poll_root(self.key, poller, remaining))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("matching: forwarding a poll of %s to its root failed", self.key, exc_info=True)
        return await self._poll_here(poller, deadline)

    def take(self, poller: Poller) -> tuple[MatchingTask | None, bool]:
        """Child side of a root pull: (the oldest task this poller can take or None, backlog left?)."""
        self._touch()
        task = self._take_local(poller)
        return task, self.backlog_count() > 0

    def cancel(self, poller_id: str) -> None:
        """Make that poller's waiting (and late-arriving) polls return None now."""
        self._cancellations.cancel(poller_id)
        for waiter in self._waiters:
            if waiter.poller.poller_id == poller_id:
                _resolve(waiter.future, None)

    async def _poll_here(self, poller: Poller, deadline: float) -> MatchingTask | None:
        loop = asyncio.get_running_loop()
        while True:
            if self._cancellations.is_cancelled(poller.poller_id):
                return None
            task = self._take_local(poller)
            if task is not None:
                return task
            generation = self._generation
            if self._children:
                task = await self._take_from_children(poller)
                if task is not None:
                    return task
                if generation != self._generation:
                    continue  # something arrived while we were asking the children
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            result = await self._wait(poller, remaining)
            if result is not _RECHECK:
                return result

    async def _take_from_children(self, poller: Poller) -> MatchingTask | None:
        assert self._forwarder is not None
        for child, notice in list(self._children.items()):
            target = self.key._replace(partition=child)
            try:
                task, more = await self._keep_on_cancel(self._forwarder.take_from_child(target, poller))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("matching: pulling a task from %s failed", target, exc_info=True)
                task, more = None, False
            if not more and self._children.get(child) == notice:
                del self._children[child]
            if task is not None:
                return task
        return None

    async def _wait(self, poller: Poller, timeout_s: float) -> Any:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(poller, loop.create_future())
        self._waiters.append(waiter)
        # A timer resolves the future instead of cancelling the poll, so a task is never both given and timed out.
        timer = loop.call_later(timeout_s, _resolve, waiter.future, None)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            # Cancelled after being handed something but before resuming: pass it on, never lose it.
            if waiter.future.done() and not waiter.future.cancelled():
                result = waiter.future.result()
                if result is not None and result is not _RECHECK:
                    self.put_back(result)
            raise
        finally:
            timer.cancel()
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass

    async def _keep_on_cancel(self, call: Awaitable[Any]) -> Any:
        """Await a forwarded call; if we are cancelled meanwhile, put back whatever task it still returns."""
        future = asyncio.ensure_future(call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(self._put_back_result)
            raise

    def _put_back_result(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        task = result[0] if isinstance(result, tuple) else result
        if task is not None:
            self.put_back(task)

    # -- matching and the backlog ------------------------------------------------------------
    def _match_waiter(self, task: MatchingTask) -> bool:
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.poller.can_take(task.resource_label):
                waiter.future.set_result(task)
                return True
        return False

    def _wake(self, label: str) -> None:
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.poller.can_take(label):
                waiter.future.set_result(_RECHECK)

    def _push(self, task: MatchingTask, key: TaskKey, *, front: bool = False) -> None:
        created = task.create_time.ToNanoseconds() / 1e9 if task.HasField("create_time") else time.time()
        if front:
            self._front_seq -= 1
        entry = _Entry(self._front_seq if front else next(self._seq), created, key, task)
        entries = self._backlog.setdefault(task.resource_label, deque())
        (entries.appendleft if front else entries.append)(entry)
        self._keys.add(key)
        self._generation += 1

    def _take_local(self, poller: Poller) -> MatchingTask | None:
        best: _Entry | None = None
        for label, entries in self._backlog.items():
            if poller.can_take(label) and (best is None or entries[0].seq < best.seq):
                best = entries[0]
        if best is None:
            return None
        label = best.task.resource_label
        entries = self._backlog[label]
        entries.popleft()
        if not entries:
            del self._backlog[label]
        self._keys.discard(best.key)
        return best.task

    async def _notify_root(self, label: str) -> None:
        assert self._forwarder is not None
        try:
            await self._forwarder.notify_backlog(self.key, label)
        except Exception:
            logger.warning("matching: telling the root of %s about backlog failed", self.key, exc_info=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _touch(self) -> None:
        self.last_activity = time.monotonic()

    # -- state -------------------------------------------------------------------------------
    def backlog_count(self) -> int:
        return sum(len(entries) for entries in self._backlog.values())

    def waiting_polls(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.future.done())

    def is_idle(self, idle_s: float) -> bool:
        """Nothing held, nobody waiting, nothing to remember, untouched for ``idle_s``: safe to drop."""
        return (
            not self._backlog
            and not self._keys
            and not self._waiters
            and not self._children
            and not self._background
            and time.monotonic() - self.last_activity > idle_s
        )

    def describe(self) -> dict[str, Any]:
        """Backlog size, age of its oldest task, count per label (``""`` = unlabelled), pollers seen."""
        now = time.time()
        self._pollers = {pid: seen for pid, seen in self._pollers.items() if seen[1] >= now - self._poller_ttl_s}
        pollers = [
            {"identity": p.identity, "poller_id": p.poller_id, "labels": sorted(p.labels), "last_access_time": at}
            for p, at in self._pollers.values()
        ]
        oldest = min((entry.created for entries in self._backlog.values() for entry in entries), default=now)
        return {
            "partition": self.key.partition,
            "backlog": self.backlog_count(),
            "backlog_age_s": max(0.0, now - oldest),
            "backlog_by_label": {label: len(entries) for label, entries in self._backlog.items()},
            "pollers": pollers,
        }

    def backlog_tasks(self) -> list[MatchingTask]:
        """Backlogged tasks, oldest first (for tests and debugging)."""
        entries = sorted((entry for entries in self._backlog.values() for entry in entries), key=lambda e: e.seq)
        return [entry.task for entry in entries]
