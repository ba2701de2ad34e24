"""Workflow timeouts end to end: run timeout, execution timeout across continue-as-new, workflow task timeout."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import TimeoutError, WorkflowFailureError
from rayflow.worker import Worker


@workflow.defn
class Sleeps:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "woke"


@workflow.defn
class LoopsForever:
    @workflow.run
    async def run(self, runs: int) -> None:
        await workflow.sleep(0.3)
        workflow.continue_as_new(runs + 1)


@workflow.defn
class StallsOnce:
    @workflow.run
    async def run(self, marker: str) -> int:
        # Test-only: workflow code must never do I/O or block. The first attempt of the first workflow task
        # leaves a marker and blocks past its task timeout, as a hung worker would; the retry finds the marker.
        if not os.path.exists(marker):
            with open(marker, "w") as file:
                file.write("stalled")
            time.sleep(5)
        return workflow.info().attempt


async def _types(handle) -> list[EventType]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def test_run_timeout_ends_a_sleeping_workflow_timed_out(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Sleeps]):
        handle = await client.start_workflow(Sleeps.run, 60.0, id="run-timeout", task_queue=task_queue,
                                             run_timeout=timedelta(seconds=2))
        started = time.monotonic()
        with pytest.raises(WorkflowFailureError) as caught:
            await asyncio.wait_for(handle.result(), 30)
    assert isinstance(caught.value.cause, TimeoutError)
    assert time.monotonic() - started < 20
    assert (await _types(handle))[-1] == EventType.WORKFLOW_EXECUTION_TIMED_OUT
    assert (await handle.describe()).status == WorkflowExecutionStatus.TIMED_OUT


async def test_execution_timeout_spans_continue_as_new(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[LoopsForever]):
        handle = await client.start_workflow(LoopsForever.run, 0, id="execution-timeout", task_queue=task_queue,
                                             execution_timeout=timedelta(seconds=3),
                                             run_timeout=timedelta(seconds=60))
        with pytest.raises(WorkflowFailureError) as caught:
            await asyncio.wait_for(handle.result(), 30)  # follows the chain to the run that timed out
    assert isinstance(caught.value.cause, TimeoutError)
    last = client.get_workflow_handle("execution-timeout")
    description = await last.describe()
    assert description.status == WorkflowExecutionStatus.TIMED_OUT
    assert description.run_id != handle.run_id  # it continued as new before the chain's deadline
    assert description.first_execution_run_id == handle.run_id
    assert (await handle.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW


async def test_task_timeout_redispatches_a_task_never_answered(env, task_queue, tmp_path):
    client = env.client
    marker = str(tmp_path / "stalled")
    async with Worker(client, task_queue=task_queue, workflows=[StallsOnce]):
        handle = await client.start_workflow(StallsOnce.run, marker, id="task-timeout", task_queue=task_queue,
                                             task_timeout=timedelta(seconds=2))
        attempt = await asyncio.wait_for(handle.result(), 60)
    assert attempt == 1  # the workflow attempt; the workflow task was retried
    types = await _types(handle)
    assert EventType.WORKFLOW_TASK_TIMED_OUT in types
    assert types[-1] == EventType.WORKFLOW_EXECUTION_COMPLETED
