"""The web UI's JSON API (internal): ``/api/...`` answered through the frontend's own gRPC API.

Every request is made by a remote client (``rayflow.service.frontend.remote``) that carries the API key the
browser sent (``Authorization: Bearer <key>``), so the frontend checks it as it checks any client's: a
missing or wrong key comes back as HTTP 401 with the frontend's message. Clients are kept per key (a few).
Payloads are shown as ``encode`` shows them: decoded JSON, else encoded; the UI server never unpickles.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import uuid
from collections import OrderedDict
from typing import Any

from aiohttp import web

from rayflow import _list_query, constants
from rayflow.common import WorkflowExecutionStatus
from rayflow.exceptions import (
    PayloadError,
    RayflowError,
    RPCError,
    ServiceUnavailableError,
    WorkflowNotFoundError,
)
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2, request_response_pb2
from rayflow.service.frontend.remote import GrpcServiceConnection, TLSConfig
from rayflow.ui import encode, workers

RR = request_response_pb2
_MAX_CLIENTS = 8
_MAX_PAGE = 200
#: How many of the latest workflows the task-queue page looks at to suggest queue names.
_RECENT_FOR_QUEUES = 200
_STATUSES = list(WorkflowExecutionStatus)


class Connections:
    """Remote connections to the frontend, one per API key the browsers send (the latest few kept)."""

    def __init__(self, target: str, tls: TLSConfig | None) -> None:
        self.target = target
        self._tls = tls
        self._by_key: OrderedDict[str, GrpcServiceConnection] = OrderedDict()
        self.identity = f"rayflow-ui@{socket.gethostname()}:{os.getpid()}"
        self._closing: set[asyncio.Task[None]] = set()

    def of(self, request: web.Request) -> GrpcServiceConnection:
        header = request.headers.get("Authorization", "")
        api_key = header[7:].strip() if header[:7].lower() == "bearer " else ""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        connection = self._by_key.get(digest)
        if connection is None:
            # The key goes as the browser gave it: never RAYFLOW_API_KEY of this process (Client.connect's default).
            connection = GrpcServiceConnection(self.target, tls=self._tls or False, api_key=api_key or None)
            self._by_key[digest] = connection
            while len(self._by_key) > _MAX_CLIENTS:
                _, old = self._by_key.popitem(last=False)
                task = asyncio.get_running_loop().create_task(old.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._by_key.move_to_end(digest)
        return connection

    async def close(self) -> None:
        for connection in self._by_key.values():
            await connection.close()
        self._by_key.clear()


CONNECTIONS = web.AppKey("rayflow_connections", Connections)


def _namespace(request: web.Request) -> str:
    return request.query.get("namespace") or constants.DEFAULT_NAMESPACE


@web.middleware
async def errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    """rayflow errors as ``{"error": message}`` with an HTTP status the page understands (401: API key)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except RPCError as err:
        name = getattr(err.status, "name", "")
        status = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}.get(name, 502)
        return web.json_response({"error": str(err), "code": name}, status=status)
    except WorkflowNotFoundError as err:
        return web.json_response({"error": str(err), "code": "NOT_FOUND"}, status=404)
    except ServiceUnavailableError as err:
        return web.json_response({"error": str(err), "code": "UNAVAILABLE"}, status=503)
    except (ValueError, PayloadError) as err:
        return web.json_response({"error": str(err), "code": "INVALID_ARGUMENT"}, status=400)
    except RayflowError as err:
        return web.json_response({"error": str(err), "code": type(err).__name__}, status=502)


# -- service ----------------------------------------------------------------------------------
async def cluster(request: web.Request) -> web.Response:
    """GetClusterInfo with every service actor: version, store (redacted by the frontend), payload limit."""
    info = await request.app[CONNECTIONS].of(request).get_cluster_info(include_service_actors=True)
    return web.json_response(encode.message_json(info) | {"frontend": request.app[CONNECTIONS].target})


# -- workflows --------------------------------------------------------------------------------
def _list_request(request: web.Request, filters: dict[str, Any]) -> RR.ListWorkflowExecutionsRequest:
    status = filters.get("status")
    return RR.ListWorkflowExecutionsRequest(
        namespace=_namespace(request),
        status=int(status.value) if status is not None else 0,
        workflow_type=filters.get("workflow_type", ""),
        task_queue=filters.get("task_queue", ""),
    )


