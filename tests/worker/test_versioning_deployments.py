"""Worker deployments (Temporal's current versioning design) and pools that retire themselves, on real Ray.

Which version ran each workflow task is read from history (worker_deployment_version on WorkflowTaskCompleted).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import ray

from rayflow import workflow
from rayflow.client import BuildIdOpAddNewDefault, WorkerDeploymentVersionStatus
from rayflow.common import (
    AutoUpgradeVersioningOverride,
    EventType,
    PinnedVersioningOverride,
    VersioningBehavior,
    WorkerDeploymentVersion,
)
from rayflow.exceptions import VersioningError
from rayflow.service.matching.deployments import ramp_position
from rayflow.worker import Worker, WorkerDeploymentConfig

NO_CPU = {"num_cpus": 0}
FAST_RETIRE = timedelta(seconds=0.5)


class _Waits:
    def __init__(self) -> None:
        self.go = 0

    @workflow.signal
    def step(self) -> None:
        self.go += 1

    @workflow.run
    async def run(self, steps: int) -> int:
        await workflow.wait_condition(lambda: self.go >= steps)
        return self.go


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class Pinned(_Waits):
    pass


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoUpgrade(_Waits):
    pass


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class Quick:
    @workflow.run
    async def run(self) -> str:
        return "done"


def deployment_pool(client, queue: str, name: str, build_id: str, **kwargs) -> Worker:
    config = WorkerDeploymentConfig(version=WorkerDeploymentVersion(name, build_id))
    return Worker(client, task_queue=queue, workflows=[Pinned, AutoUpgrade, Quick], deployment_config=config,
                  ray_actor_options=kwargs.pop("ray_actor_options", NO_CPU), **kwargs)


async def versions_of(handle, count: int) -> list[str]:
    """The deployment versions of the run's first ``count`` completed workflow tasks."""
    for _ in range(300):
        done = [e.raw.workflow_task_completed_event_attributes for e in await handle.fetch_history()
                if e.event_type == EventType.WORKFLOW_TASK_COMPLETED]
        if len(done) >= count:
            return [a.worker_deployment_version for a in done[:count]]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id}: fewer than {count} workflow tasks completed")


async def registered(client, name: str, build_id: str) -> None:
    """Wait until the version's first poll registered it with the deployment."""
    for _ in range(100):
        try:
            if (await client.describe_worker_deployment(name)).version(build_id) is not None:
                return
        except VersioningError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"version {name}.{build_id} never registered")


async def status_of(client, name: str, build_id: str) -> WorkerDeploymentVersionStatus:
    return (await client.describe_worker_deployment(name)).version(build_id).status


async def test_pinned_finishes_on_its_version_and_auto_upgrade_moves(env, task_queue):
    client = env.client
    v1 = deployment_pool(client, task_queue, "dep", "1", retire_when_drained=True, retire_check_interval=FAST_RETIRE)
    v2 = deployment_pool(client, task_queue, "dep", "2")
    async with v1:
        await registered(client, "dep", "1")
        with pytest.raises(VersioningError, match="has no version '2'"):
            await client.set_worker_deployment_current_version("dep", "2")
        assert await status_of(client, "dep", "1") == WorkerDeploymentVersionStatus.INACTIVE
        assert await client.set_worker_deployment_current_version("dep", "1") is None
        pinned = await client.start_workflow("Pinned", 1, id="pinned", task_queue=task_queue)
        auto = await client.start_workflow("AutoUpgrade", 1, id="auto", task_queue=task_queue)
        assert await versions_of(pinned, 1) == ["dep.1"]
        assert await versions_of(auto, 1) == ["dep.1"]
        async with v2:
            await registered(client, "dep", "2")
            previous = await client.set_worker_deployment_current_version("dep", "2")
            assert previous == WorkerDeploymentVersion("dep", "1")
            # An override pins a workflow whose type would auto-upgrade to the old version.
            forced = await client.start_workflow("AutoUpgrade", 1, id="forced", task_queue=task_queue,
                                                 versioning_override=PinnedVersioningOverride(
                                                     WorkerDeploymentVersion("dep", "1")))
            fresh = await client.start_workflow("Pinned", 1, id="fresh", task_queue=task_queue)
            assert await versions_of(forced, 1) == ["dep.1"]
            assert await versions_of(fresh, 1) == ["dep.2"]
            assert await status_of(client, "dep", "1") == WorkerDeploymentVersionStatus.DRAINING
            await auto.signal("step")
            assert await auto.result() == 1
            assert await versions_of(auto, 2) == ["dep.1", "dep.2"]  # moved at its next task
            for handle in (pinned, forced, fresh):
                await handle.signal("step")
                assert await handle.result() == 1
            assert await versions_of(pinned, 2) == ["dep.1", "dep.1"]
            assert await versions_of(forced, 2) == ["dep.1", "dep.1"]
            described = await forced.describe()
            assert described.versioning_override == "pinned:dep.1"
            assert "pinned:dep.1" in described.build_ids
            # Nothing is pinned to 1 any more: it is drained, and its pool retires itself.
            assert await status_of(client, "dep", "1") == WorkerDeploymentVersionStatus.DRAINED
            drained = (await client.describe_worker_deployment("dep")).version("1").drainage_info
            assert drained.status == WorkerDeploymentVersionStatus.DRAINED and drained.last_checked_time
            for _ in range(100):
                if v1.retired:
                    break
                await asyncio.sleep(0.1)
            assert v1.retired and v1.replica_handles == []
            # An auto-upgrade override starts on the current version.
            late = await client.start_workflow("Pinned", 0, id="late", task_queue=task_queue,
                                               versioning_override=AutoUpgradeVersioningOverride())
            assert await late.result() == 0 and await versions_of(late, 1) == ["dep.2"]
            listed = await client.list_worker_deployments()
            assert [(d.name, d.current_version) for d in listed] == [("dep", WorkerDeploymentVersion("dep", "2"))]


