"""Names and defaults shared by every part of rayflow (one place, so nothing hard-codes them twice)."""

from __future__ import annotations

import os
from datetime import timedelta

#: Ray namespace holding the service actors unless the caller picks another.
DEFAULT_RAY_NAMESPACE = "rayflow"
#: rayflow namespace (isolation of workflow ids) used when none is given.
DEFAULT_NAMESPACE = "default"
#: Data directory of the embedded SQLite store, overridden by ``RAYFLOW_DATA_DIR``.
DEFAULT_DATA_DIR = ".rayflow"
DATA_DIR_ENV = "RAYFLOW_DATA_DIR"
#: The store URL (``sqlite:///abs/dir`` or ``postgresql://...``): takes precedence over ``RAYFLOW_DATA_DIR``.
STORE_ENV = "RAYFLOW_STORE"

#: The gRPC frontend (``rayflow server start``): loopback and Temporal's port unless told otherwise.
DEFAULT_FRONTEND_BIND = "127.0.0.1"
DEFAULT_FRONTEND_PORT = 7233
DEFAULT_FRONTEND_ADDRESS = f"{DEFAULT_FRONTEND_BIND}:{DEFAULT_FRONTEND_PORT}"
#: The web UI of ``rayflow server start`` (and its /metrics): loopback and Temporal's UI port unless told otherwise.
DEFAULT_UI_BIND = "127.0.0.1"
DEFAULT_UI_PORT = 8233
#: Environment variables read by the CLI (and ``Client.connect`` for the API key).
ADDRESS_ENV = "RAYFLOW_ADDRESS"
#: Log level of the service actors and replicas (default: INFO to their log files, WARNING to the console).
LOG_LEVEL_ENV = "RAYFLOW_LOG_LEVEL"
API_KEY_ENV = "RAYFLOW_API_KEY"

#: Number of history shards of a new store (fixed when the store is created): one per two CPU cores of the
#: machine that creates it, 1 to 4. A shard is one process and uses up to a core; on two cores one shard
#: carries W1 faster than two or four (bench/RESULTS.md, issue 12: batched hops made shards CPU-bound).
DEFAULT_NUM_SHARDS = max(1, min(4, (os.cpu_count() or 2) // 2))
#: Number of Matching actors hosting all task-queue partitions.
DEFAULT_NUM_MATCHING = 1
#: Partitions of a task queue unless configured per queue.
DEFAULT_TASK_QUEUE_PARTITIONS = 4

#: Mutable states of open executions one history shard keeps in memory (an LRU); the others are read back from
#: the store when next needed, so memory at rest does not grow with the number of waiting workflows.
DEFAULT_MUTABLE_STATE_CACHE_SIZE = 10_000

#: Calls one service actor (shard, Matching) runs at once: long polls and waits are multiplexed, so few are held.
DEFAULT_ACTOR_MAX_CONCURRENCY = 10000
#: Actor names inside the Ray namespace.
HISTORY_ACTOR_NAME = "rayflow-history-{index}"
MATCHING_ACTOR_NAME = "rayflow-matching-{index}"

#: File names inside the data directory.
METADATA_DB_FILE = "cluster.db"
SHARD_DB_FILE = "shard-{index}.db"

#: SQLite table names (one place, read by the schema and the queries).
TABLE_SHARDS = "shards"
TABLE_EXECUTIONS = "executions"
TABLE_CURRENT_EXECUTIONS = "current_executions"
TABLE_HISTORY = "history_events"
TABLE_METADATA = "cluster_metadata"
TABLE_SCHEMA_VERSION = "schema_version"

#: Workflow task start-to-close timeout (Temporal's default).
DEFAULT_WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
# workflow.info().is_continue_as_new_suggested() is true from this many history events (Temporal suggests
# continue-as-new at a few thousand events, well before its 50K-event history limit).
CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH = 10_000
#: How long a task waits on a replica's sticky queue before going back to the normal queue.
DEFAULT_STICKY_SCHEDULE_TO_START_TIMEOUT = timedelta(seconds=10)
#: A long poll returns empty after this long, so pollers re-check their state.
LONG_POLL_TIMEOUT_S = 20.0
#: Backoff cap for retried workflow tasks.
MAX_WORKFLOW_TASK_BACKOFF_S = 10.0
#: How long a stopped worker waits for running tasks before its replicas are killed.
DEFAULT_GRACEFUL_SHUTDOWN_S = 10.0
#: How long a Worker waits for Ray to place its replicas before it reports what is missing.
DEFAULT_PLACEMENT_TIMEOUT_S = 60.0
#: Largest payload (serialized Payloads: arguments, a result, failure or heartbeat details) the service
#: accepts: 2 MB, Temporal's blob size limit. Larger data belongs in a file or object store, passed by reference.
DEFAULT_MAX_PAYLOAD_SIZE = 2 * 1024 * 1024

#: Environment variable naming the payload store of external payloads (a directory or an fsspec URL).
PAYLOAD_STORE_ENV = "RAYFLOW_PAYLOAD_STORE"

#: How long a closed workflow's history and external payloads are kept unless its namespace sets another
#: retention (Temporal's default: 3 days).
DEFAULT_NAMESPACE_RETENTION = timedelta(days=3)
#: How often each history shard deletes the closed runs whose retention passed.
DEFAULT_RETENTION_SWEEP_INTERVAL_S = 60.0
#: The shard's index of external payloads by referencing run (what retention reads before deleting objects).
TABLE_PAYLOAD_REFS = "payload_refs"
