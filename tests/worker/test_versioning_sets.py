"""Build-id version sets: the walk-through of Temporal's worker-versioning docs, with real pools on real Ray.

Which worker ran each workflow task is read from history (the build id on WorkflowTaskCompleted), and which
ran each activity from the activity's own answer: no mocks, the observable outcome only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import ray

from rayflow import activity, workflow
from rayflow.client import (
    BuildIdOpAddNewCompatible,
    BuildIdOpAddNewDefault,
    BuildIdOpMergeSets,
    BuildIdOpPromoteBuildIdWithinSet,
    BuildIdOpPromoteSetByBuildId,
    TaskReachability,
)
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import VersioningError
from rayflow.testing import WorkflowEnvironment
from rayflow.worker import Worker

TIMEOUT = timedelta(seconds=30)
NO_CPU = {"num_cpus": 0}
NEW, EXISTING, OPEN, CLOSED = (TaskReachability.NEW_WORKFLOWS, TaskReachability.EXISTING_WORKFLOWS,
                               TaskReachability.OPEN_WORKFLOWS, TaskReachability.CLOSED_WORKFLOWS)


def which(build_id: str):
    """The activity ``which`` of the pool of ``build_id``: answers who ran it."""

    @activity.defn(name="which")
    def _which() -> str:
        return build_id

    return _which


@workflow.defn
class Stepper:
    """Runs one activity per signal and finishes after ``n`` steps, returning who ran each activity."""

    def __init__(self) -> None:
        self.signals = 0

    @workflow.signal
    def step(self) -> None:
        self.signals += 1

    @workflow.run
    async def run(self, n: int) -> list[str]:
        ran: list[str] = []
        while len(ran) < n:
            await workflow.wait_condition(lambda: self.signals > len(ran))
            ran.append(await workflow.execute_activity("which", start_to_close_timeout=TIMEOUT))
        return ran


def pool(env: WorkflowEnvironment, queue: str, build_id: str | None) -> Worker:
    return Worker(env.client, task_queue=queue, workflows=[Stepper], activities=[which(build_id or "unversioned")],
                  ray_actor_options=NO_CPU, build_id=build_id, use_worker_versioning=build_id is not None)


async def task_build_ids(handle, count: int) -> list[str]:
    """The build ids of the run's first ``count`` completed workflow tasks ("" = unversioned worker)."""
    for _ in range(300):
        history = await handle.fetch_history()
        done = [e.raw.workflow_task_completed_event_attributes for e in history
                if e.event_type == EventType.WORKFLOW_TASK_COMPLETED]
        if len(done) >= count:
            return [a.build_id if a.use_versioning else "" for a in done[:count]]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id}: fewer than {count} workflow tasks completed")


async def reach(client, build_id: str, queue: str) -> set[TaskReachability]:
    answer = await client.get_worker_task_reachability([build_id], [queue])
    return set(answer.build_id_reachability[build_id].task_queue_reachability[queue])


async def sets_of(client, queue: str) -> list[list[str]]:
    return [list(s.build_ids) for s in (await client.get_worker_build_id_compatibility(queue)).version_sets]


@pytest.fixture
async def env2(ray_session):
    """Two Matching actors: the sets must be the same on both (each hosts some partitions of the queue)."""
    environment = await WorkflowEnvironment.start_local(num_matching=2)
    yield environment
    await environment.shutdown()


