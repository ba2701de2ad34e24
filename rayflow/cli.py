"""The ``rayflow`` command line: the frontend server, workflows and task queues (flags as ``temporal`` names them).

    rayflow server start [--ray-address auto] [--data-dir DIR | --store URL] [--port 7233] [--bind 127.0.0.1]
                         [--ui-port 8233 | --no-ui] [--metrics-port PORT]
    rayflow workflow start|execute|describe|show|list|result|signal|query|update|cancel|terminate ...
    rayflow task-queue describe --task-queue Q
    rayflow task-queue update-build-ids|get-build-ids|get-build-id-reachability ...  (rayflow.cli_versioning)
    rayflow worker deployment list|describe|set-current-version|set-ramping-version ...

Every command but ``server start`` talks to a frontend over gRPC (``--address``, default ``RAYFLOW_ADDRESS`` or
127.0.0.1:7233) and imports no Ray. Output is human-readable tables unless ``--output json``.
Exit codes: 0 success, 1 the workflow failed (``execute``, ``result``), 2 usage or server error.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rayflow import _list_query, cli_versioning, constants
from rayflow.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from rayflow.exceptions import RayflowError, WorkflowFailureError

EXIT_OK, EXIT_WORKFLOW_FAILED, EXIT_ERROR = 0, 1, 2
_FOLLOW_INTERVAL_S = 0.5


class UsageError(Exception):
    """Bad flags or flag values: printed with the command's usage, exit code 2."""


# -- argument parsing ---------------------------------------------------------------------------
def _connection_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--address",
        default=os.environ.get(constants.ADDRESS_ENV, constants.DEFAULT_FRONTEND_ADDRESS),
        help="frontend host:port (default RAYFLOW_ADDRESS or %(default)s)",
    )
    group.add_argument("--namespace", "-n", default=constants.DEFAULT_NAMESPACE, help="rayflow namespace")
    group.add_argument(
        "--api-key",
        default=os.environ.get(constants.API_KEY_ENV),
        help="API key the frontend requires (default RAYFLOW_API_KEY)",
    )
    group.add_argument("--tls", action="store_true", help="connect with TLS (implied by the --tls-* paths)")
    group.add_argument("--tls-ca-path", help="PEM of the CA that signed the server certificate")
    group.add_argument("--tls-cert-path", help="PEM client certificate (mutual TLS)")
    group.add_argument("--tls-key-path", help="PEM client private key (mutual TLS)")
    group.add_argument("--tls-server-name", help="name to check the server certificate against")
    group.add_argument("--output", "-o", choices=("text", "json"), default="text", help="output format")
    return common


def _store_flags(parser: argparse.ArgumentParser) -> None:
    store = parser.add_mutually_exclusive_group()
    store.add_argument(
        "--store",
        help="store URL: sqlite:///abs/dir or postgresql://user:pass@host:5432/db?schema=rayflow (default "
        "RAYFLOW_STORE, else RAYFLOW_DATA_DIR, else ./.rayflow)",
    )
    store.add_argument("--data-dir", help="SQLite data directory: the shorthand of --store sqlite:///DIR")


def _execution_flags(parser: argparse.ArgumentParser, *, run_id: bool = True) -> None:
    parser.add_argument("--workflow-id", "-w", required=True, help="workflow id")
    if run_id:
        parser.add_argument("--run-id", "-r", default="", help="run id (default: the latest run)")


