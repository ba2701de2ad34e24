"""Payload size limits, checked where payloads enter a history shard (internal).

Payloads are opaque bytes here (they may be ciphertext): a payload's size is its serialized byte
size. The limit (``ServiceConfig.max_payload_size``, 2 MB by default as Temporal's blob limit)
applies to each payload-carrying field on its own: a command's input, a result, failure details,
heartbeat details, a memo. Oversized data never enters history:

* a client request carrying it is rejected with ``PayloadError`` (``check_payloads``);
* a workflow task completion carrying it fails the workflow task and, because deterministic code
  would send the same data on every retry, the workflow execution too (``fail_oversized_workflow``);
* an activity completion carrying it fails the attempt without retries (``oversized_failure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.protobuf.message import Message

from rayflow.exceptions import PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, message_pb2, request_response_pb2

if TYPE_CHECKING:  # clients import this module too (check_payloads): it imports no service code
    from rayflow.service.history.mutable_state import StateBuilder

__all__ = [
    "check_payloads",
    "command_violation",
    "fail_oversized_workflow",
    "oversized_failure",
    "oversized_message",
    "payload_size",
    "too_large_message",
]

_KB = 1024
_MB = 1024 * 1024
_PAYLOAD_TYPES = frozenset(
    d.full_name
    for d in (message_pb2.Payload.DESCRIPTOR, message_pb2.Payloads.DESCRIPTOR, message_pb2.Failure.DESCRIPTOR)
)


def _size_text(size: int, *, exact: bool) -> str:
    """``3.0 MB``, ``100.0 KB`` (``2 MB`` for a limit that is a whole number of MB with ``exact``)."""
    for unit, name in ((_MB, "MB"), (_KB, "KB")):
        if size >= unit:
            if exact and size % unit == 0:
                return f"{size // unit} {name}"
            return f"{size / unit:.1f} {name}"
    return f"{size} bytes"


def too_large_message(what: str, size: int, limit: int) -> str:
    """The error text naming what is too large, its size and the limit, and what to do instead."""
    return (
        f"{what} is {_size_text(size, exact=False)} ({size} bytes), over the payload limit of "
        f"{_size_text(limit, exact=True)} ({limit} bytes): pass a reference (a path or an object-store key) "
        f"instead of the data"
    )


def payload_size(payloads: Message | None) -> int:
    """Serialized size of a ``Payloads``, ``Payload`` or ``Failure`` (0 for None)."""
    return 0 if payloads is None else payloads.ByteSize()


def oversized_message(payloads: Message | None, limit: int, what: str) -> str | None:
    """The error text (naming ``what``, the size and the limit) when ``payloads`` is over ``limit``, else None."""
    size = payload_size(payloads)
    return too_large_message(what, size, limit) if 0 < limit < size else None


def check_payloads(payloads: Message | None, limit: int, what: str) -> None:
    """Raise ``PayloadError`` when ``payloads`` is over ``limit`` (see ``oversized_message``)."""
    message = oversized_message(payloads, limit, what)
    if message is not None:
        raise PayloadError(message)


def _command_name(command_type: int) -> str:
    """``COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK`` -> ``ScheduleActivityTask``."""
    name = command_pb2.CommandType.Name(command_type).removeprefix("COMMAND_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def command_violation(command: command_pb2.Command, limit: int) -> str | None:
    """The error text for the first payload field of ``command`` over ``limit``; None when all fit."""
    if limit <= 0:
        return None
    attributes_field = command.WhichOneof("attributes")
    if attributes_field is None:
        return None
    attributes = getattr(command, attributes_field)
    for field, value in attributes.ListFields():
        message_type = field.message_type
        if message_type is None:
            continue
        if message_type.GetOptions().map_entry:  # memo, marker details: the whole map counts
            if message_type.fields_by_name["value"].message_type is None:
                continue
            if message_type.fields_by_name["value"].message_type.full_name not in _PAYLOAD_TYPES:
                continue
            size = sum(entry.ByteSize() for entry in value.values())
        elif message_type.full_name in _PAYLOAD_TYPES:
            size = value.ByteSize()
        else:
            continue
        if size > limit:
            return too_large_message(f"{_command_name(command.command_type)} {field.name}", size, limit)
    return None


def _server_failure(message: str) -> message_pb2.Failure:
    failure = message_pb2.Failure(message=message, source="rayflow-service")
    failure.server_failure_info.non_retryable = True
    return failure


def fail_oversized_workflow(builder: StateBuilder, message: str, identity: str) -> None:
    """Record WorkflowTaskFailed (cause PAYLOAD_ERROR) and then WorkflowExecutionFailed, both with ``message``.

    The run closes rather than retrying the task: its code is deterministic, so every retry would send
    the same oversized payload (Temporal's history service does the same).
    """
    failure = _server_failure(message)
    wft = builder.state.workflow_task
    failed = builder.add_event(
        history_pb2.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        history_pb2.WorkflowTaskFailedEventAttributes(
            scheduled_event_id=wft.scheduled_event_id,
            started_event_id=wft.started_event_id,
            cause=history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR,
            failure=failure,
            identity=identity,
        ),
    )
    builder.close(
        request_response_pb2.WORKFLOW_EXECUTION_STATUS_FAILED,
        history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        history_pb2.WorkflowExecutionFailedEventAttributes(
            failure=failure,
            retry_state=message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE,
            workflow_task_completed_event_id=failed.event_id,
        ),
    )


def oversized_failure(message: str) -> message_pb2.Failure:
    """The non-retryable failure an activity attempt gets when what it sent is over the limit."""
    return _server_failure(message)
