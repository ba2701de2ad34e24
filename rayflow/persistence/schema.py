"""SQLite schema of the embedded store (internal): the one place its DDL lives.

A shard database (``shard-<i>.db``) holds the shard's ownership row, its executions, the current
run of each workflow id and the history events; the metadata database (``cluster.db``) holds
key/value cluster settings. ``PRAGMA user_version`` records the schema version for migrations.
"""

from __future__ import annotations

from rayflow.constants import (
    TABLE_CURRENT_EXECUTIONS,
    TABLE_EXECUTIONS,
    TABLE_HISTORY,
    TABLE_METADATA,
    TABLE_SHARDS,
)

__all__ = ["SCHEMA_VERSION", "SQLITE_METADATA_SCHEMA", "SQLITE_SHARD_SCHEMA"]

SCHEMA_VERSION = 1

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
PRAGMA user_version = {SCHEMA_VERSION};
"""

SQLITE_METADATA_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE_METADATA} (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""
