"""Builds responses from stored event bytes without decoding them (protobuf fields concatenate)."""

from __future__ import annotations

from collections.abc import Iterable

_WIRE_LEN = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    """One length-delimited field (a sub-message) in protobuf wire format."""
    return _varint((field_number << 3) | _WIRE_LEN) + _varint(len(payload)) + payload


def history_bytes(events: Iterable[bytes]) -> bytes:
    """A serialized ``History`` message made of already-serialized ``HistoryEvent``s."""
    return b"".join(length_delimited(1, event) for event in events)
