"""The replica's workflow cache: an instance in use by a task is never closed under it.

The end-to-end tests drive the race deterministically with files under ``tmp_path`` (the replica is
another process): workflow A's code blocks its workflow task on the workflow thread until the test
releases it, and a pass-through payload codec holds workflow B's answer just before B is cached, so the
test decides when B's caching (which evicts A, the least recently used) happens: while A's task runs.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.common import EventType
from rayflow.converter import DataConverter, PayloadCodec
from rayflow.worker import Worker
from rayflow.worker.workflow_cache import WorkflowCache

HOLD_ENCODE = "__hold_encode__"


def _hold(directory: str, name: str) -> None:
    """Block the calling thread until the test creates ``<name>-release`` (announced by ``<name>-waiting``)."""
    Path(directory, f"{name}-waiting").touch()
    deadline = time.monotonic() + 60  # never hang the suite if the test itself fails
    while not os.path.exists(os.path.join(directory, f"{name}-release")) and time.monotonic() < deadline:
        time.sleep(0.01)


class HoldEncodeCodec(PayloadCodec):
    """Passes payloads through; encoding one that carries HOLD_ENCODE waits until the test releases it."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    async def encode(self, payloads):
        if any(HOLD_ENCODE.encode() in p.data for p in payloads):
            Path(self.directory, "encode-waiting").touch()
            while not os.path.exists(os.path.join(self.directory, "encode-release")):
                await asyncio.sleep(0.01)
        return list(payloads)

    async def decode(self, payloads):
        return list(payloads)


@activity.defn
async def measure(value: str) -> int:
    return len(value)


@workflow.defn
class HeldInTask:
    """Its second workflow task (the signal's) blocks in workflow code until the test releases it."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, directory: str) -> str:
        await workflow.wait_condition(lambda: self.go)
        _hold(directory, "a")  # on the workflow thread, inside the task
        return "a done"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn
class CachedLater:
    """Its first task's answer (a ScheduleActivityTask carrying HOLD_ENCODE) is held by the codec."""

    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(measure, HOLD_ENCODE, start_to_close_timeout=timedelta(seconds=10))


async def _wait_until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _exists(path: Path) -> bool:
    return path.exists()


async def _completed_tasks(handle) -> int:
    return sum(e.event_type == EventType.WORKFLOW_TASK_COMPLETED for e in (await handle.fetch_history()).events)


def _types(history) -> list[EventType]:
    return [e.event_type for e in history.events]


async def _result(handle, timeout: float = 30.0):
    try:
        return await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        names = [t.name for t in _types(await handle.fetch_history())]
        raise AssertionError(f"workflow {handle.id} never completed; its history: {names}") from None


