"""handle.terminate(reason): the run ends at once as TERMINATED; late task results for it are dropped."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.common import EventType, PendingActivityState, WorkflowExecutionStatus
from rayflow.exceptions import TerminatedError, WorkflowFailureError, WorkflowNotFoundError
from rayflow.worker import Worker


@activity.defn
def slow_step(seconds: float) -> str:
    time.sleep(seconds)
    return "step done"


@workflow.defn
class SlowPipeline:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(slow_step, seconds, start_to_close_timeout=timedelta(seconds=30))


async def _until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_terminate_running_workflow_and_drop_late_activity_result(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[SlowPipeline], activities=[slow_step]):
        handle = await client.start_workflow(SlowPipeline.run, 1.5, id="pipeline", task_queue=task_queue)

        async def activity_started() -> bool:
            pending = (await handle.describe()).pending_activities
            return bool(pending) and pending[0].state == PendingActivityState.STARTED

        await _until(activity_started)
        await handle.terminate("operator said so", details=["bad input", 3])

        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        assert isinstance(info.value.cause, TerminatedError)
        assert info.value.cause.message == "operator said so"
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.TERMINATED
        assert description.close_time is not None and description.pending_activities == []
        history = await handle.fetch_history()
        closing = history.events[-1]
        assert closing.event_type == EventType.WORKFLOW_EXECUTION_TERMINATED
        assert closing.attributes["reason"] == "operator said so"
        assert closing.attributes["details"] == ["bad input", 3]
        assert closing.attributes["identity"] == f"{os.getpid()}@test"

        # The activity finishes after the run closed: its result is dropped, the history does not change,
        # and the worker goes on serving other workflows.
        await asyncio.sleep(2.0)
        assert len(await handle.fetch_history()) == len(history)
        other = await client.start_workflow(SlowPipeline.run, 0.0, id="after", task_queue=task_queue)
        assert await other.result() == "step done"


async def test_terminate_before_any_worker_ran_it(env, task_queue):
    """The workflow task dispatched before the terminate is stale: a worker that comes later ignores it."""
    client = env.client
    handle = await client.start_workflow(SlowPipeline.run, 0.0, id="never-ran", task_queue=task_queue)
    await client.get_workflow_handle("never-ran").terminate()  # by id alone: the current run
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert isinstance(info.value.cause, TerminatedError) and info.value.cause.message == "terminated"
    types = [event.event_type for event in await handle.fetch_history()]
    assert types == [EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_TASK_SCHEDULED,
                     EventType.WORKFLOW_EXECUTION_TERMINATED]

    async with Worker(client, task_queue=task_queue, workflows=[SlowPipeline], activities=[slow_step]):
        other = await client.start_workflow(SlowPipeline.run, 0.0, id="later", task_queue=task_queue)
        assert await other.result() == "step done"
    assert len(await handle.fetch_history()) == 3

    # Terminating a closed run or an unknown workflow is an error that says so.
    with pytest.raises(WorkflowNotFoundError, match=r"already closed \(TERMINATED\)"):
        await handle.terminate("again")
    with pytest.raises(WorkflowNotFoundError, match=r"already closed \(COMPLETED\)"):
        await other.terminate()
    with pytest.raises(WorkflowNotFoundError, match="no-such-id"):
        await client.get_workflow_handle("no-such-id").terminate()
    with pytest.raises(WorkflowNotFoundError, match="no-such-run"):
        await client.get_workflow_handle("later", run_id="no-such-run").terminate()
