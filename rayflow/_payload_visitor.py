"""Finds every ``Payload`` inside a protobuf message, so a codec can rewrite them in place (internal).

Payloads sit at many depths: ``Payloads.payloads``, ``memo`` maps, failure details and their causes,
history events, commands, tasks. The walk follows only the fields that are set (``ListFields``) and
skips, per message type, the fields whose type can never hold a ``Payload`` (timestamps, durations,
enums, ...), so walking a long history stays cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from rayflow.proto.rayflow.v1 import message_pb2

__all__ = ["collect_payloads", "rewrite_payloads"]

_PAYLOAD = message_pb2.Payload.DESCRIPTOR.full_name

#: full name of a message type -> whether a Payload can be somewhere inside it. Headers (set by interceptors,
#: e.g. trace context) are skipped: as in Temporal, codecs and the payload store leave them as they are.
_MAY_HOLD: dict[str, bool] = {_PAYLOAD: True, message_pb2.Header.DESCRIPTOR.full_name: False}


def _map_value_field(field: FieldDescriptor) -> FieldDescriptor | None:
    """The value field of a map field's entry type (None for fields that are not maps)."""
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        return message_type.fields_by_name["value"]
    return None


def _message_type_of(field: FieldDescriptor) -> Descriptor | None:
    """The message type a field holds (a map's value type for maps), None for scalars."""
    value = _map_value_field(field)
    if value is not None:
        field = value
    return field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None


def _may_hold(descriptor: Descriptor, visiting: set[str] | None = None) -> bool:
    name = descriptor.full_name
    known = _MAY_HOLD.get(name)
    if known is not None:
        return known
    visiting = visiting if visiting is not None else set()
    if name in visiting:
        return False  # a recursive type (Failure.cause): decided by its other fields
    visiting.add(name)
    holds = False
    for field in descriptor.fields:
        nested = _message_type_of(field)
        if nested is not None and _may_hold(nested, visiting):
            holds = True
            break
    visiting.discard(name)
    if holds or not visiting:  # "no" is final only when decided from the top (not inside a cycle)
        _MAY_HOLD[name] = holds
    return holds


_SINGLE, _REPEATED, _MAP = 0, 1, 2
#: full name of a message type -> {field name: how to walk it} for its fields that may hold a Payload.
_PLANS: dict[str, dict[str, int]] = {}


def _is_repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 5.x; ``label`` before
    return bool(flag) if flag is not None else field.label == FieldDescriptor.LABEL_REPEATED


def _plan(descriptor: Descriptor) -> dict[str, int]:
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = {}
        for field in descriptor.fields:
            nested = _message_type_of(field)
            if nested is None or not _may_hold(nested):
                continue
            if _map_value_field(field) is not None:
                plan[field.name] = _MAP
            else:
                plan[field.name] = _REPEATED if _is_repeated(field) else _SINGLE
        _PLANS[descriptor.full_name] = plan
    return plan


def _collect(message: Message, out: list[message_pb2.Payload]) -> None:
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == _PAYLOAD:
        out.append(message)  # type: ignore[arg-type]
        return
    plan = _plan(descriptor)
    if not plan:
        return
    for field, value in message.ListFields():
        kind = plan.get(field.name)
        if kind is None:
            continue
        if kind == _SINGLE:
            _collect(value, out)
        else:
            for item in value.values() if kind == _MAP else value:
                _collect(item, out)


def collect_payloads(message: Message) -> list[message_pb2.Payload]:
    """Every ``Payload`` inside ``message`` (the objects themselves: changing one changes the message)."""
    out: list[message_pb2.Payload] = []
    _collect(message, out)
    return out


async def rewrite_payloads(
    message: Message,
    transform: Callable[[Sequence[message_pb2.Payload]], Awaitable[list[message_pb2.Payload]]],
) -> None:
    """Replace every ``Payload`` inside ``message`` by ``transform``'s answer, with one call for all of them."""
    found = collect_payloads(message)
    if not found:
        return
    replaced = await transform(found)
    if len(replaced) != len(found):
        raise ValueError(
            f"a payload codec returned {len(replaced)} payloads for {len(found)}: encode and decode must return "
            f"one payload for each payload they are given, in the same order"
        )
    for old, new in zip(found, replaced, strict=True):
        if new is not old:
            old.CopyFrom(new)