def _execution_json(info: Any) -> dict[str, Any]:
    data = encode.message_json(info)
    execution = data.pop("execution", {})
    data["workflow_id"] = execution.get("workflow_id", "")
    data["run_id"] = execution.get("run_id", "")
    data["status"] = _status(info.status)
    return data


def _status(number: int) -> str:
    try:
        return _list_query.status_name(WorkflowExecutionStatus(number))
    except ValueError:
        return "Unspecified"


async def list_workflows(request: web.Request) -> web.Response:
    """``?query=&page_size=&next_page_token=``: a page of executions (newest first) and counts by status.

    The counts use the query's other terms (type, task queue) and ignore its status, so the page can show
    every status of what the query selects.
    """
    filters = _list_query.parse_list_query(request.query.get("query", ""), source="query")
    try:
        page_size = max(1, min(_MAX_PAGE, int(request.query.get("page_size", "50"))))
    except ValueError:
        raise ValueError("page_size must be a number") from None
    connection = request.app[CONNECTIONS].of(request)
    page_request = _list_request(request, filters)
    page_request.page_size = page_size
    token = request.query.get("next_page_token", "")
    if token:
        page_request.next_page_token = token.encode()
    unfiltered = {k: v for k, v in filters.items() if k != "status"}

    async def count(status: WorkflowExecutionStatus) -> int:
        return await connection.count_executions(_list_request(request, {**unfiltered, "status": status}))

    # Every run has one of _STATUSES, so the total is their sum (one RPC fewer, and it agrees with the counts).
    page, *by_status = await asyncio.gather(connection.list_executions(page_request), *map(count, _STATUSES))
    return web.json_response({
        "executions": [_execution_json(info) for info in page.executions],
        "next_page_token": page.next_page_token.decode(errors="replace"),
        "total": sum(by_status),
        "counts": {_list_query.status_name(s): n for s, n in zip(_STATUSES, by_status, strict=True)},
    })


async def describe_workflow(request: web.Request) -> web.Response:
    """A run: its description, pending activities, history, input, result or failure, children, workers."""
    connection = request.app[CONNECTIONS].of(request)
    namespace, workflow_id = _namespace(request), _required(request.query, "workflow_id")
    run_id = request.query.get("run_id", "")
    described = await connection.describe(namespace, workflow_id, run_id)
    info = described.workflow_execution_info
    run_id = info.execution.run_id or run_id
    _, raw = await connection.get_history(namespace, workflow_id, run_id)
    events = [history_pb2.HistoryEvent.FromString(data) for data in raw]
    summary = _execution_json(info)
    data: dict[str, Any] = {
        "execution": summary,
        "pending_activities": [encode.message_json(p) for p in described.pending_activities],
        "pending_workflow_task": encode.message_json(described.pending_workflow_task)
        if described.HasField("pending_workflow_task") else None,
        "events": [encode.event_json(event) for event in events],
        "input": None,
        "result": None,
        "failure": None,
        "children": workers.children(events),
    }
    for event, event_json in zip(events, data["events"], strict=True):
        kind = event.WhichOneof("attributes")
        attributes = getattr(event, kind) if kind else None
        if kind == "workflow_execution_started_event_attributes":
            data["input"] = [encode.payload_json(p) for p in attributes.input.payloads]
        elif kind == "workflow_execution_completed_event_attributes":
            data["result"] = [encode.payload_json(p) for p in attributes.result.payloads]
        elif kind in ("workflow_execution_failed_event_attributes", "workflow_execution_timed_out_event_attributes",
                      "workflow_execution_canceled_event_attributes", "workflow_execution_terminated_event_attributes",
                      "workflow_execution_continued_as_new_event_attributes"):
            data["failure"] = {"event_type": event_json["event_type"],
                               **encode.message_json(attributes)}
    queues = workers.task_queues(info.task_queue, events)
    descriptions = await asyncio.gather(
        *(connection.describe_task_queue(namespace, queue) for queue in queues), return_exceptions=True
    )
    pollers = [
        poller
        for description in descriptions if isinstance(description, dict)
        for kind in ("workflow", "activity") for part in description.get(kind, []) for poller in part["pollers"]
    ]
    data["workers"] = workers.workers_of(events, pollers)
    return web.json_response(data)


def _required(source: Any, key: str) -> str:
    value = str(source.get(key) or "").strip()
    if not value:
        raise ValueError(f"{key} is required")
    return value


