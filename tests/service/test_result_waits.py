"""Waiting for results never starves the calls that make progress (issue 11, finding 4): a client's waits on a
shard share one long poll, so a driver gathering more results than the shard has call slots still completes
them; a wait the client abandoned is released."""

from __future__ import annotations

import asyncio

import ray

from rayflow import workflow
from rayflow.testing import WorkflowEnvironment
from rayflow.worker import Worker

WAIT_S = 90.0
SLOTS = 20
WAITERS = 25


@workflow.defn
class Gate:
    def __init__(self) -> None:
        self.open = False

    @workflow.signal
    def release(self) -> None:
        self.open = True

    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.wait_condition(lambda: self.open)
        return n


async def test_more_waiters_than_call_slots_all_complete(ray_session, task_queue):
    # One shard with 20 call slots; 25 results awaited at once, then every workflow is signalled.
    env = await WorkflowEnvironment.start_local(num_shards=1, actor_max_concurrency=SLOTS)
    try:
        client = env.client
        async with Worker(client, task_queue=task_queue, workflows=[Gate]):
            handles = [await client.start_workflow(Gate.run, i, id=f"gate-{i}", task_queue=task_queue)
                       for i in range(WAITERS)]
            results = asyncio.gather(*(h.result() for h in handles))
            await asyncio.sleep(1.0)  # every wait is parked on the shard
            await asyncio.wait_for(asyncio.gather(*(h.signal(Gate.release) for h in handles)), WAIT_S)
            assert await asyncio.wait_for(results, WAIT_S) == list(range(WAITERS))
    finally:
        await env.shutdown()


async def test_an_abandoned_wait_is_released(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Gate]):
        handle = await client.start_workflow(Gate.run, 7, id="abandoned", task_queue=task_queue)
        wait = asyncio.ensure_future(handle.result())
        await asyncio.sleep(0.5)
        wait.cancel()
        shards = [ray.get_actor(env.config.history_actor_name(i), namespace=env.config.ray_namespace)
                  for i in range(env.config.num_shards)]

        async def released() -> bool:
            stats = await asyncio.gather(*(s.memory_stats.remote() for s in shards))
            return sum(s["close_watches"] for s in stats) == 0

        deadline = asyncio.get_running_loop().time() + WAIT_S
        while not await released():
            assert asyncio.get_running_loop().time() < deadline, "the abandoned wait stayed registered"
            await asyncio.sleep(0.2)
        await handle.signal(Gate.release)
        assert await asyncio.wait_for(handle.result(), WAIT_S) == 7
