"""The Matching actor: hosts many task-queue partitions on one event loop (internal).

``MatchingEngine`` is the plain-Python core (testable in-process); ``MatchingActor`` is the Ray async
actor that wraps it. Which actor hosts which partition is asked of ``MatchingClient`` (client.py), the
only place that knows placement: forwarding to a partition hosted here is a local call, to another an
actor call.

The activities-per-second limit of a task queue (``task_queue_rate_limit`` in activity pollers' dicts) is
global: each partition gets limit / partitions. The latest setting (by the ``task_queue_rate_limit_set_at``
its worker stamps it with) wins, and is kept in the store's metadata, so a restarted Matching actor
enforces it before any poller tells it again (read once per queue when first touched, written only when
the setting changes, both off the hot path).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import ray

from rayflow.service import logs, placement
from rayflow.service._batcher import run_batch
from rayflow.service._ray_calls import call
from rayflow.service.call_counts import counted
from rayflow.service.config import (
    STICKY_QUEUE_PREFIX,
    ServiceConfig,
    is_replica_queue,
    is_sticky_queue,
    replica_queue_name,
    sticky_queue_name,
)
from rayflow.service.matching.client import TASK_QUEUE_TYPES, MatchingClient, empty_partition
from rayflow.service.matching.partition import (
    Cancellations,
    LocalForwarder,
    MatchingTask,
    PartitionKey,
    Poller,
    TaskQueuePartition,
)
from rayflow.service.matching.telemetry import MatchingMetrics
from rayflow.service.matching.versioning import VersioningRegistry
from rayflow.telemetry.metrics import ServiceMetrics

if TYPE_CHECKING:
    from rayflow.persistence.store import Store

logger = logging.getLogger(__name__)

#: ``record_started(task, identity, request_id)``: the serialized poll response, or None for a stale task.
RecordStarted = Callable[[MatchingTask, str, str], Awaitable[bytes | None]]
#: ``record_started="echo"``: answer each poll with the task itself (tests of matching alone).
ECHO = "echo"

#: First and largest wait before retrying a task whose start could not be recorded (shard unavailable).
RECORD_RETRY_DELAY_S = 0.1
RECORD_RETRY_MAX_DELAY_S = 2.0
#: Partitions with nothing in them and untouched this long are dropped (sticky queues of gone replicas).
IDLE_PARTITION_S = 600.0
#: Replicas remembered as gone (their sticky queues take no more tasks).
GONE_REPLICAS_KEPT = 10_000
SWEEP_EVERY_S = 60.0
#: Tasks one poll hands out at most (a replica asks for as many as it has free slots).
MAX_TASKS_PER_POLL = 32

ACTIVITY = TASK_QUEUE_TYPES["activity"]


def rate_limit_key(namespace: str, task_queue: str) -> str:
    """Store metadata key of a task queue's activities-per-second limit."""
    return f"task_queue_rate/{quote(namespace, safe='')}/{task_queue}"


@dataclass(frozen=True)
class RateLimitSetting:
    """A task queue's activities-per-second limit and when its worker set it (epoch seconds)."""

    rate: float
    set_at: float

    def to_bytes(self) -> bytes:
        return json.dumps({"rate": self.rate, "set_at": self.set_at}).encode()

    @staticmethod
    def from_bytes(data: bytes | None) -> RateLimitSetting | None:
        if not data:
            return None
        value = json.loads(data)
        return RateLimitSetting(float(value["rate"]), float(value["set_at"]))


async def _echo(task: MatchingTask, identity: str, request_id: str) -> bytes:
    return task.SerializeToString()


