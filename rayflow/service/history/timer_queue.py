"""The shard's timer queue: one asyncio task sleeping until the earliest due timer.

Timers are derived from mutable state (user timers, activity and workflow-task timeouts, retry
backoffs), so nothing here is persisted: a restarted shard rebuilds them from the store. Each owner (an
execution) has exactly the timers its last committed state has (``set_timers`` after every write), so a
timer the state no longer has (a workflow task that completed, a run that closed) never fires: the shard
need not read the state of an execution it does not hold only to find the timer stale. Every handler still
re-checks the state when a timer fires, so a stale or duplicate firing is harmless.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable

logger = logging.getLogger(__name__)

Owner = Hashable
Timer = tuple[Hashable, ...]
_Entry = tuple[float, Owner, Timer]  # (deadline, owner, timer)


class TimerQueue:
    """Calls ``fire(owner, timer)`` once at or after each scheduled deadline (epoch seconds)."""

    def __init__(self, fire: Callable[[Owner, Timer], Awaitable[None]]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, Owner, Timer]] = []  # may hold entries no longer scheduled
        self._scheduled: dict[Owner, set[tuple[float, Timer]]] = {}  # what is due to fire, by owner
        self._live = 0  # entries of _scheduled, all owners
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
        """Timers scheduled (each fires once)."""
        return self._live

    def set_timers(self, owner: Owner, timers: Iterable[tuple[float, Timer]]) -> None:
        """Make ``timers`` (``(deadline, timer)`` pairs) the owner's only scheduled ones; empty: it has none."""
        wanted = set(timers)
        old = self._scheduled.pop(owner, set())
        self._live -= len(old)
        if wanted:
            self._scheduled[owner] = wanted
            self._live += len(wanted)
        for deadline, timer in wanted - old:
            self._push(deadline, owner, timer)
        if len(self._heap) > 2 * self._live + 1024:  # mostly replaced entries: drop them
            self._compact()

    def add(self, deadline: float, owner: Owner, timer: Timer) -> None:
        """Schedule one more timer of the owner (no-op if scheduled already)."""
        entries = self._scheduled.setdefault(owner, set())
        if (deadline, timer) in entries:
            return
        entries.add((deadline, timer))
        self._live += 1
        self._push(deadline, owner, timer)

    def _push(self, deadline: float, owner: Owner, timer: Timer) -> None:
        heapq.heappush(self._heap, (deadline, next(self._counter), owner, timer))
        if self._heap[0][2] == owner and self._heap[0][3] == timer:
            self._wakeup.set()

    def _take(self, deadline: float, owner: Owner, timer: Timer) -> bool:
        """Unschedule a due entry; False if it was replaced meanwhile (nothing to fire)."""
        entries = self._scheduled.get(owner)
        if entries is None or (deadline, timer) not in entries:
            return False
        entries.discard((deadline, timer))
        self._live -= 1
        if not entries:
            del self._scheduled[owner]
        return True

    def _compact(self) -> None:
        self._heap = [(d, next(self._counter), owner, timer)
                      for owner, entries in self._scheduled.items() for d, timer in entries]
        heapq.heapify(self._heap)

    async def _run(self) -> None:
        while True:
            now = time.time()
            while self._heap and self._heap[0][0] <= now:
                deadline, _, owner, timer = heapq.heappop(self._heap)
                if not self._take(deadline, owner, timer):
                    continue
                task = asyncio.get_running_loop().create_task(self._fire_one(owner, timer))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            self._wakeup.clear()
            timeout = self._heap[0][0] - time.time() if self._heap else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def _fire_one(self, owner: Owner, timer: Timer) -> None:
        try:
            await self._fire(owner, timer)
        except Exception:
            logger.exception("timer %s of %s failed; it will be retried", timer, owner)
            self.add(time.time() + 1.0, owner, timer)
