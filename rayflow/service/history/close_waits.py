"""Who waits for which run to close, on one history shard (internal; in memory, rebuilt by the clients).

A client process does not park one call per awaited workflow on the shard (each would hold one of the actor's
call slots until the run closes, and enough of them starve the calls that would close those runs). Its
``CloseWatcher`` (close_watcher.py) registers the runs it awaits under its client id and keeps one long poll
per shard in flight; this registry answers that poll with whichever registered runs closed. A client that stops
polling for ``LEASE_S`` is forgotten with its registrations; one that forgets a run (its caller gave up) says so
on its next call. After a shard restart the registry is empty: a poll from an unknown client is told to register
again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

__all__ = ["CloseWaits", "LEASE_S"]

Key = tuple[str, str, str]  # (namespace, workflow_id, run_id)

#: A client that has not called for this long is dropped with its registrations.
LEASE_S = 60.0


@dataclass(eq=False)
class _Client:
    keys: set[Key] = field(default_factory=set)
    ready: dict[Key, bytes] = field(default_factory=dict)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    last_seen: float = field(default_factory=time.monotonic)
    polls: int = 0


class CloseWaits:
    """Registrations of awaited runs by client id, and the long polls that report their closes."""

    def __init__(self) -> None:
        self._clients: dict[str, _Client] = {}
        self._by_key: dict[Key, set[str]] = {}

    def __len__(self) -> int:
        """How many (client, run) registrations are held."""
        return sum(len(clients) for clients in self._by_key.values())

    def knows(self, client_id: str) -> bool:
        return client_id in self._clients

    def client(self, client_id: str) -> _Client:
        self.sweep()
        entry = self._clients.get(client_id)
        if entry is None:
            entry = self._clients[client_id] = _Client()
        entry.last_seen = time.monotonic()
        return entry

    def register(self, client_id: str, key: Key) -> None:
        self.client(client_id).keys.add(key)
        self._by_key.setdefault(key, set()).add(client_id)

    def forget(self, client_id: str, keys: list[Key]) -> None:
        entry = self._clients.get(client_id)
        for key in keys:
            if entry is not None:
                entry.keys.discard(key)
                entry.ready.pop(key, None)
            self._unindex(client_id, key)

    def closed(self, key: Key, close_event: bytes) -> None:
        """The run closed: every client waiting for it gets ``close_event`` from its poll."""
        for client_id in self._by_key.pop(key, ()):
            entry = self._clients.get(client_id)
            if entry is not None and key in entry.keys:
                entry.keys.discard(key)
                entry.ready[key] = close_event
                entry.wakeup.set()

    async def poll(self, client_id: str, timeout_s: float) -> list[tuple[Key, bytes]]:
        """The registered runs of the client that closed, waiting up to ``timeout_s`` for one."""
        entry = self.client(client_id)
        entry.polls += 1
        try:
            if not entry.ready and timeout_s > 0:
                entry.wakeup.clear()
                try:
                    await asyncio.wait_for(entry.wakeup.wait(), timeout_s)
                except TimeoutError:
                    pass
            ready, entry.ready = entry.ready, {}
            return list(ready.items())
        finally:
            entry.polls -= 1
            entry.last_seen = time.monotonic()

    def sweep(self) -> None:
        """Drop clients that stopped calling (their process ended or stopped waiting) with what they held."""
        now = time.monotonic()
        for client_id, entry in list(self._clients.items()):
            if entry.polls == 0 and now - entry.last_seen > LEASE_S:
                del self._clients[client_id]
                for key in entry.keys:
                    self._unindex(client_id, key)

    def _unindex(self, client_id: str, key: Key) -> None:
        clients = self._by_key.get(key)
        if clients is not None:
            clients.discard(client_id)
            if not clients:
                del self._by_key[key]
