"""A client process's waits for runs to close: one long poll per shard, however many runs it awaits (internal).

``wait(namespace, workflow_id, run_id)`` registers the run with the shard (``watch_closes``) and resolves when
the shard's answer to this watcher's long poll names it. Registrations made while a long poll is in flight go in
a short call of their own (the poll in flight covers them: the shard keys waits by this watcher's id), so a lone
wait costs one call, as a direct long poll would, and a thousand waits cost a few. A wait whose caller gave up
is forgotten with the next call. When the shard restarted (it no longer knows this watcher), every awaited run is
registered again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rayflow.exceptions import ServiceUnavailableError, WorkflowNotFoundError

logger = logging.getLogger(__name__)

Key = tuple[str, str, str]
#: How long one poll waits on the shard before it is sent again.
POLL_S = 20.0
_EARLY_KEPT = 10_000


class _ShardWatch:
    """This watcher's waits on one shard."""

    def __init__(self, shard: Callable[[], Any], client_id: str) -> None:
        self._shard = shard
        self._client_id = client_id
        self._waiting: dict[Key, list[asyncio.Future[bytes]]] = {}
        self._unregistered: list[tuple[Key, asyncio.Future[bytes]]] = []
        self._forget: set[Key] = set()
        # Closes that came before this side knew the run id (the poll overtook the answer resolving "" to it).
        self._early: OrderedDict[Key, bytes] = OrderedDict()
        self._poller: asyncio.Task[None] | None = None
        self._registering: asyncio.Task[None] | None = None

    async def wait(self, key: Key) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._unregistered.append((key, future))
        self._kick()
        try:
            return await future
        finally:
            if not future.done():
                future.cancel()
            self._drop(future)

    def _drop(self, future: asyncio.Future[bytes]) -> None:
        """Forget a wait that ended (answered or abandoned); its run is forgotten once nobody awaits it."""
        for key, futures in list(self._waiting.items()):
            if future in futures:
                futures.remove(future)
                if not futures:
                    del self._waiting[key]
                    if future.cancelled():  # given up (an answered wait was deregistered by the shard)
                        self._forget.add(key)
                        self._kick()
        self._unregistered = [(k, f) for k, f in self._unregistered if f is not future]

    def _kick(self) -> None:
        loop = asyncio.get_running_loop()
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._loop(POLL_S, lambda: bool(self._waiting)))
        elif self._registering is None or self._registering.done():
            # A long poll is in flight and covers what this registers: a short call, no wait.
            self._registering = loop.create_task(self._loop(0.0, lambda: False))

    async def _loop(self, wait_s: float, keep_going: Callable[[], bool]) -> None:
        """Calls until nothing is left to send (and, for the long poll, nothing is awaited)."""
        while self._unregistered or self._forget or keep_going():
            try:
                await self._call(wait_s)
            except asyncio.CancelledError:
                raise
            except ServiceUnavailableError as err:
                logger.warning("waiting for workflow results: %s; retrying", err)
                await asyncio.sleep(1.0)
            except Exception as err:  # never leave a waiter hanging on a bug: fail them all
                logger.exception("waiting for workflow results failed")
                self._fail_all(err)
                return

    async def _call(self, wait_s: float) -> None:
        from rayflow.service._ray_calls import call

        batch, self._unregistered = self._unregistered, []
        forget, self._forget = list(self._forget), set()
        for key, future in batch:
            if not future.done():
                self._waiting.setdefault(key, []).append(future)
        register = [key for key, future in batch if not future.done()]
        try:
            answer = await call(
                self._shard().watch_closes.remote(self._client_id, register, forget, wait_s), "get workflow result"
            )
        except BaseException:
            self._unregistered = [(k, f) for k, f in batch if not f.done()] + self._unregistered
            for key, future in batch:
                futures = self._waiting.get(key)
                if futures and future in futures:
                    futures.remove(future)
                    if not futures:
                        del self._waiting[key]
            self._forget.update(forget)
            raise
        for key, data in answer["closed"]:
            self._resolve(tuple(key), data)
        for index, run_id, error in answer["resolved"]:
            key = register[index]
            futures = self._waiting.pop(key, [])
            if error is not None:
                for future in futures:
                    if not future.done():
                        future.set_exception(WorkflowNotFoundError(error))
                continue
            futures = [future for future in futures if not future.done()]
            if not futures:
                continue
            resolved = (key[0], key[1], run_id)  # "" resolved to the current run: awaited under its run id
            self._waiting.setdefault(resolved, []).extend(futures)
            early = self._early.pop(resolved, None)
            if early is not None:
                self._resolve(resolved, early)
        if answer["reregister"]:  # the shard restarted: it knows none of this watcher's runs
            self._unregistered.extend((key, f) for key, futures in self._waiting.items() for f in futures)
            self._waiting.clear()

    def _resolve(self, key: Key, data: bytes) -> None:
        futures = [future for future in self._waiting.pop(key, ()) if not future.done()]
        if not futures:  # not known under this run id yet: keep it for the answer that resolves it
            self._early[key] = data
            while len(self._early) > _EARLY_KEPT:
                self._early.popitem(last=False)
            return
        for future in futures:
            if not future.done():
                future.set_result(data)

    def _fail_all(self, error: BaseException) -> None:
        for futures in self._waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)
        for _, future in self._unregistered:
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
        self._unregistered.clear()


class CloseWatcher:
    """The waits of one client (a ``HistoryClient``) for runs to close, by shard.

    Args:
        shard_of_key: the shard index of ``(namespace, workflow_id)``.
        shard: the actor handle of a shard index.
    """

    def __init__(self, shard_of_key: Callable[[str, str], int], shard: Callable[[int], Any]) -> None:
        self._shard_of_key = shard_of_key
        self._shard = shard
        self._client_id = f"watcher-{uuid.uuid4().hex}"
        self._shards: dict[int, _ShardWatch] = {}

    async def wait(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        """The serialized closing event of the run (the current run for an empty run id), once it closed.

        Raises:
            WorkflowNotFoundError: no such run.
        """
        index = self._shard_of_key(namespace, workflow_id)
        watch = self._shards.get(index)
        if watch is None:
            watch = self._shards[index] = _ShardWatch(lambda: self._shard(index), self._client_id)
        return await watch.wait((namespace, workflow_id, run_id))
