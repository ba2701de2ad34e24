"""rayflow exceptions <-> gRPC status codes, one table for the server and the remote client.

The server aborts an RPC with the status code of the error and its message (which says what to fix),
and names the exception class in the trailing metadata key ``rayflow-error`` so that the Python client
raises the same exception it would raise inside Ray. Imports no Ray.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from rayflow import exceptions

ERROR_TYPE_KEY = "rayflow-error"
ERROR_DETAIL_KEY = "rayflow-error-detail"

#: Exceptions the remote client raises again by name, with the status code the server sends for each.
_CODES: dict[type[BaseException], grpc.StatusCode] = {
    exceptions.WorkflowNotFoundError: grpc.StatusCode.NOT_FOUND,
    exceptions.WorkflowAlreadyStartedError: grpc.StatusCode.ALREADY_EXISTS,
    exceptions.PayloadError: grpc.StatusCode.INVALID_ARGUMENT,
    exceptions.WorkflowQueryFailedError: grpc.StatusCode.FAILED_PRECONDITION,
    exceptions.WorkflowUpdateFailedError: grpc.StatusCode.FAILED_PRECONDITION,
    exceptions.ServiceUnavailableError: grpc.StatusCode.UNAVAILABLE,
    exceptions.VersioningError: grpc.StatusCode.FAILED_PRECONDITION,
    ValueError: grpc.StatusCode.INVALID_ARGUMENT,
    TypeError: grpc.StatusCode.INVALID_ARGUMENT,
}
_BY_NAME: dict[str, type[BaseException]] = {cls.__name__: cls for cls in _CODES}


def status_of(error: BaseException) -> grpc.StatusCode:
    """The gRPC status code for an exception raised while serving an RPC."""
    if isinstance(error, TimeoutError) and not isinstance(error, exceptions.FailureError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def trailing_metadata(error: BaseException) -> tuple[tuple[str, str], ...]:
    """Metadata naming the exception (and the fields the client needs to rebuild it)."""
    name = next((cls.__name__ for cls in type(error).__mro__ if cls in _CODES), type(error).__name__)
    metadata: list[tuple[str, str]] = [(ERROR_TYPE_KEY, name)]
    if isinstance(error, exceptions.WorkflowAlreadyStartedError):
        detail = {"workflow_id": error.workflow_id, "workflow_type": error.workflow_type, "run_id": error.run_id}
        metadata.append((ERROR_DETAIL_KEY, json.dumps(detail)))
    return tuple(metadata)


def from_rpc_error(error: grpc.aio.AioRpcError, target: str, what: str) -> BaseException:
    """The exception the remote client raises for a failed RPC."""
    code = error.code()
    message = error.details() or code.name
    metadata = {key: value for key, value in (error.trailing_metadata() or ())}
    cls = _BY_NAME.get(str(metadata.get(ERROR_TYPE_KEY, "")))
    if cls is exceptions.WorkflowAlreadyStartedError:
        detail: dict[str, Any] = json.loads(str(metadata.get(ERROR_DETAIL_KEY, "{}")))
        return exceptions.WorkflowAlreadyStartedError(
            detail.get("workflow_id", ""), detail.get("workflow_type", ""), detail.get("run_id"), message=message
        )
    if cls is not None:
        return cls(message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return exceptions.ServiceUnavailableError(
            f"{what}: cannot reach the rayflow frontend at {target} ({message}). Start it with "
            f"`rayflow server start`, or check the address, the port and TLS settings."
        )
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return exceptions.RPCError(f"{what}: {message}", code)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return exceptions.RPCError(f"{what}: the frontend at {target} did not answer in time ({message})", code)
    return exceptions.RPCError(f"{what}: {code.name}: {message}", code)
