"""The gRPC frontend: ``WorkflowService`` served by grpc.aio inside a Ray driver.

Each RPC is parsed from raw bytes here (a malformed request gets INVALID_ARGUMENT, not INTERNAL),
checked (namespace, ids, payload sizes), and mapped to the history or matching client; errors become
status codes with messages that say what to fix (``errors``). The standard ``grpc.health.v1`` service
answers SERVING while the frontend runs. An optional static API key is checked on every call but health.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from rayflow import constants
from rayflow.proto.rayflow.v1 import history_pb2, request_response_pb2, service_pb2
from rayflow.service.config import ServiceConfig
from rayflow.service.frontend import errors, methods
from rayflow.telemetry.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

_RESULT_WAIT_DEFAULT_S = 60.0
_HISTORY_PAGE_DEFAULT = 1000
#: gRPC message limit beyond the payload limit (room for the rest of a request).
_MESSAGE_OVERHEAD = 1024 * 1024


@dataclass(frozen=True)
class ServerTLS:
    """PEM bytes for TLS on the frontend; with ``client_ca`` clients must present a certificate it signed."""

    cert_chain: bytes
    private_key: bytes
    client_ca: bytes | None = None


def read_flag_file(path: str | None, flag: str) -> bytes | None:
    """The bytes of the file a command-line flag names (None without one); ValueError naming the flag."""
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{flag}: cannot read {path!r} ({err.strerror})") from None


class FrontendServer:
    """Serves ``WorkflowService`` for the service described by ``config`` (which must be running in Ray).

    Args:
        config: the running service (``bootstrap.ensure_service``).
        bind / port: where to listen (default loopback; port 0 picks a free one).
        tls: certificate and key (and client CA for mutual TLS); None serves plaintext.
        api_key: when set, every call but health must carry ``authorization: Bearer <api_key>``.
        ray_address: the Ray address, reported by ``GetClusterInfo``.
    """

    def __init__(
        self,
        config: ServiceConfig,
        *,
        bind: str = "127.0.0.1",
        port: int = constants.DEFAULT_FRONTEND_PORT,
        tls: ServerTLS | None = None,
        api_key: str | None = None,
        ray_address: str = "",
        payload_store: str | None = None,
    ) -> None:
        from rayflow.service.history.client import HistoryClient
        from rayflow.service.matching.client import MatchingClient

        self._config = config
        self._bind = bind
        self._requested_port = port
        self._tls = tls
        self._api_key = api_key
        self._ray_address = ray_address
        if payload_store is None:  # as a client in Ray would default it
            payload_store = os.environ.get(constants.PAYLOAD_STORE_ENV) or (
                os.path.join(config.data_dir, "payloads") if config.data_dir else "")
        self._payload_store = payload_store
        self._history = HistoryClient(config)
        self._matching = MatchingClient(config)
        self._started_at = time.time()
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._metrics = ServiceMetrics("frontend")
        self.port = 0

    @property
    def max_message_size(self) -> int:
        return int(self._config.max_payload_size) + _MESSAGE_OVERHEAD

    async def start(self) -> int:
        """Listen and serve; returns the bound port."""
        interceptors = [_ApiKeyInterceptor(self._api_key)] if self._api_key else []
        size = self.max_message_size
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", -1)],
        )
        server.add_generic_rpc_handlers((self._handlers(),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        address = f"{self._bind}:{self._requested_port}"
        if self._tls is not None:
            credentials = grpc.ssl_server_credentials(
                [(self._tls.private_key, self._tls.cert_chain)],
                root_certificates=self._tls.client_ca,
                require_client_auth=self._tls.client_ca is not None,
            )
            self.port = server.add_secure_port(address, credentials)
        else:
            self.port = server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"the frontend cannot listen on {address}: the port is taken or the address is not local")
        await server.start()
        self._server = server
        for name in ("", methods.SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("rayflow frontend listening on %s:%s", self._bind, self.port)
        return self.port

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is not None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)
            self._server = None
        self._metrics.stop()

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    # -- RPC plumbing -------------------------------------------------------------------------
    def _handlers(self) -> grpc.GenericRpcHandler:
        handlers = {}
        for method in methods.METHODS:
            implementation = getattr(self, f"_{method.name}")
            request_class = methods.message_class(method.input_type.full_name)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                self._serve(method.name, request_class, implementation)
            )
        return grpc.method_handlers_generic_handler(methods.SERVICE_NAME, handlers)

    def _serve(
        self, name: str, request_class: type[Message], implementation: Callable[[Any], Awaitable[Message]]
    ) -> Callable[[bytes, Any], Awaitable[bytes]]:
        async def serve(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                request = request_class.FromString(data)
            except DecodeError as err:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{name}: the request is not a valid {request_class.DESCRIPTOR.full_name} protobuf message ({err})",
                )
            started = time.perf_counter()
            try:
                response = await implementation(request)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # every error goes back as a status code
                self._metrics.record(name, started, error=True)
                code = errors.status_of(err)
                if code == grpc.StatusCode.INTERNAL:
                    logger.exception("%s failed", name)
                context.set_trailing_metadata(errors.trailing_metadata(err))
                await context.abort(code, f"{name}: {err}" if code == grpc.StatusCode.INTERNAL else str(err))
            self._metrics.record(name, started)
            return response.SerializeToString()

        return serve

    # -- RPCs ---------------------------------------------------------------------------------
    async def _StartWorkflowExecution(self, request: request_response_pb2.StartWorkflowExecutionRequest):  # noqa: N802
        _namespace(request)
        _require(request, "workflow_id", "workflow_type", "task_queue")
        if not request.request_id:
            raise ValueError("StartWorkflowExecution: request_id is required (a new uuid per start)")
        return await self._history.start_workflow(request)

    async def _DescribeWorkflowExecution(self, request: service_pb2.DescribeWorkflowExecutionRequest):  # noqa: N802
        _require(request, "workflow_id")
        return await self._history.describe(_namespace(request), request.workflow_id, request.run_id)

    async def _GetWorkflowExecutionResult(self, request: service_pb2.GetWorkflowExecutionResultRequest):  # noqa: N802
        _require(request, "workflow_id")
        wait = request.wait_timeout_seconds if request.wait_timeout_seconds > 0 else _RESULT_WAIT_DEFAULT_S
        try:
            data = await asyncio.wait_for(
                self._history.wait_for_close(_namespace(request), request.workflow_id, request.run_id), wait
            )
        except TimeoutError:
            return service_pb2.GetWorkflowExecutionResultResponse(closed=False)
        return service_pb2.GetWorkflowExecutionResultResponse(
            closed=True, close_event=history_pb2.HistoryEvent.FromString(data)
        )

    async def _GetWorkflowExecutionHistory(self, request: service_pb2.GetWorkflowExecutionHistoryRequest):  # noqa: N802
        _require(request, "workflow_id")
        run_id, first = request.run_id, max(1, request.first_event_id)
        if request.next_page_token:
            try:
                token = json.loads(request.next_page_token)
                run_id, first = str(token["run_id"]), int(token["next_event_id"])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(
                    f"GetWorkflowExecutionHistory: next_page_token is not one this server gave ({err})"
                ) from None
        page_size = request.maximum_page_size if request.maximum_page_size > 0 else _HISTORY_PAGE_DEFAULT
        # One event more than the page tells whether another page follows.
        run_id, raw = await self._history.get_history(
            _namespace(request), request.workflow_id, run_id, first, first + page_size
        )
        page = raw[:page_size]
        response = service_pb2.GetWorkflowExecutionHistoryResponse(
            run_id=run_id, history=history_pb2.History(events=[history_pb2.HistoryEvent.FromString(e) for e in page])
        )
        if len(raw) > page_size:
            response.next_page_token = json.dumps({"run_id": run_id, "next_event_id": first + page_size}).encode()
        return response

    async def _ListWorkflowExecutions(self, request: request_response_pb2.ListWorkflowExecutionsRequest):  # noqa: N802
        _namespace(request)
        if request.page_size < 1:
            request.page_size = 100
        return await self._history.list_executions(request)

    async def _CountWorkflowExecutions(self, request: request_response_pb2.ListWorkflowExecutionsRequest):  # noqa: N802
        _namespace(request)
        return service_pb2.CountWorkflowExecutionsResponse(count=await self._history.count_executions(request))

    async def _SignalWorkflowExecution(self, request: request_response_pb2.SignalWorkflowExecutionRequest):  # noqa: N802
        _namespace(request)
        _require(request, "workflow_id", "signal_name")
        return service_pb2.RunIdResponse(run_id=await self._history.signal_workflow(request))

    async def _QueryWorkflow(self, request: request_response_pb2.QueryWorkflowRequest):  # noqa: N802
        _namespace(request)
        _require(request, "workflow_id", "query_type")
        if request.timeout_s <= 0:
            request.timeout_s = 10.0
        return await self._history.query_workflow(request)

    async def _UpdateWorkflowExecution(self, request: request_response_pb2.UpdateWorkflowExecutionRequest):  # noqa: N802
        _namespace(request)
        _require(request, "workflow_id", "update_id", "name")
        return await self._history.update_workflow(request)

    async def _RequestCancelWorkflowExecution(  # noqa: N802
        self, request: request_response_pb2.RequestCancelWorkflowExecutionRequest
    ):
        _namespace(request)
        _require(request, "workflow_id")
        return service_pb2.RunIdResponse(run_id=await self._history.request_cancel_workflow(request))

    async def _TerminateWorkflowExecution(  # noqa: N802
        self, request: request_response_pb2.TerminateWorkflowExecutionRequest
    ):
        _namespace(request)
        _require(request, "workflow_id")
        return service_pb2.RunIdResponse(run_id=await self._history.terminate_workflow(request))

    async def _DescribeTaskQueue(self, request: service_pb2.DescribeTaskQueueRequest):  # noqa: N802
        _require(request, "task_queue")
        raw = await self._matching.describe_task_queue(_namespace(request), request.task_queue)
        return service_pb2.DescribeTaskQueueResponse(description_json=json.dumps(raw, default=str))

    async def _Versioning(self, request: service_pb2.VersioningRequest):  # noqa: N802
        from rayflow.service import versioning

        args = _json_arguments(request, "Versioning")
        result = await versioning.run(request.operation, _namespace(request), args, self._history, self._matching)
        return service_pb2.VersioningResponse(result_json=json.dumps(result))

    async def _Namespace(self, request: service_pb2.NamespaceRequest):  # noqa: N802
        args = _json_arguments(request, "Namespace")
        result = await self._history.namespace_operation(_namespace(request), request.operation, args)
        return service_pb2.NamespaceResponse(result_json=json.dumps(result))

    async def _GetClusterInfo(self, request: service_pb2.GetClusterInfoRequest):  # noqa: N802
        from rayflow import __version__
        from rayflow.service.bootstrap import describe_service  # lazy: bootstrap imports the actors' modules

        config = self._config
        return service_pb2.GetClusterInfoResponse(
            server_version=__version__,
            ray_namespace=config.ray_namespace,
            ray_address=self._ray_address,
            data_dir=config.data_dir or "",
            store=config.store_url.redacted,
            service_actors=[service_pb2.ServiceActor(**actor) for actor in await describe_service(config)]
            if request.include_service_actors
            else [],
            num_shards=config.num_shards,
            num_matching=config.num_matching,
            max_payload_size=config.max_payload_size,
            started_at=self._started_at,
            api_key_required=self._api_key is not None,
            tls=self._tls is not None,
            payload_store=self._payload_store,
        )


def _namespace(request: Any) -> str:
    """The request's namespace; an empty one means ``default`` (set on the request)."""
    if not request.namespace:
        request.namespace = constants.DEFAULT_NAMESPACE
    return request.namespace


