"""Routing by resource label: GPU pools land on GPU nodes, labelled activities reach only pools with the label,
a labelled task waits for its pool; per-replica rate limits; a dead replica is replaced."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest
import ray

from rayflow import activity, workflow
from rayflow.common import PendingActivityState
from rayflow.worker import Worker
from rayflow.worker.labels import pool_labels

TIMEOUT = timedelta(seconds=30)
#: Ray holds one CPU for an actor that asks for a GPU and names no CPUs, and the fake GPU node has one CPU:
#: ask for none so two GPU replicas fit there.
GPU_OPTIONS = {"num_gpus": 1, "num_cpus": 0}


@activity.defn
def cuda_devices() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


@activity.defn
def preprocess(data: str) -> str:
    return f"pre({data})"


@activity.defn
def train(data: str) -> str:
    return f"train({data}, gpus={os.environ.get('CUDA_VISIBLE_DEVICES', '')})"


@activity.defn
def upload(data: str) -> str:
    return f"up({data})"


@activity.defn(resource_label="gpu:A100")
def a100_or_override() -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


@activity.defn
def tpu_job() -> str:
    return "ran on tpu"


@activity.defn
def quick(i: int) -> int:
    return i


@workflow.defn
class CudaDevices:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(cuda_devices, start_to_close_timeout=TIMEOUT, resource_label="gpu")


@workflow.defn
class Pipeline:
    @workflow.run
    async def run(self, data: str) -> str:
        data = await workflow.execute_activity(preprocess, data, start_to_close_timeout=TIMEOUT)
        data = await workflow.execute_activity(train, data, start_to_close_timeout=TIMEOUT, resource_label="gpu")
        return await workflow.execute_activity(upload, data, start_to_close_timeout=TIMEOUT)


@workflow.defn
class DefaultAndOverride:
    @workflow.run
    async def run(self) -> list[str]:
        default = await workflow.execute_activity(a100_or_override, start_to_close_timeout=TIMEOUT)
        override = await workflow.execute_activity(
            a100_or_override, start_to_close_timeout=TIMEOUT, resource_label="zone:eu"
        )
        return [default, override]


@workflow.defn
class NeedsTpu:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(tpu_job, start_to_close_timeout=TIMEOUT, resource_label="tpu:v5")


@workflow.defn
class ManyQuick:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(await asyncio.gather(
            *(workflow.execute_activity(quick, i, start_to_close_timeout=TIMEOUT) for i in range(count))
        ))


def started_by_activity(events) -> dict[str, list[str]]:
    """Activity type -> identities of its ACTIVITY_TASK_STARTED events."""
    types = {e.event_id: e.attributes["activity_type"] for e in events
             if e.event_type.name == "ACTIVITY_TASK_SCHEDULED"}
    out: dict[str, list[str]] = {}
    for e in events:
        if e.event_type.name == "ACTIVITY_TASK_STARTED":
            out.setdefault(types[int(e.attributes["scheduled_event_id"])], []).append(e.attributes["identity"])
    return out


def test_pool_labels():
    assert pool_labels({}, None) == []
    assert pool_labels({"num_cpus": 2}, None) == []
    assert pool_labels({"num_gpus": 1}, None) == ["gpu"]
    assert pool_labels({"num_gpus": 0.5, "accelerator_type": "H100"}, None) == ["gpu", "gpu:H100"]
    assert pool_labels({"num_gpus": 1, "label_selector": {"ray.io/accelerator-type": "A100"}}, None) == [
        "gpu", "gpu:A100"]
    assert pool_labels({"label_selector": {"ray.io/accelerator-type": "in(A100,H100)"}}, None) == []
    assert pool_labels({"resources": {"tpu": 4, "nvme": 1, "none": 0}}, None) == ["nvme", "tpu"]
    assert pool_labels({"num_gpus": 1}, {"tpu": "v5", "zone": ""}) == ["gpu", "tpu", "tpu:v5", "zone"]
    with pytest.raises(TypeError):
        pool_labels({}, {"k": 1})
    with pytest.raises(ValueError):
        pool_labels({}, {"a:b": "c"})


async def test_gpu_pool_replicas_land_on_the_gpu_node(env, ray_session, task_queue):
    gpu_node_id = ray_session.gpu_node.node_id
    async with (
        Worker(env.client, task_queue=task_queue, workflows=[CudaDevices], identity="cpu-{replica}"),
        Worker(env.client, task_queue=task_queue, activities=[cuda_devices], replicas=2,
               ray_actor_options=GPU_OPTIONS, accept_unlabelled=False, identity="gpu-{replica}-{node_ip}") as gpus,
    ):
        assert gpus.labels == ["gpu"]
        infos = gpus.replica_infos
        assert [info["node_id"] for info in infos] == [gpu_node_id, gpu_node_id]
        assert [info["identity"] for info in infos] == [f"gpu-{i}-{info['node_ip']}" for i, info in enumerate(infos)]
        actor_ids = {h._actor_id.hex() for h in gpus.replica_handles}
        assert {info["actor_id"] for info in infos} == actor_ids
        assert len({info["pid"] for info in infos}) == 2
        devices = await env.client.execute_workflow(CudaDevices.run, id="cuda", task_queue=task_queue)
    assert devices in {"0", "1"}


async def test_pipeline_activities_run_in_the_right_pools(env, task_queue):
    async with (
        Worker(env.client, task_queue=task_queue, workflows=[Pipeline], activities=[preprocess, upload],
               identity="cpu-{replica}"),
        Worker(env.client, task_queue=task_queue, activities=[train], ray_actor_options=GPU_OPTIONS,
               accept_unlabelled=False, identity="gpu-{replica}"),
    ):
        handle = await env.client.start_workflow(Pipeline.run, "x", id="pipeline", task_queue=task_queue)
        result = await handle.result()
    assert result.startswith("up(train(pre(x), gpus=") and result.endswith("))")
    assert result != "up(train(pre(x), gpus=))"
    started = started_by_activity((await handle.fetch_history()).events)
    assert started == {"preprocess": ["cpu-0"], "train": ["gpu-0"], "upload": ["cpu-0"]}


async def test_default_label_from_defn_and_per_call_override(env, task_queue):
    async with (
        Worker(env.client, task_queue=task_queue, workflows=[DefaultAndOverride], activities=[a100_or_override],
               labels={"zone": "eu"}, identity="cpu-eu-{replica}"),
        Worker(env.client, task_queue=task_queue, activities=[a100_or_override], accept_unlabelled=False,
               ray_actor_options={**GPU_OPTIONS, "label_selector": {"ray.io/accelerator-type": "A100"}},
               identity="a100-{replica}") as a100,
    ):
        assert a100.labels == ["gpu", "gpu:A100"]
        handle = await env.client.start_workflow(DefaultAndOverride.run, id="labels", task_queue=task_queue)
        default, override = await handle.result()
    assert default in {"0", "1"} and override == ""
    started = started_by_activity((await handle.fetch_history()).events)
    assert started == {"a100_or_override": ["a100-0", "cpu-eu-0"]}


async def test_labelled_task_waits_in_backlog_until_a_pool_with_the_label_starts(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[NeedsTpu], activities=[tpu_job],
                      identity="cpu-{replica}"):
        handle = await env.client.start_workflow(NeedsTpu.run, id="tpu", task_queue=task_queue)
        deadline = time.monotonic() + 20
        while True:
            pending = (await handle.describe()).pending_activities
            if pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a CPU replica polls the same queue and has the activity: it must not take it
        pending = (await handle.describe()).pending_activities
        assert [(p.activity_type, p.state, p.attempt) for p in pending] == [
            ("tpu_job", PendingActivityState.SCHEDULED, 1)]
        async with Worker(env.client, task_queue=task_queue, activities=[tpu_job], labels={"tpu": "v5"},
                          identity="tpu-{replica}") as tpus:
            assert tpus.labels == ["tpu", "tpu:v5"]
            assert await asyncio.wait_for(handle.result(), 20) == "ran on tpu"
    started = started_by_activity((await handle.fetch_history()).events)
    assert started == {"tpu_job": ["tpu-0"]}


async def test_max_activities_per_second_is_never_exceeded(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[ManyQuick], activities=[quick],
                      max_activities_per_second=2):
        handle = await env.client.start_workflow(ManyQuick.run, 6, id="rate", task_queue=task_queue)
        assert await handle.result() == list(range(6))
    times = sorted(e.event_time.timestamp() for e in (await handle.fetch_history()).events
                   if e.event_type.name == "ACTIVITY_TASK_STARTED")
    assert len(times) == 6
    assert times[-1] - times[0] >= 2.0, times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.4, gaps


async def test_killed_replicas_are_replaced(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[ManyQuick], activities=[quick],
                      replicas=2) as worker:
        old_handles = worker.replica_handles
        old_actor_ids = {info["actor_id"] for info in worker.replica_infos}
        ray.kill(old_handles[0], no_restart=True)
        os.kill(worker.replica_infos[1]["pid"], 9)
        deadline = time.monotonic() + 30
        while {info["actor_id"] for info in worker.replica_infos} & old_actor_ids:
            assert time.monotonic() < deadline, worker.replica_infos
            await asyncio.sleep(0.2)
        handles = worker.replica_handles
        assert len(handles) == 2 and not {h._actor_id for h in handles} & {h._actor_id for h in old_handles}
        assert {h._actor_id.hex() for h in handles} == {info["actor_id"] for info in worker.replica_infos}
        identities = set(worker.identities)
        handle = await env.client.start_workflow(ManyQuick.run, 3, id="after-kill", task_queue=task_queue)
        assert await asyncio.wait_for(handle.result(), 30) == [0, 1, 2]
    events = (await handle.fetch_history()).events
    assert {e.attributes["identity"] for e in events if e.event_type.name.endswith("_TASK_STARTED")} <= identities