async def test_eviction_while_a_task_runs_waits_for_the_task(env, task_queue, tmp_path):
    directory = str(tmp_path)
    worker_client = Client(env.config, namespace=env.client.namespace,
                           data_converter=DataConverter(payload_codec=HoldEncodeCodec(directory)), identity="cache-test")
    async with Worker(worker_client, task_queue=task_queue, workflows=[HeldInTask, CachedLater], activities=[measure],
                      max_cached_workflows=1):
        a = await env.client.start_workflow(HeldInTask.run, directory, id="cache-a", task_queue=task_queue)
        await _wait_until(lambda: _completed_tasks(a), "A's first task (A is now the one cached workflow)")
        b = await env.client.start_workflow(CachedLater.run, id="cache-b", task_queue=task_queue)
        await _wait_until(lambda: _exists(tmp_path / "encode-waiting"), "B's answer to be held before B is cached")
        await a.signal(HeldInTask.proceed)
        await _wait_until(lambda: _exists(tmp_path / "a-waiting"), "A's second task to run on its cached instance")
        (tmp_path / "encode-release").touch()  # B is cached now: the cache is over its size and A is the LRU
        await _wait_until(lambda: _completed_tasks(b), "B's first task to complete")
        (tmp_path / "a-release").touch()
        assert await _result(a) == "a done"
        assert await _result(b) == len(HOLD_ENCODE)
    history = await a.fetch_history()
    # The task that ran while A was evicted answered with its command: nothing was lost, nothing retried.
    assert _types(history)[-2:] == [EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert EventType.WORKFLOW_TASK_FAILED not in _types(history)
    assert EventType.WORKFLOW_TASK_TIMED_OUT not in _types(history)


async def test_stop_with_a_task_running_lets_it_answer(env, task_queue, tmp_path):
    directory = str(tmp_path)
    worker = Worker(env.client, task_queue=task_queue, workflows=[HeldInTask])
    async with worker:
        a = await env.client.start_workflow(HeldInTask.run, directory, id="cache-stop", task_queue=task_queue)
        await _wait_until(lambda: _completed_tasks(a), "A's first task (A is now cached)")
        await a.signal(HeldInTask.proceed)
        await _wait_until(lambda: _exists(tmp_path / "a-waiting"), "A's second task to run on its cached instance")
        # The replica stops (its graceful wait ends) while A's task still runs on the workflow thread.
        await worker.replica_handles[0].stop.remote(0.2)
        (tmp_path / "a-release").touch()
        assert await _result(a) == "a done"
    history = await a.fetch_history()
    assert _types(history)[-2:] == [EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert EventType.WORKFLOW_TASK_FAILED not in _types(history)
    assert EventType.WORKFLOW_TASK_TIMED_OUT not in _types(history)


# -- the cache alone -----------------------------------------------------------------------------------


class FakeInstance:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_an_instance_in_use_is_evicted_only_after_its_task() -> None:
    cache = WorkflowCache(1)
    a, b = FakeInstance("a"), FakeInstance("b")
    with cache.lease("a") as lease:
        lease.adopt(a)
        assert lease.keep()
    with cache.lease("a") as running_a:  # A's next task runs...
        assert running_a.instance is a
        with cache.lease("b") as lease:  # ...while B's task caches B: A is the least recently used
            lease.adopt(b)
            assert lease.keep()
        assert a.closed == 0  # evicted, but its task still runs on it
        with cache.lease("a") as lease:
            assert lease.instance is None  # no later task finds it
        assert not running_a.keep()  # evicted for good
    assert a.closed == 1 and b.closed == 0 and len(cache) == 1


def test_an_evicted_instance_is_not_leased_again_and_closes_once() -> None:
    cache = WorkflowCache(10)
    a = FakeInstance("a")
    with cache.lease("a") as lease:
        lease.adopt(a)
        lease.keep()
    first = cache.lease("a")
    second = cache.lease("a")  # a query beside the task
    cache.evict("a")
    with cache.lease("a") as later:
        assert later.instance is None
    first.__exit__(None, None, None)
    assert a.closed == 0
    second.__exit__(None, None, None)
    assert a.closed == 1
    cache.evict("a")
    assert a.closed == 1


def test_adopting_a_replay_replaces_the_stale_instance() -> None:
    cache = WorkflowCache(10)
    stale, fresh = FakeInstance("stale"), FakeInstance("fresh")
    with cache.lease("r") as lease:
        lease.adopt(stale)
        lease.keep()
    with cache.lease("r") as lease:
        lease.adopt(fresh)
        assert stale.closed == 1
        lease.keep()
    with cache.lease("r") as lease:
        assert lease.instance is fresh
    assert fresh.closed == 0


def test_an_instance_not_kept_is_closed_when_its_task_ends() -> None:
    cache = WorkflowCache(0)
    a = FakeInstance("a")
    with cache.lease("a") as lease:
        lease.adopt(a)
        assert not lease.keep()  # size 0: nothing is cached
        assert a.closed == 0
    assert a.closed == 1 and len(cache) == 0


def test_closed_cache_keeps_running_instances_until_their_tasks_end() -> None:
    cache = WorkflowCache(10)
    idle, busy = FakeInstance("idle"), FakeInstance("busy")
    for run_id, instance in (("idle", idle), ("busy", busy)):
        with cache.lease(run_id) as lease:
            lease.adopt(instance)
            lease.keep()
    with cache.lease("busy") as lease:
        cache.close()  # stop() with a task running
        assert idle.closed == 1 and busy.closed == 0
        assert not lease.keep()  # a stopped worker caches nothing more
    assert busy.closed == 1 and len(cache) == 0
