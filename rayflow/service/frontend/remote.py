"""The client side of the gRPC frontend: what ``Client.connect("host:port")`` talks through.

``GrpcServiceConnection`` has the same methods as the in-Ray connection (``rayflow.service.connection``),
so ``Client`` and ``WorkflowHandle`` work the same over either. It imports no Ray: a web service that
only starts workflows starts fast and stays small.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from rayflow.proto.rayflow.v1 import request_response_pb2, service_pb2
from rayflow.service.frontend import errors, methods

_RESULT_WAIT_S = 60.0
#: Deadline of ordinary calls (long polls get their own).
_RPC_TIMEOUT_S = 30.0
_MAX_RECEIVE = 256 * 1024 * 1024

RR = request_response_pb2


@dataclass(frozen=True)
class TLSConfig:
    """TLS for ``Client.connect(..., tls=TLSConfig(...))`` (Temporal's fields).

    Args:
        server_root_ca_cert: PEM of the CA that signed the server's certificate (default: the system's roots).
        domain: the name to check the server certificate against (default: the host of the address).
        client_cert / client_private_key: PEM of this client's certificate and key, for mutual TLS.
    """

    server_root_ca_cert: bytes | None = None
    domain: str | None = None
    client_cert: bytes | None = None
    client_private_key: bytes | None = None


class GrpcServiceConnection:
    """Calls ``WorkflowService`` on a rayflow frontend.

    Args:
        target: ``host:port`` of the frontend.
        tls: ``True`` for TLS with the system's roots, a ``TLSConfig``, or ``False``/``None`` for plaintext.
        api_key: sent as ``authorization: Bearer <api_key>`` on every call.
        rpc_metadata: more metadata sent on every call.
    """

    def __init__(
        self,
        target: str,
        *,
        tls: bool | TLSConfig | None = None,
        api_key: str | None = None,
        rpc_metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        options = [("grpc.max_receive_message_length", _MAX_RECEIVE)]
        if tls:
            config = tls if isinstance(tls, TLSConfig) else TLSConfig()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=config.server_root_ca_cert,
                private_key=config.client_private_key,
                certificate_chain=config.client_cert,
            )
            if config.domain:
                options.append(("grpc.ssl_target_name_override", config.domain))
            self._channel = grpc.aio.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        metadata = dict(rpc_metadata or {})
        if api_key:
            metadata["authorization"] = f"Bearer {api_key}"
        self._metadata = tuple(metadata.items())
        self._stubs: dict[str, Any] = {}
        for method in methods.METHODS:
            output = methods.message_class(method.output_type.full_name)
            self._stubs[method.name] = self._channel.unary_unary(
                f"/{methods.SERVICE_NAME}/{method.name}",
                request_serializer=_serialize,
                response_deserializer=output.FromString,
            )

    async def _call(self, method: str, request: Message, what: str, *, timeout: float | None = _RPC_TIMEOUT_S):
        try:
            return await self._stubs[method](request, metadata=self._metadata, timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise errors.from_rpc_error(err, self.target, what) from None

    async def close(self) -> None:
        await self._channel.close()

    # -- the methods of the in-Ray connection -------------------------------------------------
    async def get_cluster_info(
        self, timeout: float = _RPC_TIMEOUT_S, *, include_service_actors: bool = False
    ) -> service_pb2.GetClusterInfoResponse:
        request = service_pb2.GetClusterInfoRequest(include_service_actors=include_service_actors)
        return await self._call("GetClusterInfo", request, "connect", timeout=timeout)

    async def describe_service(self) -> dict[str, Any]:
        info = await self.get_cluster_info(include_service_actors=True)
        return {
            "ray_namespace": info.ray_namespace,
            "store": info.store,
            "num_shards": info.num_shards,
            "num_matching": info.num_matching,
            "actors": [json_format.MessageToDict(actor, preserving_proto_field_name=True,
                                                 always_print_fields_with_no_presence=True)
                       for actor in info.service_actors],
        }

    async def start_workflow(self, request: RR.StartWorkflowExecutionRequest) -> RR.StartWorkflowExecutionResponse:
        return await self._call("StartWorkflowExecution", request, "start workflow")

    async def describe(self, namespace: str, workflow_id: str, run_id: str) -> RR.DescribeWorkflowExecutionResponse:
        request = service_pb2.DescribeWorkflowExecutionRequest(
            namespace=namespace, workflow_id=workflow_id, run_id=run_id
        )
        return await self._call("DescribeWorkflowExecution", request, "describe workflow")

    async def get_history(
        self, namespace: str, workflow_id: str, run_id: str, first_event_id: int = 1
    ) -> tuple[str, list[bytes]]:
        """(run id, serialized events) of a run from ``first_event_id`` on, every page fetched."""
        request = service_pb2.GetWorkflowExecutionHistoryRequest(
            namespace=namespace, workflow_id=workflow_id, run_id=run_id, first_event_id=first_event_id
        )
        events: list[bytes] = []
        while True:
            page = await self._call("GetWorkflowExecutionHistory", request, "fetch history")
            events.extend(event.SerializeToString() for event in page.history.events)
            if not page.next_page_token:
                return page.run_id, events
            request.next_page_token = page.next_page_token

    async def terminate_workflow(self, request: RR.TerminateWorkflowExecutionRequest) -> str:
        return (await self._call("TerminateWorkflowExecution", request, "terminate workflow")).run_id

    async def list_executions(self, request: RR.ListWorkflowExecutionsRequest) -> RR.ListWorkflowExecutionsResponse:
        return await self._call("ListWorkflowExecutions", request, "list workflows")

    async def count_executions(self, request: RR.ListWorkflowExecutionsRequest) -> int:
        return (await self._call("CountWorkflowExecutions", request, "count workflows")).count

    async def wait_for_close(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        """Long-poll (60 s at a time) until the run closes; its serialized closing event."""
        request = service_pb2.GetWorkflowExecutionResultRequest(
            namespace=namespace, workflow_id=workflow_id, run_id=run_id, wait_timeout_seconds=_RESULT_WAIT_S
        )
        while True:
            response = await self._call(
                "GetWorkflowExecutionResult", request, "get workflow result", timeout=_RESULT_WAIT_S + _RPC_TIMEOUT_S
            )
            if response.closed:
                return response.close_event.SerializeToString()

    async def signal_workflow(self, request: RR.SignalWorkflowExecutionRequest) -> str:
        return (await self._call("SignalWorkflowExecution", request, "signal workflow")).run_id

    async def request_cancel_workflow(self, request: RR.RequestCancelWorkflowExecutionRequest) -> str:
        return (await self._call("RequestCancelWorkflowExecution", request, "cancel workflow")).run_id

    async def query_workflow(self, request: RR.QueryWorkflowRequest) -> RR.QueryWorkflowResponse:
        return await self._call("QueryWorkflow", request, "query workflow", timeout=request.timeout_s + _RPC_TIMEOUT_S)

    async def update_workflow(self, request: RR.UpdateWorkflowExecutionRequest) -> RR.UpdateWorkflowExecutionResponse:
        return await self._call("UpdateWorkflowExecution", request, "update workflow", timeout=None)

    async def describe_task_queue(self, namespace: str, task_queue: str) -> dict[str, Any]:
        request = service_pb2.DescribeTaskQueueRequest(namespace=namespace, task_queue=task_queue)
        response = await self._call("DescribeTaskQueue", request, "describe task queue")
        return json.loads(response.description_json)


    async def versioning(self, namespace: str, operation: str, args: dict[str, Any]) -> Any:
        request = service_pb2.VersioningRequest(namespace=namespace, operation=operation,
                                                arguments_json=json.dumps(args))
        response = await self._call("Versioning", request, f"worker versioning: {operation}")
        return json.loads(response.result_json)

    async def namespace_operation(self, namespace: str, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        request = service_pb2.NamespaceRequest(namespace=namespace, operation=operation,
                                               arguments_json=json.dumps(args))
        response = await self._call("Namespace", request, f"namespace: {operation}")
        return json.loads(response.result_json)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()
