"""Workflow cancellation end to end: cleanup in `finally`, CANCELED status, cancelled timers, errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import CancelledError, WorkflowFailureError, WorkflowNotFoundError
from rayflow.worker import Worker


@activity.defn
def record_cleanup(path: str) -> None:
    with open(path, "a") as file:
        file.write("cleanup\n")


@workflow.defn
class SleepThenCleanUp:
    @workflow.run
    async def run(self, path: str) -> str:
        try:
            await workflow.sleep(timedelta(hours=1))
            return "woke up"
        finally:
            await workflow.execute_activity(record_cleanup, path, start_to_close_timeout=timedelta(seconds=10))


async def _wait_for_event(handle, event_type: EventType) -> None:
    for _ in range(500):
        if any(event.event_type == event_type for event in (await handle.fetch_history()).events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {event_type.name} in the history")


async def test_cancel_with_cleanup(env, task_queue, tmp_path):
    client = env.client
    marker = tmp_path / "cleanup.txt"
    async with Worker(client, task_queue=task_queue, workflows=[SleepThenCleanUp], activities=[record_cleanup]):
        handle = await client.start_workflow(SleepThenCleanUp.run, str(marker), id="cancel-me", task_queue=task_queue)
        await _wait_for_event(handle, EventType.TIMER_STARTED)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert isinstance(info.value.cause, CancelledError)
    assert marker.read_text() == "cleanup\n"  # the cleanup activity ran once
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    types = [event.event_type for event in (await handle.fetch_history()).events]
    assert EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED in types
    assert EventType.TIMER_CANCELED in types  # the sleep's timer was cancelled, not left to fire
    assert types.index(EventType.TIMER_CANCELED) < types.index(EventType.ACTIVITY_TASK_SCHEDULED)
    assert types[-1] == EventType.WORKFLOW_EXECUTION_CANCELED


async def test_cancel_of_a_closed_or_unknown_workflow_fails_clearly(env, task_queue, tmp_path):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[SleepThenCleanUp], activities=[record_cleanup]):
        handle = await client.start_workflow(
            SleepThenCleanUp.run, str(tmp_path / "x"), id="cancel-twice", task_queue=task_queue
        )
        await _wait_for_event(handle, EventType.TIMER_STARTED)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    with pytest.raises(WorkflowNotFoundError, match=r"already closed \(CANCELED\)"):
        await handle.cancel()
    with pytest.raises(WorkflowNotFoundError, match="no-such-workflow"):
        await client.get_workflow_handle("no-such-workflow").cancel()
