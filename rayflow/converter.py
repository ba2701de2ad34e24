"""Payload and failure conversion.

A payload is bytes plus metadata whose ``encoding`` says how to read them. The default converter
writes ``binary/null`` for ``None``, ``binary/plain`` for ``bytes``, ``json/plain`` for values made
only of dicts with string keys, lists, strings, numbers and booleans, and ``binary/cloudpickle``
for every other Python object (dataclasses, numpy arrays, tuples, ...). Conversion runs only in
clients and workers: the service stores the bytes and never decodes them.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cloudpickle

from rayflow.common import RetryState, TimeoutType, duration_to_proto
from rayflow.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    FailureError,
    PayloadError,
    ServerError,
    TerminatedError,
    TimeoutError,
)
from rayflow.proto.rayflow.v1 import message_pb2

__all__ = [
    "DataConverter",
    "DefaultPayloadConverter",
    "ENCODING_NULL",
    "ENCODING_BINARY",
    "ENCODING_JSON",
    "ENCODING_CLOUDPICKLE",
]

ENCODING_NULL = b"binary/null"
ENCODING_BINARY = b"binary/plain"
ENCODING_JSON = b"json/plain"
ENCODING_CLOUDPICKLE = b"binary/cloudpickle"

_MAX_CAUSE_DEPTH = 20


def _is_json_value(value: Any, depth: int = 0) -> bool:
    """True for values that survive a JSON round trip unchanged (no tuples, no int dict keys)."""
    if depth > 100:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_is_json_value(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_json_value(v, depth + 1) for k, v in value.items())
    return False


class DefaultPayloadConverter:
    """Converts single Python values to and from ``Payload`` protos."""

    def to_payload(self, value: Any) -> message_pb2.Payload:
        if value is None:
            return message_pb2.Payload(metadata={"encoding": ENCODING_NULL})
        if isinstance(value, (bytes, bytearray, memoryview)) and type(value) in (bytes, bytearray, memoryview):
            return message_pb2.Payload(metadata={"encoding": ENCODING_BINARY}, data=bytes(value))
        if _is_json_value(value):
            data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
            return message_pb2.Payload(metadata={"encoding": ENCODING_JSON}, data=data)
        try:
            data = cloudpickle.dumps(value)
        except Exception as err:
            raise PayloadError(
                f"a value of type {type(value).__qualname__} cannot be serialized: it is not JSON-able "
                f"and cloudpickle failed ({type(err).__name__}: {err}). Pass JSON-able values, bytes, "
                f"or objects that can be pickled (no open files, locks, sockets or generators)."
            ) from err
        return message_pb2.Payload(metadata={"encoding": ENCODING_CLOUDPICKLE}, data=data)

    def from_payload(self, payload: message_pb2.Payload) -> Any:
        encoding = payload.metadata.get("encoding", b"")
        if encoding == ENCODING_NULL:
            return None
        if encoding == ENCODING_BINARY:
            return payload.data
        if encoding == ENCODING_JSON:
            return json.loads(payload.data)
        if encoding == ENCODING_CLOUDPICKLE:
            try:
                return cloudpickle.loads(payload.data)
            except Exception as err:
                raise PayloadError(
                    f"a binary/cloudpickle payload could not be loaded ({type(err).__name__}: {err}); "
                    f"the class it holds must be importable where it is decoded"
                ) from err
        raise PayloadError(
            f"unknown payload encoding {encoding.decode(errors='replace')!r}: this process has no "
            f"converter (or codec) for it"
        )


@dataclass(frozen=True)
class DataConverter:
    """Turns values into payloads and exceptions into failures, and back.

    Args:
        payload_converter: converts single values (default: ``DefaultPayloadConverter``).
    """

    payload_converter: DefaultPayloadConverter = field(default_factory=DefaultPayloadConverter)

    #: The shared default converter (set below the class).
    default: ClassVar[DataConverter]

    # -- values ---------------------------------------------------------------------------------
    def to_payloads(self, values: Sequence[Any]) -> message_pb2.Payloads:
        """Encode values; raises ``PayloadError`` naming the position of a value that cannot be encoded."""
        payloads = []
        for index, value in enumerate(values):
            try:
                payloads.append(self.payload_converter.to_payload(value))
            except PayloadError as err:
                raise PayloadError(f"value {index + 1} of {len(values)}: {err}") from err.__cause__
        return message_pb2.Payloads(payloads=payloads)

    def from_payloads(self, payloads: message_pb2.Payloads | None) -> list[Any]:
        if payloads is None:
            return []
        return [self.payload_converter.from_payload(p) for p in payloads.payloads]

    def to_payload(self, value: Any) -> message_pb2.Payloads:
        """One value as a one-element ``Payloads`` (results are single values)."""
        return self.to_payloads([value])

    def from_payload(self, payloads: message_pb2.Payloads | None) -> Any:
        """The single value of a result ``Payloads`` (``None`` when empty)."""
        values = self.from_payloads(payloads)
        return values[0] if values else None

    # -- failures -------------------------------------------------------------------------------
    def to_failure(self, error: BaseException, depth: int = 0) -> message_pb2.Failure:
        """Exception (and its ``__cause__`` chain) to ``Failure``; a plain exception's type is its class name."""
        failure = message_pb2.Failure(
            message=str(error.args[0]) if isinstance(error, FailureError) and error.args else str(error),
            source="rayflow-python",
            stack_trace="".join(traceback.format_exception(type(error), error, error.__traceback__)),
        )
        if isinstance(error, ApplicationError):
            failure.application_failure_info.SetInParent()
            info = failure.application_failure_info
            info.type = error.type or ""
            info.non_retryable = error.non_retryable
            if error.details:
                info.details.CopyFrom(self._details_to_payloads(error.details))
            if error.next_retry_delay is not None:
                info.next_retry_delay.CopyFrom(duration_to_proto(error.next_retry_delay))
        elif isinstance(error, TimeoutError):
            failure.timeout_failure_info.SetInParent()
            failure.timeout_failure_info.timeout_type = int(error.type or 0)
            if error.last_heartbeat_details:
                failure.timeout_failure_info.last_heartbeat_details.CopyFrom(
                    self._details_to_payloads(error.last_heartbeat_details)
                )
        elif isinstance(error, CancelledError):
            failure.canceled_failure_info.SetInParent()
            if error.details:
                failure.canceled_failure_info.details.CopyFrom(self._details_to_payloads(error.details))
        elif isinstance(error, TerminatedError):
            failure.terminated_failure_info.SetInParent()
        elif isinstance(error, ServerError):
            failure.server_failure_info.SetInParent()
            failure.server_failure_info.non_retryable = error.non_retryable
        elif isinstance(error, ActivityError):
            info = failure.activity_failure_info
            info.SetInParent()
            info.scheduled_event_id = error.scheduled_event_id
            info.started_event_id = error.started_event_id
            info.identity = error.identity
            info.activity_type = error.activity_type
            info.activity_id = error.activity_id
            info.retry_state = int(error.retry_state or 0)
        elif isinstance(error, ChildWorkflowError):
            child = failure.child_workflow_execution_failure_info
            child.SetInParent()
            child.namespace, child.workflow_id, child.run_id = error.namespace, error.workflow_id, error.run_id
            child.workflow_type = error.workflow_type
            child.initiated_event_id, child.started_event_id = error.initiated_event_id, error.started_event_id
            child.retry_state = int(error.retry_state or 0)
        else:
            failure.application_failure_info.SetInParent()
            failure.application_failure_info.type = type(error).__name__
        if error.__cause__ is not None and depth < _MAX_CAUSE_DEPTH:
            failure.cause.CopyFrom(self.to_failure(error.__cause__, depth + 1))
        return failure

    def from_failure(self, failure: message_pb2.Failure) -> FailureError:
        """``Failure`` to the matching ``FailureError`` subclass, with its cause chain."""
        kind = failure.WhichOneof("failure_info")
        error: FailureError
        if kind == "timeout_failure_info":
            info = failure.timeout_failure_info
            error = TimeoutError(
                failure.message,
                type=TimeoutType(info.timeout_type) if info.timeout_type else None,
                last_heartbeat_details=self._details_from_payloads(info.last_heartbeat_details),
            )
        elif kind == "canceled_failure_info":
            error = CancelledError(failure.message, *self._details_from_payloads(failure.canceled_failure_info.details))
        elif kind == "terminated_failure_info":
            error = TerminatedError(failure.message)
        elif kind == "server_failure_info":
            error = ServerError(failure.message, non_retryable=failure.server_failure_info.non_retryable)
        elif kind == "activity_failure_info":
            info = failure.activity_failure_info
            error = ActivityError(
                failure.message,
                scheduled_event_id=info.scheduled_event_id,
                started_event_id=info.started_event_id,
                identity=info.identity,
                activity_type=info.activity_type,
                activity_id=info.activity_id,
                retry_state=RetryState(info.retry_state) if info.retry_state else None,
            )
        elif kind == "child_workflow_execution_failure_info":
            child = failure.child_workflow_execution_failure_info
            error = ChildWorkflowError(
                failure.message, namespace=child.namespace, workflow_id=child.workflow_id, run_id=child.run_id,
                workflow_type=child.workflow_type, initiated_event_id=child.initiated_event_id,
                started_event_id=child.started_event_id,
                retry_state=RetryState(child.retry_state) if child.retry_state else None,
            )
        else:
            info = failure.application_failure_info
            error = ApplicationError(
                failure.message,
                *self._details_from_payloads(info.details),
                type=info.type or None,
                non_retryable=info.non_retryable,
                next_retry_delay=info.next_retry_delay.ToTimedelta() if info.HasField("next_retry_delay") else None,
            )
        error.failure = failure
        if failure.HasField("cause"):
            error.__cause__ = self.from_failure(failure.cause)
        return error

    def _details_to_payloads(self, details: Sequence[Any]) -> message_pb2.Payloads:
        try:
            return self.to_payloads(list(details))
        except PayloadError as err:
            # Details that cannot be encoded must not hide the failure itself.
            return self.to_payloads([f"<details could not be serialized: {err}>"])

    def _details_from_payloads(self, payloads: message_pb2.Payloads) -> tuple[Any, ...]:
        try:
            return tuple(self.from_payloads(payloads))
        except PayloadError as err:
            return (f"<details could not be decoded: {err}>",)


DataConverter.default = DataConverter()