def _input_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="JSON",
        help="an argument as JSON (repeat for several), e.g. --input '{\"a\":1}'",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rayflow", description="rayflow: durable workflows on Ray.")
    commands = parser.add_subparsers(dest="group", required=True, metavar="{server,workflow,task-queue,worker,cluster}")
    common = _connection_flags()

    server = commands.add_parser("server", help="run the gRPC frontend").add_subparsers(dest="command", required=True)
    start = server.add_parser("start", help="start Ray (or attach), the service actors and the gRPC frontend")
    start.add_argument(
        "--ray-address",
        default=None,
        help="Ray to attach to ('auto', host:port, ray://...); default RAY_ADDRESS or a new local Ray",
    )
    _store_flags(start)
    start.add_argument(
        "--service-label-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="PostgreSQL store: Ray node labels the service actors must run on (repeat for several)",
    )
    start.add_argument("--port", type=int, default=constants.DEFAULT_FRONTEND_PORT, help="port (0: a free one)")
    start.add_argument("--bind", default=constants.DEFAULT_FRONTEND_BIND, help="address to listen on")
    start.add_argument("--ray-namespace", default=constants.DEFAULT_RAY_NAMESPACE, help="Ray namespace of the service")
    start.add_argument(
        "--num-shards", type=int, default=constants.DEFAULT_NUM_SHARDS, help="history shards for a new store"
    )
    start.add_argument("--durability", choices=("normal", "fsync"), default="normal")
    start.add_argument("--max-payload-size", type=int, default=None, help="payload limit in bytes (default 2 MB)")
    start.add_argument("--payload-store", default=None,
                       help="directory or fsspec URL where this frontend's clients keep large payloads (default: "
                            "RAYFLOW_PAYLOAD_STORE, else <data dir>/payloads with a SQLite store)")
    start.add_argument("--tls-cert", help="PEM server certificate (chain)")
    start.add_argument("--tls-key", help="PEM server private key")
    start.add_argument("--tls-client-ca", help="PEM CA of client certificates: mutual TLS, clients must present one")
    start.add_argument("--api-key-file", help="file holding the API key every call must carry")
    from rayflow.ui.flags import add_ui_flags

    add_ui_flags(start)
    stop = server.add_parser("stop", help="stop the frontend started with this store")
    _store_flags(stop)
    server.add_parser("status", parents=[common], help="is the frontend serving, and what runs behind it")
    from rayflow import local_cluster

    local_cluster.add_parser(commands)

    workflow = commands.add_parser("workflow", help="start and follow workflows").add_subparsers(
        dest="command", required=True
    )
    for name, text in (
        ("start", "start a workflow and print its ids"),
        ("execute", "start a workflow and wait for its result"),
    ):
        sub = workflow.add_parser(name, parents=[common], help=text)
        sub.add_argument("--workflow-id", "-w", default=None, help="workflow id (default: a new uuid)")
        sub.add_argument("--type", required=True, help="workflow type name")
        sub.add_argument("--task-queue", "-t", required=True, help="task queue of its workers")
        _input_flag(sub)
        sub.add_argument("--execution-timeout", help="e.g. 1h, 30m, 10s")
        sub.add_argument("--run-timeout", help="e.g. 1h, 30m, 10s")
        sub.add_argument("--task-timeout", help="workflow task timeout, e.g. 10s")
        sub.add_argument("--id-reuse-policy", choices=[p.name for p in WorkflowIDReusePolicy])
        sub.add_argument("--id-conflict-policy", choices=[p.name for p in WorkflowIDConflictPolicy])
    sub = workflow.add_parser("describe", parents=[common], help="status, times and pending activities of a run")
    _execution_flags(sub)
    sub = workflow.add_parser("show", parents=[common], help="the history of a run")
    _execution_flags(sub)
    sub.add_argument("--follow", "-f", action="store_true", help="keep printing new events until the run closes")
    sub = workflow.add_parser("list", parents=[common], help="workflow executions, newest first")
    sub.add_argument(
        "--query", "-q", default="", help="filter: WorkflowType='X' AND ExecutionStatus='Running' AND TaskQueue='q'"
    )
    sub.add_argument("--limit", type=int, default=100, help="at most this many (default %(default)s)")
    sub.add_argument(
        "--build-id",
        default=None,
        help="only runs whose BuildIds hold it: '2.0' (versioned:2.0) or an entry such as 'unversioned', 'pinned:d.1'",
    )
    sub = workflow.add_parser("result", parents=[common], help="wait for a run's result")
    _execution_flags(sub)
    for name, text in (("signal", "send a signal"), ("query", "query a workflow"), ("update", "run an update")):
        sub = workflow.add_parser(name, parents=[common], help=text)
        _execution_flags(sub)
        sub.add_argument("--name", required=True, help=f"{name} name")
        _input_flag(sub)
        if name == "update":
            sub.add_argument("--update-id", default=None, help="update id (default: a new uuid)")
    sub = workflow.add_parser("cancel", parents=[common], help="request cancellation of a run")
    _execution_flags(sub)
    sub.add_argument("--reason", default="", help="why (printed only)")
    sub = workflow.add_parser("terminate", parents=[common], help="terminate a run at once")
    _execution_flags(sub)
    sub.add_argument("--reason", default="", help="why (recorded in history)")

    task_queue = commands.add_parser("task-queue", help="task queues").add_subparsers(dest="command", required=True)
    sub = task_queue.add_parser("describe", parents=[common], help="pollers and backlog of a task queue")
    sub.add_argument("--task-queue", "-t", required=True, help="task queue name")
    cli_versioning.add_task_queue_commands(task_queue, common)
    cli_versioning.add_worker_commands(commands, common)
    return parser


