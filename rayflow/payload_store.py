"""Payload stores: where payloads too large for history live, behind a small reference (a claim check).

A store is a directory or any fsspec URL (``file://``, ``s3://``, ``gs://``, ``az://``...; the backend library,
e.g. ``s3fs``, is an optional extra). fsspec is used rather than hand-written clients: one well-kept
library for every object store. Objects are written once under a fresh key and never changed; each
reference carries the object's size and SHA-256, checked on every read.

An object is one of two formats:
- ``pickle5``: a Python value pickled with protocol 5, its large buffers (numpy arrays, Arrow buffers) written
  out of band one after the other, never joined into one big bytes object; read back into one buffer each;
- ``payload``: a serialized ``Payload`` (what a payload codec produced: the store holds only its output).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from rayflow.exceptions import ApplicationError

__all__ = ["ExternalRef", "PayloadStore", "PayloadStoreError", "open_payload_store"]

ENCODING_EXTERNAL = b"binary/rayflow-external"
_MAGIC = {"pickle5": b"RFP5", "payload": b"RFPB"}
_CHUNK = 8 << 20


class PayloadStoreError(ApplicationError):
    """An external payload cannot be read (missing, corrupted) or written: non-retryable, names the object."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="PayloadStoreError", non_retryable=True)


@dataclass(frozen=True)
class ExternalRef:
    """What history keeps of an external payload: where it is, how big, its digest, its format."""

    store: str
    key: str
    size: int
    sha256: str
    format: str  # "pickle5" | "payload"
    encoding: str = ""  # the payload's own encoding (for display)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @staticmethod
    def from_json(data: bytes) -> ExternalRef:
        return ExternalRef(**json.loads(data))

    def __str__(self) -> str:
        return f"<external {_size(self.size)} sha256:{self.sha256[:8]}… in {self.store.rstrip('/')}/{self.key}>"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


