"""The owner of large values kept in the Ray object store: the zero-copy path of external payloads.

A replica that writes a large value to the payload store also sends it here, and this actor ``ray.put``s it:
the object is then owned by this actor and outlives the replica (a Ray object dies with its owner, and Ray
2.56 removed ``ray.put(_owner=...)``). The value travels through the object store and is read here without a
copy (numpy, Arrow); the put makes the one copy that stays. Later
readers on the cluster ask this actor for the object by the payload's key and ``ray.get`` it, zero-copy for
numpy arrays. The durable copy is always written first; this is only a cache in front of it: objects are
dropped oldest first past ``max_bytes``, and everything is lost with the actor or the cluster, which readers
survive by reading the durable copy.

One actor per Ray cluster (keys are unique across services), detached, created by the first writer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import ray

NAME = "rayflow-payload-owner"
RAY_NAMESPACE = "rayflow-payloads"
#: Bytes of values it keeps alive at most (and at most a third of the cluster's object store memory).
DEFAULT_MAX_BYTES = 8 << 30

_handle: Any = None
_lock = threading.Lock()


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=1000)
class PayloadOwner:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._objects: OrderedDict[str, tuple[list[ray.ObjectRef], int]] = OrderedDict()
        self._bytes = 0
        # At most a third of the cluster's object store: a cache must not push other objects to disk.
        capacity = ray.cluster_resources().get("object_store_memory", 0)
        self._max_bytes = min(max_bytes, int(capacity / 3)) if capacity else max_bytes

    def keep(self, key: str, value: Any, size: int) -> None:
        """Keep a value of an external payload as an object of this actor's."""
        if key in self._objects:
            return
        self._objects[key] = ([ray.put(value)], size)
        del value
        self._bytes += size
        while self._bytes > self._max_bytes and len(self._objects) > 1:
            _, (_, dropped) = self._objects.popitem(last=False)
            self._bytes -= dropped

    def lookup(self, key: str) -> list[ray.ObjectRef] | None:
        entry = self._objects.get(key)
        if entry is None:
            return None
        self._objects.move_to_end(key)
        return entry[0]

    def forget(self, keys: list[str]) -> int:
        """Drop objects (their payloads were deleted by retention)."""
        dropped = 0
        for key in keys:
            entry = self._objects.pop(key, None)
            if entry is not None:
                self._bytes -= entry[1]
                dropped += 1
        return dropped

    def stats(self) -> dict[str, int]:
        return {"objects": len(self._objects), "bytes": self._bytes}


def owner(*, create: bool) -> Any:
    """The cluster's payload owner (created when ``create`` and missing; None if missing otherwise)."""
    global _handle
    with _lock:
        if _handle is not None:
            return _handle
        try:
            _handle = ray.get_actor(NAME, namespace=RAY_NAMESPACE)
        except ValueError:
            if not create:
                return None
            _handle = PayloadOwner.options(name=NAME, namespace=RAY_NAMESPACE, lifetime="detached",
                                           get_if_exists=True).remote()
        return _handle


def reset() -> None:
    """Forget the cached handle (the actor died: the next call looks it up again)."""
    global _handle
    with _lock:
        _handle = None
