"""Client of the Matching actors: the only place that knows placement (internal).

A partition ``(namespace, task_queue, task_queue_type, partition)`` lives on Matching actor
``blake2b(...) % num_matching`` (a process-stable hash: never Python's ``hash()``). History shards add
tasks through this client and worker replicas poll through it; each call goes to a random partition.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Sequence
from typing import Any

import ray

from rayflow import constants
from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service._batcher import CallBatcher
from rayflow.service._ray_calls import call, get_named_actor
from rayflow.service.config import ServiceConfig

#: ``describe_task_queue`` keys, by task queue type.
TASK_QUEUE_TYPES = {
    "workflow": request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY,
}


#: How often a poller's actor handle (which Matching watches to learn of the poller's death) is sent again.
WATCH_RESEND_S = 30.0


def actor_index(namespace: str, task_queue: str, task_queue_type: int, partition: int, num_matching: int) -> int:
    """The Matching actor hosting a partition."""
    key = f"{namespace}\x00{task_queue}\x00{int(task_queue_type)}\x00{partition}".encode()
    # blake2b, not crc32: crc32 is linear, so names differing in one character (partitions 0..3) often
    # share its low bits and would all land on the same actor.
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % num_matching


def empty_partition(partition: int) -> dict[str, Any]:
    """``describe`` of a partition that holds nothing and has seen nobody."""
    return {
        "partition": partition,
        "backlog": 0,
        "backlog_age_s": 0.0,
        "backlog_by_label": {},
        "pollers": [],
        "dispatch_rate": 0.0,
        "partition_rate_limit": None,
        "rate_limit": None,
        "rate_limit_set_at": 0.0,
    }


class MatchingClient:
    """Routes adds and polls to the partitions of a task queue, and the partitions to their actors.

    Args:
        config: the service layout (``num_matching``, partitions per queue, Ray namespace).
        handles: the Matching actors in index order; default: looked up by name when first needed.
    """

    def __init__(self, config: ServiceConfig, handles: Sequence[ray.actor.ActorHandle] | None = None) -> None:
        self.config = config
        self._handles: list[ray.actor.ActorHandle | None] = list(handles) if handles else [None] * config.num_matching
        self._batchers: dict[int, CallBatcher] = {}
        self._watch_due: dict[int, float] = {}  # when to send the poller's actor handle to a Matching actor again
        if len(self._handles) != config.num_matching:
            raise ValueError(f"got {len(self._handles)} Matching actor handles for num_matching={config.num_matching}")

    # -- placement ---------------------------------------------------------------------------
    def actor_index(self, namespace: str, task_queue: str, task_queue_type: int, partition: int) -> int:
        return actor_index(namespace, task_queue, task_queue_type, partition, self.config.num_matching)

    def handle(self, index: int) -> ray.actor.ActorHandle:
        handle = self._handles[index]
        if handle is None:
            handle = get_named_actor(self.config.matching_actor_name(index), self.config.ray_namespace)
            self._handles[index] = handle
        return handle

    def actor_for(self, namespace: str, task_queue: str, task_queue_type: int, partition: int) -> ray.actor.ActorHandle:
        return self.handle(self.actor_index(namespace, task_queue, task_queue_type, partition))

    def pick_partition(self, task_queue: str) -> int:
        """A random partition of the queue (sticky queues have only partition 0)."""
        return random.randrange(self.config.partitions_of(task_queue))

    # -- calls -------------------------------------------------------------------------------
    async def add_task(self, task: internal_pb2.MatchingTask) -> None:
        """Hand a task to a random partition of its queue (Matching dedupes repeats of a dispatch)."""
        partition = self.pick_partition(task.task_queue)
        index = self.actor_index(task.namespace, task.task_queue, task.task_queue_type, partition)
        batcher = self._batchers.get(index)
        if batcher is None:
            handle = self.handle(index)

            async def send(items: list) -> list:
                return await call(handle.add_tasks.remote(items), "add tasks to their task queues")

            batcher = self._batchers[index] = CallBatcher(send)
        await batcher.call((task.SerializeToString(), partition))  # in the next batch to that actor

    async def poll(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        poller: dict[str, Any],
        timeout_s: float = constants.LONG_POLL_TIMEOUT_S,
    ) -> bytes | None:
        """Long-poll a random partition; the serialized poll response, or None after ``timeout_s``.

        ``poller``: ``{"identity", "poller_id", "labels": [...], "accept_unlabelled": bool}``; the poller
        id must be unique per poller (``cancel_polls`` answers its polls with None for a few seconds after).
        Optional keys, reported by ``describe_task_queue``: ``build_id``, ``node_id``, ``node_ip``,
        ``actor_id``; and on activity polls ``task_queue_rate_limit`` (the queue-wide activities-per-second
        limit its worker wants) with ``task_queue_rate_limit_set_at`` (epoch seconds: the latest setting wins).
        """
        tasks = await self.poll_many(namespace, task_queue, task_queue_type, poller, timeout_s, 1)
        return tasks[0] if tasks else None

    async def poll_many(
        self,
        namespace: str,
        task_queue: str,
        task_queue_type: int,
        poller: dict[str, Any],
        timeout_s: float = constants.LONG_POLL_TIMEOUT_S,
        max_tasks: int = 1,
    ) -> list[bytes]:
        """As ``poll``, for up to ``max_tasks`` tasks in one hop: the first waited for, the rest what the
        partition holds for this poller at that moment; empty after ``timeout_s``."""
        partition = self.pick_partition(task_queue)
        index = self.actor_index(namespace, task_queue, task_queue_type, partition)
        poller = dict(poller)
        watch = poller.pop("watch", None)
        # An actor handle costs real time to deserialize on every poll: send it to each Matching actor once,
        # and again now and then (a restarted Matching actor forgot it).
        if watch is not None and time.monotonic() >= self._watch_due.get(index, 0.0):
            poller["watch"] = watch
            self._watch_due[index] = time.monotonic() + WATCH_RESEND_S
        handle = self.handle(index)
        return await call(
            handle.poll_many.remote(namespace, task_queue, int(task_queue_type), partition, poller, timeout_s,
                                    max_tasks),
            "poll a task queue",
        )

    async def cancel_polls(self, poller_id: str) -> None:
        """Make this poller's outstanding polls return None now, on every Matching actor."""
        await asyncio.gather(
            *(
                call(self.handle(i).cancel_polls.remote(poller_id), "cancel polls")
                for i in range(self.config.num_matching)
            )
        )

    async def versioning(self, operation: str, args: dict[str, Any]) -> Any:
        """A worker-versioning operation, run by Matching actor 0 (the writer of versioning records)."""
        return await call(self.handle(0).versioning.remote(operation, args), f"worker versioning: {operation}")

    async def describe_task_queue(self, namespace: str, task_queue: str) -> dict[str, list[dict[str, Any]]]:
        """Every partition of both queues of that name: ``{"workflow": [...], "activity": [...]}``.

        Each entry: ``partition``, ``backlog``, ``backlog_age_s``, ``backlog_by_label`` (``""`` =
        unlabelled), ``pollers`` (``identity``, ``poller_id``, ``labels``, ``accept_unlabelled``,
        ``build_id``, ``rate_limit``, ``node_id``, ``node_ip``, ``actor_id``, ``last_access_time`` in epoch
        seconds), ``dispatch_rate`` (tasks/s), ``partition_rate_limit`` (this partition's share, or None),
        and the queue's ``rate_limit`` (activities/s, or None) with its ``rate_limit_set_at``, as known by
        the actor hosting that partition.
        """
        partitions = range(self.config.partitions_of(task_queue))
        result: dict[str, list[dict[str, Any]]] = {}
        for name, queue_type in TASK_QUEUE_TYPES.items():
            indexes = sorted({self.actor_index(namespace, task_queue, queue_type, p) for p in partitions})
            answers = await asyncio.gather(
                *(
                    call(self.handle(i).describe.remote(namespace, task_queue, queue_type), "describe a task queue")
                    for i in indexes
                )
            )
            found: dict[int, dict[str, Any]] = {}
            for answer in answers:
                found.update(answer)
            result[name] = [found.get(p) or empty_partition(p) for p in partitions]
        return result

