"""External payloads: large payloads go to a payload store, history keeps a reference (internal).

``DataConverter`` calls this module at its edges, after the payload codec:

- Encoding. A large Python value (not JSON, not bytes) converted without a codec becomes a *pending* payload:
  pickled with protocol 5, its big buffers kept out of band (numpy, Arrow: views of the value's own memory,
  no copy). ``externalize`` then writes it to the store buffer by buffer, and also hands the value to the
  cluster's payload owner (``rayflow.service.payload_owner``), an actor that outlives the replica and keeps it
  in the Ray object store. Any other payload over the threshold (codec output, big bytes) is written as it is. Writes run
  in parallel threads and finish before the message carrying the references leaves the process, so an
  acknowledged result always has its durable copy.
- Decoding. A reference to codec output is read back before the codec decodes (``resolve``); a reference to a
  pickled value is loaded when the value is needed (``load``): from the Ray object store when its object is
  still there (numpy arrays then come read-only, without a copy), else from the durable copy, checked
  against its SHA-256. A value that came from (or went to) the store is remembered by identity, so passing it
  on (a workflow handing an activity's result to the next activity) reuses its reference: no new write.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import cloudpickle

from rayflow.exceptions import PayloadError
from rayflow.payload_store import ENCODING_EXTERNAL, ExternalRef, PayloadStore, PayloadStoreError
from rayflow.proto.rayflow.v1 import message_pb2

logger = logging.getLogger(__name__)

ENCODING_PENDING = b"binary/rayflow-pending"
_TOKEN = "rayflow-pending-token"
#: Pending values waiting for ``externalize`` (token -> (value, header, out-of-band buffers)).
_PENDING: dict[str, tuple[Any, bytes, list[pickle.PickleBuffer]]] = {}
#: Values loaded from, or written to, the store: id -> (weak reference to the value, its reference payload).
_KNOWN: dict[int, tuple[weakref.ref[Any], bytes]] = {}
_LOCK = threading.Lock()
_STORES: dict[str, PayloadStore] = {}


def is_external(payload: message_pb2.Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING_EXTERNAL


def ref_of(payload: message_pb2.Payload) -> ExternalRef:
    return ExternalRef.from_json(payload.data)


def _ref_payload(ref: ExternalRef) -> message_pb2.Payload:
    return message_pb2.Payload(metadata={"encoding": ENCODING_EXTERNAL}, data=ref.to_json())


# -- encoding ----------------------------------------------------------------------------------------
def pending(value: Any, threshold: int) -> message_pb2.Payload | None:
    """The payload of a value to pickle: a known value's reference, a pending payload when it is large, or
    None (small: the caller converts it as usual)."""
    known = _known(value)
    if known is not None:
        return known
    buffers: list[pickle.PickleBuffer] = []
    try:
        header = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception:
        return None  # the usual conversion raises the clear error
    size = len(header) + sum(b.raw().nbytes for b in buffers)
    if size <= threshold:
        if not buffers:  # what the usual conversion would write: not pickled twice
            return message_pb2.Payload(metadata={"encoding": b"binary/cloudpickle"}, data=header)
        return None
    token = uuid.uuid4().hex
    with _LOCK:
        _PENDING[token] = (value, header, buffers)
    return message_pb2.Payload(metadata={"encoding": ENCODING_PENDING, _TOKEN: token.encode()})


def materialize(payloads: Sequence[message_pb2.Payload]) -> list[message_pb2.Payload]:
    """Pending payloads as ordinary cloudpickle ones (before a codec, or without a store)."""
    out = []
    for payload in payloads:
        entry = _take(payload)
        if entry is None:
            out.append(payload)
        else:
            out.append(message_pb2.Payload(metadata={"encoding": b"binary/cloudpickle"},
                                           data=cloudpickle.dumps(entry[0])))
    return out


def _take(payload: message_pb2.Payload) -> tuple[Any, bytes, list[pickle.PickleBuffer]] | None:
    if payload.metadata.get("encoding") != ENCODING_PENDING:
        return None
    token = payload.metadata[_TOKEN].decode()
    with _LOCK:
        entry = _PENDING.pop(token, None)
    if entry is None:
        raise PayloadError("a large value was sent twice from one payload: encode it again")
    return entry


async def externalize(payloads: Sequence[message_pb2.Payload], store: PayloadStore, threshold: int,
                      max_size: int | None) -> list[message_pb2.Payload]:
    """Write what is large to the store (in parallel); references in its place."""
    out: list[message_pb2.Payload] = list(payloads)
    jobs = []
    keeps = []
    for index, payload in enumerate(payloads):
        entry = _take(payload)
        if entry is not None:  # the durable copy, and beside it the object-store copy
            key = store.new_key()
            jobs.append((index, asyncio.to_thread(_write_value, store, key, entry, max_size)))
            keeps.append(_keep_in_object_store(key, entry[0], len(entry[1]) + sum(b.raw().nbytes for b in entry[2])))
        elif not is_external(payload) and payload.ByteSize() > threshold:
            jobs.append((index, asyncio.to_thread(_write_payload, store, payload, max_size)))
    if not jobs:
        return out
    results, _ = await asyncio.gather(asyncio.gather(*(job for _, job in jobs)), asyncio.gather(*keeps))
    for (index, _), (ref, value) in zip(jobs, results, strict=True):
        payload = _ref_payload(ref)
        out[index] = payload
        if value is not None:
            _remember(value, payload)
    return out


def _check_size(size: int, max_size: int | None, what: str) -> None:
    if max_size is not None and size > max_size:
        raise PayloadError(f"{what} is {size} bytes, over max_external_payload_size ({max_size}); send a smaller "
                           f"value, or raise the limit on the client (Client.connect(max_external_payload_size=))")


def _write_value(store: PayloadStore, key: str, entry: tuple[Any, bytes, list[pickle.PickleBuffer]],
                 max_size: int | None) -> tuple[ExternalRef, Any]:
    value, header, buffers = entry
    views = [b.raw() for b in buffers]
    _check_size(len(header) + sum(v.nbytes for v in views), max_size, f"a value of type {type(value).__qualname__}")
    size, digest = store.write_pickle5(key, header, views)
    return ExternalRef(store.url, key, size, digest, "pickle5", "binary/cloudpickle"), value


def _write_payload(store: PayloadStore, payload: message_pb2.Payload, max_size: int | None
                   ) -> tuple[ExternalRef, None]:
    data = payload.SerializeToString()
    _check_size(len(data), max_size, "a payload")
    key = store.new_key()
    size, digest = store.write(key, "payload", [data])
    encoding = payload.metadata.get("encoding", b"").decode(errors="replace")
    return ExternalRef(store.url, key, size, digest, "payload", encoding), None


# -- decoding ----------------------------------------------------------------------------------------
async def resolve(payloads: Sequence[message_pb2.Payload], store: PayloadStore | None) -> list[message_pb2.Payload]:
    """References to stored payloads (codec output, big bytes) replaced by those payloads, read in parallel;
    references to pickled values stay (``load`` reads them when the value is needed)."""
    out = list(payloads)
    jobs = [(i, asyncio.to_thread(_read_payload, _store_for(ref_of(p), store), ref_of(p)))
            for i, p in enumerate(payloads) if is_external(p) and ref_of(p).format == "payload"]
    if jobs:
        for (index, _), payload in zip(jobs, await asyncio.gather(*(job for _, job in jobs)), strict=True):
            out[index] = payload
    return out


def _read_payload(store: PayloadStore, ref: ExternalRef) -> message_pb2.Payload:
    data = store.read(ref)
    try:
        return message_pb2.Payload.FromString(data)  # type: ignore[arg-type]
    except Exception as err:
        raise PayloadStoreError(f"external payload {ref.key} in {ref.store} is not a payload ({err})") from err


def load(payload: message_pb2.Payload, store: PayloadStore | None) -> Any:
    """The value of a reference to a pickled value: from the Ray object store if it is there, else from the
    durable copy. Blocking (workflow code runs in its own thread; clients call it in a thread)."""
    ref = ref_of(payload)
    if ref.format != "pickle5":
        raise PayloadError(f"external payload {ref.key} was not resolved before conversion (format {ref.format})")
    value = _from_object_store(ref)
    if value is _MISSING:
        header, buffers = _store_for(ref, store).read(ref)  # type: ignore[misc]
        try:
            value = pickle.loads(header, buffers=buffers)
        except Exception as err:
            raise PayloadError(f"external payload {ref.key} could not be unpickled ({type(err).__name__}: {err}); "
                               f"the classes it holds must be importable where it is decoded") from err
    _remember(value, payload)
    return value


def _store_for(ref: ExternalRef, store: PayloadStore | bool | None) -> PayloadStore:
    if store and store.url == ref.store:
        return store
    with _LOCK:
        found = _STORES.get(ref.store)
        if found is None:
            found = _STORES[ref.store] = PayloadStore(ref.store)
    return found


# -- values by identity ------------------------------------------------------------------------------
def _remember(value: Any, payload: message_pb2.Payload) -> None:
    try:
        handle = weakref.ref(value, _forget(id(value)))
    except TypeError:
        return  # lists, dicts: not weakly referenceable; passing them on writes them again
    with _LOCK:
        _KNOWN[id(value)] = (handle, payload.SerializeToString())


def _forget(key: int) -> Any:
    def forget(_: Any) -> None:
        with _LOCK:
            _KNOWN.pop(key, None)
    return forget


def _known(value: Any) -> message_pb2.Payload | None:
    with _LOCK:
        entry = _KNOWN.get(id(value))
    if entry is None or entry[0]() is not value:
        return None
    payload = message_pb2.Payload.FromString(entry[1])
    ref = ref_of(payload)
    try:  # retention may have deleted it since (its runs expired): then the value is written anew
        if not _store_for(ref, None).exists(ref.key):
            return None
    except Exception:
        return None
    return payload


# -- the Ray object store ----------------------------------------------------------------------------
_MISSING = object()
_LOOKUP_TIMEOUT_S = 10.0
#: Bytes per second below which an object-store read is given up for the durable copy (a slow node link).
_SLOWEST_TRANSFER_BPS = 50e6


async def _keep_in_object_store(key: str, value: Any, size: int) -> None:
    """Also put the value in the Ray object store, owned by the payload owner (never only there)."""
    try:
        import ray

        if not ray.is_initialized():
            return
        from rayflow.service.payload_owner import owner

        handle = owner(create=True)
        await handle.keep.remote(key, value, size)
    except Exception as err:  # the durable copy is written: the fast path is optional
        _reset_owner()
        logger.info("external payload %s: not kept in the Ray object store (%s)", key, err)


def _from_object_store(ref: ExternalRef) -> Any:
    try:
        import ray

        if not ray.is_initialized():
            return _MISSING
        from rayflow.service.payload_owner import owner

        handle = owner(create=False)
        if handle is None:
            return _MISSING
        # ObjectRef.future(), not ray.get: this may run in a thread of an async actor (no blocking warning).
        found = handle.lookup.remote(ref.key).future().result(timeout=_LOOKUP_TIMEOUT_S)
        if not found:
            return _MISSING
        # A cache must not stall a task: past a generous transfer time the durable copy answers instead.
        return found[0].future().result(timeout=_LOOKUP_TIMEOUT_S + ref.size / _SLOWEST_TRANSFER_BPS)
    except Exception as err:  # owner gone, object evicted or lost: the durable copy answers
        _reset_owner()
        logger.info("external payload %s: not in the Ray object store (%s); reading the durable copy", ref.key, err)
        return _MISSING


def _reset_owner() -> None:
    try:
        from rayflow.service.payload_owner import reset

        reset()
    except Exception:
        pass