async def test_ramping_share_and_a_ramp_that_does_not_wait_for_a_dead_current(env, task_queue):
    client = env.client
    async with deployment_pool(client, task_queue, "ramp", "1") as v1, \
            deployment_pool(client, task_queue, "ramp", "2"):
        await registered(client, "ramp", "1")
        await registered(client, "ramp", "2")
        await client.set_worker_deployment_current_version("ramp", "1")
        with pytest.raises(VersioningError, match="between 0 and 100"):
            await client.set_worker_deployment_ramping_version("ramp", "2", 130.0)
        await client.set_worker_deployment_ramping_version("ramp", "2", 30.0)
        description = await client.describe_worker_deployment("ramp")
        assert description.ramping_version == WorkerDeploymentVersion("ramp", "2")
        assert description.ramping_percentage == 30.0
        assert description.version("2").status == WorkerDeploymentVersionStatus.RAMPING
        ids = [f"ramp-{i}" for i in range(200)]
        handles = [await client.start_workflow(Quick.run, id=i, task_queue=task_queue) for i in ids]
        for handle in handles:
            assert await handle.result() == "done"
        ran = {h.id: (await versions_of(h, 1))[0] for h in handles}
        expected = {i: "ramp.2" if ramp_position(i) < 30.0 else "ramp.1" for i in ids}
        assert ran == expected  # each workflow where the stable hash of its id says
        share = sum(v == "ramp.2" for v in ran.values()) / len(ran)
        assert 0.23 <= share <= 0.37, share

        # The current version's workers go away: workflows in the ramp still run at once.
        await v1.shutdown()
        more = [f"late-{i}" for i in range(40)]
        in_ramp = [i for i in more if ramp_position(i) < 30.0]
        outside = [i for i in more if ramp_position(i) >= 30.0]
        assert in_ramp and outside
        late = {i: await client.start_workflow(Quick.run, id=i, task_queue=task_queue) for i in more}
        for i in in_ramp:
            assert await asyncio.wait_for(late[i].result(), 30) == "done"
        for i in outside:  # waiting for version 1's workers, not lost
            assert (await late[i].describe()).history_length == 2


async def test_a_version_set_pool_retires_and_frees_its_gpu(env, task_queue, ray_session):
    client = env.client
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("1.0"))
    gpus_before = ray.available_resources().get("GPU", 0)
    old = Worker(client, task_queue=task_queue, workflows=[Pinned], build_id="1.0", use_worker_versioning=True,
                 retire_when_drained=True, retire_check_interval=FAST_RETIRE,
                 ray_actor_options={"num_gpus": 1, "num_cpus": 0})
    await old.start()
    new = Worker(client, task_queue=task_queue, workflows=[Pinned], build_id="2.0", use_worker_versioning=True,
                 ray_actor_options=NO_CPU)
    try:
        for _ in range(50):
            if ray.available_resources().get("GPU", 0) == gpus_before - 1:
                break
            await asyncio.sleep(0.1)
        assert ray.available_resources().get("GPU", 0) == gpus_before - 1
        long_one = await client.start_workflow("Pinned", 1, id="long", task_queue=task_queue)
        assert await versions_of(long_one, 1) == [""]  # a version-set worker: no deployment version
        await new.start()
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("2.0"))
        await asyncio.sleep(2.0)
        assert not old.retired  # an open workflow can still reach 1.0
        newer = await client.start_workflow("Pinned", 0, id="newer", task_queue=task_queue)
        assert await newer.result() == 0
        await long_one.signal("step")
        assert await long_one.result() == 1
        history = [e.raw.workflow_task_completed_event_attributes.build_id for e in await long_one.fetch_history()
                   if e.event_type == EventType.WORKFLOW_TASK_COMPLETED]
        assert history == ["1.0", "1.0"]
        for _ in range(100):
            if old.retired:
                break
            await asyncio.sleep(0.1)
        assert old.retired
        for _ in range(50):
            if ray.available_resources().get("GPU", 0) == gpus_before:
                break
            await asyncio.sleep(0.1)
        assert ray.available_resources().get("GPU", 0) == gpus_before  # its GPU is free again
        await asyncio.wait_for(old.run(), 5)  # run() of a retired pool returns
    finally:
        await old.shutdown()
        await new.shutdown()


def test_versioned_worker_arguments_are_checked(env, task_queue):
    @workflow.defn
    class NoBehavior:
        @workflow.run
        async def run(self) -> None:
            return None

    config = WorkerDeploymentConfig(version=WorkerDeploymentVersion("d", "1"))
    with pytest.raises(ValueError, match="NoBehavior have no versioning behavior"):
        Worker(env.client, task_queue=task_queue, workflows=[NoBehavior], deployment_config=config)
    with pytest.raises(ValueError, match="use_worker_versioning=True needs a build_id"):
        Worker(env.client, task_queue=task_queue, workflows=[NoBehavior], use_worker_versioning=True)
    with pytest.raises(ValueError, match="retire_when_drained needs a versioned worker"):
        Worker(env.client, task_queue=task_queue, workflows=[NoBehavior], retire_when_drained=True)
    with pytest.raises(ValueError, match="cannot contain '|'"):
        Worker(env.client, task_queue=task_queue, workflows=[NoBehavior], build_id="a|b", use_worker_versioning=True)
    with pytest.raises(ValueError, match="cannot contain '.'"):
        WorkerDeploymentVersion("a.b", "1")
