"""The shard's timer queue: one asyncio task sleeping until the earliest due timer.

Timers are derived from mutable state (user timers, activity and workflow-task timeouts, retry
backoffs), so nothing here is persisted: a restarted shard rebuilds them from the store. Every
handler re-checks the state when a timer fires, so stale or duplicate entries are harmless.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

logger = logging.getLogger(__name__)

TimerKey = tuple[Hashable, ...]


class TimerQueue:
    """Calls ``fire(key)`` once at or after each added deadline (epoch seconds)."""

    def __init__(self, fire: Callable[[TimerKey], Awaitable[None]]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, TimerKey]] = []
        self._scheduled: set[tuple[float, TimerKey]] = set()
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, deadline: float, key: TimerKey) -> None:
        if (deadline, key) in self._scheduled:
            return
        self._scheduled.add((deadline, key))
        heapq.heappush(self._heap, (deadline, next(self._counter), key))
        if self._heap[0][2] == key:
            self._wakeup.set()

    async def _run(self) -> None:
        while True:
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                deadline, _, key = heapq.heappop(self._heap)
                self._scheduled.discard((deadline, key))
                task = asyncio.get_running_loop().create_task(self._fire_one(key))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            self._wakeup.clear()
            timeout = self._heap[0][0] - time.time() if self._heap else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def _fire_one(self, key: TimerKey) -> None:
        try:
            await self._fire(key)
        except Exception:
            logger.exception("timer %s failed; it will be retried", key)
            self.add(time.time() + 1.0, key)