class _ActorForwarder:
    """Forwarding between partitions: a local call when the target is hosted here, else an actor call."""

    def __init__(self, engine: MatchingEngine) -> None:
        self._engine = engine
        self._local = LocalForwarder(engine.partition)

    def _remote(self, key: PartitionKey) -> ray.actor.ActorHandle | None:
        return None if self._engine.hosts(key) else self._engine.client.actor_for(*key)

    async def offer_to_root(self, child: PartitionKey, task: MatchingTask) -> bool:
        handle = self._remote(child.root)
        if handle is None:
            return await self._local.offer_to_root(child, task)
        return await call(handle.offer_to_root.remote(task.SerializeToString()), "offer a task to the root partition")

    async def poll_root(self, child: PartitionKey, poller: Poller, timeout_s: float) -> MatchingTask | None:
        handle = self._remote(child.root)
        if handle is None:
            return await self._local.poll_root(child, poller, timeout_s)
        root = child.root
        data = await call(
            handle.poll_forwarded.remote(
                root.namespace, root.task_queue, root.task_queue_type, poller.to_dict(), timeout_s
            ),
            "forward a poll to the root partition",
        )
        return None if data is None else MatchingTask.FromString(data)

    async def take_from_child(self, child: PartitionKey, poller: Poller) -> tuple[MatchingTask | None, bool]:
        handle = self._remote(child)
        if handle is None:
            return await self._local.take_from_child(child, poller)
        data, more = await call(handle.take_from_child.remote(*child, poller.to_dict()), "pull a task from a partition")
        return (None if data is None else MatchingTask.FromString(data)), more

    async def notify_backlog(self, child: PartitionKey, label: str) -> None:
        handle = self._remote(child.root)
        if handle is None:
            await self._local.notify_backlog(child, label)
            return
        await call(handle.child_has_backlog.remote(*child, label), "report backlog to the root partition")


