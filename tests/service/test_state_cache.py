"""A history shard keeps a bounded cache of mutable states (issue 12, "memory at rest scales"): with room for 3
states per shard, many more workflows wait, take signals and updates, fire timers and survive a shard restart,
each read back from the store when its state was evicted, and the shard's memory shows the cache bounded."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

import pytest
import ray

from rayflow import constants, workflow
from rayflow.client import Client
from rayflow.converter import DataConverter
from rayflow.service import bootstrap
from rayflow.service.config import ServiceConfig
from rayflow.testing import WorkflowEnvironment
from rayflow.worker import Worker

WAIT_S = 90.0
CACHE_SIZE = 3
WAITERS = 12  # 6 per shard on average: twice what a shard may hold


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.released: str | None = None
        self.added = 0

    @workflow.signal
    def release(self, value: str) -> None:
        self.released = value

    @workflow.update
    def add(self, n: int) -> int:
        self.added += n
        return self.added

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released is not None)
        return f"{self.released}+{self.added}"


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=seconds))
        return "woke"


@pytest.fixture
async def small_cache_env(ray_session, tmp_path):
    """A service whose shards hold at most ``CACHE_SIZE`` mutable states each."""
    config = ServiceConfig(ray_namespace=f"state-cache-{uuid.uuid4().hex[:10]}", store=f"sqlite://{tmp_path / 'data'}",
                           num_shards=2, num_matching=1, mutable_state_cache_size=CACHE_SIZE)
    config = await bootstrap.ensure_service(config)
    client = Client(config, namespace=constants.DEFAULT_NAMESPACE, data_converter=DataConverter.default,
                    identity=f"{os.getpid()}@test")
    environment = WorkflowEnvironment(client, owns_data_dir=False)
    yield environment
    await environment.shutdown()


def shards(env) -> list:
    config = env.config
    return [ray.get_actor(config.history_actor_name(i), namespace=config.ray_namespace)
            for i in range(config.num_shards)]


async def shard_stats(env) -> list[dict[str, int]]:
    return await asyncio.gather(*(s.memory_stats.remote() for s in shards(env)))


async def settled(env, predicate) -> list[dict[str, int]]:
    """The shards' stats once ``predicate(stats)`` holds (fails after ``WAIT_S``)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not predicate(stats := await shard_stats(env)):
        assert asyncio.get_running_loop().time() < deadline, stats
        await asyncio.sleep(0.1)
    return stats


def at_rest(stats: list[dict[str, int]]) -> bool:
    return all(s["awaiting_start"] == 0 and s["locks"] == 0 for s in stats)


async def event_types(handle) -> list[str]:
    return [e.event_type.name for e in (await handle.fetch_history()).events]


async def start_waiters(env, task_queue: str, count: int) -> list:
    handles = [await env.client.start_workflow(Waiter.run, id=f"waiter-{i}", task_queue=task_queue)
               for i in range(count)]
    # Each has run its first workflow task (started, task scheduled, started, completed): it waits.
    for handle in handles:
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while (await handle.describe()).history_length < 4:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    return handles


def assert_bounded(stats: list[dict[str, int]]) -> None:
    for s in stats:
        assert s["cache_capacity"] == CACHE_SIZE
        assert s["open_executions"] <= CACHE_SIZE, stats
        assert s["current_runs"] <= CACHE_SIZE, stats


async def test_more_waiting_workflows_than_the_cache_holds(small_cache_env, task_queue):
    env = small_cache_env
    async with Worker(env.client, task_queue=task_queue, workflows=[Waiter]):
        handles = await start_waiters(env, task_queue, WAITERS)
        stats = await settled(env, at_rest)
        assert_bounded(stats)
        assert sum(s["evictions"] for s in stats) >= WAITERS - 2 * CACHE_SIZE
        assert sum(s["timers"] for s in stats) == 0  # waiting for a signal: no timer either
        # An update and a describe of the first (long evicted) ones: read back from the store.
        assert await handles[0].execute_update(Waiter.add, 5, id="add-5") == 5
        assert (await handles[1].describe()).status.name == "RUNNING"
        for i, handle in enumerate(handles):
            await handle.signal(Waiter.release, f"v{i}")
        results = await asyncio.gather(*(asyncio.wait_for(h.result(), WAIT_S) for h in handles))
        assert results == ["v0+5", *(f"v{i}+0" for i in range(1, WAITERS))]
    for i, handle in enumerate(handles):
        types = await event_types(handle)
        assert types[0] == "WORKFLOW_EXECUTION_STARTED"
        assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
        assert types.count("WORKFLOW_EXECUTION_SIGNALED") == 1
        assert types.count("WORKFLOW_EXECUTION_UPDATE_COMPLETED") == (1 if i == 0 else 0)
        assert "WORKFLOW_TASK_FAILED" not in types and "WORKFLOW_TASK_TIMED_OUT" not in types
    stats = await shard_stats(env)
    assert sum(s["open_executions"] + s["current_runs"] + s["timers"] for s in stats) == 0


async def test_an_evicted_workflows_timer_fires(small_cache_env, task_queue):
    env = small_cache_env
    async with Worker(env.client, task_queue=task_queue, workflows=[Waiter, Sleeper]):
        sleeper = await env.client.start_workflow(Sleeper.run, 4.0, id="sleeper", task_queue=task_queue)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while "TIMER_STARTED" not in await event_types(sleeper):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        waiters = await start_waiters(env, task_queue, WAITERS)  # push the sleeper's state out of its shard
        stats = await shard_stats(env)
        assert_bounded(stats)
        assert sum(s["timers"] for s in stats) >= 1  # the sleeper's timer, kept without its state
        assert await asyncio.wait_for(sleeper.result(), WAIT_S) == "woke"
        assert "TIMER_FIRED" in await event_types(sleeper)
        for handle in waiters:
            await handle.signal(Waiter.release, "x")
        assert await asyncio.gather(*(h.result() for h in waiters)) == ["x+0"] * WAITERS


async def test_a_restarted_shard_completes_its_evicted_workflows(small_cache_env, task_queue):
    env = small_cache_env
    async with Worker(env.client, task_queue=task_queue, workflows=[Waiter, Sleeper]):
        waiters = await start_waiters(env, task_queue, WAITERS)
        sleeper = await env.client.start_workflow(Sleeper.run, 3.0, id="sleeper", task_queue=task_queue)
        await settled(env, at_rest)
        pids = [await shard.pid.remote() for shard in shards(env)]
        for shard in shards(env):
            ray.kill(shard, no_restart=False)  # Ray restarts it: it reloads page by page from SQLite
        for shard, pid in zip(shards(env), pids, strict=True):
            assert await shard.ready.remote() <= CACHE_SIZE
            assert await shard.pid.remote() != pid
        assert_bounded(await shard_stats(env))
        assert await asyncio.wait_for(sleeper.result(), WAIT_S) == "woke"  # its timer was rebuilt
        for i, handle in enumerate(waiters):
            await handle.signal(Waiter.release, f"r{i}")
        results = await asyncio.gather(*(asyncio.wait_for(h.result(), WAIT_S) for h in waiters))
        assert results == [f"r{i}+0" for i in range(WAITERS)]
    for handle in waiters:
        types = await event_types(handle)
        assert types.count("WORKFLOW_EXECUTION_STARTED") == 1
        assert types.count("WORKFLOW_EXECUTION_SIGNALED") == 1
        assert types[-1] == "WORKFLOW_EXECUTION_COMPLETED"