# -- values -------------------------------------------------------------------------------------
def parse_inputs(texts: Sequence[str]) -> list[Any]:
    values = []
    for index, text in enumerate(texts):
        try:
            values.append(json.loads(text))
        except json.JSONDecodeError as err:
            raise UsageError(
                f"--input {index + 1} is not valid JSON ({err.msg} at column {err.colno}): {text!r}; "
                f"quote strings as JSON, e.g. --input '\"World\"'"
            ) from None
    return values


def parse_duration(text: str | None, flag: str) -> timedelta | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", text)
    if not match:
        raise UsageError(f"{flag} {text!r} is not a duration; use e.g. 500ms, 10s, 5m, 2h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    seconds = number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise UsageError(f"{flag} must be positive, got {text!r}")
    return timedelta(seconds=seconds)


def parse_list_query(text: str) -> dict[str, Any]:
    """``Key='value' AND ...`` over WorkflowType, ExecutionStatus and TaskQueue, as list_workflows filters."""
    try:
        return _list_query.parse_list_query(text, source="--query")
    except _list_query.ListQueryError as err:
        raise UsageError(str(err)) from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else ""


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# -- commands -----------------------------------------------------------------------------------
async def _connect(args: argparse.Namespace):
    from rayflow.client import Client, TLSConfig

    tls: bool | TLSConfig = False
    if args.tls or args.tls_ca_path or args.tls_cert_path or args.tls_key_path:
        if bool(args.tls_cert_path) != bool(args.tls_key_path):
            raise UsageError("--tls-cert-path and --tls-key-path go together (mutual TLS needs both)")
        tls = TLSConfig(
            server_root_ca_cert=_read(args.tls_ca_path, "--tls-ca-path"),
            client_cert=_read(args.tls_cert_path, "--tls-cert-path"),
            client_private_key=_read(args.tls_key_path, "--tls-key-path"),
            domain=args.tls_server_name,
        )
    return await Client.connect(
        args.address,
        namespace=args.namespace,
        api_key=args.api_key,
        tls=tls,
        identity=f"rayflow-cli@{os.uname().nodename}",
    )


def _read(path: str | None, flag: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as err:
        raise UsageError(f"{flag}: cannot read {path!r} ({err.strerror})") from None


def _emit(args: argparse.Namespace, data: dict[str, Any], text_lines: Sequence[str]) -> None:
    if args.output == "json":
        print(json.dumps(_jsonable(data), indent=2, ensure_ascii=False))
    else:
        for line in text_lines:
            print(line)


async def _workflow_start(args: argparse.Namespace, client: Any, *, wait: bool) -> int:
    values = parse_inputs(args.input)
    workflow_id = args.workflow_id or str(uuid.uuid4())
    handle = await client.start_workflow(
        args.type,
        args=values,
        id=workflow_id,
        task_queue=args.task_queue,
        execution_timeout=parse_duration(args.execution_timeout, "--execution-timeout"),
        run_timeout=parse_duration(args.run_timeout, "--run-timeout"),
        task_timeout=parse_duration(args.task_timeout, "--task-timeout"),
        id_reuse_policy=WorkflowIDReusePolicy[args.id_reuse_policy] if args.id_reuse_policy else None,
        id_conflict_policy=WorkflowIDConflictPolicy[args.id_conflict_policy] if args.id_conflict_policy else None,
    )
    started = {
        "workflow_id": handle.id,
        "run_id": handle.run_id,
        "type": args.type,
        "task_queue": args.task_queue,
        "namespace": args.namespace,
    }
    if not wait:
        _emit(
            args,
            started,
            [
                f"Workflow Id  {handle.id}",
                f"Run Id       {handle.run_id}",
                f"Type         {args.type}",
                f"Task Queue   {args.task_queue}",
            ],
        )
        return EXIT_OK
    if args.output == "text":
        print(f"Running execution: workflow id {handle.id}, run id {handle.run_id}", flush=True)
    return await _print_result(args, handle, started)


async def _print_result(args: argparse.Namespace, handle: Any, data: dict[str, Any]) -> int:
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
        _emit(
            args,
            {**data, "status": "FAILED", "failure": {"type": type(cause).__name__, "message": str(cause)}},
            ["Status   FAILED", f"Failure  {type(cause).__name__}: {cause}"],
        )
        return EXIT_WORKFLOW_FAILED
    _emit(
        args,
        {**data, "status": "COMPLETED", "result": result},
        ["Status   COMPLETED", f"Result   {json.dumps(_jsonable(result), ensure_ascii=False)}"],
    )
    return EXIT_OK


async def _workflow_describe(args: argparse.Namespace, client: Any) -> int:
    d = await client.get_workflow_handle(args.workflow_id, run_id=args.run_id or None).describe()
    data = {
        "workflow_id": d.id,
        "run_id": d.run_id,
        "type": d.workflow_type,
        "task_queue": d.task_queue,
        "status": d.status,
        "start_time": d.start_time,
        "close_time": d.close_time,
        "expire_time": d.expire_time,
        "history_length": d.history_length,
        "parent_id": d.parent_id,
        "pending_activities": [
            {
                "activity_id": p.activity_id,
                "activity_type": p.activity_type,
                "state": p.state,
                "attempt": p.attempt,
                "last_failure": str(p.last_failure) if p.last_failure else None,
            }
            for p in d.pending_activities
        ],
    }
    lines = [
        f"Workflow Id     {d.id}",
        f"Run Id          {d.run_id}",
        f"Type            {d.workflow_type}",
        f"Task Queue      {d.task_queue}",
        f"Status          {d.status.name}",
        f"Start Time      {_time(d.start_time)}",
        f"Close Time      {_time(d.close_time)}",
        f"History Length  {d.history_length}",
    ]
    if d.expire_time:
        lines.append(f"Expire Time     {_time(d.expire_time)}")
    if d.parent_id:
        lines.append(f"Parent          {d.parent_id} ({d.parent_run_id})")
    if d.pending_activities:
        lines.append("Pending Activities:")
        for p in d.pending_activities:
            failure = f"  last failure: {p.last_failure}" if p.last_failure else ""
            lines.append(f"  {p.activity_id}  {p.activity_type}  {p.state.name}  attempt {p.attempt}{failure}")
    _emit(args, data, lines)
    return EXIT_OK


_KEY_ATTRIBUTES = (
    "workflow_type",
    "activity_type",
    "activity_id",
    "task_queue",
    "signal_name",
    "timer_id",
    "start_to_fire_timeout",
    "identity",
    "input",
    "result",
    "details",
    "reason",
    "failure",
    "new_execution_run_id",
    "attempt",
)


def _event_summary(attributes: dict[str, Any]) -> str:
    parts = []
    for key in _KEY_ATTRIBUTES:
        if key not in attributes or attributes[key] in (None, "", [], {}):
            continue
        value = attributes[key]
        if isinstance(value, dict) and key == "task_queue":
            value = value.get("name", value)
        if isinstance(value, dict) and key == "failure":
            value = value.get("message", "")
        if isinstance(value, dict) and "name" in value and key in ("workflow_type", "activity_type"):
            value = value["name"]
        parts.append(f"{key}={_short(value, 50)}")
    return ", ".join(parts)


async def _workflow_show(args: argparse.Namespace, client: Any) -> int:
    from rayflow.client import HistoryEvent
    from rayflow.proto.rayflow.v1 import history_pb2

    service, namespace = client._service, client.namespace
    run_id, next_id, closed = args.run_id, 1, False
    if args.output == "text":
        print_table([], ["ID", "TIME", "TYPE", "DETAILS"])
    while True:
        run_id, raw = await service.get_history(namespace, args.workflow_id, run_id, next_id)
        for data in raw:
            event = HistoryEvent._from_proto(history_pb2.HistoryEvent.FromString(data), client.data_converter)
            next_id = event.event_id + 1
            closed = closed or event.event_type.name in _CLOSE_EVENTS
            if args.output == "json":
                print(
                    json.dumps(
                        _jsonable(
                            {
                                "event_id": event.event_id,
                                "event_time": event.event_time,
                                "event_type": event.event_type.name,
                                "attributes": event.attributes,
                            }
                        ),
                        ensure_ascii=False,
                    ),
                    flush=True,
                )
            else:
                print(
                    f"{event.event_id:<4}{_time(event.event_time):<26}{event.event_type.name:<42}"
                    f"{_event_summary(event.attributes)}",
                    flush=True,
                )
        if not args.follow or closed:
            return EXIT_OK
        await asyncio.sleep(_FOLLOW_INTERVAL_S)


_CLOSE_EVENTS = {
    "WORKFLOW_EXECUTION_COMPLETED",
    "WORKFLOW_EXECUTION_FAILED",
    "WORKFLOW_EXECUTION_TIMED_OUT",
    "WORKFLOW_EXECUTION_CANCELED",
    "WORKFLOW_EXECUTION_TERMINATED",
    "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
}


async def _workflow_list(args: argparse.Namespace, client: Any) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {args.limit}")
    filters = parse_list_query(args.query)
    if args.build_id:
        filters["build_id"] = args.build_id
    rows = []
    async for wf in client.list_workflows(page_size=min(args.limit, 1000), **filters):
        rows.append(wf)
        if len(rows) >= args.limit:
            break
    if args.output == "json":
        print(
            json.dumps(
                [
                    _jsonable(
                        {
                            "workflow_id": w.id,
                            "run_id": w.run_id,
                            "type": w.workflow_type,
                            "task_queue": w.task_queue,
                            "status": w.status,
                            "start_time": w.start_time,
                            "close_time": w.close_time,
                        }
                    )
                    for w in rows
                ],
                indent=2,
            )
        )
    else:
        print_table(
            [(w.status.name, w.id, w.run_id, w.workflow_type, _time(w.start_time), _time(w.close_time)) for w in rows],
            ["STATUS", "WORKFLOW ID", "RUN ID", "TYPE", "START TIME", "CLOSE TIME"],
        )
    return EXIT_OK


async def _workflow_message(args: argparse.Namespace, client: Any) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id or None)
    values = parse_inputs(args.input)
    data: dict[str, Any] = {"workflow_id": args.workflow_id, "name": args.name}
    if args.command == "signal":
        await handle.signal(args.name, args=values)
        _emit(args, {**data, "signalled": True}, [f"Signal {args.name!r} sent to {args.workflow_id}"])
    elif args.command == "query":
        result = await handle.query(args.name, *values)
        _emit(args, {**data, "result": result}, [json.dumps(_jsonable(result), ensure_ascii=False)])
    else:
        result = await handle.execute_update(args.name, args=values, id=args.update_id)
        _emit(args, {**data, "result": result}, [f"Update result: {json.dumps(_jsonable(result), ensure_ascii=False)}"])
    return EXIT_OK


async def _workflow_end(args: argparse.Namespace, client: Any) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id or None)
    if args.command == "cancel":
        await handle.cancel()
        _emit(
            args,
            {"workflow_id": args.workflow_id, "cancel_requested": True},
            [f"Cancellation requested for {args.workflow_id}"],
        )
    else:
        await handle.terminate(args.reason or None)
        _emit(args, {"workflow_id": args.workflow_id, "terminated": True}, [f"Terminated {args.workflow_id}"])
    return EXIT_OK


