"""History as the client shows it: ``HistoryEvent`` (payloads decoded, Temporal's field names) and
``WorkflowHistory`` (JSON round trip). ``rayflow.client`` exports both."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from rayflow.common import EventType, timestamp_from_proto
from rayflow.converter import DataConverter
from rayflow.payload_store import ENCODING_EXTERNAL, ExternalRef
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2

__all__ = ["HistoryEvent", "WorkflowHistory"]

# Payload fields holding one value (a result) rather than a list of values (arguments, details).
_SINGLE_VALUE_FIELDS = {"result"}


@dataclass(frozen=True)
class HistoryEvent:
    """One history event: ``attributes`` is keyed by Temporal's field names, payloads decoded."""

    event_id: int
    event_time: datetime
    event_type: EventType
    attributes: dict[str, Any]
    raw: history_pb2.HistoryEvent

    @staticmethod
    def _from_proto(event: history_pb2.HistoryEvent, converter: DataConverter) -> HistoryEvent:
        which = event.WhichOneof("attributes")
        attributes = _message_to_dict(getattr(event, which), converter) if which else {}
        return HistoryEvent(
            event_id=event.event_id,
            event_time=timestamp_from_proto(event.event_time),
            event_type=EventType(event.event_type),
            attributes=attributes,
            raw=event,
        )


def _message_to_dict(message: Any, converter: DataConverter) -> dict[str, Any]:
    """Proto message to a dict with Temporal's field names; payloads decoded (undecodable ones as text, external
    ones as their reference: ``<external 48.0 MiB sha256:ab12… in file:///...>``)."""
    out = json_format.MessageToDict(message, preserving_proto_field_name=True)
    for field_desc, value in message.ListFields():
        if field_desc.message_type is message_pb2.Payloads.DESCRIPTOR:
            try:
                values = [str(ExternalRef.from_json(p.data)) if p.metadata.get("encoding") == ENCODING_EXTERNAL
                          else converter.from_payloads(message_pb2.Payloads(payloads=[p]))[0] for p in value.payloads]
            except Exception as err:  # a history must stay readable without every codec or class
                values = [f"<payload not decodable here: {err}>"]
            out[field_desc.name] = (values[0] if values else None) if field_desc.name in _SINGLE_VALUE_FIELDS \
                else values
        elif field_desc.message_type is message_pb2.Failure.DESCRIPTOR:
            out[field_desc.name] = _failure_to_dict(value, converter)
    return out


def _failure_to_dict(failure: message_pb2.Failure, converter: DataConverter) -> dict[str, Any]:
    out = json_format.MessageToDict(failure, preserving_proto_field_name=True)
    if failure.HasField("cause"):
        out["cause"] = _failure_to_dict(failure.cause, converter)
    info = failure.WhichOneof("failure_info")
    if info == "application_failure_info":
        out["type"] = failure.application_failure_info.type
        out["non_retryable"] = failure.application_failure_info.non_retryable
    return out


class WorkflowHistory:
    """The events of one run; ``to_json()`` / ``from_json()`` round-trip (Temporal's proto JSON)."""

    def __init__(self, workflow_id: str, run_id: str, history: history_pb2.History,
                 data_converter: DataConverter = DataConverter.default) -> None:
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.raw = history
        self.events = [HistoryEvent._from_proto(e, data_converter) for e in history.events]

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def to_json(self) -> str:
        body = json.loads(json_format.MessageToJson(self.raw))
        return json.dumps({"workflow_id": self.workflow_id, "run_id": self.run_id, **body})

    @staticmethod
    def from_json(text: str, data_converter: DataConverter = DataConverter.default) -> WorkflowHistory:
        body = json.loads(text)
        workflow_id = body.pop("workflow_id", "")
        run_id = body.pop("run_id", "")
        history = json_format.ParseDict(body, history_pb2.History())
        return WorkflowHistory(workflow_id, run_id, history, data_converter)


