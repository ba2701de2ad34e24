"""Schemas of the stores (internal): the one place their DDL lives.

SQLite: a shard database (``shard-<i>.db``) holds the shard's ownership row, its executions, the
current run of each workflow id and the history events; the metadata database (``cluster.db``) holds
key/value cluster settings. ``PRAGMA user_version`` records the schema version for migrations: a
new file gets the current schema at once; an older one first runs ``SQLITE_SHARD_MIGRATIONS`` (shard
databases; the metadata database's version 1 needs no change).

PostgreSQL: the same tables in one schema of one database (the store URL's ``schema``), each with a
leading ``shard_id`` column where SQLite has one file per shard. The ``schema_version`` table's one
row records the version; ``POSTGRES_MIGRATIONS[v]`` brings a schema from version ``v`` to ``v + 1``.
"""

from __future__ import annotations

from rayflow.constants import (
    TABLE_CURRENT_EXECUTIONS,
    TABLE_EXECUTIONS,
    TABLE_HISTORY,
    TABLE_METADATA,
    TABLE_PAYLOAD_REFS,
    TABLE_SCHEMA_VERSION,
    TABLE_SHARDS,
)
from rayflow.persistence.store import STATUS_RUNNING

__all__ = [
    "POSTGRES_MIGRATIONS",
    "POSTGRES_SCHEMA_VERSION",
    "POSTGRES_VERSION_TABLE",
    "SCHEMA_VERSION",
    "SQLITE_METADATA_SCHEMA",
    "SQLITE_SHARD_MIGRATIONS",
    "SQLITE_SHARD_SCHEMA",
]

#: The SQLite files' ``user_version``. 2: ``executions.build_ids``. 3: the payload index and the retention index.
SCHEMA_VERSION = 3

# Executions and events keep a rowid (no WITHOUT ROWID): their rows hold blobs that may be large.
SQLITE_SHARD_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE_SHARDS} (
    shard_id INTEGER PRIMARY KEY,
    range_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {TABLE_EXECUTIONS} (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL DEFAULT '',
    task_queue TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL,
    start_time REAL NOT NULL DEFAULT 0,
    close_time REAL NOT NULL DEFAULT 0,
    next_event_id INTEGER NOT NULL,
    state BLOB NOT NULL,
    -- 1 while a closed run still has work for its shard (e.g. tell its parent it closed): reloaded on restart.
    needs_attention INTEGER NOT NULL DEFAULT 0,
    -- The run's BuildIds entries as "|a|b|" ('' for none); listings filter it with LIKE, unindexed.
    build_ids TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (namespace, workflow_id, run_id)
);
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_status_start ON {TABLE_EXECUTIONS} (status, start_time);
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_attention ON {TABLE_EXECUTIONS} (needs_attention)
    WHERE needs_attention = 1;
-- Listing (newest first, by (start_time, run_id)): one index per filter, each ending in the sort key, so a page
-- is a range scan of one index with no sort, however many executions the shard holds.
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_list_start ON {TABLE_EXECUTIONS} (namespace, start_time, run_id);
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_list_status
    ON {TABLE_EXECUTIONS} (namespace, status, start_time, run_id);
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_list_type
    ON {TABLE_EXECUTIONS} (namespace, workflow_type, start_time, run_id);
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_list_queue
    ON {TABLE_EXECUTIONS} (namespace, task_queue, start_time, run_id);
-- Retention: closed runs of a namespace, oldest close first (running runs, close_time 0, are not in it).
CREATE INDEX IF NOT EXISTS {TABLE_EXECUTIONS}_closed ON {TABLE_EXECUTIONS} (namespace, close_time)
    WHERE close_time > 0;
CREATE TABLE IF NOT EXISTS {TABLE_CURRENT_EXECUTIONS} (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (namespace, workflow_id)
);
CREATE TABLE IF NOT EXISTS {TABLE_HISTORY} (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace, workflow_id, run_id, event_id)
);
-- The external payloads each run references (its events' and states'), kept until the run is deleted: retention
-- deletes an object only once no stored run references it.
CREATE TABLE IF NOT EXISTS {TABLE_PAYLOAD_REFS} (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    payload_key TEXT NOT NULL,
    store TEXT NOT NULL,
    PRIMARY KEY (namespace, workflow_id, run_id, payload_key)
);
CREATE INDEX IF NOT EXISTS {TABLE_PAYLOAD_REFS}_key ON {TABLE_PAYLOAD_REFS} (payload_key);
PRAGMA user_version = {SCHEMA_VERSION};
"""

#: ``SQLITE_SHARD_MIGRATIONS[v]``: the statements that bring a shard database from version ``v`` to ``v + 1``
#: (run in order, in one write transaction, before ``SQLITE_SHARD_SCHEMA``; a new file, version 0, skips
#: them: its CREATE TABLE has every column). Add a step for each SCHEMA_VERSION bump.
SQLITE_SHARD_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (f"ALTER TABLE {TABLE_EXECUTIONS} ADD COLUMN build_ids TEXT NOT NULL DEFAULT ''",),
    2: (),  # the payload index and the retention index: created by the schema's IF NOT EXISTS statements
}

SQLITE_METADATA_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE_METADATA} (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""

# -- PostgreSQL ------------------------------------------------------------------------------------

#: The table whose one row holds the PostgreSQL schema's version.

# Keys and listed text columns use the "C" collation: byte order, as SQLite sorts them (run ids break
# start-time ties in listings), and cheaper comparisons. Executions leave room in their pages
# (fillfactor) so that updates of the mutable state are HOT: no index entry is rewritten.
_POSTGRES_V1 = f"""
CREATE TABLE {TABLE_SHARDS} (
    shard_id INTEGER PRIMARY KEY,
    range_id BIGINT NOT NULL
);
CREATE TABLE {TABLE_EXECUTIONS} (
    shard_id INTEGER NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    workflow_id TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    workflow_type TEXT COLLATE "C" NOT NULL DEFAULT '',
    task_queue TEXT COLLATE "C" NOT NULL DEFAULT '',
    status INTEGER NOT NULL,
    start_time DOUBLE PRECISION NOT NULL DEFAULT 0,
    close_time DOUBLE PRECISION NOT NULL DEFAULT 0,
    next_event_id BIGINT NOT NULL,
    state BYTEA NOT NULL,
    needs_attention INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (shard_id, namespace, workflow_id, run_id)
) WITH (fillfactor = 80);
-- What a restarted shard reloads (list_open_executions), oldest start first.
CREATE INDEX {TABLE_EXECUTIONS}_open ON {TABLE_EXECUTIONS} (shard_id, start_time)
    WHERE status = {STATUS_RUNNING} OR needs_attention = 1;
