"""Namespace settings of the service: the retention of closed workflows (internal).

A namespace's retention lives in the cluster metadata under ``namespace/<quoted name>/retention`` (seconds,
as text); a namespace that never set one has ``DEFAULT_NAMESPACE_RETENTION`` (3 days, as Temporal). Namespaces
need no registration: any name a client uses has these settings. ``run`` is the one entry for the in-Ray
connection and the gRPC frontend (history shard 0 runs it: ``HistoryClient.namespace_operation``); it takes
and returns JSON-able values. The history shards read retentions through a ``RetentionCache``.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import quote

from rayflow import constants
from rayflow.persistence import Store

__all__ = ["OPERATIONS", "UPDATES", "RetentionCache", "read_retention", "retention_key", "run"]

OPERATIONS = ("describe", "update_retention")
#: The operations that change a setting (the shards' caches are told to read it again).
UPDATES = ("update_retention",)
#: How long a shard trusts a retention it read (a change also reaches every shard at once, when it answers).
RETENTION_CACHE_S = 60.0
DEFAULT_RETENTION_S = constants.DEFAULT_NAMESPACE_RETENTION.total_seconds()


def retention_key(namespace: str) -> str:
    """The cluster metadata key of a namespace's retention."""
    return f"namespace/{quote(namespace, safe='')}/retention"


async def read_retention(store: Store, namespace: str) -> tuple[float, bool]:
    """The namespace's retention in seconds, and whether it is the default (none was set)."""
    raw = await store.get_metadata(retention_key(namespace))
    if raw is None:
        return DEFAULT_RETENTION_S, True
    return float(raw.decode()), False


def check_retention(seconds: Any) -> float:
    """A retention given in seconds, checked: a finite number above 0."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"namespace retention must be a number of seconds, got {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"namespace retention must be above 0 seconds, got {seconds!r}")
    return value


async def run(store: Store, operation: str, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
    """One namespace operation (``OPERATIONS``): the namespace's description after it.

    Raises:
        ValueError: an unknown operation, or an invalid retention (nothing was changed).
    """
    if not namespace:
        raise ValueError("a namespace operation needs a namespace")
    if operation == "update_retention":
        seconds = check_retention(args.get("retention_s"))
        await store.put_metadata(retention_key(namespace), repr(seconds).encode())
    elif operation != "describe":
        raise ValueError(f"unknown namespace operation {operation!r}; one of {', '.join(OPERATIONS)}")
    retention, default = await read_retention(store, namespace)
    return {"name": namespace, "retention_s": retention, "retention_is_default": default}


class RetentionCache:
    """The retentions one shard read, each trusted for ``ttl_s`` (one entry per namespace used on the shard)."""

    def __init__(self, store: Store, ttl_s: float = RETENTION_CACHE_S) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, float]] = {}  # namespace -> (seconds, monotonic time read)

    async def seconds(self, namespace: str) -> float:
        entry = self._entries.get(namespace)
        if entry is not None and time.monotonic() - entry[1] < self._ttl_s:
            return entry[0]
        seconds, _ = await read_retention(self._store, namespace)
        self._entries[namespace] = (seconds, time.monotonic())
        return seconds

    def forget(self, namespace: str) -> None:
        """Read the namespace's retention again next time (it changed)."""
        self._entries.pop(namespace, None)

    def __len__(self) -> int:
        return len(self._entries)
