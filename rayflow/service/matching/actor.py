"""The Matching actor: hosts many task-queue partitions on one event loop (internal).

``MatchingEngine`` is the plain-Python core (testable in-process); ``MatchingActor`` is the Ray async
actor that wraps it. Which actor hosts which partition is asked of ``MatchingClient`` (client.py), the
only place that knows placement: forwarding to a partition hosted here is a local call, to another an
actor call.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import ray

from rayflow.service._ray_calls import call
from rayflow.service.config import ServiceConfig
from rayflow.service.matching.client import MatchingClient
from rayflow.service.matching.partition import (
    Cancellations,
    LocalForwarder,
    MatchingTask,
    PartitionKey,
    Poller,
    TaskQueuePartition,
)

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
SWEEP_EVERY_S = 60.0


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
            ``HistoryClient(config).record_task_started``); ``"echo"`` answers polls with the task itself.
        client: the placement oracle (default ``MatchingClient(config)``, actors looked up by name).
    """

    def __init__(
        self,
        config: ServiceConfig,
        index: int,
        record_started: RecordStarted | str | None = None,
        client: MatchingClient | None = None,
    ) -> None:
        self.config = config
        self.index = index
        self.client = client or MatchingClient(config)
        self._record_started_fn = _echo if record_started == ECHO else record_started
        if isinstance(self._record_started_fn, str):
            raise TypeError(f"record_started must be a callable, None or {ECHO!r}, not {record_started!r}")
        self._partitions: dict[PartitionKey, TaskQueuePartition] = {}
        self._cancellations = Cancellations()
        self._forwarder = _ActorForwarder(self)
        self._last_sweep = time.monotonic()
        self._watchers: dict[str, asyncio.Task[None]] = {}

    # -- placement and partitions ------------------------------------------------------------
    def hosts(self, key: PartitionKey) -> bool:
        return self.client.actor_index(*key) == self.index

    def partition(self, key: PartitionKey) -> TaskQueuePartition:
        part = self._partitions.get(key)
        if part is None:
            forwarder = self._forwarder if self.config.partitions_of(key.task_queue) > 1 else None
            part = self._partitions[key] = TaskQueuePartition(key, forwarder, self._cancellations)
        return part

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for key in [key for key, part in self._partitions.items() if part.is_idle(IDLE_PARTITION_S)]:
            del self._partitions[key]

    async def _record_started(self, task: MatchingTask, identity: str, request_id: str) -> bytes | None:
        if self._record_started_fn is None:
            from rayflow.service.history.client import HistoryClient  # lazy: history imports matching

            self._record_started_fn = HistoryClient(self.config).record_task_started
        return await self._record_started_fn(task, identity, request_id)

    # -- API ---------------------------------------------------------------------------------
    async def add_task(self, task: bytes, partition: int = 0) -> None:
        message = MatchingTask.FromString(task)
        self._maybe_sweep()
        key = PartitionKey(message.namespace, message.task_queue, int(message.task_queue_type), partition)
        await self.partition(key).add(message)

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
        self._maybe_sweep()
        self._watch(poller)
        who = Poller.from_dict(poller)
        part = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), partition))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        delay = RECORD_RETRY_DELAY_S
        while (remaining := deadline - loop.time()) > 0:
            task = await part.poll(who, remaining)
            if task is None:
                return None
            try:
                response = await self._record_started(task, who.identity, str(uuid.uuid4()))
            except asyncio.CancelledError:
                part.put_back(task)
                raise
            except Exception:
                logger.warning(
                    "matching: recording task %s as started failed; retrying", task.workflow_id, exc_info=True
                )
                part.put_back(task)
                await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
                delay = min(2 * delay, RECORD_RETRY_MAX_DELAY_S)
                continue
            if response is not None:
                return response
            # None: stale (already started or completed); drop it and keep polling.
        return None

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
        self._cancellations.cancel(poller_id)
        for part in self._partitions.values():
            part.cancel(poller_id)

    async def describe(self, namespace: str, task_queue: str, task_queue_type: int) -> dict[int, dict[str, Any]]:
        """Partitions of this queue hosted here that exist: ``{partition: partition.describe()}``."""
        return {
            key.partition: part.describe()
            for key, part in sorted(self._partitions.items())
            if key[:3] == (namespace, task_queue, int(task_queue_type))
        }

    # -- forwarding between partitions -------------------------------------------------------
    async def offer_to_root(self, task: bytes) -> bool:
        message = MatchingTask.FromString(task)
        root = PartitionKey(message.namespace, message.task_queue, int(message.task_queue_type), 0)
        return self.partition(root).offer(message)

    async def poll_forwarded(
        self, namespace: str, task_queue: str, task_queue_type: int, poller: dict[str, Any], timeout_s: float
    ) -> bytes | None:
        root = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), 0))
        task = await root.poll(Poller.from_dict(poller), timeout_s, forwarded=True)
        return None if task is None else task.SerializeToString()

    async def take_from_child(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, poller: dict[str, Any]
    ) -> tuple[bytes | None, bool]:
        child = self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), partition))
        task, more = child.take(Poller.from_dict(poller))
        return (None if task is None else task.SerializeToString()), more

    async def child_has_backlog(
        self, namespace: str, task_queue: str, task_queue_type: int, partition: int, label: str
    ) -> None:
        self.partition(PartitionKey(namespace, task_queue, int(task_queue_type), 0)).child_has_backlog(partition, label)


@ray.remote(max_concurrency=10000)
class MatchingActor:
    """Ray async actor around ``MatchingEngine``; all its partitions share this actor's one event loop.

    Args:
        config: the service layout.
        index: this actor's index; it hosts the partitions that ``MatchingClient.actor_index`` maps to it.
        record_started: see ``MatchingEngine`` (None = the history service; ``"echo"`` for tests).
    """

    def __init__(self, config: ServiceConfig, index: int, record_started: RecordStarted | str | None = None) -> None:
        self._engine = MatchingEngine(config, index, record_started)

    async def add_task(self, task: bytes, partition: int = 0) -> None:
        await self._engine.add_task(task, partition)

    async def poll(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        partition: int,
        poller: dict[str, Any],
        timeout_s: float,
    ) -> bytes | None:
        return await self._engine.poll(namespace, task_queue, task_queue_type, partition, poller, timeout_s)

    async def cancel_polls(self, poller_id: str) -> None:
        await self._engine.cancel_polls(poller_id)

    async def describe(self, namespace: str, task_queue: str, task_queue_type: int) -> dict[int, dict[str, Any]]:
        return await self._engine.describe(namespace, task_queue, task_queue_type)

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
