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

Rate limit (``set_rate_limit``): a partition may hand out tasks only as fast as its token bucket allows; the
Matching engine gives each partition its share (limit / partitions, as Temporal does). A task is handed to a
poller only with a token, sync match included, otherwise it stays in the backlog; a timer wakes the waiting
polls (and, on a child, the root) when the next token is due. The partition that held the task pays: a
child offering to the root pays before the offer, the root pulling from a child makes the child pay.
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
#: The dispatch rate ``describe`` reports is measured over this window (or the partition's life, if shorter).
DISPATCH_RATE_WINDOW_S = 30.0
#: A rate-limited partition may save up this many seconds of tokens (at least one token): a small burst.
RATE_LIMIT_BURST_S = 0.1

MatchingTask = internal_pb2.MatchingTask
TaskKey = tuple[str, str, str, int, int, int, str]
#: Which pollers may take a backlogged task: (resource label, versioning target); "" = unlabelled / unversioned.
Route = tuple[str, str]
#: The versioning target of a task (see ``rayflow.service.matching.versioning``).
Resolver = Callable[[MatchingTask], str]


def _unversioned(task: MatchingTask) -> str:
    return ""


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
        task.query_id,  # each query task is its own dispatch
    )


@dataclass(frozen=True)
class Poller:
    """Who polls: a labelled task goes only to a poller with its label, an unlabelled one to any poller
    with ``accept_unlabelled`` (default True).

    The rest is reported by ``describe``; ``rate_limit`` (poller dict key ``task_queue_rate_limit``) is the
    queue-wide activities-per-second limit this poller's worker asks for, set at ``rate_limit_set_at``
    (epoch seconds; the latest setting wins).
    """

    identity: str
    poller_id: str
    labels: frozenset[str] = frozenset()
    accept_unlabelled: bool = True
    build_id: str = ""
    use_versioning: bool = False
    deployment_name: str = ""
    rate_limit: float | None = None
    rate_limit_set_at: float = 0.0
    node_id: str = ""
    node_ip: str = ""
    actor_id: str = ""
    gpus: tuple[str, ...] = ()  # the GPU ids Ray gave its replica

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Poller:
        rate_limit = data.get("task_queue_rate_limit")
        return cls(
            identity=str(data.get("identity", "")),
            poller_id=str(data.get("poller_id", "")),
            labels=frozenset(data.get("labels") or ()),
            accept_unlabelled=bool(data.get("accept_unlabelled", True)),
            build_id=str(data.get("build_id") or ""),
            use_versioning=bool(data.get("use_versioning", False)),
            deployment_name=str(data.get("deployment_name") or ""),
            rate_limit=None if rate_limit is None else float(rate_limit),
            rate_limit_set_at=float(data.get("task_queue_rate_limit_set_at") or 0.0),
            node_id=str(data.get("node_id") or ""),
            node_ip=str(data.get("node_ip") or ""),
            actor_id=str(data.get("actor_id") or ""),
            gpus=tuple(str(gpu) for gpu in data.get("gpus") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "poller_id": self.poller_id,
            "labels": sorted(self.labels),
            "accept_unlabelled": self.accept_unlabelled,
            "build_id": self.build_id,
            "use_versioning": self.use_versioning,
            "deployment_name": self.deployment_name,
            "task_queue_rate_limit": self.rate_limit,
            "task_queue_rate_limit_set_at": self.rate_limit_set_at,
            "node_id": self.node_id,
            "node_ip": self.node_ip,
            "actor_id": self.actor_id,
            "gpus": list(self.gpus),
        }

    def can_take(self, label: str) -> bool:
        return label in self.labels if label else self.accept_unlabelled

    @property
    def target(self) -> str:
        """Which versioned tasks it may take: those of its deployment version, of its build id (with
        ``use_versioning``), or unversioned ones (see ``rayflow.service.matching.versioning``)."""
        if self.use_versioning and self.deployment_name:
            return f"d:{self.deployment_name}.{self.build_id}"
        if self.use_versioning and self.build_id:
            return f"b:{self.build_id}"
        return ""

    def can_take_route(self, route: Route) -> bool:
        return route[1] == self.target and self.can_take(route[0])


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


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst`` (default: ``RATE_LIMIT_BURST_S`` of tokens, at
    least one); starts full. ``clock`` is monotonic seconds (replaceable in tests)."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self.rate, self.burst = self._check(rate, burst)
        self.tokens = self.burst

    @staticmethod
    def _check(rate: float, burst: float | None) -> tuple[float, float]:
        if not rate > 0:
            raise ValueError(f"a rate limit must be > 0, got {rate!r}")
        return float(rate), (float(burst) if burst is not None else max(1.0, rate * RATE_LIMIT_BURST_S))

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        """Change the rate; tokens saved so far are kept (up to the new burst)."""
        self._refill()
        self.rate, self.burst = self._check(rate, burst)
        self.tokens = min(self.tokens, self.burst)

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def try_take(self) -> bool:
        self._refill()
        if self.tokens >= 1.0 - _TOKEN_EPSILON:  # a timer set for when a token is due must find it there
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False

    def refund(self) -> None:
        self._refill()
        self.tokens = min(self.burst, self.tokens + 1.0)

    def wait_s(self) -> float:
        """Seconds until a token is available (0 if one is now)."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)


_TOKEN_EPSILON = 1e-6


class RateMeter:
    """Events per second over the last ``window_s`` (or since creation, if shorter), in one-second buckets."""

    def __init__(self, window_s: float = DISPATCH_RATE_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._created = clock()
        self._buckets: deque[list[int]] = deque()  # [second, count], oldest first

    def add(self, count: int = 1) -> None:
        second = int(self._clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
            self._trim()

    def _trim(self) -> None:
        oldest = int(self._clock() - self._window_s)
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()

    def rate(self) -> float:
        self._trim()
        now = self._clock()
        span = max(1.0, min(self._window_s, now - self._created))
        return sum(count for _, count in self._buckets) / span


class _Recheck:
    """Wakes a waiting root poll: a child reported backlog, look again."""


_RECHECK = _Recheck()


@dataclass(slots=True)
class _Entry:
    seq: int
    created: float  # wall clock: the task's create_time, else when it arrived here
    key: TaskKey
    task: MatchingTask
    route: Route = ("", "")


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
        resolver: a task's versioning target (default: every task is unversioned); ``reroute()`` after the
            answers it gives changed.
    """

    def __init__(
        self,
        key: PartitionKey,
        forwarder: Forwarder | None = None,
        cancellations: Cancellations | None = None,
        *,
        poller_ttl_s: float = POLLER_TTL_S,
        resolver: Resolver = _unversioned,
    ) -> None:
        self.key = key
        self._resolve = resolver
        self._forwarder = forwarder
        self._cancellations = cancellations or Cancellations()
        self._poller_ttl_s = poller_ttl_s
        self._backlog: dict[Route, deque[_Entry]] = {}  # route -> FIFO; ordered across routes by seq
        self._keys: set[TaskKey] = set()  # backlogged or being offered to the root
        self._seq = itertools.count(1)
        self._front_seq = 0  # put-back tasks go before everything (negative seqs)
        self._waiters: deque[_Waiter] = deque()
        self._sync_matches = 0  # tasks handed to a waiting poll since the last take_sync_matches()
        self._pollers: dict[str, tuple[Poller, float]] = {}
        self._children: dict[int, int] = {}  # root only: child partition -> last backlog notice
        self._notices = itertools.count(1)
        self._generation = 0  # bumped on anything a scanning poll may have missed
        self._background: set[asyncio.Task[Any]] = set()
        self._bucket: TokenBucket | None = None  # None: no rate limit
        self._refill_timer: asyncio.TimerHandle | None = None
        self._dispatched = RateMeter()
        self.last_activity = time.monotonic()

    # -- rate limit --------------------------------------------------------------------------
    @property
    def rate_limit(self) -> float | None:
        """Tasks per second this partition may hand out (its share of the queue's limit); None = unlimited."""
        return None if self._bucket is None else self._bucket.rate

    def set_rate_limit(self, rate: float | None) -> None:
        """Limit (or, with None, stop limiting) how fast this partition hands out tasks."""
        if rate is None:
            self._bucket = None
        elif self._bucket is None:
            self._bucket = TokenBucket(rate)
        elif self._bucket.rate != rate:
            self._bucket.set_rate(rate)
        else:
            return
        if self._refill_timer is not None:  # the next token may now be due sooner: look again
            self._refill_timer.cancel()
            self._refill_timer = None
            self._on_refill()

    def _charge(self) -> bool:
        """Take a token to hand out one task; without one, arrange to look again when the next is due."""
        if self._bucket is None:
            self._dispatched.add()
            return True
        if self._bucket.try_take():
            self._dispatched.add()
            return True
        if self._refill_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return False
            self._refill_timer = loop.call_later(self._bucket.wait_s(), self._on_refill)
        return False

    def _uncharge(self) -> None:
        """A charged hand-out did not happen (the root declined an offer)."""
        if self._bucket is not None:
            self._bucket.refund()
        self._dispatched.add(-1)

    def _on_refill(self) -> None:
        """A token is due: wake the local polls that could take a backlogged task; a child tells its root."""
        self._refill_timer = None
        if not self._backlog:
            return
        self._generation += 1
        for route in list(self._backlog):
            self._wake(route)
            if self._forwarder is not None and not self.key.is_root:
                self._spawn(self._notify_root(route))

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
        if not self._charge():  # no token for this task now: it waits in the backlog
            route = self._push(task, key)
            await self._notify_root(route)
            return
        self._keys.add(key)  # dedupe while the offer is in flight
        accepted = False
        try:
            accepted = await self._forwarder.offer_to_root(self.key, task)
        except asyncio.CancelledError:
            self._keys.discard(key)
            self._uncharge()
            self.put_back(task)  # the root may have taken it too: a duplicate is harmless, a loss is not
            raise
        except Exception:
            logger.warning("matching: offering a task of %s to its root failed", self.key, exc_info=True)
        self._keys.discard(key)
        if accepted:
            return
        self._uncharge()
        if self._match_waiter(task):
            return
        await self._notify_root(self._push(task, key))

    def offer(self, task: MatchingTask) -> bool:
        """Root side of a child's offer: hand the task to a waiting poller, or decline (never backlog it).

        The child paid for the hand-out (rate limit) before offering."""
        self._touch()
        return self._match_waiter(task, charge=False)

    def put_back(self, task: MatchingTask) -> None:
        """Return a task that was taken but not delivered: to a waiting poller, else the front of the backlog."""
        key = task_key(task)
        if key in self._keys or self._match_waiter(task, charge=False):  # it was paid for when first handed out
            return
        route = self._push(task, key, front=True)
        if self._forwarder is not None and not self.key.is_root:
            self._spawn(self._notify_root(route))

    def reroute(self) -> None:
        """The versioning targets may have changed: sort the backlog again and let every waiting poll look."""
        entries = sorted((entry for entries in self._backlog.values() for entry in entries), key=lambda e: e.seq)
        self._backlog = {}
        for entry in entries:
            entry.route = (entry.task.resource_label, self._resolve(entry.task))
            self._backlog.setdefault(entry.route, deque()).append(entry)
        self._generation += 1
        for waiter in self._waiters:
            _resolve(waiter.future, _RECHECK)
        if self._forwarder is not None and not self.key.is_root:
            for route in list(self._backlog):
                self._spawn(self._notify_root(route))

    def child_has_backlog(self, child: int, label: str) -> None:
        """Root side: a child backlogged a task; wake the waiting polls that could take it.

        The root declined that task a moment ago, so these are only polls that arrived since: few.
        """
        self._children[child] = next(self._notices)
        self._generation += 1
        self._wake_label(label)

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

    def take_now(self, poller: Poller, limit: int) -> list[MatchingTask]:
        """Up to ``limit`` more tasks this poller can take from this partition's backlog, oldest first, without
        waiting (a poll that got its first task takes what else is ready in the same hop)."""
        tasks: list[MatchingTask] = []
        while len(tasks) < limit and (task := self._take_local(poller)) is not None:
            tasks.append(task)
        return tasks

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
    def _match_waiter(self, task: MatchingTask, *, charge: bool = True) -> bool:
        route = (task.resource_label, self._resolve(task))
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.poller.can_take_route(route):
                if charge and not self._charge():
                    return False
                waiter.future.set_result(task)
                self._sync_matches += 1
                return True
        return False

    def _wake(self, route: Route) -> None:
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.poller.can_take_route(route):
                waiter.future.set_result(_RECHECK)

    def _wake_label(self, label: str) -> None:
        """A child's backlog has a task of this label (its target is the child's to check)."""
        for waiter in self._waiters:
            if not waiter.future.done() and waiter.poller.can_take(label):
                waiter.future.set_result(_RECHECK)

    def _push(self, task: MatchingTask, key: TaskKey, *, front: bool = False) -> Route:
        created = task.create_time.ToNanoseconds() / 1e9 if task.HasField("create_time") else time.time()
        if front:
            self._front_seq -= 1
        route = (task.resource_label, self._resolve(task))
        entry = _Entry(self._front_seq if front else next(self._seq), created, key, task, route)
        entries = self._backlog.setdefault(route, deque())
        (entries.appendleft if front else entries.append)(entry)
        self._keys.add(key)
        self._generation += 1
        return route

    def _take_local(self, poller: Poller) -> MatchingTask | None:
        best: _Entry | None = None
        for route, entries in self._backlog.items():
            if poller.can_take_route(route) and (best is None or entries[0].seq < best.seq):
                best = entries[0]
        if best is None or not self._charge():
            return None
        entries = self._backlog[best.route]
        entries.popleft()
        if not entries:
            del self._backlog[best.route]
        self._keys.discard(best.key)
        return best.task

    async def _notify_root(self, route: Route) -> None:
        assert self._forwarder is not None
        try:
            await self._forwarder.notify_backlog(self.key, route[0])
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

    def backlog_stats(self) -> tuple[int, float, dict[str, int]]:
        """(backlog size, age in seconds of its oldest task, count per label): each route's oldest is its first."""
        now = time.time()
        oldest = min((entries[0].created for entries in self._backlog.values() if entries), default=now)
        return self.backlog_count(), max(0.0, now - oldest), self._count_by(0)

    def take_sync_matches(self) -> int:
        """Tasks handed to a waiting poll (sync match) since the last call."""
        count, self._sync_matches = self._sync_matches, 0
        return count

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
            and self._refill_timer is None
            and time.monotonic() - self.last_activity > idle_s
        )

    def describe(self) -> dict[str, Any]:
        """Backlog size, age of its oldest task, count per label (``""`` = unlabelled), pollers seen (with
        ``last_access_time`` in epoch seconds), tasks handed out per second (``dispatch_rate``) and this
        partition's share of the rate limit (``partition_rate_limit``, None = unlimited)."""
        now = time.time()
        self._pollers = {pid: seen for pid, seen in self._pollers.items() if seen[1] >= now - self._poller_ttl_s}
        pollers = []
        for p, at in self._pollers.values():
            info = p.to_dict()
            info.pop("task_queue_rate_limit_set_at")
            info["rate_limit"] = info.pop("task_queue_rate_limit")
            info["last_access_time"] = at
            pollers.append(info)
        oldest = min((entry.created for entries in self._backlog.values() for entry in entries), default=now)
        return {
            "partition": self.key.partition,
            "backlog": self.backlog_count(),
            "backlog_age_s": max(0.0, now - oldest),
            "backlog_by_label": self._count_by(0),
            "backlog_by_build_id": self._count_by(1),
            "pollers": pollers,
            "dispatch_rate": self._dispatched.rate(),
            "partition_rate_limit": self.rate_limit,
        }

    def _count_by(self, part: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for route, entries in self._backlog.items():
            counts[route[part]] = counts.get(route[part], 0) + len(entries)
        return counts

    def poller_targets(self) -> set[str]:
        """The versioning targets of the pollers seen (a sticky queue has one poller)."""
        return {poller.target for poller, _ in self._pollers.values()}

    def backlog_tasks(self) -> list[MatchingTask]:
        """Backlogged tasks, oldest first (for tests and debugging)."""
        entries = sorted((entry for entries in self._backlog.values() for entry in entries), key=lambda e: e.seq)
        return [entry.task for entry in entries]
