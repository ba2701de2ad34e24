"""Retention of closed workflows, on a real service and worker pool: once its namespace's retention passed, a
closed run's history and its external payloads are deleted, and its workflow id can be used again; an open run,
and every payload a kept run still references, are left alone. Also the namespace API in Ray and over gRPC."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import ray

from rayflow import activity, workflow
from rayflow._payload_visitor import collect_payloads
from rayflow.client import Client, NamespaceDescription, WorkflowHandle
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import WorkflowNotFoundError
from rayflow.payload_store import ENCODING_EXTERNAL, ExternalRef
from rayflow.testing import WorkflowEnvironment
from rayflow.worker import Worker

TIMEOUT = timedelta(seconds=60)
NO_CPU = {"num_cpus": 0}
N = 100_000  # float64: 800 KB, over the 256 KiB threshold: the payload store keeps it


@activity.defn
def make_array(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(N)


@workflow.defn
class Produce:
    @workflow.run
    async def run(self, seed: int) -> np.ndarray:
        return await workflow.execute_activity(make_array, seed, start_to_close_timeout=TIMEOUT)


@workflow.defn
class Hold:
    """Open until released, holding an array it was given and one of its own."""

    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self, given: np.ndarray, seed: int) -> list[float]:
        own = await workflow.execute_activity(make_array, seed, start_to_close_timeout=TIMEOUT)
        await workflow.wait_condition(lambda: self.released)
        return [float(given.sum()), float(own.sum())]


@pytest.fixture
async def env(ray_session):
    environment = await WorkflowEnvironment.start_local(retention_sweep_interval_s=0.2)
    yield environment
    await environment.shutdown()


def stored_keys(env: WorkflowEnvironment) -> set[str]:
    root = Path(env.config.data_dir) / "payloads"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.endswith(".partial")}


async def external_keys(handle: WorkflowHandle) -> set[str]:
    keys = set()
    for event in await handle.fetch_history():
        for payload in collect_payloads(event.raw):
            if payload.metadata.get("encoding") == ENCODING_EXTERNAL:
                keys.add(ExternalRef.from_json(payload.data).key)
    return keys


async def until(condition, what: str, timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def gone(handle: WorkflowHandle) -> bool:
    try:
        await handle.describe()
    except WorkflowNotFoundError:
        return True
    return False


def cached(key: str) -> bool:
    from rayflow.service import payload_owner

    owner = payload_owner.owner(create=False)
    return owner is not None and ray.get(owner.lookup.remote(key)) is not None


async def test_closed_runs_and_their_payloads_go_after_retention_open_ones_stay(env, task_queue):
    client = env.client
    assert await client.describe_namespace() == NamespaceDescription("default", timedelta(days=3), True)
    assert await client.update_namespace_retention(timedelta(hours=1)) == NamespaceDescription(
        "default", timedelta(hours=1), False)
    async with Worker(client, task_queue=task_queue, workflows=[Produce, Hold], activities=[make_array],
                      ray_actor_options=NO_CPU):
        shared = await client.start_workflow(Produce.run, 1, id="produce-shared", task_queue=task_queue)
        alone = await client.start_workflow(Produce.run, 2, id="produce-alone", task_queue=task_queue)
        shared_value, alone_value = await shared.result(), await alone.result()
        # Hold's input is the value the client read from the shared run: its reference is passed on, not rewritten.
        held = await client.start_workflow(Hold.run, args=[shared_value, 3], id="hold", task_queue=task_queue)

        async def activity_done() -> bool:
            history = await held.fetch_history()
            return any(e.event_type == EventType.ACTIVITY_TASK_COMPLETED for e in history)

        await until(activity_done, "Hold's activity")
        (shared_key,) = await external_keys(shared)
        (alone_key,) = await external_keys(alone)
        held_keys = await external_keys(held)
        assert shared_key in held_keys and len(held_keys) == 2
        (own_key,) = held_keys - {shared_key}
        assert {shared_key, alone_key, own_key} <= stored_keys(env)
        assert cached(alone_key)

        # Before the sweep: describe says when a closed run expires; an open one has no expire time.
        described = await alone.describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED and described.close_time is not None
        assert described.expire_time == described.close_time + timedelta(hours=1)
        assert (await held.describe()).expire_time is None
        await asyncio.sleep(1.0)  # sweeps ran: an hour has not passed
        assert not await gone(alone) and not await gone(shared)

        await client.update_namespace_retention(timedelta(seconds=1))
        await until(lambda: _both_gone(alone, shared), "the closed runs to be deleted")
        for handle in (alone, shared):
            with pytest.raises(WorkflowNotFoundError):
                await handle.fetch_history()
            with pytest.raises(WorkflowNotFoundError):
                await client.get_workflow_handle(handle.id).fetch_history()
        left = stored_keys(env)
        assert alone_key not in left and not cached(alone_key)  # deleted, and dropped from the object store
        assert {shared_key, own_key} <= left  # the open run still references both

        # The open run is untouched: it reads both arrays and completes.
        assert (await held.describe()).status == WorkflowExecutionStatus.RUNNING
        await held.signal(Hold.release)
        assert await held.result() == [float(shared_value.sum()), float(make_array(3).sum())]

        # The workflow id of a deleted run starts again.
        again = await client.start_workflow(Produce.run, 4, id="produce-alone", task_queue=task_queue)
        assert again.run_id != alone.run_id
        assert np.array_equal(await again.result(), make_array(4))
        assert np.array_equal(alone_value, make_array(2))

        # Once Hold is gone too, nothing references the shared array: it is deleted with it.
        await until(lambda: gone(held), "Hold to be deleted")
        left = stored_keys(env)
        assert shared_key not in left and own_key not in left


async def _both_gone(*handles: WorkflowHandle) -> bool:
    return all([await gone(handle) for handle in handles])


async def test_namespace_api_over_grpc(env):
    from rayflow.service.frontend.server import FrontendServer

    server = FrontendServer(env.config, port=0)
    port = await server.start()
    client = await Client.connect(f"127.0.0.1:{port}", namespace="remote-ns")
    try:
        assert await client.describe_namespace() == NamespaceDescription("remote-ns", timedelta(days=3), True)
        updated = await client.update_namespace_retention(timedelta(days=7, seconds=0.5))
        assert updated == NamespaceDescription("remote-ns", timedelta(days=7, seconds=0.5), False)
        assert (await client.describe_namespace()).retention == timedelta(days=7, seconds=0.5)
        # Namespaces are separate; the in-Ray client sees the same settings.
        assert (await env.client.describe_namespace()).retention_is_default
        ray_client = Client(env.config, namespace="remote-ns", data_converter=env.client.data_converter,
                            identity="test")
        assert (await ray_client.describe_namespace()).retention == timedelta(days=7, seconds=0.5)
        with pytest.raises(ValueError, match="above 0"):
            await client.update_namespace_retention(timedelta(0))
        with pytest.raises(Exception, match="above 0 seconds"):  # the service checks it too
            await client._service.namespace_operation("remote-ns", "update_retention", {"retention_s": -5})
        with pytest.raises(Exception, match="unknown namespace operation"):
            await client._service.namespace_operation("remote-ns", "rename", {})
        assert (await client.describe_namespace()).retention == timedelta(days=7, seconds=0.5)
    finally:
        await client.close()
        await server.stop()