def _payloads(values: list[Any]) -> message_pb2.Payloads:
    return message_pb2.Payloads(payloads=[
        message_pb2.Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
        for value in values
    ])


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _target(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """The fields every action request shares: the run it is for, who sends it, and a fresh request id."""
    return {
        "namespace": _namespace(request), "workflow_id": _required(body, "workflow_id"),
        "run_id": str(body.get("run_id") or ""), "identity": request.app[CONNECTIONS].identity,
        "request_id": str(uuid.uuid4()),
    }


async def signal_workflow(request: web.Request) -> web.Response:
    """``{"workflow_id", "run_id", "name", "input": [values...]}``: send a signal whose arguments are JSON."""
    body = await _body(request)
    name = str(body.get("name") or "").strip()
    if not name:
        raise ValueError("a signal needs a name")
    values = body.get("input", [])
    if not isinstance(values, list):
        values = [values]
    run_id = await request.app[CONNECTIONS].of(request).signal_workflow(RR.SignalWorkflowExecutionRequest(
        signal_name=name, input=_payloads(values), **_target(request, body),
    ))
    return web.json_response({"signalled": True, "run_id": run_id})


async def cancel_workflow(request: web.Request) -> web.Response:
    """``{"workflow_id", "run_id"}``: request cancellation."""
    body = await _body(request)
    run_id = await request.app[CONNECTIONS].of(request).request_cancel_workflow(
        RR.RequestCancelWorkflowExecutionRequest(**_target(request, body))
    )
    return web.json_response({"cancel_requested": True, "run_id": run_id})


async def terminate_workflow(request: web.Request) -> web.Response:
    """``{"workflow_id", "run_id", "reason"}``: terminate at once (the reason is recorded in history)."""
    body = await _body(request)
    run_id = await request.app[CONNECTIONS].of(request).terminate_workflow(RR.TerminateWorkflowExecutionRequest(
        reason=str(body.get("reason") or "terminated from the web UI"), **_target(request, body),
    ))
    return web.json_response({"terminated": True, "run_id": run_id})


# -- task queues ------------------------------------------------------------------------------
async def recent_task_queues(request: web.Request) -> web.Response:
    """Task queue names of the latest workflows (there is no RPC listing queues: they are created lazily)."""
    connection = request.app[CONNECTIONS].of(request)
    page = await connection.list_executions(
        RR.ListWorkflowExecutionsRequest(namespace=_namespace(request), page_size=_RECENT_FOR_QUEUES)
    )
    names: dict[str, int] = {}
    for info in page.executions:
        names[info.task_queue] = names.get(info.task_queue, 0) + 1
    return web.json_response({"task_queues": [{"name": n, "recent_workflows": c} for n, c in sorted(names.items())]})


async def describe_task_queue(request: web.Request) -> web.Response:
    """DescribeTaskQueue: per kind, pollers (merged over partitions), backlog per partition and label, rates."""
    from rayflow._descriptions import TaskQueueTypeDescription

    name = _required(request.query, "name")
    raw = await request.app[CONNECTIONS].of(request).describe_task_queue(_namespace(request), name)
    data: dict[str, Any] = {"name": name}
    for kind in ("workflow", "activity"):
        d = TaskQueueTypeDescription._from_partitions(raw.get(kind, []))
        data[kind] = {
            "pollers": [
                {**vars(p), "last_access_time": p.last_access_time.isoformat(timespec="milliseconds")
                 .replace("+00:00", "Z"), "gpus": list(p.gpus)}
                for p in d.pollers
            ],
            "backlog": d.backlog,
            "backlog_age_s": d.backlog_age.total_seconds() if d.backlog_age else None,
            "backlog_by_label": d.backlog_by_label,
            "partitions": [
                {"partition": p.partition, "backlog": p.backlog, "dispatch_rate": p.dispatch_rate,
                 "backlog_age_s": p.backlog_age.total_seconds() if p.backlog_age else None,
                 "backlog_by_label": p.backlog_by_label}
                for p in d.partitions
            ],
            "dispatch_rate": d.dispatch_rate,
            "rate_limit": d.rate_limit,
        }
    return web.json_response(data)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/cluster", cluster)
    app.router.add_get("/api/workflows", list_workflows)
    # Ids ride in the query string or the body: a workflow id may hold any character, "/" included.
    app.router.add_get("/api/workflow", describe_workflow)
    app.router.add_post("/api/workflow/signal", signal_workflow)
    app.router.add_post("/api/workflow/cancel", cancel_workflow)
    app.router.add_post("/api/workflow/terminate", terminate_workflow)
    app.router.add_get("/api/task-queues", recent_task_queues)
    app.router.add_get("/api/task-queue", describe_task_queue)
