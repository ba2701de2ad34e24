"""Worker pools: several pools on one queue, flow control by slots, a second driver finding the service."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import ray

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.common import EventType
from rayflow.worker import Worker


@activity.defn
def hold(seconds: float) -> list[float]:
    start = time.time()
    time.sleep(seconds)
    return [start, time.time()]


@activity.defn
async def where() -> int:
    return os.getpid()


@workflow.defn
class Parallel:
    @workflow.run
    async def run(self, count: int) -> list[list[float]]:
        return list(await asyncio.gather(*(
            workflow.execute_activity(hold, 0.5, start_to_close_timeout=timedelta(seconds=30)) for _ in range(count)
        )))


@workflow.defn
class WhereDidItRun:
    @workflow.run
    async def run(self) -> dict:
        pid = await workflow.execute_activity(where, start_to_close_timeout=timedelta(seconds=10))
        return {"activity_pid": pid, "info": {"workflow_type": workflow.info().workflow_type,
                                              "task_queue": workflow.info().task_queue}}


async def test_replica_polls_only_with_free_slots(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Parallel], activities=[hold],
                      max_concurrent_activities=2):
        spans = await env.client.execute_workflow(Parallel.run, 6, id="slots", task_queue=task_queue)
    # At no moment did more than two activities run on the replica.
    moments = sorted({s for s, _ in spans} | {e for _, e in spans})
    for moment in moments:
        running = sum(1 for start, end in spans if start <= moment < end)
        assert running <= 2, (moment, spans)
    assert len(spans) == 6


async def test_two_pools_serve_one_queue_and_nothing_runs_in_the_driver(env, task_queue):
    client = env.client
    async with (
        Worker(client, task_queue=task_queue, workflows=[WhereDidItRun]) as workflow_pool,
        Worker(client, task_queue=task_queue, activities=[where]) as activity_pool,
    ):
        handle = await client.start_workflow(WhereDidItRun.run, id="two-pools", task_queue=task_queue)
        result = await handle.result()
    assert result["activity_pid"] != os.getpid()
    assert result["info"] == {"workflow_type": "WhereDidItRun", "task_queue": task_queue}
    events = (await handle.fetch_history()).events
    workflow_identities = {e.attributes["identity"] for e in events if e.event_type == EventType.WORKFLOW_TASK_STARTED}
    activity_identities = {e.attributes["identity"] for e in events if e.event_type == EventType.ACTIVITY_TASK_STARTED}
    assert workflow_identities == set(workflow_pool.identities)
    assert activity_identities == set(activity_pool.identities)
    assert str(os.getpid()) not in {i.split("@")[0] for i in workflow_identities | activity_identities}


async def test_second_driver_finds_the_service_and_its_workflows(ray_session, tmp_path, task_queue):
    ray_namespace = f"rayflow-second-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(data_dir=tmp_path / "data", ray_namespace=ray_namespace, num_shards=2)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[WhereDidItRun], activities=[where]):
            await client.execute_workflow(WhereDidItRun.run, id="seen-by-other", task_queue=task_queue)
        # Another process attaches to the same Ray and, with no data_dir, to the running service.
        script = textwrap.dedent(f"""
            import asyncio
            from rayflow.client import Client
            async def main():
                client = await Client.connect(ray_namespace={ray_namespace!r})
                handle = client.get_workflow_handle("seen-by-other")
                print("RESULT", (await handle.result())["info"]["workflow_type"], client.service_config.data_dir)
            asyncio.run(main())
        """)
        env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"RESULT WhereDidItRun {tmp_path / 'data'}" in done.stdout
    finally:
        from rayflow.service.bootstrap import stop_service

        await stop_service(client.service_config)