async def _task_queue_describe(args: argparse.Namespace, client: Any) -> int:
    description = await client.describe_task_queue(args.task_queue)
    if args.output == "json":
        data = {"name": description.name}
        for kind in ("workflow", "activity"):
            d = getattr(description, kind)
            data[kind] = {
                "pollers": [vars(p) for p in d.pollers],
                "backlog": d.backlog,
                "backlog_age": d.backlog_age,
                "backlog_by_label": d.backlog_by_label,
                "dispatch_rate": d.dispatch_rate,
                "rate_limit": d.rate_limit,
            }
        print(json.dumps(_jsonable(data), indent=2))
        return EXIT_OK
    for kind in ("workflow", "activity"):
        d = getattr(description, kind)
        age = f", oldest {d.backlog_age.total_seconds():.1f}s" if d.backlog_age else ""
        limit = f", rate limit {d.rate_limit}/s" if d.rate_limit else ""
        print(
            f"{kind.title()} queue {description.name!r}: backlog {d.backlog}{age}, "
            f"dispatch {d.dispatch_rate:.1f}/s{limit}"
        )
        print_table(
            [(p.identity, ",".join(p.labels), p.build_id + (" (versioned)" if p.use_versioning else ""), p.node_ip,
              _time(p.last_access_time), p.no_tasks_reason) for p in d.pollers],
            ["  POLLER IDENTITY", "LABELS", "BUILD ID", "NODE IP", "LAST ACCESS", "NO TASKS BECAUSE"],
        )
    return EXIT_OK


