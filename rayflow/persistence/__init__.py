"""Durable storage of the rayflow service (internal: not part of the public API).

One small ``Store`` interface (``store.py``) with one backend per file: ``sqlite.py`` is the
embedded default, a data directory holding one database file per history shard plus one for
cluster metadata. Payloads, events and mutable state are opaque bytes to the store.
"""

from __future__ import annotations

from pathlib import Path

from rayflow.persistence.sqlite import SqliteStore
from rayflow.persistence.store import (
    CurrentExecution,
    ExecutionConflictError,
    ExecutionRecord,
    ExecutionSummary,
    ExecutionWrite,
    ShardOwnershipLostError,
    Store,
)

__all__ = [
    "CurrentExecution",
    "ExecutionConflictError",
    "ExecutionRecord",
    "ExecutionSummary",
    "ExecutionWrite",
    "ShardOwnershipLostError",
    "SqliteStore",
    "Store",
    "open_store",
]


def open_store(data_dir: str | Path, durability: str = "normal") -> Store:
    """Open the store kept in ``data_dir`` (the SQLite backend; created if missing).

    Args:
        data_dir: the data directory.
        durability: ``"normal"`` (default: a committed write survives ``kill -9`` of any process) or
            ``"fsync"`` (it also survives power loss, at the cost of one fsync per group commit).
    """
    return SqliteStore(data_dir, durability=durability)
