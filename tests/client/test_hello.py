"""The hello workflow end to end on a real service: result, history, describe, handles."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.client import WorkflowHistory
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.exceptions import PayloadError, WorkflowAlreadyStartedError, WorkflowNotFoundError
from rayflow.worker import Worker

#: Every test here runs on each store backend (tests/conftest.py).
STORE_BACKENDS = ["sqlite", "postgresql"]


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=10))


@activity.defn
def timed_sleep(index: int) -> list[float]:
    """Sync activity (runs in the replica's thread pool): returns its start and end times."""
    start = time.time()
    time.sleep(1.0)
    return [start, time.time()]


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, count: int) -> list[list[float]]:
        return list(
            await asyncio.gather(
                *(workflow.execute_activity(timed_sleep, i, start_to_close_timeout=timedelta(seconds=30))
                  for i in range(count))
            )
        )


async def test_hello_end_to_end(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting]) as worker:
        handle = await client.start_workflow(Greeting.run, "World", id="greeting-1", task_queue=task_queue)
        assert await handle.result() == "Hello, World!"
        assert handle.first_execution_run_id == handle.run_id

        history = await handle.fetch_history()
        types = [event.event_type.name for event in history.events]
        assert types == [
            "WORKFLOW_EXECUTION_STARTED",
            "WORKFLOW_TASK_SCHEDULED",
            "WORKFLOW_TASK_STARTED",
            "WORKFLOW_TASK_COMPLETED",
            "ACTIVITY_TASK_SCHEDULED",
            "ACTIVITY_TASK_STARTED",
            "ACTIVITY_TASK_COMPLETED",
            "WORKFLOW_TASK_SCHEDULED",
            "WORKFLOW_TASK_STARTED",
            "WORKFLOW_TASK_COMPLETED",
            "WORKFLOW_EXECUTION_COMPLETED",
        ]
        assert [e.event_id for e in history.events] == list(range(1, 12))
        by_type = {e.event_type: e for e in history.events}
        started = by_type[EventType.WORKFLOW_EXECUTION_STARTED].attributes
        assert started["workflow_type"] == "Greeting" and started["input"] == ["World"]
        assert by_type[EventType.ACTIVITY_TASK_SCHEDULED].attributes["activity_type"] == "compose_greeting"
        activity_started = by_type[EventType.ACTIVITY_TASK_STARTED].attributes
        assert activity_started["attempt"] == 1
        assert activity_started["identity"] == worker.identities[0]
        assert "@" in activity_started["identity"]  # pid@hostname
        assert by_type[EventType.WORKFLOW_TASK_STARTED].attributes["identity"] == worker.identities[0]
        assert by_type[EventType.ACTIVITY_TASK_COMPLETED].attributes["result"] == "Hello, World!"
        assert by_type[EventType.WORKFLOW_EXECUTION_COMPLETED].attributes["result"] == "Hello, World!"
        times = [e.event_time for e in history.events]
        assert times == sorted(times)

        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED
        assert description.workflow_type == "Greeting"
        assert description.task_queue == task_queue
        assert description.history_length == 11
        assert description.close_time is not None and description.start_time <= description.close_time
        assert description.pending_activities == []

        # A handle by id alone follows the latest run.
        again = client.get_workflow_handle("greeting-1")
        assert await again.result() == "Hello, World!"
        assert (await again.describe()).run_id == handle.run_id

        # History JSON round trip.
        restored = WorkflowHistory.from_json(history.to_json())
        assert [e.event_type for e in restored.events] == [e.event_type for e in history.events]
        assert restored.events[-1].attributes["result"] == "Hello, World!"
        assert json.loads(history.to_json())["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


async def test_execute_workflow_by_type_name_and_args(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting]):
        result = await env.client.execute_workflow("Greeting", args=["Ray"], id="by-name", task_queue=task_queue)
    assert result == "Hello, Ray!"


async def test_gathered_activities_run_concurrently(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[FanOut], activities=[timed_sleep]):
        handle = await env.client.start_workflow(FanOut.run, 5, id="fan-out", task_queue=task_queue)
        spans = await handle.result()
    assert len(spans) == 5
    # All five ran at the same time: each started before any of them ended.
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    history = await handle.fetch_history()
    types = [e.event_type for e in history.events]
    first_scheduled = types.index(EventType.ACTIVITY_TASK_SCHEDULED)
    assert types[first_scheduled:first_scheduled + 5] == [EventType.ACTIVITY_TASK_SCHEDULED] * 5
    assert types[first_scheduled - 1] == EventType.WORKFLOW_TASK_COMPLETED


async def test_duplicate_workflow_id_is_rejected(env, task_queue):
    client = env.client
    handle = await client.start_workflow(Greeting.run, "a", id="dup", task_queue=task_queue)
    with pytest.raises(WorkflowAlreadyStartedError, match="dup") as info:
        await client.start_workflow(Greeting.run, "b", id="dup", task_queue=task_queue)
    assert info.value.run_id == handle.run_id
    # The first execution is untouched and completes once a worker runs.
    async with Worker(client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting]):
        assert await handle.result() == "Hello, a!"
    # Once closed, the id may be used again (Temporal's default ALLOW_DUPLICATE).
    async with Worker(client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting]):
        second = await client.start_workflow(Greeting.run, "c", id="dup", task_queue=task_queue)
        assert second.run_id != handle.run_id
        assert await second.result() == "Hello, c!"
    assert await client.get_workflow_handle("dup", run_id=handle.run_id).result() == "Hello, a!"


async def test_argument_that_cannot_be_serialized(env, task_queue):
    import threading

    with pytest.raises(PayloadError, match="cannot be serialized"):
        await env.client.start_workflow(Greeting.run, threading.Lock(), id="bad-arg", task_queue=task_queue)
    with pytest.raises(WorkflowNotFoundError, match="bad-arg"):
        await env.client.get_workflow_handle("bad-arg").describe()