async def _server_status(args: argparse.Namespace) -> int:
    client = await _connect(args)
    try:
        info = await client._service.get_cluster_info(include_service_actors=True)
    finally:
        await client.close()
    actors = [
        {
            "name": a.name,
            "state": a.state,
            "node_id": a.node_id,
            "node_ip": a.node_ip,
            "pid": a.pid,
            "accelerator_node": a.accelerator_node,
            **({"error": a.error} if a.error else {}),
        }
        for a in info.service_actors
    ]
    data = {
        "address": args.address,
        "status": "SERVING",
        "version": info.server_version,
        "ray_namespace": info.ray_namespace,
        "ray_address": info.ray_address,
        "store": info.store,
        "num_shards": info.num_shards,
        "num_matching": info.num_matching,
        "max_payload_size": info.max_payload_size,
        "tls": info.tls,
        "api_key_required": info.api_key_required,
    }
    if args.output == "json":
        print(json.dumps({**data, "actors": actors}, indent=2))
        return EXIT_OK
    for key, value in data.items():
        print(f"{key.replace('_', ' ').title():<18}{value}")
    print()
    print_table(
        [(a["name"], a["state"], a["node_id"][:16], a["node_ip"], a["pid"], "yes" if a["accelerator_node"] else "")
         for a in actors],
        ["ACTOR", "STATE", "NODE ID", "NODE IP", "PID", "ACCELERATOR NODE"],
    )
    return EXIT_OK