async def test_the_docs_walkthrough(env2, task_queue):
    client = env2.client
    pools = [pool(env2, task_queue, None)]
    await pools[0].start()
    try:
        # A workflow open before the queue has versions stays on unversioned workers.
        w0 = await client.start_workflow(Stepper.run, 2, id="w0", task_queue=task_queue)
        assert await task_build_ids(w0, 1) == [""]

        # 1.0 becomes the default: new workflows run there, w0 stays unversioned.
        pools.append(pool(env2, task_queue, "1.0"))
        await pools[-1].start()
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("1.0"))
        assert await sets_of(client, task_queue) == [["1.0"]]
        w1 = await client.start_workflow(Stepper.run, 3, id="w1", task_queue=task_queue)
        assert await task_build_ids(w1, 1) == ["1.0"]
        await w0.signal(Stepper.step)
        assert await task_build_ids(w0, 2) == ["", ""]
        description = await client.describe_task_queue(task_queue)
        reasons = {p.build_id: p.no_tasks_reason for p in description.workflow.pollers}
        assert "unversioned worker on a versioned queue" in reasons[""]
        assert reasons["1.0"] == ""

        # 2.0 is a new default: new workflows go to 2.0, open 1.0 ones stay on 1.0 (activities too).
        pools.append(pool(env2, task_queue, "2.0"))
        await pools[-1].start()
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("2.0"))
        w2 = await client.start_workflow(Stepper.run, 2, id="w2", task_queue=task_queue)
        assert await task_build_ids(w2, 1) == ["2.0"]
        await w1.signal(Stepper.step)
        assert await task_build_ids(w1, 2) == ["1.0", "1.0"]
        assert await reach(client, "1.0", task_queue) == {EXISTING, OPEN}
        assert await reach(client, "2.0", task_queue) == {NEW, EXISTING, OPEN}

        # 2.1 compatible with 2.0: open 2.0 workflows move to 2.1 at their next task (off 2.0's sticky queue).
        pools.append(pool(env2, task_queue, "2.1"))
        await pools[-1].start()
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewCompatible("2.1", "2.0"))
        assert await sets_of(client, task_queue) == [["1.0"], ["2.0", "2.1"]]
        await w2.signal(Stepper.step)
        assert (await task_build_ids(w2, 2))[1] == "2.1"
        assert await reach(client, "2.0", task_queue) == set()  # its set's default takes every task
        assert await reach(client, "2.1", task_queue) == {NEW, EXISTING, OPEN}
        description = await client.describe_task_queue(task_queue)
        reasons = {p.build_id: p.no_tasks_reason for p in description.workflow.pollers}
        assert "not the default of its compatible set" in reasons["2.0"]

        # 3.0 is the new default; then the 2.x set is promoted back: new workflows start on 2.1, open 3.0
        # workflows finish on 3.0.
        pools.append(pool(env2, task_queue, "3.0"))
        await pools[-1].start()
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("3.0"))
        w3 = await client.start_workflow(Stepper.run, 1, id="w3", task_queue=task_queue)
        assert await task_build_ids(w3, 1) == ["3.0"]
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpPromoteSetByBuildId("2.0"))
        assert await sets_of(client, task_queue) == [["1.0"], ["3.0"], ["2.0", "2.1"]]
        sets = await client.get_worker_build_id_compatibility(task_queue)
        assert sets.default_build_id() == "2.1" and list(sets.default_set().build_ids) == ["2.0", "2.1"]
        w4 = await client.start_workflow(Stepper.run, 1, id="w4", task_queue=task_queue)
        assert await task_build_ids(w4, 1) == ["2.1"]
        await w3.signal(Stepper.step)
        assert await w3.result() == ["3.0"]
        assert (await task_build_ids(w3, 2)) == ["3.0", "3.0"]
        assert await reach(client, "3.0", task_queue) == {EXISTING, CLOSED}
        await w4.signal(Stepper.step)
        assert await w4.result() == ["2.1"]

        # Everyone finishes where the sets say; activities ran on the same build ids as their workflow tasks.
        await w0.signal(Stepper.step)
        assert await w0.result() == ["unversioned", "unversioned"]
        for _ in range(2):
            await w1.signal(Stepper.step)
        assert await w1.result() == ["1.0", "1.0", "1.0"]
        await w2.signal(Stepper.step)
        assert await w2.result() == ["2.1", "2.1"]
        assert await reach(client, "1.0", task_queue) == {EXISTING, CLOSED}

        # The listing filters by build id.
        on_21 = {wf.id async for wf in client.list_workflows(build_id="2.1")}
        assert on_21 == {"w2", "w4"}
        assert await client.count_workflows(build_id="unversioned") == 1
        w2_desc = await w2.describe()
        assert w2_desc.status == WorkflowExecutionStatus.COMPLETED
        assert w2_desc.build_ids == ["versioned:2.0", "versioned:2.1"] and w2_desc.assigned_build_id == "2.1"
    finally:
        for worker in pools:
            await worker.shutdown()