-- Listing: as in SQLite, one index per filter ending in the sort key (start_time, run_id).
CREATE INDEX {TABLE_EXECUTIONS}_list_start ON {TABLE_EXECUTIONS} (shard_id, namespace, start_time, run_id);
CREATE INDEX {TABLE_EXECUTIONS}_list_status
    ON {TABLE_EXECUTIONS} (shard_id, namespace, status, start_time, run_id);
CREATE INDEX {TABLE_EXECUTIONS}_list_type
    ON {TABLE_EXECUTIONS} (shard_id, namespace, workflow_type, start_time, run_id);
CREATE INDEX {TABLE_EXECUTIONS}_list_queue
    ON {TABLE_EXECUTIONS} (shard_id, namespace, task_queue, start_time, run_id);
CREATE TABLE {TABLE_CURRENT_EXECUTIONS} (
    shard_id INTEGER NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    workflow_id TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (shard_id, namespace, workflow_id)
);
CREATE TABLE {TABLE_HISTORY} (
    shard_id INTEGER NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    workflow_id TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    event_id BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (shard_id, namespace, workflow_id, run_id, event_id)
);
CREATE TABLE {TABLE_METADATA} (
    key TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
"""

# Version 2: the run's BuildIds entries ("|a|b|", '' for none), filtered with LIKE, unindexed. A constant
# default: PostgreSQL 11+ adds the column without rewriting the table.
_POSTGRES_V2 = f"""
ALTER TABLE {TABLE_EXECUTIONS} ADD COLUMN build_ids TEXT COLLATE "C" NOT NULL DEFAULT '';
"""

# Version 3: retention. Closed runs of a namespace by close time, and the external payloads each run references
# (its events' and states'), kept until the run is deleted.
_POSTGRES_V3 = f"""
CREATE INDEX {TABLE_EXECUTIONS}_closed ON {TABLE_EXECUTIONS} (shard_id, namespace, close_time)
    WHERE close_time > 0;
CREATE TABLE {TABLE_PAYLOAD_REFS} (
    shard_id INTEGER NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    workflow_id TEXT COLLATE "C" NOT NULL,
    run_id TEXT COLLATE "C" NOT NULL,
    payload_key TEXT COLLATE "C" NOT NULL,
    store TEXT NOT NULL,
    PRIMARY KEY (shard_id, namespace, workflow_id, run_id, payload_key)
);
CREATE INDEX {TABLE_PAYLOAD_REFS}_key ON {TABLE_PAYLOAD_REFS} (shard_id, payload_key);
"""

#: ``POSTGRES_MIGRATIONS[v]`` upgrades a schema at version ``v``; run in order, in one transaction, with
#: the schema as ``search_path``. Append to it (never edit a released step) and the version follows.
POSTGRES_MIGRATIONS: tuple[str, ...] = (_POSTGRES_V1, _POSTGRES_V2, _POSTGRES_V3)
POSTGRES_SCHEMA_VERSION = len(POSTGRES_MIGRATIONS)

#: Creates the version table (version 0: empty schema) if missing; run under the migration lock.
POSTGRES_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE_SCHEMA_VERSION} (
    version INTEGER NOT NULL
);
INSERT INTO {TABLE_SCHEMA_VERSION} (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {TABLE_SCHEMA_VERSION});
"""