_WORKFLOW_COMMANDS = {
    "start": lambda a, c: _workflow_start(a, c, wait=False),
    "execute": lambda a, c: _workflow_start(a, c, wait=True),
    "describe": _workflow_describe,
    "show": _workflow_show,
    "list": _workflow_list,
    "result": lambda a, c: _print_result(
        a, c.get_workflow_handle(a.workflow_id, run_id=a.run_id or None), {"workflow_id": a.workflow_id}
    ),
    "signal": _workflow_message,
    "query": _workflow_message,
    "update": _workflow_message,
    "cancel": _workflow_end,
    "terminate": _workflow_end,
}


async def _run_client_command(args: argparse.Namespace) -> int:
    if args.group == "server" and args.command == "status":
        return await _server_status(args)
    client = await _connect(args)
    try:
        if cli_versioning.handles(args):
            return await cli_versioning.run(args, client)
        if args.group == "task-queue":
            return await _task_queue_describe(args, client)
        return await _WORKFLOW_COMMANDS[args.command](args, client)
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.group == "cluster":
            from rayflow import local_cluster

            return local_cluster.main(args)
        if args.group == "server" and args.command in ("start", "stop"):
            from rayflow.service.frontend import process

            return process.start(args) if args.command == "start" else process.stop(args)
        return asyncio.run(_run_client_command(args))
    except UsageError as err:
        print(f"rayflow: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except (RayflowError, ValueError) as err:
        print(f"rayflow: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
