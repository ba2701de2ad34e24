"""Activity cancellation end to end: the request reaches a running activity through its heartbeat."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.common import ActivityCancellationType, EventType, WorkflowExecutionStatus
from rayflow.exceptions import ActivityError, CancelledError, WorkflowFailureError
from rayflow.worker import Worker


@activity.defn
def beat_until_cancelled(path: str) -> str:
    """Heartbeats every 0.2 s; records in ``path`` whether it saw the cancellation."""
    try:
        for _ in range(300):
            activity.heartbeat()
            time.sleep(0.2)
    except CancelledError:
        with open(path, "w") as file:
            file.write(f"cancelled {activity.is_cancelled()}")
        raise
    with open(path, "w") as file:
        file.write("not cancelled")
    return "finished"


@workflow.defn
class CancelsItsActivity:
    def __init__(self) -> None:
        self.cancel_now = False

    @workflow.run
    async def run(self, path: str, cancellation_type: str) -> str:
        handle = workflow.start_activity(
            beat_until_cancelled,
            path,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
            cancellation_type=ActivityCancellationType[cancellation_type],
        )
        await workflow.wait_condition(lambda: self.cancel_now)
        handle.cancel()
        try:
            await handle
            outcome = "completed"
        except ActivityError as err:
            outcome = type(err.cause).__name__
        await workflow.sleep(3)  # stay open: the activity learns of the cancel from its next heartbeat
        return outcome

    @workflow.signal
    def cancel(self) -> None:
        self.cancel_now = True


async def _wait_for_event(handle, event_type: EventType) -> None:
    for _ in range(500):
        if any(event.event_type == event_type for event in (await handle.fetch_history()).events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {event_type.name} in the history")


async def _wait_for_file(path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} was not written")


@pytest.mark.parametrize("cancellation_type", ["TRY_CANCEL", "WAIT_CANCELLATION_COMPLETED"])
async def test_cancel_of_a_heartbeating_activity(env, task_queue, tmp_path, cancellation_type):
    client = env.client
    marker = tmp_path / "seen.txt"
    async with Worker(
        client, task_queue=task_queue, workflows=[CancelsItsActivity], activities=[beat_until_cancelled]
    ):
        handle = await client.start_workflow(
            CancelsItsActivity.run, args=[str(marker), cancellation_type], id=f"act-cancel-{cancellation_type}",
            task_queue=task_queue,
        )
        await _wait_for_event(handle, EventType.ACTIVITY_TASK_SCHEDULED)
        await asyncio.sleep(0.5)  # the activity is running and heartbeating
        await handle.signal(CancelsItsActivity.cancel)
        assert await handle.result() == "CancelledError"
        assert await _wait_for_file(marker) == "cancelled True"  # it saw the cancellation through heartbeat
    types = [event.event_type for event in (await handle.fetch_history()).events]
    assert EventType.ACTIVITY_TASK_CANCEL_REQUESTED in types
    assert EventType.ACTIVITY_TASK_CANCELED in types  # the worker reported the activity cancelled
    requested = types.index(EventType.ACTIVITY_TASK_CANCEL_REQUESTED)
    if cancellation_type == "WAIT_CANCELLATION_COMPLETED":
        # The await resolved only once the activity reported: the sleep's timer starts after that.
        assert types.index(EventType.ACTIVITY_TASK_CANCELED) < types.index(EventType.TIMER_STARTED)
    else:
        # TRY_CANCEL resolved at once: the sleep's timer started in the task that requested the cancel.
        assert types[requested + 1] == EventType.TIMER_STARTED
        assert types.index(EventType.ACTIVITY_TASK_CANCELED) > requested + 1


@workflow.defn
class AwaitsActivity:
    @workflow.run
    async def run(self, path: str) -> str:
        return await workflow.execute_activity(
            beat_until_cancelled, path, start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=2),
        )


async def test_workflow_cancel_cancels_its_running_activity(env, task_queue, tmp_path):
    client = env.client
    marker = tmp_path / "seen.txt"
    async with Worker(client, task_queue=task_queue, workflows=[AwaitsActivity], activities=[beat_until_cancelled]):
        handle = await client.start_workflow(AwaitsActivity.run, str(marker), id="wf-cancel-act", task_queue=task_queue)
        await _wait_for_event(handle, EventType.ACTIVITY_TASK_SCHEDULED)
        await asyncio.sleep(0.5)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        assert isinstance(info.value.cause, CancelledError)
        assert await _wait_for_file(marker) == "cancelled True"
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    types = [event.event_type for event in (await handle.fetch_history()).events]
    assert EventType.ACTIVITY_TASK_CANCEL_REQUESTED in types
    assert types[-1] == EventType.WORKFLOW_EXECUTION_CANCELED
