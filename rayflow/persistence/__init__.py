"""Durable storage of the rayflow service (internal: not part of the public API).

One small ``Store`` interface (``store.py``); ``sql.py`` holds what the SQL backends share, each backend
a thin subclass in a file of its own: ``sqlite.py`` is the embedded default, a data directory holding
one database file per history shard plus one for cluster metadata; ``postgres.py`` keeps every shard
in one schema of a PostgreSQL database, for clusters of several nodes. ``open_store`` picks the backend
from a store URL. Payloads, events and mutable state are opaque bytes to the store.

psycopg is imported only when a PostgreSQL store is opened: ``rayflow.persistence.PostgresStore`` is
loaded on first access (and left out of ``__all__``, so a star import never needs psycopg).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rayflow.exceptions import RayflowError
from rayflow.persistence.sqlite import SqliteStore
from rayflow.persistence.store import (
    CurrentExecution,
    ExecutionConflictError,
    ExecutionRecord,
    ExecutionSummary,
    ExecutionWrite,
    ShardOwnershipLostError,
    Store,
    StoreUnavailableError,
)
from rayflow.persistence.url import StoreURL, parse_store_url

if TYPE_CHECKING:
    from rayflow.persistence.postgres import PostgresStore

__all__ = [
    "CurrentExecution",
    "ExecutionConflictError",
    "ExecutionRecord",
    "ExecutionSummary",
    "ExecutionWrite",
    "ShardOwnershipLostError",
    "SqliteStore",
    "Store",
    "StoreURL",
    "StoreUnavailableError",
    "open_store",
    "parse_store_url",
]


def open_store(store: str | os.PathLike[str] | StoreURL, durability: str = "normal") -> Store:
    """Open the store named by ``store``: a SQLite data directory is created at once; a PostgreSQL store
    connects on its first call (and creates its schema there if needed).

    Args:
        store: a store URL (``sqlite:///abs/dir``, ``postgresql://user:pass@host:5432/db?schema=rayflow``),
            parsed or not, or a bare path: a SQLite data directory.
        durability: ``"normal"`` (default: a committed write survives ``kill -9`` of any process) or
            ``"fsync"`` (SQLite: it also survives power loss, at the cost of one fsync per group commit;
            PostgreSQL commits durably either way).

    Raises:
        ValueError: a malformed URL or an unknown durability.
        RayflowError: a PostgreSQL URL while psycopg is not installed.
    """
    url = store if isinstance(store, StoreURL) else parse_store_url(store)
    if url.is_sqlite:
        assert url.path is not None
        return SqliteStore(url.path, durability=durability)
    return _postgres_store_class(url)(url, durability=durability)


def _postgres_store_class(url: StoreURL) -> type[PostgresStore]:
    try:
        from rayflow.persistence.postgres import PostgresStore
    except ImportError as error:
        if error.name not in ("psycopg", "psycopg_pool") and not str(error).startswith(("psycopg", "no pq wrapper")):
            raise
        raise RayflowError(
            f"the store {url.redacted} is PostgreSQL, which needs psycopg: pip install 'rayflow[postgres]' ({error})"
        ) from error
    return PostgresStore


def __getattr__(name: str) -> Any:
    # PostgresStore on first use, so that importing the persistence package does not import psycopg.
    if name == "PostgresStore":
        from rayflow.persistence.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