class PayloadStore:
    """A directory or fsspec URL holding external payloads; picklable (opens its filesystem lazily).

    Args:
        url: ``/abs/dir``, ``file:///abs/dir`` or any fsspec URL.
        storage_options: passed to fsspec (credentials, endpoint...).
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        if not url:
            raise ValueError("PayloadStore: a URL or directory is required")
        if "://" not in url:
            url = "file://" + os.path.abspath(url)
        self.url = url.rstrip("/")
        self.storage_options = storage_options
        self._fs: Any = None
        self._root = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.url, self.storage_options))

    def __repr__(self) -> str:
        return f"PayloadStore({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PayloadStore) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    @property
    def fs(self) -> Any:
        if self._fs is None:
            try:
                import fsspec
            except ImportError as err:  # pragma: no cover - fsspec is a dependency
                raise ImportError("external payloads need fsspec: pip install fsspec") from err
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.url, **self.storage_options)
            except (ImportError, ValueError) as err:
                raise PayloadStoreError(
                    f"payload store {self.url}: cannot open it ({err}); install its fsspec backend (e.g. "
                    f"pip install 'rayflow[s3]' for s3://) or check the URL"
                ) from err
        return self._fs

    def _path(self, key: str) -> str:
        self.fs  # noqa: B018 - sets _root
        return f"{self._root.rstrip('/')}/{key}"

    @staticmethod
    def new_key() -> str:
        key = uuid.uuid4().hex
        return f"{key[:2]}/{key}"

    # -- writing -----------------------------------------------------------------------------------
    def write(self, key: str, fmt: str, parts: Sequence[bytes | memoryview]) -> tuple[int, str]:
        """Write the parts of one object (format header first); (size, sha256). Blocking: run in a thread."""
        digest = hashlib.sha256()
        views = [memoryview(part).cast("B") for part in (_MAGIC[fmt], *parts)]
        size = sum(view.nbytes for view in views)
        path = self._path(key)
        # Hash in a second thread while this one writes (both release the GIL on big buffers).
        hasher = threading.Thread(target=lambda: [digest.update(view) for view in views], daemon=True)
        hasher.start()
        try:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with self.fs.open(path + ".partial", "wb") as out:
                for view in views:
                    out.write(view)
            self.fs.mv(path + ".partial", path)
            hasher.join()
        except PayloadStoreError:
            raise
        except Exception as err:
            raise PayloadStoreError(f"payload store {self.url}: writing {key} failed: {type(err).__name__}: {err}; "
                                    f"check that this process can write there") from err
        return size, digest.hexdigest()

    def write_pickle5(self, key: str, header: bytes, buffers: Sequence[memoryview]) -> tuple[int, str]:
        parts: list[bytes | memoryview] = [struct.pack("<IQ", len(buffers), len(header)), header]
        for buffer in buffers:
            parts += [struct.pack("<Q", buffer.nbytes), buffer]
        return self.write(key, "pickle5", parts)

    # -- reading -----------------------------------------------------------------------------------
    def read(self, ref: ExternalRef) -> tuple[bytes, list[bytearray]] | bytes:
        """The object: ``(header, buffers)`` for pickle5, the payload bytes for payload. Blocking."""
        try:
            with self.fs.open(self._path(ref.key), "rb") as stream:
                reader = _CheckedReader(stream)
                if reader.read(4) != _MAGIC.get(ref.format):
                    raise self._corrupt(ref, "it does not start as a rayflow payload object")
                if ref.format == "payload":
                    data = bytes(reader.read(ref.size - 4))
                    result: Any = data
                else:
                    count, header_len = struct.unpack("<IQ", reader.read(12))
                    header = bytes(reader.read(header_len))
                    buffers = []
                    for _ in range(count):
                        (length,) = struct.unpack("<Q", reader.read(8))
                        buffers.append(reader.read(length))
                    result = (header, buffers)
                reader.finish(self, ref)
                return result
        except EOFError as err:
            raise self._corrupt(ref, str(err)) from err
        except FileNotFoundError as err:
            raise PayloadStoreError(
                f"external payload {ref.key} is missing from payload store {ref.store} (deleted after its "
                f"workflow's retention, or a store this process cannot see?)"
            ) from err
        except PayloadStoreError:
            raise
        except Exception as err:
            raise PayloadStoreError(f"payload store {ref.store}: reading {ref.key} failed: {type(err).__name__}: "
                                    f"{err}; check that this process can read it") from err

    def _corrupt(self, ref: ExternalRef, why: str) -> PayloadStoreError:
        return PayloadStoreError(f"external payload {ref.key} in {ref.store} is corrupted: {why}")

    def delete(self, keys: Sequence[str]) -> int:
        """Delete objects (missing ones are skipped); how many were deleted. Blocking."""
        deleted = 0
        for key in keys:
            try:
                self.fs.rm(self._path(key))
                deleted += 1
            except FileNotFoundError:
                pass
        return deleted

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    async def delete_async(self, keys: Sequence[str]) -> int:
        return await asyncio.to_thread(self.delete, keys)


class _CheckedReader:
    """Reads exactly what is asked, hashing as it goes; ``finish`` checks size and digest."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int) -> bytearray:
        out = bytearray(n)
        view = memoryview(out)
        got = 0
        while got < n:
            chunk = self._stream.readinto(view[got:got + _CHUNK]) if hasattr(self._stream, "readinto") else None
            if chunk is None:
                data = self._stream.read(min(_CHUNK, n - got))
                chunk = len(data)
                view[got:got + chunk] = data
            if not chunk:
                raise EOFError(f"the object ends after {self.size + got} bytes")
            got += chunk
        self._digest.update(view)
        self.size += n
        return out

    def finish(self, store: PayloadStore, ref: ExternalRef) -> None:
        if self._stream.read(1):
            raise store._corrupt(ref, f"it is longer than the {ref.size} bytes its reference says")
        if self.size != ref.size or self._digest.hexdigest() != ref.sha256:
            raise store._corrupt(ref, f"its SHA-256 is {self._digest.hexdigest()[:12]}…, the reference says "
                                      f"{ref.sha256[:12]}…")


def _rebuild(url: str, storage_options: dict[str, Any]) -> PayloadStore:
    return PayloadStore(url, **storage_options)


def open_payload_store(value: PayloadStore | str | bool | None) -> PayloadStore | bool | None:
    """A store from a URL or directory; None (not chosen) and False (explicitly none) as they are."""
    if value is None or value is False:
        return value
    if value is True or value == "":
        raise ValueError(f"payload_store must be a PayloadStore, a directory or a URL, None or False; got {value!r}")
    return value if isinstance(value, PayloadStore) else PayloadStore(value)
