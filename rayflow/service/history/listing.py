"""Listing executions across shards: filters, page tokens, and the merge of the shards' pages.

Each shard lists its own executions newest first by ``(start_time, run_id)`` from its store's indexes;
the history client asks every shard for one row more than a page, merges the answers in that same
order and cuts the page. The page token is the sort key of the page's last row, so the next page
starts right after it on every shard (run ids are unique, so the order is total).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rayflow.exceptions import RayflowError
from rayflow.proto.rayflow.v1 import request_response_pb2

if TYPE_CHECKING:
    from rayflow.persistence import ExecutionSummary

RR = request_response_pb2

# One listed row as a shard returns it: (start_time, run_id, serialized WorkflowExecutionInfo).
Row = tuple[float, str, bytes]


def filters(request: RR.ListWorkflowExecutionsRequest) -> dict[str, Any]:
    """The store filters (``list_executions`` / ``count_executions`` keywords) the request asks for."""
    out: dict[str, Any] = {
        "status": request.status or None,
        "workflow_type": request.workflow_type or None,
        "task_queue": request.task_queue or None,
        "build_id": request.build_id or None,
    }
    for name in ("start_time_min", "start_time_max"):
        if request.HasField(name):
            out[name] = getattr(request, name).ToDatetime(tzinfo=UTC).timestamp()
    return out


def encode_token(start_time: float, run_id: str) -> bytes:
    return json.dumps([start_time, run_id]).encode()


def decode_token(token: bytes) -> tuple[float, str] | None:
    if not token:
        return None
    try:
        start_time, run_id = json.loads(token)
        return float(start_time), str(run_id)
    except (ValueError, TypeError) as err:
        raise RayflowError(f"invalid page token {token!r}: pass back the next_page_token of a listing") from err


def row(summary: ExecutionSummary) -> Row:
    info = RR.WorkflowExecutionInfo(
        workflow_type=summary.workflow_type,
        status=summary.status,
        history_length=summary.next_event_id - 1,
        task_queue=summary.task_queue,
        build_ids=summary.build_ids,
    )
    info.execution.workflow_id = summary.workflow_id
    info.execution.run_id = summary.run_id
    if summary.start_time:
        info.start_time.FromDatetime(datetime.fromtimestamp(summary.start_time, UTC))
    if summary.close_time:
        info.close_time.FromDatetime(datetime.fromtimestamp(summary.close_time, UTC))
    return summary.start_time, summary.run_id, info.SerializeToString()


def merge(pages: Iterable[list[Row]], page_size: int) -> RR.ListWorkflowExecutionsResponse:
    """One page from the shards' pages (each newest first, up to ``page_size + 1`` rows)."""
    rows = sorted((r for page in pages for r in page), key=lambda r: (r[0], r[1]), reverse=True)
    response = RR.ListWorkflowExecutionsResponse()
    for _, _, data in rows[:page_size]:
        response.executions.add().ParseFromString(data)
    if len(rows) > page_size:
        last = rows[page_size - 1]
        response.next_page_token = encode_token(last[0], last[1])
    return response
