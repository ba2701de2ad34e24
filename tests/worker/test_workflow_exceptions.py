"""Workflow exceptions end to end (Temporal's default): a bug fails the workflow task, a fixed worker goes on.

An exception that is not a ``FailureError`` fails only the workflow task (WORKFLOW_TASK_FAILED, retried): the
workflow stays RUNNING until a worker with fixed code completes it. The types listed in
``@workflow.defn(failure_exception_types=...)`` or ``Worker(workflow_failure_exception_types=...)`` fail the
workflow instead. (``ApplicationError`` failing the workflow is tested in test_retries_timeouts.py.)
"""

from __future__ import annotations

import asyncio
import time

import pytest

from rayflow import workflow
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import ApplicationError, WorkflowFailureError
from rayflow.worker import Worker


@workflow.defn(name="Fragile")
class FragileBroken:
    @workflow.run
    async def run(self, key: str) -> str:
        return {"present": "value"}[key]  # KeyError: a bug in the workflow code


@workflow.defn(name="Fragile")
class FragileFixed:
    @workflow.run
    async def run(self, key: str) -> str:
        return {"present": "value"}.get(key, "default")


@workflow.defn(name="Fragile", failure_exception_types=[KeyError])
class FragileFailing:
    @workflow.run
    async def run(self, key: str) -> str:
        return {"present": "value"}[key]


async def _failed_tasks(handle) -> list:
    return [e for e in (await handle.fetch_history()).events if e.event_type == EventType.WORKFLOW_TASK_FAILED]


async def test_a_bug_fails_the_task_and_a_fixed_worker_completes_the_workflow(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[FragileBroken]):
        handle = await client.start_workflow(FragileBroken.run, "missing", id="fragile", task_queue=task_queue)
        deadline = time.monotonic() + 30
        while not (failed := await _failed_tasks(handle)):
            assert time.monotonic() < deadline, "no WORKFLOW_TASK_FAILED in the history"
            await asyncio.sleep(0.05)
    failure = failed[0].attributes["failure"]
    assert failure["message"] == "'missing'"
    assert "KeyError" in failure["stack_trace"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    async with Worker(client, task_queue=task_queue, workflows=[FragileFixed]):  # the fix is deployed
        assert await asyncio.wait_for(handle.result(), 60) == "default"
    types = [e.event_type for e in (await handle.fetch_history()).events]
    assert types[-2:] == [EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert EventType.WORKFLOW_EXECUTION_FAILED not in types


@pytest.mark.parametrize("where", ["defn", "worker"])
async def test_listed_exception_types_fail_the_workflow(env, task_queue, where):
    client = env.client
    if where == "defn":
        worker = Worker(client, task_queue=task_queue, workflows=[FragileFailing])
    else:
        worker = Worker(client, task_queue=task_queue, workflows=[FragileBroken],
                        workflow_failure_exception_types=[LookupError])  # a base class of KeyError
    async with worker:
        handle = await client.start_workflow("Fragile", "missing", id=f"fragile-{where}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), 30)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), repr(cause)
    assert (cause.message, cause.type) == ("'missing'", "KeyError")
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    assert await _failed_tasks(handle) == []
