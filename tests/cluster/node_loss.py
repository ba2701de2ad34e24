"""Node-loss runs on a cluster of their own (run by tests/cluster/test_node_loss.py in a subprocess, since a
process holds one Ray connection; also runnable by hand: ``python tests/cluster/node_loss.py service URL OUT``).

``service``: the service (PostgreSQL store) runs on node A; 200 workflows run; node A is killed
(``remove_node(allow_graceful=False)``); the actors restart on node B, reclaim their shards, and every workflow
completes once. ``gpu``: the GPU node is killed while a GPU activity runs on it; the attempt times out, and is
retried on a replica on a replacement GPU node added afterwards. Prints one JSON line of measurements.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.common import RetryPolicy
from rayflow.local_cluster import FAST_HEALTH_CHECKS
from rayflow.worker import Worker

SERVICE_LABELS = {"rayflow.io/service": "yes"}
GPU_LABELS = {"ray.io/accelerator-type": "A100", "rayflow.io/pool": "gpu"}
WORKFLOWS = 200
WAIT_S = 240.0


@activity.defn
async def step(path: str, workflow_id: str, name: str) -> str:
    with open(path, "a") as f:
        f.write(f"{workflow_id}:{name}\n")
    await asyncio.sleep(0.05)
    return f"{workflow_id}:{name}"


@workflow.defn
class TwoSteps:
    @workflow.run
    async def run(self, path: str) -> list[str]:
        wf_id = workflow.info().workflow_id
        return [
            await workflow.execute_activity(step, args=[path, wf_id, name], start_to_close_timeout=timedelta(seconds=10),
                                            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)))
            for name in ("a", "b")
        ]


@activity.defn(resource_label="gpu")
def train(path: str) -> dict:
    """Attempt 1 says where it runs, then trains for long (its node is killed meanwhile)."""
    info = activity.info()
    node = ray.get_runtime_context().get_node_id()
    with open(path, "a") as f:
        f.write(json.dumps({"attempt": info.attempt, "node_id": node}) + "\n")
    if info.attempt == 1:
        time.sleep(120)
    return {"attempt": info.attempt, "node_id": node, "gpus": ray.get_gpu_ids()}


@workflow.defn
class Train:
    @workflow.run
    async def run(self, path: str) -> dict:
        return await workflow.execute_activity(
            train, path, start_to_close_timeout=timedelta(seconds=8),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )


def head_node_id() -> str:
    return next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"])


async def wait_until(predicate, what: str, timeout: float = WAIT_S) -> float:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)
    return time.monotonic()


def range_ids(store: str) -> dict[int, int]:
    import psycopg

    from rayflow.persistence.url import parse_store_url

    url = parse_store_url(store)
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        rows = conn.execute(f'SELECT shard_id, range_id FROM "{url.schema}".shards').fetchall()
    return dict(rows)


async def service_node_loss(cluster: Cluster, store: str, out: Path) -> dict:
    node_a = cluster.add_node(num_cpus=1, labels=SERVICE_LABELS)
    client = await Client.connect(store=store, num_shards=4, service_label_selector=SERVICE_LABELS)
    node_b = cluster.add_node(num_cpus=1, labels=SERVICE_LABELS)
    cluster.wait_for_nodes()
    before = await client.describe_service()
    assert {a.node_id for a in before.actors} == {node_a.node_id}, before.actors
    effects = out / "effects.txt"
    on_head = {"num_cpus": 0, "label_selector": {"ray.io/node-id": head_node_id()}}
    async with Worker(client, task_queue="loss", workflows=[TwoSteps], activities=[step], replicas=2,
                      ray_actor_options=on_head):
        ids = [f"wf-{i:03d}" for i in range(WORKFLOWS)]
        handles = await asyncio.gather(*(client.start_workflow(TwoSteps.run, str(effects), id=wf_id, task_queue="loss",
                                                               task_timeout=timedelta(seconds=5)) for wf_id in ids))

        async def progressed() -> bool:
            return effects.exists() and len(effects.read_text().splitlines()) >= WORKFLOWS // 2

        await wait_until(progressed, "half the activities ran")
        done_before = len(effects.read_text().splitlines())
        ranges = range_ids(store)
        killed_at = time.monotonic()
        cluster.remove_node(node_a, allow_graceful=False)

        async def a_shard_moved() -> bool:
            return any(r > ranges[s] for s, r in (await asyncio.to_thread(range_ids, store)).items())

        first_write = await wait_until(a_shard_moved, "a moved shard wrote")

        async def all_moved() -> bool:
            actors = (await client.describe_service()).actors
            return all(a.state == "running" and a.node_id == node_b.node_id for a in actors)

        all_running = await wait_until(all_moved, "every service actor ran on node B")
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), WAIT_S)
        done_at = time.monotonic()
    wrong = [wf_id for wf_id, r in zip(ids, results, strict=True) if r != [f"{wf_id}:a", f"{wf_id}:b"]]
    completions = collections.Counter()
    for handle in handles:
        history = await handle.fetch_history()
        completions[sum(e.event_type.name == "WORKFLOW_EXECUTION_COMPLETED" for e in history.events)] += 1
    ran = collections.Counter(effects.read_text().splitlines())
    return {
        "workflows": WORKFLOWS,
        "done_before_kill": done_before,
        "wrong_results": wrong,
        "completed_once": completions[1],
        "missing_activities": len({f"{i}:{n}" for i in ids for n in "ab"} - set(ran)),
        "duplicate_activities": sum(c - 1 for c in ran.values()),
        "recovery_first_write_s": round(first_write - killed_at, 2),
        "recovery_all_actors_s": round(all_running - killed_at, 2),
        "drain_after_kill_s": round(done_at - killed_at, 2),
        "moved_to": node_b.node_id,
        "actors_after": [(a.name, a.node_id) for a in (await client.describe_service()).actors],
    }


async def gpu_node_loss(cluster: Cluster, store: str, out: Path) -> dict:
    gpu_1 = cluster.add_node(num_cpus=1, num_gpus=1, labels=GPU_LABELS)
    cluster.wait_for_nodes()
    client = await Client.connect(store=store, num_shards=2)
    record = out / "attempts.jsonl"
    async with (
        Worker(client, task_queue="gpu", workflows=[Train], ray_actor_options={"num_cpus": 0}),
        Worker(client, task_queue="gpu", activities=[train], ray_actor_options={"num_gpus": 1, "num_cpus": 0},
               accept_unlabelled=False),
    ):
        handle = await client.start_workflow(Train.run, str(record), id="train", task_queue="gpu")

        async def first_attempt_running() -> bool:
            return record.exists() and bool(record.read_text().strip())

        await wait_until(first_attempt_running, "attempt 1 ran on the GPU node")
        cluster.remove_node(gpu_1, allow_graceful=False)
        await asyncio.sleep(10)  # past the attempt's start-to-close timeout, with no GPU node in the cluster
        gpu_2 = cluster.add_node(num_cpus=1, num_gpus=1, labels=GPU_LABELS)
        result = await asyncio.wait_for(handle.result(), WAIT_S)
        history = await handle.fetch_history()
    attempts = [json.loads(line) for line in record.read_text().splitlines()]
    return {
        "result": result,
        "attempts": attempts,
        "gpu_1": gpu_1.node_id,
        "gpu_2": gpu_2.node_id,
        "events": [e.event_type.name for e in history.events],
    }


async def main(scenario: str, store: str, out: Path) -> dict:
    # RAYFLOW_DEFAULT_HEALTH_CHECKS=1 measures with Ray's own health-check settings (slower detection).
    system_config = {} if os.environ.get("RAYFLOW_DEFAULT_HEALTH_CHECKS") == "1" else FAST_HEALTH_CHECKS
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False,
                                                            "_system_config": system_config})
    try:
        ray.init(address=cluster.address)
        run = service_node_loss if scenario == "service" else gpu_node_loss
        return await run(cluster, store, out)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    measured = asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
    print("RESULT " + json.dumps(measured, default=str), flush=True)
