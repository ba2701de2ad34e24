"""Pending queries of a history shard (internal): in memory only, never persisted or written to history.

A client's query waits here on a future while a query task goes to Matching; the worker that takes it
(``record_task_started``) gets the history, and its answer (``respond_query_task_completed``) resolves
the future. A query not answered in time is dropped: a late answer then finds nothing and is ignored.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from rayflow.proto.rayflow.v1 import message_pb2

Key = tuple[str, str, str]


@dataclass
class PendingQuery:
    key: Key
    query_type: str
    args: message_pb2.Payloads
    header: message_pb2.Header | None = None  # the client's interceptors' headers
    future: asyncio.Future[tuple[message_pb2.Payloads | None, message_pb2.Failure | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    started: bool = False


class PendingQueries:
    """Queries waiting for a worker's answer, by query id."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingQuery] = {}

    def add(self, key: Key, query_type: str, args: message_pb2.Payloads,
            header: message_pb2.Header | None = None) -> tuple[str, PendingQuery]:
        query_id = uuid.uuid4().hex
        query = self._pending[query_id] = PendingQuery(key, query_type, args, header)
        return query_id, query

    def get(self, query_id: str) -> PendingQuery | None:
        return self._pending.get(query_id)

    def start(self, query_id: str) -> PendingQuery | None:
        """The query, marked taken by a worker; None when it is gone or another worker took it."""
        query = self._pending.get(query_id)
        if query is None or query.started:
            return None
        query.started = True
        return query

    def resolve(self, query_id: str, result: message_pb2.Payloads | None, failure: message_pb2.Failure | None
                ) -> bool:
        """Answer the waiting client; False when nobody waits any more (a late or repeated answer)."""
        query = self._pending.pop(query_id, None)
        if query is None or query.future.done():
            return False
        query.future.set_result((result, failure))
        return True

    def drop(self, query_id: str) -> None:
        self._pending.pop(query_id, None)


#: How long a query waits for a worker's answer when the request names no timeout (seconds).
DEFAULT_TIMEOUT_S = 10.0
#: A query task its run's sticky worker has not taken this soon also goes to the normal task queue.
STICKY_FALLBACK_S = 1.0


def query_timeout(request: Any) -> float:
    return request.timeout_s if request.timeout_s > 0 else DEFAULT_TIMEOUT_S


def timeout_message(request: Any, run_id: str, task_queue: str, timeout: float, started: bool) -> str:
    where = f"query {request.query_type!r} of workflow {request.workflow_id!r} (run {run_id})"
    if started:
        return (f"{where} timed out after {timeout:g}s: a worker took the query but did not answer in time "
                f"(it is slow to replay the history, or it died)")
    return (f"{where} timed out after {timeout:g}s: no worker polled task queue {task_queue!r}; start a Worker "
            f"on that task queue with this workflow type to answer queries")
