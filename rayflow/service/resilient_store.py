"""The store as the service actors use it: a database restart costs a pause, not an error (internal).

``ResilientStore`` wraps a backend and retries the calls that failed with ``StoreUnavailableError``
(server unreachable, connection killed) with backoff, for up to ``deadline_s`` per call. A write that
failed before its COMMIT is simply retried; a write whose COMMIT may have reached the server
(``unknown_outcome``) is read back first: a history shard is the single, fenced writer of its executions,
so the stored row equals what it wrote exactly when the write committed (the state bytes, and the last
appended event present). Past the deadline the error goes to the caller (retryable: nothing was written);
a write whose outcome is still unknown raises ``UnknownWriteOutcome``, after which the writer's memory
cannot be trusted (the shard restarts and reloads from the store).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from rayflow.persistence import ExecutionWrite, Store, StoreUnavailableError
from rayflow.telemetry.metrics import PersistenceLatency

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How long one call keeps retrying while the store is unreachable.
DEFAULT_DEADLINE_S = 60.0
_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 2.0


class UnknownWriteOutcome(BaseException):  # noqa: N818 - control flow: nobody may swallow it by accident
    """A write may or may not have committed and the store stayed unreachable: the caller's view is stale."""


class ResilientStore(Store):
    """``store`` with retries while it is unreachable (every other error passes through at once)."""

    def __init__(self, store: Store, *, deadline_s: float = DEFAULT_DEADLINE_S, what: str = "store") -> None:
        self._store = store
        self._deadline_s = deadline_s
        self._what = what
        self._latency = PersistenceLatency()

    @property
    def inner(self) -> Store:
        return self._store

    async def _retry(self, call: Callable[[], Awaitable[T]], name: str) -> T:
        deadline = time.monotonic() + self._deadline_s
        delay = _FIRST_DELAY_S
        while True:
            started = time.perf_counter()
            try:
                result = await call()
                self._latency.record(name, started)
                return result
            except StoreUnavailableError as err:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("%s: %s failed (%s); retrying in %.2f s", self._what, name, err, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY_S)

    # -- cluster metadata and shards (idempotent, or harmless to repeat) --------------------------
    async def init_cluster(self, num_shards: int) -> int:
        return await self._retry(lambda: self._store.init_cluster(num_shards), "init_cluster")

    async def get_metadata(self, key: str) -> bytes | None:
        return await self._retry(lambda: self._store.get_metadata(key), "get_metadata")

    async def put_metadata(self, key: str, value: bytes) -> None:
        await self._retry(lambda: self._store.put_metadata(key, value), "put_metadata")

    async def acquire_shard(self, shard_id: int) -> int:
        # A repeat bumps the counter once more: the value returned last is the one that holds.
        return await self._retry(lambda: self._store.acquire_shard(shard_id), "acquire_shard")

    # -- executions -------------------------------------------------------------------------------
    async def write(self, shard_id: int, range_id: int, writes: list[ExecutionWrite]) -> None:
        writes = list(writes)
        deadline = time.monotonic() + self._deadline_s
        delay = _FIRST_DELAY_S
        unknown = False
        while True:
            try:
                if unknown:
                    if await self._committed(shard_id, writes):
                        return
                    unknown = False
                started = time.perf_counter()
                await self._store.write(shard_id, range_id, writes)
                self._latency.record("write", started)
                return
            except StoreUnavailableError as err:
                unknown = unknown or err.unknown_outcome
                if time.monotonic() + delay > deadline:
                    if unknown:
                        raise UnknownWriteOutcome(
                            f"{self._what}: a write to shard {shard_id} may or may not have committed and the "
                            f"store stayed unreachable for {self._deadline_s:.0f} s ({err})"
                        ) from err
                    raise
                logger.warning("%s: write to shard %d failed (%s)%s; retrying in %.2f s", self._what, shard_id, err,
                               " with an unknown outcome" if unknown else "", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY_S)

    async def _committed(self, shard_id: int, writes: list[ExecutionWrite]) -> bool:
        """Whether an earlier attempt of ``writes`` committed (they commit all or nothing: one tells)."""
        first = writes[0]
        key = (first.namespace, first.workflow_id, first.run_id)
        record = await self._store.get_execution(shard_id, *key)
        if record is None or record.state != first.state or record.next_event_id != first.next_event_id:
            return False
        if not first.new_events:
            return True
        last_id = first.new_events[-1][0]
        return bool(await self._store.read_history(shard_id, *key, first_event_id=last_id, last_event_id=last_id))

    async def get_execution(self, shard_id: int, namespace: str, workflow_id: str, run_id: str) -> Any:
        return await self._retry(lambda: self._store.get_execution(shard_id, namespace, workflow_id, run_id),
                                 "get_execution")

    async def get_current_execution(self, shard_id: int, namespace: str, workflow_id: str) -> Any:
        return await self._retry(lambda: self._store.get_current_execution(shard_id, namespace, workflow_id),
                                 "get_current_execution")

    async def list_open_executions(self, shard_id: int) -> Any:
        return await self._retry(lambda: self._store.list_open_executions(shard_id), "list_open_executions")

    async def list_open_executions_page(self, shard_id: int, after: tuple[str, str, str] | None = None,
                                        limit: int = 1000) -> Any:
        return await self._retry(lambda: self._store.list_open_executions_page(shard_id, after, limit),
                                 "list_open_executions_page")

    async def list_executions(self, shard_id: int, namespace: str, **filters: Any) -> Any:
        return await self._retry(lambda: self._store.list_executions(shard_id, namespace, **filters),
                                 "list_executions")

    async def count_executions(self, shard_id: int, namespace: str, **filters: Any) -> int:
        return await self._retry(lambda: self._store.count_executions(shard_id, namespace, **filters),
                                 "count_executions")

    async def read_history(self, shard_id: int, namespace: str, workflow_id: str, run_id: str,
                           first_event_id: int = 1, last_event_id: int | None = None) -> list[bytes]:
        return await self._retry(
            lambda: self._store.read_history(shard_id, namespace, workflow_id, run_id, first_event_id, last_event_id),
            "read_history",
        )

    # -- retention (reads, and a delete that is harmless to repeat: a run already gone is skipped) ------------
    async def list_namespaces(self, shard_id: int) -> list[str]:
        return await self._retry(lambda: self._store.list_namespaces(shard_id), "list_namespaces")

    async def list_closed_executions(self, shard_id: int, namespace: str, close_time_max: float,
                                     limit: int = 100) -> Any:
        return await self._retry(lambda: self._store.list_closed_executions(shard_id, namespace, close_time_max, limit),
                                 "list_closed_executions")

    async def list_payload_refs(self, shard_id: int, keys: Sequence[tuple[str, str, str]]) -> Any:
        return await self._retry(lambda: self._store.list_payload_refs(shard_id, keys), "list_payload_refs")

    async def find_payload_references(self, shard_id: int, payload_keys: Sequence[str]) -> Any:
        return await self._retry(lambda: self._store.find_payload_references(shard_id, payload_keys),
                                 "find_payload_references")

    async def delete_executions(self, shard_id: int, range_id: int, keys: Sequence[tuple[str, str, str]]) -> Any:
        # An attempt whose COMMIT was in flight may have deleted some of them: the next one skips those.
        return await self._retry(lambda: self._store.delete_executions(shard_id, range_id, keys), "delete_executions")

    async def close(self) -> None:
        await self._store.close()
