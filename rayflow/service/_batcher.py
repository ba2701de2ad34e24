"""Batching of calls to one service actor (internal): many workflows' work per cross-process hop.

A Ray actor call costs about as much CPU in both processes as the work it carries is small, so the service's
throughput is set by how many calls a workflow needs. ``CallBatcher`` coalesces calls to one actor without a
timer: a call made while none is in flight goes at once (a lone request is never delayed), and calls made while
one is in flight queue and go together, in one call, when it returns. Under load batches grow by themselves;
idle, nothing waits.

The actor side runs the items of a batch concurrently and answers one result per item, an error as ``Failed``
(so one item's error fails only its caller). A batch Ray re-runs on a restarted actor re-runs every item: each
must be idempotent, as the single calls already are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rayflow.telemetry.metrics import ServiceMetrics

__all__ = ["CallBatcher", "Failed", "run_batch"]

#: Items per batch call at most.
MAX_BATCH = 256
#: Batch calls in flight to one actor at once: the next batch fills while this one travels. One, measured on
#: W1 (bench/RESULTS.md): with two in flight the batches stay at ~1.0 item, nothing gained.
MAX_IN_FLIGHT = 1


class Failed:
    """One item's error in a batch answer (the exception travels pickled, as Ray sends errors)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        return Failed, (self.error,)


async def run_batch(handlers: dict[str, Callable[..., Awaitable[Any]]], calls: list[tuple[str, tuple]],
                    metrics: ServiceMetrics | None = None) -> list[Any]:
    """The actor side: run each ``(method, args)`` with its handler, concurrently; one result per call
    (each recorded as a request of operation ``method`` in ``metrics``, when given)."""

    async def one(method: str, args: tuple) -> Any:
        started = time.perf_counter()
        try:
            result = await handlers[method](*args)
        except Exception as error:  # noqa: BLE001 - it goes back to that item's caller
            if metrics is not None:
                metrics.record(method, started, error=True)
            return Failed(error)
        if metrics is not None:
            metrics.record(method, started)
        return result

    return list(await asyncio.gather(*(one(method, args) for method, args in calls)))


class CallBatcher:
    """Coalesces calls to one actor into batch calls (see the module docstring).

    Args:
        send: sends one batch (a list of items) and returns one result (or ``Failed``) per item.
    """

    def __init__(self, send: Callable[[list[Any]], Awaitable[list[Any]]], *, max_batch: int = MAX_BATCH,
                 max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._send = send
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self._in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a batcher serves one event loop (a new one after the old one closed)
            self._loop, self._queue, self._in_flight = loop, [], 0
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((item, future))
        self._flush()
        return await future

    async def call_many(self, items: list[Any]) -> list[Any]:
        """Several calls that go together in one batch (when none is in flight): one answer per item, an
        item's error as that exception (not raised)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._queue, self._in_flight = loop, [], 0
        futures = [loop.create_future() for _ in items]
        self._queue.extend(zip(items, futures, strict=True))
        self._flush()
        return list(await asyncio.gather(*futures, return_exceptions=True))

    def _flush(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            batch = [(item, future) for item, future in self._queue[: self._max_batch] if not future.done()]
            del self._queue[: self._max_batch]
            if not batch:
                continue
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._deliver(batch))

    async def _deliver(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._send([item for item, _ in batch])
        except BaseException as error:  # the whole call failed: every caller of the batch gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if isinstance(error, asyncio.CancelledError):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Failed):
                    future.set_exception(result.error)
                else:
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            if self._loop is not None and not self._loop.is_closed():
                self._flush()
