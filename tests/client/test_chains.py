"""Chains of runs (continue-as-new) seen from outside: a parent follows its child's chain, close policies reach
the child's current run, inputs without a run id reach the current run, and a start retried with its request id
after the workflow continued as new is the same workflow (issue 11, findings 1 and 2)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from rayflow import workflow
from rayflow.common import EventType, ParentClosePolicy, WorkflowExecutionStatus
from rayflow.exceptions import WorkflowAlreadyStartedError
from rayflow.worker import Worker

WAIT_S = 60.0


@workflow.defn
class Countdown:
    """Continues as new until ``n`` is 0, then returns how many runs the chain had."""

    @workflow.run
    async def run(self, n: int, runs: int = 1) -> int:
        if n > 0:
            workflow.continue_as_new(n - 1, runs + 1)
        return runs


@workflow.defn
class ParentOfChain:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_child_workflow(Countdown.run, n, id=f"{workflow.info().workflow_id}-child")


@workflow.defn
class Sleepy:
    """Continues as new once, then waits forever (until terminated or cancelled)."""

    @workflow.run
    async def run(self, continued: bool = False) -> None:
        if not continued:
            workflow.continue_as_new(True)
        await workflow.wait_condition(lambda: False)


@workflow.defn
class ShortParentOfChain:
    @workflow.run
    async def run(self, child_id: str) -> str:
        await workflow.start_child_workflow(Sleepy.run, id=child_id, parent_close_policy=ParentClosePolicy.TERMINATE)
        await workflow.wait_condition(lambda: self.done)
        return "parent done"

    def __init__(self) -> None:
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class Waits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class ChainWithChild:
    """Run 1 starts a child (TERMINATE policy) and continues as new on another task queue (no worker there
    yet: run 2 stays still); run 2 collects signals."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.signal
    def add(self, item: str) -> None:
        self.seen.append(item)

    @workflow.run
    async def run(self, next_queue: str = "") -> list[str]:
        if next_queue:
            await workflow.start_child_workflow(Waits.run, id=f"{workflow.info().workflow_id}-kid")
            workflow.continue_as_new("", task_queue=next_queue)
        await workflow.wait_condition(lambda: len(self.seen) >= 2)
        return self.seen


async def test_a_parent_gets_the_result_of_a_child_that_continued_as_new(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[ParentOfChain, Countdown]):
        handle = await env.client.start_workflow(ParentOfChain.run, 3, id=f"p-{uuid.uuid4().hex[:6]}",
                                                 task_queue=task_queue)
        assert await asyncio.wait_for(handle.result(), WAIT_S) == 4
    events = (await handle.fetch_history()).events
    assert [e.event_type for e in events].count(EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED) == 1


async def test_close_policy_reaches_the_childs_current_run(env, task_queue):
    child_id = f"kid-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[ShortParentOfChain, Sleepy]):
        parent = await env.client.start_workflow(ShortParentOfChain.run, child_id, id=f"sp-{uuid.uuid4().hex[:6]}",
                                                 task_queue=task_queue)
        child = env.client.get_workflow_handle(child_id)

        async def child_continued() -> bool:
            try:
                description = await child.describe()
            except Exception:
                return False
            return description.run_id != description.first_execution_run_id

        await _wait(child_continued, "the child continued as new")
        await parent.terminate("stop the family")
        await _wait(lambda: _status_is(child, WorkflowExecutionStatus.TERMINATED), "the child's current run ended")


async def test_inputs_reach_the_current_run_after_a_write_to_an_old_run(env, task_queue):
    """Run 1's close policy is applied (a write to the closed run 1) after run 2 exists and while nothing writes
    to run 2 (its task queue has no worker yet): signals, describe and starts must still go to run 2 (before:
    they went to run 1, and a signal recursed without end)."""
    wf_id = f"chain-{uuid.uuid4().hex[:6]}"
    later_queue = f"{task_queue}-later"
    async with Worker(env.client, task_queue=task_queue, workflows=[ChainWithChild, Waits]):
        handle = await env.client.start_workflow(ChainWithChild.run, later_queue, id=wf_id, task_queue=task_queue)
        kid = env.client.get_workflow_handle(f"{wf_id}-kid")
        await _wait(lambda: _status_is(kid, WorkflowExecutionStatus.TERMINATED), "run 1's child was terminated")
        await _wait(lambda: _policy_recorded(env, wf_id, handle.run_id), "run 1 recorded its close policy applied")
    current = env.client.get_workflow_handle(wf_id)  # no run id: the current run
    await current.signal(ChainWithChild.add, "a")
    description = await current.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING and description.run_id != handle.run_id
    with pytest.raises(WorkflowAlreadyStartedError, match="is running"):
        await env.client.start_workflow(ChainWithChild.run, id=wf_id, task_queue=later_queue)
    await current.signal(ChainWithChild.add, "b")
    async with Worker(env.client, task_queue=later_queue, workflows=[ChainWithChild]):
        assert await asyncio.wait_for(handle.result(), WAIT_S) == ["a", "b"]


async def test_a_start_retried_after_continue_as_new_is_the_same_workflow(env, task_queue):
    wf_id = f"retry-{uuid.uuid4().hex[:6]}"
    request_id = str(uuid.uuid4())
    async with Worker(env.client, task_queue=task_queue, workflows=[Sleepy]):
        first = await env.client.start_workflow(Sleepy.run, id=wf_id, task_queue=task_queue, request_id=request_id)

        current = env.client.get_workflow_handle(wf_id)

        async def continued() -> bool:
            return (await current.describe()).run_id != first.run_id

        await _wait(continued, "the workflow continued as new")
        again = await env.client.start_workflow(Sleepy.run, id=wf_id, task_queue=task_queue, request_id=request_id)
        assert again.run_id == (await current.describe()).run_id  # the chain's current run, not an error
        await current.terminate()


async def _policy_recorded(env, wf_id: str, run_id: str) -> bool:
    """Run ``run_id`` is closed and has no cross-shard work left: its close-policy write committed."""
    from rayflow.persistence import open_store
    from rayflow.service.history.client import shard_of

    store = open_store(env.config.store)
    try:
        shard = shard_of(env.client.namespace, wf_id, env.config.num_shards)
        return all(record.run_id != run_id for record in await store.list_open_executions(shard))
    finally:
        await store.close()


async def _status_is(handle, status) -> bool:
    try:
        return (await handle.describe()).status == status
    except Exception:
        return False


async def _wait(predicate, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.1)
