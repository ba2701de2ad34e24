"""Protobuf messages as the JSON the web UI reads (internal).

Payloads are decoded only where that is safe and needs no codec: ``json/plain`` becomes its value,
``binary/null`` null. Anything else (pickled, encrypted, compressed, external references) stays encoded:
its metadata and base64 data, so the page shows what is stored and never runs a deserializer on it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_PAYLOAD = "rayflow.v1.Payload"
_PAYLOADS = "rayflow.v1.Payloads"
_TIMESTAMP = "google.protobuf.Timestamp"
_DURATION = "google.protobuf.Duration"
#: Encoded payloads longer than this are cut in the JSON (the page shows their size).
_MAX_ENCODED_CHARS = 4096


def payload_json(payload: Message) -> dict[str, Any]:
    """``{"encoding", "value"}`` when decodable here, else ``{"encoding", "metadata", "data_base64", "size"}``."""
    encoding = payload.metadata.get("encoding", b"").decode(errors="replace")
    if encoding == "json/plain":
        try:
            return {"encoding": encoding, "value": json.loads(payload.data)}
        except ValueError:
            pass
    if encoding == "binary/null":
        return {"encoding": encoding, "value": None}
    data = base64.b64encode(payload.data).decode()
    return {
        "encoding": encoding,
        "metadata": {key: _text_or_base64(value) for key, value in payload.metadata.items()},
        "data_base64": data[:_MAX_ENCODED_CHARS],
        "truncated": len(data) > _MAX_ENCODED_CHARS,
        "size": len(payload.data),
    }


def _text_or_base64(value: bytes) -> str:
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()
    return text if text.isprintable() else "base64:" + base64.b64encode(value).decode()


def message_json(message: Message) -> dict[str, Any]:
    """The set fields of ``message`` (proto names; enums by name; times ISO 8601 UTC; durations in seconds)."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                out[field.name] = {str(k): _value(value_field, v) for k, v in value.items()}
            else:
                out[field.name] = [_value(field, item) for item in value]
        else:
            out[field.name] = _value(field, value)
    return out


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name == _PAYLOAD:
            return payload_json(value)
        if name == _PAYLOADS:
            return [payload_json(p) for p in value.payloads]
        if name == _TIMESTAMP:
            return value.ToDatetime().isoformat(timespec="milliseconds") + "Z"
        if name == _DURATION:
            return value.ToTimedelta().total_seconds()
        return message_json(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _text_or_base64(value)
    return value


def event_json(event: Message) -> dict[str, Any]:
    """One history event: ``event_id``, ``event_time``, ``event_type`` (``ActivityTaskScheduled``) and its
    ``attributes``."""
    kind = event.WhichOneof("attributes")
    type_name = event.DESCRIPTOR.fields_by_name["event_type"].enum_type.values_by_number[event.event_type].name
    return {
        "event_id": event.event_id,
        "event_time": _value(event.DESCRIPTOR.fields_by_name["event_time"], event.event_time),
        "event_type": camel(type_name.removeprefix("EVENT_TYPE_")),
        "attributes": message_json(getattr(event, kind)) if kind else {},
    }


def camel(snake: str) -> str:
    """``ACTIVITY_TASK_SCHEDULED`` or ``start_child_workflow_execution_failed`` as ``ActivityTaskScheduled``."""
    return "".join(part.title() for part in snake.split("_"))
