"""Crash tests for child workflows: the child's HistoryShard dies between the child's close and the parent
recording it; the parent still gets each result exactly once (the restarted shard finds the closed child
whose parent was not told yet, ``needs_attention``, and notifies the parent again; the parent's shard
records the close idempotently)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from datetime import timedelta

import ray

from rayflow import workflow
from rayflow.service.history.client import shard_of
from rayflow.worker import Worker

WAIT_S = 90.0  # upper bound for any wait below; never a timing assertion
#: Every test here runs on each store backend (tests/conftest.py).
STORE_BACKENDS = ["sqlite", "postgresql"]
CHILDREN = 5


@workflow.defn
class SleepyChild:
    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.sleep(timedelta(seconds=2.5 * (n + 1)))
        return n * 10


@workflow.defn
class StaggeredParent:
    @workflow.run
    async def run(self, child_ids: list[str]) -> list[int]:
        handles = [await workflow.start_child_workflow(SleepyChild.run, n, id=child_id)
                   for n, child_id in enumerate(child_ids)]
        return list(await asyncio.gather(*handles))


async def _closed(handle) -> bool:
    events = (await handle.fetch_history()).events
    return any(e.event_type.name == "WORKFLOW_EXECUTION_COMPLETED" for e in events)


async def test_child_shard_killed_at_each_child_completion(env, task_queue):
    client, config = env.client, env.config
    assert config.num_shards >= 2
    parent_id = "crash-parent"
    parent_shard = shard_of(client.namespace, parent_id, config.num_shards)
    # Children that live on another shard than their parent: killing theirs leaves the parent's alive.
    candidates = (f"crash-child-{i}" for i in range(1000))
    child_ids = [c for c in candidates if shard_of(client.namespace, c, config.num_shards) != parent_shard][:CHILDREN]
    async with Worker(client, task_queue=task_queue, workflows=[StaggeredParent, SleepyChild]):
        parent = await client.start_workflow(StaggeredParent.run, child_ids, id=parent_id, task_queue=task_queue)
        kills = 0
        for child_id in child_ids:
            child = client.get_workflow_handle(child_id)
            deadline = time.monotonic() + WAIT_S
            while True:  # poll the child's history; kill its shard as soon as the close is committed
                try:
                    if await _closed(child):
                        break
                except Exception:  # the child is not started yet
                    pass
                assert time.monotonic() < deadline, f"{child_id} did not complete"
                await asyncio.sleep(0.02)
            index = shard_of(client.namespace, child_id, config.num_shards)
            shard = ray.get_actor(config.history_actor_name(index), namespace=config.ray_namespace)
            pid = await shard.pid.remote()
            os.kill(pid, signal.SIGKILL)
            kills += 1
            assert await shard.ready.remote() >= 0
            assert await shard.pid.remote() != pid
        result = await asyncio.wait_for(parent.result(), WAIT_S)

    assert kills == CHILDREN
    assert result == [n * 10 for n in range(CHILDREN)]
    events = (await parent.fetch_history()).events
    counts = collections.Counter(e.event_type.name for e in events)
    assert counts["CHILD_WORKFLOW_EXECUTION_STARTED"] == CHILDREN
    assert counts["CHILD_WORKFLOW_EXECUTION_COMPLETED"] == CHILDREN
    assert counts["WORKFLOW_EXECUTION_COMPLETED"] == 1
    completed = [e.attributes["workflow_execution"]["workflow_id"] for e in events
                 if e.event_type.name == "CHILD_WORKFLOW_EXECUTION_COMPLETED"]
    assert sorted(completed) == sorted(child_ids)  # each child's result recorded exactly once
    for child_id in child_ids:
        description = await client.get_workflow_handle(child_id).describe()
        assert description.parent_id == parent_id
