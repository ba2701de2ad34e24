"""LRU cache of running workflow instances on one replica (sticky execution)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class WorkflowCache:
    """Holds at most ``max_size`` instances by run id; evicted instances are closed.

    Evicting loses nothing: the next task of that workflow replays its history.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, run_id: str) -> Any | None:
        instance = self._entries.get(run_id)
        if instance is not None:
            self._entries.move_to_end(run_id)
        return instance

    def put(self, run_id: str, instance: Any) -> None:
        if self.max_size <= 0:
            instance.close()
            return
        self._entries[run_id] = instance
        self._entries.move_to_end(run_id)
        while len(self._entries) > self.max_size:
            _, evicted = self._entries.popitem(last=False)
            evicted.close()

    def evict(self, run_id: str) -> None:
        instance = self._entries.pop(run_id, None)
        if instance is not None:
            instance.close()

    def clear(self) -> None:
        for instance in self._entries.values():
            instance.close()
        self._entries.clear()