class MatchingEngine:
    """All partitions hosted by Matching actor ``index``, and the poll → record-started loop.

    Args:
        config: the service layout.
        index: this actor's index in ``[0, config.num_matching)``.
        record_started: records a task as started with its history shard (default:
            ``HistoryClient(config).record_tasks_started``, one batch call per shard); ``"echo"`` answers polls
            with the task itself.
        client: the placement oracle (default ``MatchingClient(config)``, actors looked up by name).
        persist: keep task queue rate limits in the store of ``config.store`` (default: only with the
            real history service, i.e. ``record_started`` None); ``store``: that store (default: opened lazily).
    """

    def __init__(
        self,
        config: ServiceConfig,
        index: int,
        record_started: RecordStarted | str | None = None,
        client: MatchingClient | None = None,
        *,
        persist: bool | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.index = index
        self.client = client or MatchingClient(config)
        self._record_started_fn = _echo if record_started == ECHO else record_started
        if isinstance(self._record_started_fn, str):
            raise TypeError(f"record_started must be a callable, None or {ECHO!r}, not {record_started!r}")
        self._partitions: dict[PartitionKey, TaskQueuePartition] = {}
        self.metrics = MatchingMetrics(lambda: self._partitions.values())
        self._cancellations = Cancellations()
        self._forwarder = _ActorForwarder(self)
        self._last_sweep = time.monotonic()
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._persist = (record_started is None) if persist is None else persist
        self._store = store
        self._rate_limits: dict[tuple[str, str], RateLimitSetting] = {}
        self._gone: OrderedDict[str, float] = OrderedDict()  # replicas that stopped or died (by poller id)
        self._rate_loaded: dict[tuple[str, str], asyncio.Future[None] | None] = {}  # None: loaded
        self._save_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self._history: Any = None  # HistoryClient, made on first use (record_started None)
        self.versioning = VersioningRegistry(config, index, self.client,
                                             lambda: self._get_store() if self._persist else None, self._reroute)

    # -- placement and partitions ------------------------------------------------------------
    def hosts(self, key: PartitionKey) -> bool:
        return self.client.actor_index(*key) == self.index

    def partition(self, key: PartitionKey) -> TaskQueuePartition:
        part = self._partitions.get(key)
        if part is None:
            forwarder = self._forwarder if self.config.partitions_of(key.task_queue) > 1 else None
            part = self._partitions[key] = TaskQueuePartition(key, forwarder, self._cancellations,
                                                              resolver=self.versioning.resolve)
            if key.task_queue_type == ACTIVITY:
                part.set_rate_limit(self._partition_rate(key.namespace, key.task_queue))
        return part

    # -- rate limits -------------------------------------------------------------------------
    def rate_limit(self, namespace: str, task_queue: str) -> RateLimitSetting | None:
        """The queue's activities-per-second limit as this actor knows it."""
        return self._rate_limits.get((namespace, task_queue))

    def _partition_rate(self, namespace: str, task_queue: str) -> float | None:
        setting = self._rate_limits.get((namespace, task_queue))
        return None if setting is None else setting.rate / self.config.partitions_of(task_queue)

    def _reroute(self) -> None:
        """Versioning changed: every partition sorts its backlog by the new targets."""
        for part in self._partitions.values():
            part.reroute()

    async def _ready(self, namespace: str, task_queue: str, task_queue_type: int) -> None:
        """Before a queue is first used here: load its versioning and (activity queues) its stored rate limit."""
        if not is_sticky_queue(task_queue) and not is_replica_queue(task_queue):
            await self.versioning.ready(namespace, task_queue)
        if task_queue_type != ACTIVITY or not self._persist:
            return
        queue = (namespace, task_queue)
        if queue not in self._rate_loaded:
            self._rate_loaded[queue] = asyncio.ensure_future(self._load_rate_limit(namespace, task_queue))
        loading = self._rate_loaded[queue]
        if loading is not None:
            await asyncio.shield(loading)

    async def _load_rate_limit(self, namespace: str, task_queue: str) -> None:
        try:
            data = await self._get_store().get_metadata(rate_limit_key(namespace, task_queue))
            setting = RateLimitSetting.from_bytes(data)
        except Exception:
            logger.warning("matching: reading the rate limit of %s/%s failed", namespace, task_queue, exc_info=True)
            setting = None
        self._rate_loaded[(namespace, task_queue)] = None
        if setting is not None:
            self.set_rate_limit(namespace, task_queue, setting, save=False)

    def _get_store(self) -> Store:
        if self._store is None:
            from rayflow.persistence import open_store  # lazy: only a service that keeps rate limits needs it
            from rayflow.service.resilient_store import ResilientStore

            self._store = ResilientStore(open_store(self.config.store, durability=self.config.durability),
                                         what=f"matching {self.index}")
        return self._store

    def _learn(self, namespace: str, task_queue: str, task_queue_type: int, poller: Poller) -> None:
        """An activity poller says which rate limit its worker wants: the latest setting wins."""
        if task_queue_type != ACTIVITY or poller.rate_limit is None or not poller.rate_limit > 0:
            return
        current = self._rate_limits.get((namespace, task_queue))
        if current is not None and current.rate == poller.rate_limit and current.set_at >= poller.rate_limit_set_at:
            return
        set_at = poller.rate_limit_set_at if poller.rate_limit_set_at > 0 else time.time()  # unstamped: now
        if current is None or set_at >= current.set_at:
            self.set_rate_limit(namespace, task_queue, RateLimitSetting(poller.rate_limit, set_at))

    def set_rate_limit(self, namespace: str, task_queue: str, setting: RateLimitSetting, *, save: bool = True) -> None:
        """Apply a queue's limit to the activity partitions hosted here (unless an as recent one is known)."""
        queue = (namespace, task_queue)
        current = self._rate_limits.get(queue)
        if current is not None and current.set_at > setting.set_at:
            return
        self._rate_limits[queue] = setting
        for key, part in self._partitions.items():
            if key[:3] == (namespace, task_queue, ACTIVITY):
                part.set_rate_limit(self._partition_rate(namespace, task_queue))
        if save and self._persist and current != setting:
            self._spawn(self._save_rate_limit(namespace, task_queue, setting))

    async def _save_rate_limit(self, namespace: str, task_queue: str, setting: RateLimitSetting) -> None:
        key = rate_limit_key(namespace, task_queue)
        try:
            async with self._save_lock:
                if self._rate_limits.get((namespace, task_queue)) != setting:
                    return  # superseded meanwhile
                store = self._get_store()
                stored = RateLimitSetting.from_bytes(await store.get_metadata(key))
                if stored is None or (stored.set_at <= setting.set_at and stored != setting):
                    await store.put_metadata(key, setting.to_bytes())
        except Exception:
            logger.warning("matching: saving the rate limit of %s/%s failed", namespace, task_queue, exc_info=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Wait for rate-limit writes in flight (tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        self.versioning.refresh()
        for key in [key for key, part in self._partitions.items() if part.is_idle(IDLE_PARTITION_S)]:
            del self._partitions[key]

    async def _record_all(self, tasks: list[MatchingTask], identity: str,
                          request_ids: list[str]) -> list[bytes | None | BaseException]:
        """Record several tasks as started: one call per history shard (their own answer or error each)."""
        if self._record_started_fn is None:
            if self._history is None:
                from rayflow.service.history.client import HistoryClient  # lazy: history imports matching

                self._history = HistoryClient(self.config)
            return await self._history.record_tasks_started(tasks, identity, request_ids)
        fn = self._record_started_fn
        return list(await asyncio.gather(*(fn(task, identity, request_id) for task, request_id
                                           in zip(tasks, request_ids, strict=True)), return_exceptions=True))

    # -- API ---------------------------------------------------------------------------------
    async def add_task(self, task: bytes, partition: int = 0) -> None:
        message = MatchingTask.FromString(task)
        self._maybe_sweep()
        if self._to_gone_replica(message.task_queue):
            return  # its sticky timeout sends it to the normal queue
        key = PartitionKey(message.namespace, message.task_queue, int(message.task_queue_type), partition)
        await self._ready(*key[:3])
        if message.version_directive and is_sticky_queue(message.task_queue):  # a normal queue is ready already
            await self.versioning.ready(message.namespace, message.normal_task_queue)
            if self._redirected(key, message):
                return
        await self.partition(key).add(message)

    def _redirected(self, key: PartitionKey, task: MatchingTask) -> bool:
        """A task for a sticky queue whose worker is not of the task's version (the workflow moved to another
        build id) goes to the normal queue now, instead of after its sticky timeout."""
        part = self._partitions.get(key)
        targets = part.poller_targets() if part is not None else set()
        if not targets or self.versioning.resolve(task) in targets:
            return False
        task.task_queue = task.normal_task_queue
        self._spawn(self.client.add_task(task))
        return True

    async def poll(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        partition: int,
        poller: dict[str, Any],
        timeout_s: float,
    ) -> bytes | None:
        """A task for this poller, recorded as started; None after ``timeout_s`` or on cancel."""
        tasks = await self.poll_many(namespace, task_queue, task_queue_type, partition, poller, timeout_s, 1)
        return tasks[0] if tasks else None

    async def poll_many(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        partition: int,
        poller: dict[str, Any],
        timeout_s: float,
        max_tasks: int,
    ) -> list[bytes]:
        """Up to ``max_tasks`` tasks for this poller, recorded as started: the first one it waits for (up to
        ``timeout_s``), the rest what the partition holds for it at that moment (one hop hands out many tasks
        under load; idle, a poll answers its first task at once). Empty after ``timeout_s`` or on cancel."""
        self._maybe_sweep()
        self._watch(poller)
        who = Poller.from_dict(poller)
        await self._ready(namespace, task_queue, int(task_queue_type))
        self._learn(namespace, task_queue, int(task_queue_type), who)
        self.versioning.learn(namespace, task_queue, int(task_queue_type), who)
        part = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), partition))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (remaining := deadline - loop.time()) > 0:
            task = await part.poll(who, remaining)
            if task is None:
                break
            tasks = [task, *self._take_ready(part.key, who, min(max_tasks, MAX_TASKS_PER_POLL) - 1)]
            responses = await self._start(part, tasks, who, deadline)
            if responses:
                self.metrics.polled(part.key, got_tasks=True)
                return responses
            # every one stale (already started or completed): they are dropped; keep polling.
        self.metrics.polled(part.key, got_tasks=False)
        return []

    def _take_ready(self, key: PartitionKey, who: Poller, limit: int) -> list[MatchingTask]:
        """Up to ``limit`` tasks ready for this poller now: from the polled partition first, then from the
        queue's other partitions this actor hosts (a local take, as forwarding to the root would be)."""
        tasks: list[MatchingTask] = []
        if limit <= 0:
            return tasks
        siblings = [key] + [key._replace(partition=p) for p in range(self.config.partitions_of(key.task_queue))
                            if p != key.partition]
        for sibling in siblings:
            part = self._partitions.get(sibling)
            if part is not None and self.hosts(sibling):
                tasks += part.take_now(who, limit - len(tasks))
                if len(tasks) >= limit:
                    break
        return tasks

    async def _start(self, part: TaskQueuePartition, tasks: list[MatchingTask], who: Poller,
                     deadline: float) -> list[bytes]:
        """Record the tasks as started; the answers of those that are not stale. A task whose start cannot be
        recorded before the deadline goes back to the partition (another poller takes it, or the shard
        dispatches it again)."""
        loop = asyncio.get_running_loop()
        # One request id for every try of a hand-out: a start that committed before the call failed is
        # answered again on the retry (with the same id), not taken for a stale task.
        request_ids = [str(uuid.uuid4()) for _ in tasks]
        responses: list[bytes] = []
        pending = list(range(len(tasks)))
        delay = RECORD_RETRY_DELAY_S
        while pending:
            try:
                answers = await self._record_all([tasks[i] for i in pending], who.identity,
                                                 [request_ids[i] for i in pending])
            except asyncio.CancelledError:
                for i in pending:
                    part.put_back(tasks[i])
                raise
            failed = []
            for i, answer in zip(pending, answers, strict=True):
                if isinstance(answer, BaseException):
                    failed.append(i)
                    logger.warning("matching: recording task %s as started failed; retrying",
                                   tasks[i].workflow_id, exc_info=answer)
                elif answer is not None:
                    responses.append(answer)
            pending = failed
            if not pending:
                break
            if responses or loop.time() + delay >= deadline:
                for i in pending:  # answer what started; the rest go to another poller
                    part.put_back(tasks[i])
                break
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                for i in pending:
                    part.put_back(tasks[i])
                raise
            delay = min(2 * delay, RECORD_RETRY_MAX_DELAY_S)
        return responses

    def _watch(self, poller: dict[str, Any]) -> None:
        """Ray does not cancel a call whose caller died: a dead replica's long polls would stay here and take
        tasks that then wait for their timeouts. Watch each polling replica and drop its polls when it dies."""
        actor, poller_id = poller.get("watch"), str(poller.get("poller_id", ""))
        if actor is None or not poller_id or poller_id in self._watchers:
            return
        self._watchers[poller_id] = asyncio.get_running_loop().create_task(self._drop_polls_on_death(poller_id, actor))

    async def _drop_polls_on_death(self, poller_id: str, actor: Any) -> None:
        try:
            await actor.wait_until_dead.remote()
        except Exception:  # RayActorError: the replica is gone (crashed or removed)
            pass
        finally:
            self._watchers.pop(poller_id, None)
        logger.info("matching: poller %s died; dropping its polls", poller_id)
        try:
            await self.client.cancel_polls(poller_id)  # every Matching actor: forwarded polls wait at the root
        except Exception:
            await self.cancel_polls(poller_id)

    async def cancel_polls(self, poller_id: str) -> None:
        """The poller (a worker replica) stopped or died: its polls end, and the queues only it polled (its
        sticky and replica queues) are dropped with their backlog. Their tasks are not lost: a sticky task goes
        back to the normal queue after its schedule-to-start timeout, and the shard dispatches unstarted tasks
        again; adds to a gone replica's sticky queue are dropped from now on."""
        self._cancellations.cancel(poller_id)
        for part in self._partitions.values():
            part.cancel(poller_id)
        own = (sticky_queue_name(poller_id), replica_queue_name(poller_id))
        for key in [key for key in self._partitions if key.task_queue in own]:
            del self._partitions[key]
        self._gone[poller_id] = time.monotonic()
        while len(self._gone) > GONE_REPLICAS_KEPT:
            self._gone.popitem(last=False)

    def stats(self) -> dict[str, int]:
        keys = list(self._partitions)
        return {
            "partitions": len(keys),
            "sticky_partitions": sum(is_sticky_queue(k.task_queue) for k in keys),
            "replica_partitions": sum(is_replica_queue(k.task_queue) for k in keys),
            "backlog": sum(part.backlog_count() for part in self._partitions.values()),
            "gone_replicas": len(self._gone),
        }

    def _to_gone_replica(self, task_queue: str) -> bool:
        return is_sticky_queue(task_queue) and task_queue.removeprefix(STICKY_QUEUE_PREFIX) in self._gone

    async def describe(self, namespace: str, task_queue: str, task_queue_type: int) -> dict[int, dict[str, Any]]:
        """The partitions of this queue hosted here: ``{partition: partition.describe()}`` (empty ones for
        partitions not created yet), each with the queue's ``rate_limit`` and ``rate_limit_set_at`` as known
        here (None and 0.0 without a limit)."""
        task_queue_type = int(task_queue_type)
        await self._ready(namespace, task_queue, task_queue_type)
        setting = self._rate_limits.get((namespace, task_queue)) if task_queue_type == ACTIVITY else None
        result: dict[int, dict[str, Any]] = {}
        for partition in range(self.config.partitions_of(task_queue)):
            key = PartitionKey(namespace, task_queue, task_queue_type, partition)
            if not self.hosts(key):
                continue
            part = self._partitions.get(key)
            if part is not None:
                info = part.describe()
                for poller in info["pollers"]:
                    poller["no_tasks_reason"] = self.versioning.why_idle(namespace, task_queue,
                                                                         Poller.from_dict(poller))
            else:
                info = empty_partition(partition)
                if setting is not None:
                    info["partition_rate_limit"] = self._partition_rate(namespace, task_queue)
            info["rate_limit"] = None if setting is None else setting.rate
            info["rate_limit_set_at"] = 0.0 if setting is None else setting.set_at
            result[partition] = info
        return result

    # -- forwarding between partitions -------------------------------------------------------
    async def offer_to_root(self, task: bytes) -> bool:
        message = MatchingTask.FromString(task)
        root = PartitionKey(message.namespace, message.task_queue, int(message.task_queue_type), 0)
        await self._ready(*root[:3])
        return self.partition(root).offer(message)

    async def poll_forwarded(
        self, namespace: str, task_queue: str, task_queue_type: int, poller: dict[str, Any], timeout_s: float
    ) -> bytes | None:
        who = Poller.from_dict(poller)
        await self._ready(namespace, task_queue, int(task_queue_type))
        self._learn(namespace, task_queue, int(task_queue_type), who)
        root = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), 0))
        task = await root.poll(who, timeout_s, forwarded=True)
        return None if task is None else task.SerializeToString()

    async def take_from_child(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, poller: dict[str, Any]
    ) -> tuple[bytes | None, bool]:
        await self._ready(namespace, task_queue, int(task_queue_type))
        child = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), partition))
        task, more = child.take(Poller.from_dict(poller))
        return (None if task is None else task.SerializeToString()), more

    async def child_has_backlog(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, label: str
    ) -> None:
        await self._ready(namespace, task_queue, int(task_queue_type))
        self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), 0)).child_has_backlog(partition, label)


