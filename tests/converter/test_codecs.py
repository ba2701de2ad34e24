"""Payload codecs without a service: encryption, compression, chains, and the in-place message walk."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from rayflow import _payload_visitor
from rayflow.converter import (
    ENCODING_ENCRYPTED,
    ENCODING_ZLIB,
    CompositePayloadCodec,
    DataConverter,
    EncryptionCodec,
    PayloadCodec,
    ZlibCompressionCodec,
)
from rayflow.exceptions import ApplicationError, PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, message_pb2, request_response_pb2

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))


@dataclass
class Point:
    x: int
    y: int


def encrypting(key_id: str = "k1", **keys: bytes) -> DataConverter:
    return DataConverter(payload_codec=EncryptionCodec(keys or {"k1": KEY_1}, key_id))


class CountingCodec(PayloadCodec):
    """Tags payloads and counts calls (one call per message, whatever its number of payloads)."""

    def __init__(self) -> None:
        self.calls = 0

    async def encode(self, payloads):
        self.calls += 1
        out = []
        for p in payloads:
            tagged = message_pb2.Payload()
            tagged.CopyFrom(p)
            tagged.metadata["tagged"] = b"1"
            out.append(tagged)
        return out

    async def decode(self, payloads):
        self.calls += 1
        out = []
        for p in payloads:
            plain = message_pb2.Payload()
            plain.CopyFrom(p)
            del plain.metadata["tagged"]
            out.append(plain)
        return out


async def test_encryption_round_trip_hides_data_and_metadata():
    converter = encrypting()
    values = ["secret text", {"card": "4111-1111"}, b"raw bytes", None, Point(1, 2)]
    payloads = await converter.encode(values)
    assert len(payloads.payloads) == len(values)
    wire = payloads.SerializeToString()
    for plaintext in (b"secret text", b"4111-1111", b"raw bytes", b"json/plain", b"binary/cloudpickle"):
        assert plaintext not in wire
    for payload in payloads.payloads:
        assert payload.metadata["encoding"] == ENCODING_ENCRYPTED
        assert payload.metadata["encryption-key-id"] == b"k1"
    assert await converter.decode(payloads) == values
    # A fresh nonce per payload: the same value never encrypts to the same bytes twice.
    again = await converter.encode(["secret text"])
    assert again.payloads[0].data != payloads.payloads[0].data


async def test_key_rotation_old_payloads_still_decode():
    old = await encrypting("k1", k1=KEY_1).encode(["written with k1"])
    rotated = encrypting("k2", k1=KEY_1, k2=KEY_2)
    new = await rotated.encode(["written with k2"])
    assert new.payloads[0].metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode(old) == ["written with k1"]
    assert await rotated.decode(new) == ["written with k2"]


async def test_missing_key_names_the_key_id():
    payloads = await encrypting("k2", k2=KEY_2).encode(["x"])
    with pytest.raises(PayloadError, match=r"key id 'k2'.*give this worker/client that key"):
        await encrypting("k1", k1=KEY_1).decode(payloads)


async def test_wrong_key_bytes_under_the_same_id_fail_clearly():
    payloads = await encrypting("k1", k1=KEY_1).encode(["x"])
    with pytest.raises(PayloadError, match="could not be decrypted"):
        await encrypting("k1", k1=KEY_2).decode(payloads)


def test_bad_keys_are_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec({"k1": b"short"}, "k1")
    with pytest.raises(ValueError, match="not in keys"):
        EncryptionCodec({"k1": KEY_1}, "k9")


async def test_plain_payloads_pass_through_decode():
    plain = DataConverter.default.to_payloads(["not encrypted"])
    assert await encrypting().decode(plain) == ["not encrypted"]


async def test_compression_round_trip_only_when_it_saves_bytes():
    converter = DataConverter(payload_codec=ZlibCompressionCodec())
    big, small, noise = "a" * 10_000, "tiny", os.urandom(4096)
    payloads = await converter.encode([big, small, noise])
    encodings = [p.metadata["encoding"] for p in payloads.payloads]
    assert encodings == [ENCODING_ZLIB, b"json/plain", b"binary/plain"]  # random bytes do not compress
    assert payloads.payloads[0].ByteSize() < 200
    assert await converter.decode(payloads) == [big, small, noise]


async def test_chain_compresses_then_encrypts():
    compression, encryption = ZlibCompressionCodec(), EncryptionCodec({"k1": KEY_1}, "k1")
    converter = DataConverter(payload_codec=[compression, encryption])
    assert isinstance(converter.payload_codec, CompositePayloadCodec)
    payloads = await converter.encode(["b" * 50_000])
    (outer,) = payloads.payloads
    assert outer.metadata["encoding"] == ENCODING_ENCRYPTED
    assert outer.ByteSize() < 1000  # compressed before it was encrypted (ciphertext does not compress)
    (inner,) = await encryption.decode([outer])
    assert inner.metadata["encoding"] == ENCODING_ZLIB
    assert await converter.decode(payloads) == ["b" * 50_000]


async def test_encode_message_reaches_every_nested_payload_in_one_call():
    plain = DataConverter.default
    codec = CountingCodec()
    converter = DataConverter(payload_codec=codec)
    error = ApplicationError("outer", "outer details")
    error.__cause__ = ApplicationError("inner", "inner details")
    task = request_response_pb2.PollWorkflowTaskQueueResponse()
    started = task.history.events.add(event_id=1)
    started.workflow_execution_started_event_attributes.input.CopyFrom(plain.to_payloads(["a", "b"]))
    failed = task.history.events.add(event_id=2)
    failed.activity_task_failed_event_attributes.failure.CopyFrom(plain.to_failure(error))
    marker = task.history.events.add(event_id=3)
    marker.marker_recorded_event_attributes.details["m"].CopyFrom(plain.to_payloads(["c"]))
    task.query.query_args.CopyFrom(plain.to_payloads(["q"]))
    assert len(_payload_visitor.collect_payloads(task)) == 6

    await converter.encode_message(task)
    assert codec.calls == 1
    assert all(p.metadata["tagged"] == b"1" for p in _payload_visitor.collect_payloads(task))
    await converter.decode_message(task)
    assert codec.calls == 2
    decoded_error = plain.from_failure(task.history.events[1].activity_task_failed_event_attributes.failure)
    assert decoded_error.details == ("outer details",)
    assert decoded_error.__cause__.details == ("inner details",)
    assert plain.from_payloads(task.history.events[0].workflow_execution_started_event_attributes.input) == ["a", "b"]


async def test_encode_message_covers_command_memo_and_failure_helpers():
    converter = encrypting()
    attrs = command_pb2.ContinueAsNewWorkflowExecutionCommandAttributes()
    attrs.memo["owner"].CopyFrom(DataConverter.default.to_payloads(["alice"]).payloads[0])
    attrs.input.CopyFrom(DataConverter.default.to_payloads(["next"]))
    await converter.encode_message(attrs)
    assert b"alice" not in attrs.SerializeToString() and b"next" not in attrs.SerializeToString()
    await converter.decode_message(attrs)
    assert DataConverter.default.from_payloads(attrs.input) == ["next"]

    failure = await converter.encode_failure(ApplicationError("boom", {"secret": 1}))
    assert failure.message == "boom"  # the message stays readable (Temporal encodes it only on request)
    assert b"secret" not in failure.SerializeToString()
    error = await converter.decode_failure(failure)
    assert error.details == ({"secret": 1},)
    assert b"secret" not in failure.SerializeToString()  # decode_failure leaves its argument as it was


async def test_without_a_codec_messages_are_not_walked(monkeypatch):
    def walk(*args):
        raise AssertionError("walked a message although no codec is set")

    monkeypatch.setattr(_payload_visitor, "rewrite_payloads", walk)
    event = history_pb2.HistoryEvent()
    event.workflow_execution_started_event_attributes.input.CopyFrom(DataConverter.default.to_payloads([1]))
    before = event.SerializeToString()
    await DataConverter.default.encode_message(event)
    await DataConverter.default.decode_message(event)
    assert event.SerializeToString() == before
    assert await DataConverter.default.decode(await DataConverter.default.encode([1, "x"])) == [1, "x"]


async def test_a_codec_returning_the_wrong_number_of_payloads_is_an_error():
    class Dropping(PayloadCodec):
        async def encode(self, payloads):
            return []

        async def decode(self, payloads):
            return []

    event = history_pb2.HistoryEvent()
    event.workflow_execution_started_event_attributes.input.CopyFrom(DataConverter.default.to_payloads([1]))
    with pytest.raises(ValueError, match="one payload for each payload"):
        await DataConverter(payload_codec=Dropping()).encode_message(event)
