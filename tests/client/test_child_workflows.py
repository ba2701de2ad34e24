"""Child workflows end to end: many children on another task queue, a failing child, parent close policies."""

from __future__ import annotations

import asyncio

import pytest

from rayflow import workflow
from rayflow.common import EventType, ParentClosePolicy, WorkflowExecutionStatus
from rayflow.exceptions import ApplicationError, ChildWorkflowError, WorkflowFailureError
from rayflow.worker import Worker

#: Every test here runs on each store backend (tests/conftest.py).
STORE_BACKENDS = ["sqlite", "postgresql"]


@workflow.defn
class Square:
    @workflow.run
    async def run(self, n: int) -> int:
        return n * n


@workflow.defn
class Failing:
    @workflow.run
    async def run(self, message: str) -> None:
        raise ApplicationError(message, non_retryable=True)


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class SquareParent:
    @workflow.run
    async def run(self, count: int, child_queue: str) -> list[int]:
        handles = [
            await workflow.start_child_workflow(Square.run, n, id=f"{workflow.info().workflow_id}-sq-{n}",
                                                task_queue=child_queue)
            for n in range(count)
        ]
        assert all(h.first_execution_run_id for h in handles)
        return list(await asyncio.gather(*handles))


@workflow.defn
class FailingParent:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(Failing.run, "boom", id=f"{workflow.info().workflow_id}-child")
        except ChildWorkflowError as err:
            return f"{type(err.cause).__name__}: {err.cause}"
        return "no error"


@workflow.defn
class ShortParent:
    @workflow.run
    async def run(self, child_id: str, policy: int) -> str:
        handle = await workflow.start_child_workflow(Forever.run, id=child_id,
                                                     parent_close_policy=ParentClosePolicy(policy))
        return handle.id


async def test_twenty_children_on_another_task_queue(env, task_queue):
    client = env.client
    child_queue = f"{task_queue}-children"
    async with Worker(client, task_queue=task_queue, workflows=[SquareParent]), \
            Worker(client, task_queue=child_queue, workflows=[Square]):
        handle = await client.start_workflow(SquareParent.run, args=[20, child_queue], id="parent-20",
                                             task_queue=task_queue)
        assert await handle.result() == [n * n for n in range(20)]
        types = [e.event_type for e in (await handle.fetch_history()).events]
        assert types.count(EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED) == 20
        assert types.count(EventType.CHILD_WORKFLOW_EXECUTION_STARTED) == 20
        assert types.count(EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED) == 20
        child = client.get_workflow_handle("parent-20-sq-3")
        assert await child.result() == 9
        description = await child.describe()
        assert description.parent_id == "parent-20"
        assert description.parent_run_id == handle.result_run_id == (await handle.describe()).run_id
        assert description.raw.workflow_execution_info.parent_namespace == client.namespace
        parent_description = await handle.describe()
        assert parent_description.parent_id is None and parent_description.parent_run_id is None


async def test_failing_child_gives_child_workflow_error(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[FailingParent, Failing]):
        handle = await client.start_workflow(FailingParent.run, id="parent-failing", task_queue=task_queue)
        assert await handle.result() == "ApplicationError: boom"


async def test_uncaught_child_failure_fails_parent(env, task_queue):
    @workflow.defn(name="Uncaught")
    class Uncaught:
        @workflow.run
        async def run(self) -> None:
            await workflow.execute_child_workflow(Failing.run, "bad", id="uncaught-child")

    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Uncaught, Failing]):
        handle = await client.start_workflow(Uncaught.run, id="parent-uncaught", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        assert isinstance(info.value.cause, ChildWorkflowError)
        assert isinstance(info.value.cause.cause, ApplicationError)


@pytest.mark.parametrize("policy, expected", [
    (ParentClosePolicy.TERMINATE, WorkflowExecutionStatus.TERMINATED),
    (ParentClosePolicy.REQUEST_CANCEL, WorkflowExecutionStatus.CANCELED),
    (ParentClosePolicy.ABANDON, WorkflowExecutionStatus.RUNNING),
])
async def test_parent_close_policy(env, task_queue, policy, expected):
    client = env.client
    child_id = f"policy-child-{policy.name}"
    async with Worker(client, task_queue=task_queue, workflows=[ShortParent, Forever]):
        handle = await client.start_workflow(ShortParent.run, args=[child_id, int(policy)],
                                             id=f"policy-parent-{policy.name}", task_queue=task_queue)
        assert await handle.result() == child_id
        child = client.get_workflow_handle(child_id)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            status = (await child.describe()).status
            if status == expected or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert status == expected
        if policy == ParentClosePolicy.ABANDON:
            await asyncio.sleep(1.0)
            assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
            await child.terminate("cleanup")


@workflow.defn
class AwaitsValue:
    def __init__(self) -> None:
        self.value: str | None = None

    @workflow.signal
    def give(self, value: str) -> None:
        self.value = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        return self.value or ""


@workflow.defn
class SignalsChild:
    @workflow.run
    async def run(self, value: str) -> str:
        handle = await workflow.start_child_workflow(AwaitsValue.run, id=f"{workflow.info().workflow_id}-child")
        await handle.signal(AwaitsValue.give, value)
        return await handle


async def test_parent_signals_child_through_its_handle(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[SignalsChild, AwaitsValue]):
        handle = await client.start_workflow(SignalsChild.run, "forty-two", id="parent-signals",
                                             task_queue=task_queue)
        assert await handle.result() == "forty-two"
        types = [e.event_type for e in (await handle.fetch_history()).events]
        assert types.count(EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED) == 1
        assert types.count(EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED) == 1
        assert EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED not in types
        child = client.get_workflow_handle("parent-signals-child")
        assert await child.result() == "forty-two"
        child_types = [e.event_type for e in (await child.fetch_history()).events]
        assert child_types.count(EventType.WORKFLOW_EXECUTION_SIGNALED) == 1