async def test_sets_survive_a_matching_restart_and_match_on_both_actors(env2, task_queue):
    client = env2.client
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("a"))
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewCompatible("b", "a"))
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("c"))
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpPromoteBuildIdWithinSet("a"))
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpMergeSets("c", "a"))
    expected = [["b", "a", "c"]]  # the merged set keeps the primary's place and default
    assert await sets_of(client, task_queue) == expected
    from rayflow.service.matching.client import MatchingClient

    matching = MatchingClient(env2.config)
    answers = [await matching.handle(i).versioning.remote("get_build_ids", {"namespace": "default",
                                                                           "task_queue": task_queue})
               for i in range(2)]  # actor 1 forwards to actor 0
    assert [a["sets"] for a in answers] == [expected, expected]
    for i in range(2):  # both restart: they read the sets back from the store
        ray.kill(matching.handle(i), no_restart=False)
    for _ in range(100):
        try:
            assert await sets_of(client, task_queue) == expected
            break
        except Exception:
            await asyncio.sleep(0.2)
    assert await sets_of(client, task_queue) == expected


async def test_forbidden_operations_and_limits_change_nothing(env, task_queue):
    client = env.client
    await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("1.0"))
    before = await sets_of(client, task_queue)
    cases = [
        (BuildIdOpAddNewDefault("1.0"), "already in this task queue's version sets"),
        (BuildIdOpAddNewCompatible("1.1", "nope"), "'nope' (existing_compatible_build_id) is not in"),
        (BuildIdOpPromoteSetByBuildId("nope"), "'nope'"),
        (BuildIdOpPromoteBuildIdWithinSet("nope"), "'nope'"),
        (BuildIdOpMergeSets("1.0", "nope"), "'nope' (secondary_build_id)"),
        (BuildIdOpAddNewDefault("x" * 256), "256 characters long; the limit is 255"),
        (BuildIdOpAddNewDefault(""), "build_id is required"),
    ]
    for op, message in cases:
        with pytest.raises(VersioningError, match=None) as caught:
            await client.update_worker_build_id_compatibility(task_queue, op)
        assert message in str(caught.value), (op, str(caught.value))
        assert await sets_of(client, task_queue) == before
    for i in range(9):  # ten sets in all
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault(f"s{i}"))
    with pytest.raises(VersioningError, match="already has 10 version sets, the limit is 10"):
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewDefault("s9"))
    for i in range(90):  # a hundred build ids in all
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewCompatible(f"c{i}", "1.0"))
    full = await sets_of(client, task_queue)
    assert sum(len(s) for s in full) == 100
    with pytest.raises(VersioningError, match="already has 100 build ids, the limit is 100"):
        await client.update_worker_build_id_compatibility(task_queue, BuildIdOpAddNewCompatible("c90", "1.0"))
    assert await sets_of(client, task_queue) == full


async def test_a_versioned_worker_on_an_unversioned_queue_gets_nothing(env, task_queue):
    client = env.client
    async with pool(env, task_queue, "9.9"):
        handle = await client.start_workflow(Stepper.run, 1, id="lonely", task_queue=task_queue)
        await asyncio.sleep(2.0)
        description = await handle.describe()
        assert description.history_length == 2  # started and scheduled: nobody took its task
        queue = await client.describe_task_queue(task_queue)
        [poller] = queue.workflow.pollers
        assert poller.use_versioning and "on a queue without versions" in poller.no_tasks_reason
        async with pool(env, task_queue, None):
            await handle.signal(Stepper.step)
            assert await handle.result() == ["unversioned"]
