"""LRU cache of running workflow instances on one replica (sticky execution) (internal).

The cache is the one owner of every instance the replica makes: nothing else closes one. A task (a
workflow task or a query) uses an instance only through a ``Lease`` taken on the actor's event loop, and
the instance is pinned while any lease on it is held. Evicting (the LRU making room, a task that failed,
the worker stopping) takes the instance out of the cache at once, for good, so no later task finds it,
but closes it only when its last lease ends: the task running it on the workflow thread is never cut
short, and its answer keeps every command.

Evicting loses nothing: the next task of that workflow replays its history.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["Lease", "WorkflowCache"]


@dataclass(eq=False)
class _Entry:
    instance: Any
    leases: int = 0
    cached: bool = False  # in the cache's LRU order (a new instance is not, until a lease keeps it)
    evicted: bool = False  # for good: it is closed once unused and never cached again
    closed: bool = False


class Lease:
    """One task's use of a run's instance (``WorkflowCache.lease``); use it as a context manager.

    Attributes:
        instance: the cached instance of the run (``None`` if none), or the one ``adopt`` gave.
    """

    def __init__(self, cache: WorkflowCache, run_id: str, entry: _Entry | None) -> None:
        self._cache = cache
        self._run_id = run_id
        self._entry = entry

    @property
    def instance(self) -> Any | None:
        return None if self._entry is None else self._entry.instance

    def adopt(self, instance: Any) -> None:
        """Use the new ``instance`` from now on; the one held so far is evicted. Closed when the lease
        ends unless ``keep()`` caches it."""
        self.evict()
        self._release()
        self._entry = _Entry(instance, leases=1)

    def keep(self) -> bool:
        """Cache the instance for the run's next task (the LRU then evicts others, never one in use).

        Returns:
            Whether it is cached: not if it was evicted meanwhile, once the cache is closed, or if its size
            is 0 (the instance is then closed when the lease ends).
        """
        return self._entry is not None and self._cache._keep(self._run_id, self._entry)

    def evict(self) -> None:
        """Take the instance out of the cache; it is closed once no task uses it."""
        if self._entry is not None:
            self._cache._evict(self._run_id, self._entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._cache._release(entry)


class WorkflowCache:
    """Holds up to ``max_size`` instances by run id; those evicted while in use close after their tasks.

    Args:
        max_size: instances kept between tasks (0: none, every task replays its history).
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    def lease(self, run_id: str) -> Lease:
        """Pin the run's cached instance, if any, for one task (``with cache.lease(run_id) as lease:``)."""
        entry = self._entries.get(run_id)
        if entry is not None:
            self._entries.move_to_end(run_id)
            entry.leases += 1
        return Lease(self, run_id, entry)

    def evict(self, run_id: str) -> None:
        """Take the run's instance out of the cache; it is closed once no task uses it."""
        entry = self._entries.get(run_id)
        if entry is not None:
            self._evict(run_id, entry)

    def close(self) -> None:
        """Stop caching (the worker stops): every instance is evicted, those in use when their task ends."""
        self._closed = True
        for run_id in list(self._entries):
            self.evict(run_id)

    # -- for Lease ---------------------------------------------------------------------------------

    def _keep(self, run_id: str, entry: _Entry) -> bool:
        if self._closed or self.max_size <= 0 or entry.evicted:
            return False
        current = self._entries.get(run_id)
        if current is not entry:
            if current is not None:  # another instance of the run (a replay from scratch replaced it)
                self._evict(run_id, current)
            self._entries[run_id] = entry
            entry.cached = True
        self._entries.move_to_end(run_id)
        self._trim()
        return True

    def _evict(self, run_id: str, entry: _Entry) -> None:
        if self._entries.get(run_id) is entry:
            del self._entries[run_id]
        entry.cached = False
        entry.evicted = True
        self._close_if_unused(entry)

    def _release(self, entry: _Entry) -> None:
        entry.leases -= 1
        self._close_if_unused(entry)

    def _trim(self) -> None:
        """Evict the least recently used instances while over ``max_size`` (one in use closes after its task)."""
        while len(self._entries) > self.max_size:
            run_id, entry = next(iter(self._entries.items()))
            self._evict(run_id, entry)

    @staticmethod
    def _close_if_unused(entry: _Entry) -> None:
        if entry.leases == 0 and not entry.cached and not entry.closed:  # a new one never kept, or evicted
            entry.closed = True
            entry.instance.close()
