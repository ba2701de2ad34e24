"""Payload and failure conversion.

A payload is bytes plus metadata whose ``encoding`` says how to read them. The default converter
writes ``binary/null`` for ``None``, ``binary/plain`` for ``bytes``, ``json/plain`` for values made
only of dicts with string keys, lists, strings, numbers and booleans, and ``binary/cloudpickle``
for every other Python object (dataclasses, numpy arrays, tuples, ...). Conversion runs only in
clients and workers: the service stores the bytes and never decodes them.

A ``PayloadCodec`` (as in Temporal) then rewrites whole payloads: ``EncryptionCodec`` (AES-256-GCM)
and ``ZlibCompressionCodec`` ship here, and a list of codecs chains them. Clients and workers run the
codec at their edge, around every request and task, so the service and its store only ever see
what the codec produced (ciphertext, for encryption).
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import json
import os
import traceback
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cloudpickle
from google.protobuf.message import Message

from rayflow import _external_payloads as _external
from rayflow import _payload_visitor
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
from rayflow.payload_store import PayloadStore, open_payload_store
from rayflow.proto.rayflow.v1 import message_pb2

#: Payloads above this many bytes go to the payload store (Temporal's external storage default).
DEFAULT_EXTERNAL_PAYLOAD_THRESHOLD = 256 * 1024

__all__ = [
    "CompositePayloadCodec",
    "DataConverter",
    "DefaultPayloadConverter",
    "ENCODING_BINARY",
    "ENCODING_CLOUDPICKLE",
    "ENCODING_ENCRYPTED",
    "ENCODING_JSON",
    "ENCODING_NULL",
    "ENCODING_ZLIB",
    "EncryptionCodec",
    "PayloadCodec",
    "ZlibCompressionCodec",
]

ENCODING_NULL = b"binary/null"
ENCODING_BINARY = b"binary/plain"
ENCODING_JSON = b"json/plain"
ENCODING_CLOUDPICKLE = b"binary/cloudpickle"
ENCODING_ENCRYPTED = b"binary/encrypted"
ENCODING_ZLIB = b"binary/zlib"
#: Metadata key naming the key an encrypted payload was encrypted with.
METADATA_ENCRYPTION_KEY_ID = "encryption-key-id"

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


# One encoder for every JSON payload: ``json.dumps`` with options builds a new encoder on each call.
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# Copying a payload that already holds its metadata is far cheaper than filling the map field anew.
_TEMPLATES = {
    encoding: message_pb2.Payload(metadata={"encoding": encoding})
    for encoding in (ENCODING_NULL, ENCODING_BINARY, ENCODING_JSON, ENCODING_CLOUDPICKLE)
}


def _payload(encoding: bytes, data: bytes = b"") -> message_pb2.Payload:
    """A payload with ``{"encoding": encoding}`` as its metadata and ``data``."""
    payload = message_pb2.Payload()
    payload.CopyFrom(_TEMPLATES[encoding])
    if data:
        payload.data = data
    return payload


class DefaultPayloadConverter:
    """Converts single Python values to and from ``Payload`` protos."""

    def to_payload(self, value: Any) -> message_pb2.Payload:
        if value is None:
            return _payload(ENCODING_NULL)
        if isinstance(value, (bytes, bytearray, memoryview)) and type(value) in (bytes, bytearray, memoryview):
            return _payload(ENCODING_BINARY, bytes(value))
        if _is_json_value(value):
            return _payload(ENCODING_JSON, _JSON_ENCODER.encode(value).encode())
        try:
            data = cloudpickle.dumps(value)
        except Exception as err:
            raise PayloadError(
                f"a value of type {type(value).__qualname__} cannot be serialized: it is not JSON-able "
                f"and cloudpickle failed ({type(err).__name__}: {err}). Pass JSON-able values, bytes, "
                f"or objects that can be pickled (no open files, locks, sockets or generators)."
            ) from err
        return _payload(ENCODING_CLOUDPICKLE, data)

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


class PayloadCodec(abc.ABC):
    """Rewrites whole payloads after conversion (encryption, compression), as Temporal's ``PayloadCodec``.

    ``encode`` and ``decode`` take a list of payloads and return one payload for each, in order.
    ``decode`` must pass through unchanged the payloads it did not encode (look at their ``encoding``).
    """

    @abc.abstractmethod
    async def encode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        """Encode payloads (one result per payload, same order)."""

    @abc.abstractmethod
    async def decode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        """Undo ``encode`` (one result per payload, same order); other payloads come back as they are."""


class CompositePayloadCodec(PayloadCodec):
    """Chains codecs: ``encode`` runs them in the order given, ``decode`` in reverse.

    Args:
        codecs: e.g. ``[ZlibCompressionCodec(), EncryptionCodec(...)]`` (compress, then encrypt).
    """

    def __init__(self, codecs: Sequence[PayloadCodec]) -> None:
        self.codecs = tuple(codecs)
        for codec in self.codecs:
            if not isinstance(codec, PayloadCodec):
                raise TypeError(f"{codec!r} is not a PayloadCodec: subclass rayflow.converter.PayloadCodec")

    async def encode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        result = list(payloads)
        for codec in self.codecs:
            result = await codec.encode(result)
        return result

    async def decode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        result = list(payloads)
        for codec in reversed(self.codecs):
            result = await codec.decode(result)
        return result


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as err:
        raise ImportError(
            "EncryptionCodec needs the 'cryptography' package: pip install 'rayflow[encryption]'"
        ) from err
    return AESGCM


class EncryptionCodec(PayloadCodec):
    """Encrypts each payload with AES-256-GCM; the key id travels in the payload's metadata.

    The whole original payload (its metadata too) is the plaintext, so the service sees only
    ``encoding=binary/encrypted``, ``encryption-key-id`` and ciphertext. To rotate keys, add the new
    key, make it ``key_id`` and keep the old ones in ``keys``: payloads written with an old key still
    decode. Needs the ``cryptography`` package (``pip install 'rayflow[encryption]'``).

    Args:
        keys: key id -> 32-byte key (e.g. ``os.urandom(32)``); every key that may have to decode.
        key_id: the id of the key new payloads are encrypted with (must be in ``keys``).
    """

    _NONCE_SIZE = 12

    def __init__(self, keys: Mapping[str, bytes], key_id: str) -> None:
        aesgcm = _aesgcm()
        if key_id not in keys:
            raise ValueError(f"key_id {key_id!r} is not in keys (ids: {', '.join(sorted(keys)) or 'none'})")
        for kid, key in keys.items():
            if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
                raise ValueError(
                    f"key {kid!r} must be 32 bytes (AES-256), got "
                    f"{len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__}; "
                    f"make one with os.urandom(32)"
                )
        self.key_id = key_id
        self._keys = {kid: bytes(key) for kid, key in keys.items()}
        self._ciphers = {kid: aesgcm(key) for kid, key in self._keys.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to worker replicas (other processes): the keys travel, the (unpicklable) ciphers are rebuilt.
        return (EncryptionCodec, (self._keys, self.key_id))

    async def encode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        cipher = self._ciphers[self.key_id]
        key_id = self.key_id.encode()
        out = []
        for payload in payloads:
            nonce = os.urandom(self._NONCE_SIZE)
            # The key id is authenticated data: a payload cannot be passed off as another key's.
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            out.append(
                message_pb2.Payload(
                    metadata={"encoding": ENCODING_ENCRYPTED, METADATA_ENCRYPTION_KEY_ID: key_id}, data=data
                )
            )
        return out

    async def decode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING_ENCRYPTED:
                out.append(payload)
                continue
            raw_id = payload.metadata.get(METADATA_ENCRYPTION_KEY_ID, b"")
            key_id = raw_id.decode(errors="replace")
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise PayloadError(
                    f"a payload is encrypted with key id {key_id!r}, which this process does not have "
                    f"(its keys: {', '.join(sorted(self._ciphers))}); give this worker/client that key: "
                    f"EncryptionCodec(keys={{..., {key_id!r}: <key>}}, key_id=...)"
                )
            nonce, ciphertext = payload.data[: self._NONCE_SIZE], payload.data[self._NONCE_SIZE :]
            try:
                plaintext = cipher.decrypt(nonce, ciphertext, raw_id)
            except Exception as err:  # cryptography's InvalidTag: wrong key bytes under that id, or altered data
                raise PayloadError(
                    f"a payload encrypted with key id {key_id!r} could not be decrypted ({type(err).__name__}): "
                    f"the key under that id is not the one it was encrypted with, or the data was altered"
                ) from err
            out.append(message_pb2.Payload.FromString(plaintext))
        return out


class ZlibCompressionCodec(PayloadCodec):
    """Compresses payloads with zlib when that saves bytes (``encoding=binary/zlib``).

    Args:
        min_size: payloads smaller than this many serialized bytes stay as they are (default 256).
        level: zlib compression level, 0-9 (default 6).
    """

    def __init__(self, min_size: int = 256, level: int = 6) -> None:
        self.min_size = min_size
        self.level = level

    async def encode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        out = []
        for payload in payloads:
            raw = payload.SerializeToString()
            if len(raw) >= self.min_size:
                compressed = zlib.compress(raw, self.level)
                if len(compressed) < len(raw):
                    out.append(message_pb2.Payload(metadata={"encoding": ENCODING_ZLIB}, data=compressed))
                    continue
            out.append(payload)
        return out

    async def decode(self, payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING_ZLIB:
                out.append(payload)
                continue
            try:
                out.append(message_pb2.Payload.FromString(zlib.decompress(payload.data)))
            except Exception as err:
                raise PayloadError(
                    f"a binary/zlib payload could not be decompressed ({type(err).__name__}: {err})"
                ) from err
        return out


@dataclass(frozen=True)
class DataConverter:
    """Turns values into payloads and exceptions into failures, and back.

    The sync methods (``to_payloads``, ``from_failure``, ...) only convert; the async ones
    (``encode``, ``decode``, ``encode_message``, ...) also run the codec, and are what clients and
    workers use at their edge.

    Args:
        payload_converter: converts single values (default: ``DefaultPayloadConverter``).
        payload_codec: rewrites payloads after conversion (default: none); a list or tuple of codecs
            is chained (encode in order, decode in reverse).
        payload_store: where payloads over ``external_payload_threshold`` go (after the codec), replaced in
            history by a reference: a ``rayflow.payload_store.PayloadStore``, a directory or an fsspec URL
            (default None: ``Client`` sets its default, see ``Client.connect(payload_store=...)``; False: none,
            payloads over the service's limit fail).
        external_payload_threshold: bytes above which a payload is stored externally (default 256 KiB, as
            Temporal's external storage; 0 stores every payload).
        max_external_payload_size: the largest payload the store may take (default: no limit).
    """

    payload_converter: DefaultPayloadConverter = field(default_factory=DefaultPayloadConverter)
    payload_codec: PayloadCodec | None = None
    payload_store: PayloadStore | bool | None = None
    external_payload_threshold: int = DEFAULT_EXTERNAL_PAYLOAD_THRESHOLD
    max_external_payload_size: int | None = None

    #: The shared default converter (set below the class).
    default: ClassVar[DataConverter]

    def __post_init__(self) -> None:
        codec = self.payload_codec
        if isinstance(codec, (list, tuple)):
            object.__setattr__(self, "payload_codec", CompositePayloadCodec(codec) if codec else None)
        elif codec is not None and not isinstance(codec, PayloadCodec):
            raise TypeError(f"payload_codec must be a PayloadCodec (or a list of them), got {codec!r}")
        object.__setattr__(self, "payload_store", open_payload_store(self.payload_store))
        if not isinstance(self.external_payload_threshold, int) or self.external_payload_threshold < 0:
            raise ValueError(f"external_payload_threshold must be an int >= 0, got {self.external_payload_threshold!r}")
        object.__setattr__(self, "_pickle_large", bool(self.payload_store) and self.payload_codec is None
                           and type(self.payload_converter) is DefaultPayloadConverter)

    def with_payload_store(self, store: PayloadStore | str | bool | None, threshold: int | None = None,
                           max_size: int | None = None) -> DataConverter:
        """This converter with a payload store (and threshold / maximum, when given)."""
        return dataclasses.replace(
            self, payload_store=open_payload_store(store),
            external_payload_threshold=self.external_payload_threshold if threshold is None else threshold,
            max_external_payload_size=self.max_external_payload_size if max_size is None else max_size)

    # -- with the codec (async) -----------------------------------------------------------------
    async def encode(self, values: Sequence[Any]) -> message_pb2.Payloads:
        """Convert values, run the codec's ``encode`` on them, then store the large ones externally."""
        payloads = self.to_payloads(values)
        if (self.payload_codec is not None or self.payload_store) and payloads.payloads:
            payloads = message_pb2.Payloads(payloads=await self._encode_payloads(list(payloads.payloads)))
        return payloads

    async def decode(self, payloads: message_pb2.Payloads | None) -> list[Any]:
        """Read external payloads back, run the codec's ``decode``, then convert them to values."""
        if payloads is None:
            return []
        if payloads.payloads:
            payloads = message_pb2.Payloads(payloads=await self._decode_payloads(list(payloads.payloads)))
        return await self.from_payloads_async(payloads)

    async def from_payloads_async(self, payloads: message_pb2.Payloads | None) -> list[Any]:
        """``from_payloads``, in a thread when a value must be loaded from the payload store."""
        if payloads is not None and any(_external.is_external(p) for p in payloads.payloads):
            return await asyncio.to_thread(self.from_payloads, payloads)
        return self.from_payloads(payloads)

    async def _encode_payloads(self, payloads: list[message_pb2.Payload]) -> list[message_pb2.Payload]:
        if self.payload_codec is not None:
            payloads = await self.payload_codec.encode(_external.materialize(payloads))
        if self.payload_store:
            payloads = await _external.externalize(payloads, self.payload_store, self.external_payload_threshold,
                                                   self.max_external_payload_size)
        else:
            payloads = _external.materialize(payloads)
        return payloads

    async def _decode_payloads(self, payloads: list[message_pb2.Payload], resolve: bool = True
                               ) -> list[message_pb2.Payload]:
        if resolve:
            payloads = await _external.resolve(payloads, self.payload_store)
        if self.payload_codec is not None:
            payloads = await self.payload_codec.decode(payloads)
        return payloads

    async def encode_failure(self, error: BaseException) -> message_pb2.Failure:
        """``to_failure``, then the codec on every payload of the failure (details, its causes')."""
        failure = self.to_failure(error)
        await self.encode_message(failure)
        return failure

    async def decode_failure(self, failure: message_pb2.Failure) -> FailureError:
        """The codec's ``decode`` on a copy of the failure, then ``from_failure``."""
        if self.payload_codec is not None:
            copy = message_pb2.Failure()
            copy.CopyFrom(failure)
            await self.decode_message(copy)
            failure = copy
        return self.from_failure(failure)

    async def encode_message(self, message: Message) -> None:
        """Run the codec's ``encode`` on every ``Payload`` anywhere inside ``message``, then store the large ones
        externally, in place (one call)."""
        if self.payload_codec is not None or self.payload_store:
            await _payload_visitor.rewrite_payloads(message, self._encode_payloads)

    async def decode_message(self, message: Message, *, resolve_external: bool = True) -> None:
        """Read external payloads back and run the codec's ``decode`` on every ``Payload`` anywhere inside
        ``message``, in place (one call). References to pickled values stay until their value is converted
        (``from_payloads``); ``resolve_external=False`` leaves every reference (a history to show)."""
        if self.payload_codec is not None or self.payload_store:
            await _payload_visitor.rewrite_payloads(
                message, lambda payloads: self._decode_payloads(list(payloads), resolve_external))

    # -- values ---------------------------------------------------------------------------------
    def to_payloads(self, values: Sequence[Any]) -> message_pb2.Payloads:
        """Encode values; raises ``PayloadError`` naming the position of a value that cannot be encoded."""
        payloads = []
        for index, value in enumerate(values):
            if self._pickle_large and value is not None and not isinstance(value, (bytes, bytearray, memoryview)) \
                    and not _is_json_value(value):
                large = _external.pending(value, self.external_payload_threshold)
                if large is not None:
                    payloads.append(large)
                    continue
            try:
                payloads.append(self.payload_converter.to_payload(value))
            except PayloadError as err:
                raise PayloadError(f"value {index + 1} of {len(values)}: {err}") from err.__cause__
        return message_pb2.Payloads(payloads=payloads)

    def from_payloads(self, payloads: message_pb2.Payloads | None) -> list[Any]:
        if payloads is None:
            return []
        return [_external.load(p, self.payload_store) if _external.is_external(p)
                else self.payload_converter.from_payload(p) for p in payloads.payloads]

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
                failure.message,
                namespace=child.namespace,
                workflow_id=child.workflow_id,
                run_id=child.run_id,
                workflow_type=child.workflow_type,
                initiated_event_id=child.initiated_event_id,
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
