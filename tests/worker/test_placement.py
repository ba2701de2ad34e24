"""A pool Ray cannot place fails within its placement timeout, naming the missing resource or label."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import ray

from rayflow import activity
from rayflow.exceptions import WorkerPlacementError
from rayflow.worker import Worker
from rayflow.worker.labels import placement_problems

PLACEMENT = timedelta(seconds=3)


@activity.defn
def nothing() -> None:
    return None


async def start_and_fail(env, task_queue: str, options: dict, replicas: int = 1) -> str:
    before = {a["ActorID"] for a in _replica_actors_alive()}
    worker = Worker(env.client, task_queue=task_queue, activities=[nothing], replicas=replicas,
                    ray_actor_options=options, placement_timeout=PLACEMENT)
    began = time.monotonic()
    with pytest.raises(WorkerPlacementError) as info:
        await worker.start()
    assert time.monotonic() - began < PLACEMENT.total_seconds() + 5
    assert worker.replica_handles == []
    assert not {a["ActorID"] for a in _replica_actors_alive()} - before  # the pending replicas were removed
    return str(info.value)


def _replica_actors_alive() -> list[dict]:
    return [a for a in ray._private.state.actors().values()
            if a.get("ActorClassName", "").endswith("WorkerReplica") and a.get("State") != "DEAD"]


async def test_label_no_node_has(env, task_queue):
    message = await start_and_fail(env, task_queue, {"label_selector": {"rayflow.io/pool": "tpu"}})
    assert "no node has label rayflow.io/pool=tpu" in message
    assert "rayflow.io/pool=gpu" in message  # what the nodes do have


async def test_more_gpus_than_any_node(env, task_queue):
    message = await start_and_fail(env, task_queue, {"num_gpus": 4})
    assert "needs GPU 4 per replica but the largest node has 2" in message


async def test_custom_resource_nobody_has(env, task_queue):
    message = await start_and_fail(env, task_queue, {"resources": {"tpu_v5": 1}})
    assert "resource 'tpu_v5'" in message and "no node has" in message


async def test_more_replicas_than_fit(env, task_queue):
    message = await start_and_fail(env, task_queue, {"num_gpus": 1, "num_cpus": 0}, replicas=3)
    assert "3 replicas" in message and "hold only 2" in message


def test_placement_problems_pure():
    nodes = [
        {"NodeID": "head", "Alive": True, "Resources": {"CPU": 2.0}, "Labels": {}},
        {"NodeID": "gpu", "Alive": True, "Resources": {"CPU": 1.0, "GPU": 2.0},
         "Labels": {"rayflow.io/pool": "gpu", "ray.io/accelerator-type": "A100"}},
        {"NodeID": "dead", "Alive": False, "Resources": {"GPU": 8.0}, "Labels": {"rayflow.io/pool": "tpu"}},
    ]
    assert placement_problems({"num_gpus": 1}, nodes) == []
    assert placement_problems({"num_gpus": 1, "num_cpus": 0}, nodes, replicas=2) == []
    (cpu_held,) = placement_problems({"num_gpus": 1}, nodes, replicas=2)  # Ray holds 1 CPU each; the node has 1
    assert "hold only 1" in cpu_held and "num_cpus" in cpu_held
    assert placement_problems({"num_gpus": 8}, nodes) == ["needs GPU 8 per replica but the largest node has 2"]
    assert placement_problems({"accelerator_type": "H100"}, nodes)[0].startswith("no node has accelerator type H100")
    (tpu,) = placement_problems({"label_selector": {"rayflow.io/pool": "tpu"}}, nodes)
    assert tpu == "no node has label rayflow.io/pool=tpu (nodes have: rayflow.io/pool=gpu)"
    (zone,) = placement_problems({"label_selector": {"zone": "in(a,b)"}}, nodes)
    assert "zone=in(a,b)" in zone and "no node has label zone" in zone
    assert placement_problems({"label_selector": {"rayflow.io/pool": "!tpu"}}, nodes) == []
    (combo,) = placement_problems({"num_cpus": 2, "num_gpus": 1}, nodes)
    assert combo.startswith("no single node has everything")
    assert placement_problems({"num_gpus": 1, "num_cpus": 0}, nodes, replicas=3)[0].startswith("3 replicas")
