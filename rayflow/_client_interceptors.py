"""Client interceptors (Temporal's ``temporalio.client.Interceptor`` shape); re-exported by ``rayflow.client``.

``Client.connect(interceptors=[...])`` wraps each client call in a chain of ``OutboundInterceptor`` objects, the
first interceptor outermost. Each call reaches the chain as an input dataclass whose ``headers`` an interceptor may
replace (e.g. with trace context): they travel with the request into history, where the worker's interceptors read
them. The innermost link (``ClientCalls``) builds the request and calls the service.

An interceptor that is also a ``rayflow.worker.Interceptor`` applies to the workers built from the client as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rayflow._client_update import WorkflowUpdateHandle, WorkflowUpdateStage
from rayflow.common import (
    RetryPolicy,
    VersioningOverride,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
    duration_to_proto,
    versioning_override_string,
)
from rayflow.proto.rayflow.v1 import message_pb2, request_response_pb2

__all__ = [
    "CancelWorkflowInput",
    "ClientCalls",
    "Interceptor",
    "OutboundInterceptor",
    "QueryWorkflowInput",
    "SignalWorkflowInput",
    "StartWorkflowInput",
    "StartWorkflowUpdateInput",
    "TerminateWorkflowInput",
    "set_header",
]

Payload = message_pb2.Payload


@dataclass
class StartWorkflowInput:
    """``Client.start_workflow`` (also signal-with-start: ``start_signal`` is set)."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    request_id: str | None = None
    id_reuse_policy: WorkflowIDReusePolicy | None = None
    id_conflict_policy: WorkflowIDConflictPolicy | None = None
    start_signal: str | None = None
    start_signal_args: Sequence[Any] = ()
    versioning_override: VersioningOverride | None = None
    headers: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class SignalWorkflowInput:
    """``WorkflowHandle.signal``."""

    signal: str
    args: Sequence[Any]
    id: str
    run_id: str | None
    headers: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class QueryWorkflowInput:
    """``WorkflowHandle.query``."""

    id: str
    run_id: str | None
    query: str
    args: Sequence[Any]
    rpc_timeout: timedelta = timedelta(seconds=10)
    headers: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class StartWorkflowUpdateInput:
    """``WorkflowHandle.start_update`` / ``execute_update``."""

    id: str
    run_id: str | None
    update_id: str | None
    update: str
    args: Sequence[Any]
    wait_for_stage: WorkflowUpdateStage
    headers: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class CancelWorkflowInput:
    """``WorkflowHandle.cancel``."""

    id: str
    run_id: str | None


@dataclass
class TerminateWorkflowInput:
    """``WorkflowHandle.terminate``: ``args`` are the details."""

    id: str
    run_id: str | None
    reason: str | None
    args: Sequence[Any] = ()


