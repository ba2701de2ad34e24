"""What the service holds in memory follows what is open or awaited, never everything ever seen (issue 11,
finding 6): closed runs leave the shard's maps, dispatched tasks are forgotten once started, finished updates
are trimmed in the stored state, and a stopped replica's sticky queue is swept from Matching."""

from __future__ import annotations

import asyncio
import uuid

import ray

from rayflow import workflow
from rayflow.persistence import open_store
from rayflow.proto.rayflow.v1 import internal_pb2
from rayflow.service.history.client import shard_of
from rayflow.service.history.updates import OUTCOMES_KEPT
from rayflow.worker import Worker
from tests.client.test_hello import Greeting, compose_greeting

WAIT_S = 90.0


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.stop = False

    @workflow.update
    def add(self, n: int) -> int:
        self.total += n
        return self.total

    @workflow.signal
    def finish(self) -> None:
        self.stop = True

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.stop)
        return self.total


async def shard_stats(env) -> list[dict[str, int]]:
    config = env.config
    shards = [ray.get_actor(config.history_actor_name(i), namespace=config.ray_namespace)
              for i in range(config.num_shards)]
    return await asyncio.gather(*(s.memory_stats.remote() for s in shards))


def total(stats: list[dict[str, int]], name: str) -> int:
    return sum(s[name] for s in stats)


async def test_closed_runs_and_started_tasks_leave_the_shards(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Greeting, Counter],
                      activities=[compose_greeting]):
        results = await asyncio.gather(*(
            env.client.execute_workflow(Greeting.run, str(i), id=f"g-{i}", task_queue=task_queue) for i in range(30)
        ))
        assert results == [f"Hello, {i}!" for i in range(30)]
        stats = await shard_stats(env)
        for name in ("open_executions", "current_runs", "locks", "awaiting_start", "dispatched_tasks",
                     "close_watches"):
            assert total(stats, name) == 0, (name, stats)
        waiting = [await env.client.start_workflow(Counter.run, id=f"c-{i}", task_queue=task_queue)
                   for i in range(5)]

        async def settled() -> bool:
            return total(await shard_stats(env), "awaiting_start") == 0

        deadline = asyncio.get_running_loop().time() + WAIT_S
        while not await settled():  # their first workflow tasks are started and completed
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        stats = await shard_stats(env)
        assert total(stats, "open_executions") == total(stats, "current_runs") == 5
        assert total(stats, "dispatched_tasks") == 0  # waiting for a signal: nothing for the redispatch loop
        for handle in waiting:
            await handle.signal(Counter.finish)
        assert await asyncio.gather(*(h.result() for h in waiting)) == [0] * 5
    assert total(await shard_stats(env), "open_executions") == 0


async def test_finished_updates_are_trimmed_and_still_deduplicated(env, task_queue):
    wf_id = f"counter-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[Counter]):
        handle = await env.client.start_workflow(Counter.run, id=wf_id, task_queue=task_queue)
        updates = 3 * OUTCOMES_KEPT
        for i in range(updates):
            assert await handle.execute_update(Counter.add, 1, id=f"add-{i}") == i + 1
        # The first update asked again by its id: answered from history, not run again.
        assert await handle.execute_update(Counter.add, 1, id="add-0") == 1
        store = open_store(env.config.store)
        try:
            record = await store.get_execution(shard_of(env.client.namespace, wf_id, env.config.num_shards),
                                               env.client.namespace, wf_id, handle.run_id)
        finally:
            await store.close()
        state = internal_pb2.MutableState.FromString(record.state)
        with_outcome = [u for u in state.updates.values() if u.HasField("result") or u.HasField("failure")]
        assert len(state.updates) == updates and len(with_outcome) == OUTCOMES_KEPT
        await handle.signal(Counter.finish)
        assert await handle.result() == updates


async def test_a_stopped_replicas_sticky_queue_is_swept(env, task_queue):
    worker = Worker(env.client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting])
    await worker.start()
    try:
        await env.client.execute_workflow(Greeting.run, "sticky", id="sticky-1", task_queue=task_queue)
        matching = ray.get_actor(env.config.matching_actor_name(0), namespace=env.config.ray_namespace)
        assert (await matching.memory_stats.remote())["sticky_partitions"] >= 1
    finally:
        await worker.shutdown()
    assert (await matching.memory_stats.remote())["sticky_partitions"] == 0