def _json_arguments(request: Any, rpc: str) -> dict[str, Any]:
    """The ``operation`` (required) and ``arguments_json`` object of a JSON-carrying RPC."""
    _require(request, "operation")
    try:
        args = json.loads(request.arguments_json or "{}")
    except ValueError as err:
        raise ValueError(f"{rpc}: arguments_json is not JSON: {err}") from err
    if not isinstance(args, dict):
        raise ValueError(f"{rpc}: arguments_json must be a JSON object")
    return args


def _require(request: Message, *fields: str) -> None:
    missing = [name for name in fields if not getattr(request, name)]
    if missing:
        raise ValueError(
            f"{type(request).__name__}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
        )


class _ApiKeyInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every call but health whose ``authorization`` metadata is not ``Bearer <api key>``."""

    def __init__(self, api_key: str) -> None:
        self._expected = f"Bearer {api_key}".encode()

    async def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith("/grpc.health.v1.Health/"):
            return await continuation(handler_call_details)
        given = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        if hmac.compare_digest(given_bytes, self._expected):
            return await continuation(handler_call_details)
        reason = "no API key was sent" if not given else "the API key is wrong"
        message = (
            f"{reason}: this rayflow frontend requires one (Client.connect(..., api_key=...), "
            f"`rayflow --api-key` or RAYFLOW_API_KEY)"
        )

        async def deny(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            return b""

        return grpc.unary_unary_rpc_method_handler(deny)
