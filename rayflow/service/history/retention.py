"""Retention: each history shard deletes its closed runs once their namespace's retention passed (internal).

Every ``ServiceConfig.retention_sweep_interval_s`` (60 s by default) the shard lists, per namespace of its
executions, the closed runs whose ``close_time + retention`` is past and that no longer need attention (a parent
to tell, children to close), oldest close first, a batch at a time. For a batch it:

1. reads the external payloads those runs referenced (the shard's payload index: every key their events and
   states ever held, written with them: payload_refs.py);
2. keeps the keys another stored run still references, on any shard (a child's result in its open parent's
   history, a continue-as-new input in the next run's, a value passed on by identity);
3. deletes the other objects from their payload stores (an object already missing is skipped) and tells the
   payload owner to drop its cached copies (best effort);
4. deletes the runs (execution rows, histories, index entries, and the current-execution row that points at one
   of them, so that the workflow id can be used again), fenced by the shard's range id, under the workflow ids'
   locks. The store refuses a run that is RUNNING or needs attention.

Objects go before the runs: a sweep that fails midway leaves runs whose objects are (partly) gone, which the next
sweep deletes, never objects that nothing records. Errors are logged and the next sweep tries again. A closed run
is not kept in the shard's memory (the execution cache holds open runs only): nothing else to drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from rayflow.payload_store import PayloadStore

if TYPE_CHECKING:
    from rayflow.service.history.context import ShardContext

logger = logging.getLogger(__name__)

Key = tuple[str, str, str]
#: Runs deleted per store call (and per round of payload deletions).
BATCH = 100
_FORGET_TIMEOUT_S = 10.0


class RetentionSweeper:
    """The shard's retention loop (``loop``) and one sweep of it (``sweep``)."""

    def __init__(self, ctx: ShardContext) -> None:
        self._ctx = ctx
        self._stores: dict[str, PayloadStore] = {}
        self._sweeping = asyncio.Lock()  # the loop's sweeps and requested ones (sweep_retention) one at a time
        self.runs_deleted = 0
        self.payloads_deleted = 0

    async def loop(self) -> None:
        interval = self._ctx.config.retention_sweep_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # the store or a payload store is away: the next sweep tries again
                logger.warning("history shard %d: retention sweep failed; retrying in %.0f s", self._ctx.index,
                               interval, exc_info=True)

    async def sweep(self, at: float | None = None) -> int:
        """Delete the runs whose retention passed by ``at`` (epoch seconds, default now); how many were."""
        async with self._sweeping:
            return await self._sweep(time.time() if at is None else at)

    async def _sweep(self, at: float) -> int:
        ctx = self._ctx
        total = 0
        for namespace in await ctx.store.list_namespaces(ctx.index):
            cutoff = at - await ctx.retention.seconds(namespace)
            while True:
                rows = await ctx.store.list_closed_executions(ctx.index, namespace, cutoff, limit=BATCH)
                if not rows:
                    break
                deleted = await self._expire([(r.namespace, r.workflow_id, r.run_id) for r in rows])
                total += deleted
                if len(rows) < BATCH or not deleted:
                    break
        if total:
            logger.info("history shard %d: retention deleted %d closed runs", ctx.index, total)
        return total

    async def _expire(self, keys: list[Key]) -> int:
        ctx = self._ctx
        refs = {payload_key: store for _, store, payload_key in await ctx.store.list_payload_refs(ctx.index, keys)}
        doomed = await self._unshared(refs, set(keys))
        by_store: dict[str, list[str]] = {}
        for payload_key, store in refs.items():
            if payload_key in doomed:
                by_store.setdefault(store, []).append(payload_key)
        for url, payload_keys in by_store.items():
            self.payloads_deleted += await asyncio.to_thread(self._payload_store(url).delete, payload_keys)
        if doomed:
            await _forget_cached(sorted(doomed))
        async with contextlib.AsyncExitStack() as locks:
            for workflow in sorted({key[:2] for key in keys}):  # sorted: no two sweeps' orders can deadlock
                await locks.enter_async_context(ctx.cache.locked(*workflow))
            deleted = await ctx.store.delete_executions(ctx.index, ctx.range_id, keys)
        self.runs_deleted += len(deleted)
        return len(deleted)

    async def _unshared(self, refs: dict[str, str], expiring: set[Key]) -> set[str]:
        """The payload keys of ``refs`` that no stored run outside ``expiring`` references, on any shard."""
        ctx = self._ctx
        if not refs:
            return set()
        shared: set[str] = set()
        for shard in range(ctx.config.num_shards):  # a run's key lives on one shard; its references anywhere
            for payload_key, run in await ctx.store.find_payload_references(shard, list(refs)):
                if tuple(run) not in expiring:
                    shared.add(payload_key)
        return set(refs) - shared

    def _payload_store(self, url: str) -> PayloadStore:
        store = self._stores.get(url)
        if store is None:
            store = self._stores[url] = PayloadStore(url)
        return store


async def _forget_cached(keys: list[str]) -> None:
    """Drop the payload owner's cached objects of deleted payloads (best effort: it is only a cache)."""
    from rayflow.service import payload_owner  # lazy: it defines a Ray actor class

    try:
        handle = await asyncio.to_thread(payload_owner.owner, create=False)
        if handle is not None:
            await asyncio.wait_for(handle.forget.remote(keys), _FORGET_TIMEOUT_S)
    except Exception as err:
        logger.info("retention: the payload owner did not drop %d cached payloads (%s)", len(keys), err)
        with contextlib.suppress(Exception):
            payload_owner.reset()  # a dead owner's handle: look it up again next time
