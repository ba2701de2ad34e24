"""Configuration of one running service, handed to every service actor and client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rayflow import constants

STICKY_QUEUE_PREFIX = "__sticky__/"
#: Each replica with activities polls an activity queue of its own, named by this prefix and its replica id.
REPLICA_QUEUE_PREFIX = "__replica__/"


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service lives and how it is laid out.

    Args:
        ray_namespace: Ray namespace of the service actors.
        data_dir: SQLite data directory (absolute path).
        num_shards: history shards; fixed when the data directory is created.
        num_matching: Matching actors hosting all task-queue partitions.
        default_partitions: partitions of a task queue not named in ``task_queue_partitions``.
        task_queue_partitions: partitions per task queue name (1 = strict FIFO).
        durability: ``"normal"`` (survives kill -9 of any process) or ``"fsync"`` (every commit fsynced).
        max_payload_size: largest serialized payload (arguments, a result, details) the service accepts, in
            bytes (default 2 MB); larger ones fail the request or task that carries them.
    """

    ray_namespace: str = constants.DEFAULT_RAY_NAMESPACE
    data_dir: str = constants.DEFAULT_DATA_DIR
    num_shards: int = constants.DEFAULT_NUM_SHARDS
    num_matching: int = constants.DEFAULT_NUM_MATCHING
    default_partitions: int = constants.DEFAULT_TASK_QUEUE_PARTITIONS
    task_queue_partitions: Mapping[str, int] = field(default_factory=dict)
    durability: str = "normal"
    max_payload_size: int = constants.DEFAULT_MAX_PAYLOAD_SIZE

    def history_actor_name(self, index: int) -> str:
        return constants.HISTORY_ACTOR_NAME.format(index=index)

    def matching_actor_name(self, index: int) -> str:
        return constants.MATCHING_ACTOR_NAME.format(index=index)

    def partitions_of(self, task_queue: str) -> int:
        """Partitions of a task queue: sticky and replica queues have one, others as configured."""
        if is_sticky_queue(task_queue) or is_replica_queue(task_queue):
            return 1
        return max(1, int(self.task_queue_partitions.get(task_queue, self.default_partitions)))


def is_sticky_queue(task_queue: str) -> bool:
    return task_queue.startswith(STICKY_QUEUE_PREFIX)


def sticky_queue_name(replica_id: str) -> str:
    return f"{STICKY_QUEUE_PREFIX}{replica_id}"


def is_replica_queue(task_queue: str) -> bool:
    return task_queue.startswith(REPLICA_QUEUE_PREFIX)


def replica_queue_name(replica_id: str) -> str:
    """The activity task queue only the replica ``replica_id`` polls (``activity.info().replica_task_queue``)."""
    return f"{REPLICA_QUEUE_PREFIX}{replica_id}"