class OutboundInterceptor:
    """One link of the client's call chain; each method's default passes the call on to ``next``."""

    def __init__(self, next: OutboundInterceptor) -> None:  # noqa: A002 - Temporal's name
        self.next = next

    async def start_workflow(self, input: StartWorkflowInput) -> Any:  # noqa: A002
        """Start a workflow; returns its ``WorkflowHandle``."""
        return await self.next.start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:  # noqa: A002
        await self.next.signal_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:  # noqa: A002
        return await self.next.query_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle:  # noqa: A002
        return await self.next.start_workflow_update(input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:  # noqa: A002
        await self.next.cancel_workflow(input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:  # noqa: A002
        await self.next.terminate_workflow(input)


class Interceptor:
    """A client interceptor: ``intercept_client`` wraps the chain built so far (default: unchanged).

    A class that is also a ``rayflow.worker.Interceptor`` applies to workers built from the client too.
    """

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:  # noqa: A002
        return next


def set_header(message: Any, headers: Mapping[str, Payload]) -> None:
    """Copy ``headers`` into ``message.header`` (nothing when empty: no header on the wire)."""
    for key, value in headers.items():
        message.header.fields[key].CopyFrom(value)


class ClientCalls(OutboundInterceptor):
    """The innermost link: builds each request and calls the service (``client._service``)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def start_workflow(self, input: StartWorkflowInput) -> Any:  # noqa: A002
        client = self._client
        converter = client.data_converter
        request = request_response_pb2.StartWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_id=input.id,
            workflow_type=input.workflow,
            task_queue=input.task_queue,
            input=await converter.encode(list(input.args)),
            identity=client._identity,
            request_id=input.request_id or str(uuid.uuid4()),
            versioning_override=versioning_override_string(input.versioning_override),
        )
        for name, value in (("workflow_execution_timeout", input.execution_timeout),
                            ("workflow_run_timeout", input.run_timeout), ("workflow_task_timeout", input.task_timeout)):
            if value is not None:
                if value <= timedelta(0):
                    raise ValueError(f"start_workflow: {name} must be positive, got {value}")
                getattr(request, name).CopyFrom(duration_to_proto(value))
        if input.retry_policy is not None:
            request.retry_policy.CopyFrom(input.retry_policy.to_proto())
        if input.start_signal is not None:
            request.start_signal_name = input.start_signal
            request.start_signal_input.CopyFrom(await converter.encode(list(input.start_signal_args)))
        elif input.start_signal_args:
            raise ValueError("start_workflow: start_signal_args needs start_signal")
        _set_id_policies(request, input.id_reuse_policy, input.id_conflict_policy)
        set_header(request, input.headers)
        response = await client._service.start_workflow(request)
        return client.get_workflow_handle(input.id, run_id=response.run_id, first_execution_run_id=response.run_id)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:  # noqa: A002
        client = self._client
        request = request_response_pb2.SignalWorkflowExecutionRequest(
            namespace=client.namespace, workflow_id=input.id, run_id=input.run_id or "", signal_name=input.signal,
            input=await client.data_converter.encode(list(input.args)),
            identity=client._identity, request_id=str(uuid.uuid4()),
        )
        set_header(request, input.headers)
        await client._service.signal_workflow(request)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:  # noqa: A002
        client = self._client
        request = request_response_pb2.QueryWorkflowRequest(
            namespace=client.namespace, workflow_id=input.id, run_id=input.run_id or "", query_type=input.query,
            query_args=await client.data_converter.encode(list(input.args)),
            timeout_s=max(input.rpc_timeout.total_seconds(), 0.001),
        )
        set_header(request, input.headers)
        response = await client._service.query_workflow(request)
        values = await client.data_converter.decode(response.query_result)
        return values[0] if values else None

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle:  # noqa: A002
        client = self._client
        request = request_response_pb2.UpdateWorkflowExecutionRequest(
            namespace=client.namespace, workflow_id=input.id, run_id=input.run_id or "",
            update_id=input.update_id or str(uuid.uuid4()), name=input.update,
            input=await client.data_converter.encode(list(input.args)),
            wait_for_stage=int(input.wait_for_stage), identity=client._identity,
        )
        set_header(request, input.headers)
        response = await client._service.update_workflow(request)
        handle = WorkflowUpdateHandle(client.get_workflow_handle(input.id, run_id=input.run_id), request,
                                      response.run_id)
        await handle._take(response)
        return handle

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:  # noqa: A002
        client = self._client
        await client._service.request_cancel_workflow(request_response_pb2.RequestCancelWorkflowExecutionRequest(
            namespace=client.namespace, workflow_id=input.id, run_id=input.run_id or "",
            identity=client._identity, request_id=str(uuid.uuid4()),
        ))

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:  # noqa: A002
        client = self._client
        request = request_response_pb2.TerminateWorkflowExecutionRequest(
            namespace=client.namespace, workflow_id=input.id, run_id=input.run_id or "", reason=input.reason or "",
            identity=client._identity, request_id=str(uuid.uuid4()),  # a retry of this call terminates once
        )
        if input.args:
            request.details.CopyFrom(await client.data_converter.encode(list(input.args)))
        await client._service.terminate_workflow(request)


def build_chain(client: Any, interceptors: Sequence[Interceptor]) -> OutboundInterceptor:
    """The client's call chain: the first interceptor outermost (as in temporalio)."""
    chain: OutboundInterceptor = ClientCalls(client)
    for interceptor in reversed(list(interceptors)):
        if not isinstance(interceptor, Interceptor):
            raise TypeError(
                f"Client.connect(interceptors=...): {interceptor!r} is not a rayflow.client.Interceptor; subclass it "
                f"(and rayflow.worker.Interceptor for workflow and activity interceptors)"
            )
        chain = interceptor.intercept_client(chain)
    return chain


def _set_id_policies(request: request_response_pb2.StartWorkflowExecutionRequest,
                     reuse: WorkflowIDReusePolicy | None, conflict: WorkflowIDConflictPolicy | None) -> None:
    """Validate the id policies and put them on the request (unset: the service's defaults)."""
    from rayflow.service.history import id_policy

    if reuse is not None:
        request.workflow_id_reuse_policy = WorkflowIDReusePolicy(reuse)
    if conflict is not None:
        request.workflow_id_conflict_policy = WorkflowIDConflictPolicy(conflict)
    try:
        id_policy.validate(request.workflow_id_reuse_policy, request.workflow_id_conflict_policy)
    except ValueError as err:
        raise ValueError(f"start_workflow: {err}") from None