@ray.remote(max_concurrency=10000)
@counted
class MatchingActor:
    """Ray async actor around ``MatchingEngine``; all its partitions share this actor's one event loop.

    Args:
        config: the service layout.
        index: this actor's index; it hosts the partitions that ``MatchingClient.actor_index`` maps to it.
        record_started: see ``MatchingEngine`` (None = the history service; ``"echo"`` for tests).
        persist: see ``MatchingEngine`` (keep rate limits in the store; default: with the history service).
    """

    def __init__(
        self,
        config: ServiceConfig,
        index: int,
        record_started: RecordStarted | str | None = None,
        persist: bool | None = None,
    ) -> None:
        logs.configure(f"matching-{index}", config.log_level)
        self._engine = MatchingEngine(config, index, record_started, persist=persist)
        self._batchable = {"add_task": self._engine.add_task}
        self._service_metrics = ServiceMetrics("matching")

    async def ready(self) -> None:
        """Answers once the actor runs (the bootstrap waits for every service actor)."""

    async def location(self) -> dict[str, Any]:
        return placement.actor_location()

    async def add_task(self, task: bytes, partition: int = 0) -> None:
        await self._engine.add_task(task, partition)

    async def add_tasks(self, tasks: list[tuple[bytes, int]]) -> list[Any]:
        """Several ``add_task`` calls in one hop (history shards batch their dispatches)."""
        self._engine.metrics.start()
        return await run_batch(self._batchable, [("add_task", item) for item in tasks], self._service_metrics)

    async def poll_many(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        partition: int,
        poller: dict[str, Any],
        timeout_s: float,
        max_tasks: int,
    ) -> list[bytes]:
        """Up to ``max_tasks`` tasks in one hop (see ``MatchingEngine.poll_many``)."""
        self._engine.metrics.start()
        return await self._engine.poll_many(namespace, task_queue, task_queue_type, partition, poller, timeout_s,
                                            max_tasks)

    async def cancel_polls(self, poller_id: str) -> None:
        await self._engine.cancel_polls(poller_id)

    async def versioning(self, operation: str, args: dict[str, Any]) -> Any:
        """A worker-versioning operation (actor 0 runs them; see ``VersioningRegistry.operate``)."""
        return await self._engine.versioning.operate(operation, args)

    async def versioning_pushed(self, kind: str, namespace: str, name: str, data: dict[str, Any]) -> None:
        """Actor 0 changed a versioning record."""
        self._engine.versioning.pushed(kind, namespace, name, data)

    async def memory_stats(self) -> dict[str, int]:
        """How many partitions this actor holds (sticky and replica ones apart) and their backlog."""
        return self._engine.stats()

    async def describe(self, namespace: str, task_queue: str, task_queue_type: int) -> dict[int, dict[str, Any]]:
        return await self._engine.describe(namespace, task_queue, task_queue_type)

    async def rate_limit(self, namespace: str, task_queue: str) -> tuple[float, float] | None:
        """``(rate, set_at)`` of the queue's activities-per-second limit as this actor knows it, or None."""
        await self._engine._ready(namespace, task_queue, ACTIVITY)
        setting = self._engine.rate_limit(namespace, task_queue)
        return None if setting is None else (setting.rate, setting.set_at)

    async def offer_to_root(self, task: bytes) -> bool:
        return await self._engine.offer_to_root(task)

    async def poll_forwarded(
        self, namespace: str, task_queue: str, task_queue_type: int, poller: dict[str, Any], timeout_s: float
    ) -> bytes | None:
        return await self._engine.poll_forwarded(namespace, task_queue, task_queue_type, poller, timeout_s)

    async def take_from_child(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, poller: dict[str, Any]
    ) -> tuple[bytes | None, bool]:
        return await self._engine.take_from_child(namespace, task_queue, task_queue_type, partition, poller)

    async def child_has_backlog(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, label: str
    ) -> None:
        await self._engine.child_has_backlog(namespace, task_queue, task_queue_type, partition, label)


__all__ = ["ECHO", "MatchingActor", "MatchingEngine", "RecordStarted"]
