"""Configuration of one running service, handed to every service actor and client."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from rayflow import constants
from rayflow.persistence.url import StoreURL, parse_store_url

STICKY_QUEUE_PREFIX = "__sticky__/"
#: Each replica with activities polls an activity queue of its own, named by this prefix and its replica id.
REPLICA_QUEUE_PREFIX = "__replica__/"


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service lives and how it is laid out.

    Args:
        ray_namespace: Ray namespace of the service actors.
        store: the store URL (``sqlite:///abs/dir`` or ``postgresql://...``; a bare path is a SQLite
            directory). It may hold a password: it is never shown (``repr`` and describe show ``store_url.redacted``).
        num_shards: history shards; fixed when the store is created.
        num_matching: Matching actors hosting all task-queue partitions.
        default_partitions: partitions of a task queue not named in ``task_queue_partitions``.
        task_queue_partitions: partitions per task queue name (1 = strict FIFO).
        durability: ``"normal"`` (survives kill -9 of any process) or ``"fsync"`` (every commit fsynced).
        max_payload_size: largest serialized payload (arguments, a result, details) the service accepts, in
            bytes (default 2 MB); larger ones fail the request or task that carries them.
        service_label_selector: PostgreSQL store: Ray node labels the service actors must run on (default:
            any node, off accelerator nodes while others exist).
        home_node_id: SQLite store: the Ray node holding the data directory; every service actor is pinned to
            it (set by the bootstrap when the service starts).
        actor_max_concurrency: calls one service actor runs at once (Ray's ``max_concurrency``; default 10000).
        mutable_state_cache_size: mutable states of open executions each history shard keeps in memory, least
            recently used evicted first (default 10000). An evicted execution is read back from the store when
            next needed; its timers and dispatched tasks stay tracked, so it runs on as before, only slower.
        max_build_ids_per_queue, max_version_sets_per_queue, max_build_id_length: worker-versioning limits of a
            task queue's build-id version sets (Temporal's defaults: 100, 10 and 255 characters).
        retention_sweep_interval_s: how often each history shard deletes the closed runs (histories and external
            payloads) whose namespace's retention passed (default 60 s).
        log_level: what the service actors and worker replicas log to the console ("": WARNING; their log files
            in the Ray session's log directory get INFO); ``RAYFLOW_LOG_LEVEL`` where the service starts.
    """

    ray_namespace: str = constants.DEFAULT_RAY_NAMESPACE
    # Relative until a caller resolves it (clients pass an absolute URL, see service/store_setting.py).
    store: str = field(default=constants.DEFAULT_DATA_DIR, repr=False)
    num_shards: int = constants.DEFAULT_NUM_SHARDS
    num_matching: int = constants.DEFAULT_NUM_MATCHING
    default_partitions: int = constants.DEFAULT_TASK_QUEUE_PARTITIONS
    task_queue_partitions: Mapping[str, int] = field(default_factory=dict)
    durability: str = "normal"
    max_payload_size: int = constants.DEFAULT_MAX_PAYLOAD_SIZE
    service_label_selector: Mapping[str, str] = field(default_factory=dict)
    home_node_id: str = ""
    actor_max_concurrency: int = constants.DEFAULT_ACTOR_MAX_CONCURRENCY
    mutable_state_cache_size: int = constants.DEFAULT_MUTABLE_STATE_CACHE_SIZE
    max_build_ids_per_queue: int = 100
    max_version_sets_per_queue: int = 10
    max_build_id_length: int = 255
    retention_sweep_interval_s: float = constants.DEFAULT_RETENTION_SWEEP_INTERVAL_S
    log_level: str = field(default_factory=lambda: os.environ.get(constants.LOG_LEVEL_ENV, ""))

    @cached_property
    def store_url(self) -> StoreURL:
        """The parsed store URL (``.redacted`` is safe to show)."""
        return parse_store_url(self.store)

    @property
    def data_dir(self) -> str | None:
        """The SQLite data directory, or None when the store is PostgreSQL."""
        return self.store_url.path

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
