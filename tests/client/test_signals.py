"""Signals end to end: order, a signal right after start or during a workflow task, signal-with-start, errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from rayflow import workflow
from rayflow.common import EventType
from rayflow.exceptions import WorkflowNotFoundError
from rayflow.worker import Worker

#: Every test here runs on each store backend (tests/conftest.py).
STORE_BACKENDS = ["sqlite", "postgresql"]


@workflow.defn
class Collect:
    """Returns the first ``count`` signals it got."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self, count: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= count)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)


@workflow.defn
class SlowTask:
    """Its only workflow task blocks for a while: signals sent meanwhile arrive during the task."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        time.sleep(1.5)  # blocks the workflow task on purpose (never do this in real workflow code)
        return self.items

    @workflow.signal(name="item")
    def add(self, item: str) -> None:
        self.items.append(item)


async def _history_types(handle) -> list[EventType]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def test_three_signals_in_order(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Collect]):
        handle = await client.start_workflow(Collect.run, 3, id="signals-3", task_queue=task_queue)
        await handle.signal(Collect.add, "one")  # right after the start
        await handle.signal(Collect.add, "two")
        await handle.signal("add", "three")
        assert await handle.result() == ["one", "two", "three"]
    types = await _history_types(handle)
    assert types.count(EventType.WORKFLOW_EXECUTION_SIGNALED) == 3


async def test_signal_sent_before_any_worker_runs(env, task_queue):
    client = env.client
    handle = await client.start_workflow(Collect.run, 1, id="signal-early", task_queue=task_queue)
    await handle.signal(Collect.add, "early")
    async with Worker(client, task_queue=task_queue, workflows=[Collect]):
        assert await handle.result() == ["early"]


async def test_signal_during_the_last_workflow_task_is_not_lost(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[SlowTask]):
        handle = await client.start_workflow(SlowTask.run, id="signal-during-task", task_queue=task_queue)
        for _ in range(200):  # wait until the worker runs the task
            if (await handle.describe()).raw.pending_workflow_task.started_event_id:
                break
            await asyncio.sleep(0.02)
        await handle.signal("item", "late")
        # The task that tried to complete without it is rejected; the next one sees the signal.
        assert await handle.result() == ["late"]
    types = await _history_types(handle)
    assert EventType.WORKFLOW_TASK_FAILED in types


async def test_signal_with_start(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Collect]):
        handle = await client.start_workflow(
            Collect.run, 2, id="signal-with-start", task_queue=task_queue,
            start_signal=Collect.add, start_signal_args=["first"],
        )
        types = await _history_types(handle)
        assert types[:2] == [EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_TASK_SCHEDULED]
        assert EventType.WORKFLOW_EXECUTION_SIGNALED in types
        # Signal-with-start on the running run only signals it, and the handle is to that run.
        again = await client.start_workflow(
            Collect.run, 99, id="signal-with-start", task_queue=task_queue,
            start_signal="add", start_signal_args=["second"],
        )
        assert again.run_id == handle.run_id
        assert await handle.result() == ["first", "second"]


async def test_signalling_a_closed_or_unknown_workflow_fails_clearly(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Collect]):
        handle = await client.start_workflow(Collect.run, 0, id="signal-closed", task_queue=task_queue)
        assert await handle.result() == []
    with pytest.raises(WorkflowNotFoundError, match=r"already closed \(COMPLETED\)"):
        await handle.signal(Collect.add, "too late")
    with pytest.raises(WorkflowNotFoundError, match="no-such-workflow"):
        await client.get_workflow_handle("no-such-workflow").signal(Collect.add, "x")
    with pytest.raises(TypeError, match="not a signal"):
        await handle.signal(Collect.run, "x")
