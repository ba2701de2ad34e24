"""Bad input fails the task, never the workflow, with a clear message; fixing the worker resumes it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.common import EventType, RetryPolicy, WorkflowExecutionStatus
from rayflow.worker import Worker

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(milliseconds=200))


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def shout(name: str) -> str:
    return name.upper()


@activity.defn
async def step_a() -> str:
    return "a"


@activity.defn
async def step_b() -> str:
    return "b"


@workflow.defn(name="CallsMissingActivity")
class CallsMissingActivity:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            "shout", name, start_to_close_timeout=timedelta(seconds=5), retry_policy=FAST_RETRY
        )


@workflow.defn(name="NoTimeout")
class NoTimeoutBroken:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name)


@workflow.defn(name="NoTimeout")
class NoTimeoutFixed:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=5))


@workflow.defn(name="Unregistered")
class Unregistered:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"ran {name}"


@workflow.defn(name="Versioned")
class VersionedV1:
    @workflow.run
    async def run(self) -> str:
        first = await workflow.execute_activity(step_a, start_to_close_timeout=timedelta(seconds=5))
        await workflow.sleep(timedelta(seconds=2))
        return first + "-done"


@workflow.defn(name="Versioned")
class VersionedV2:
    @workflow.run
    async def run(self) -> str:
        first = await workflow.execute_activity(step_b, start_to_close_timeout=timedelta(seconds=5))
        await workflow.sleep(timedelta(seconds=2))
        return first + "-done"


async def _wait_for_event(handle, event_type: EventType, count: int = 1, timeout: float = 30.0):
    """Poll the history until it holds ``count`` events of ``event_type``; returns those events."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        events = [e for e in (await handle.fetch_history()).events if e.event_type == event_type]
        if len(events) >= count:
            return events
        assert asyncio.get_running_loop().time() < deadline, f"no {event_type.name} in history after {timeout}s"
        await asyncio.sleep(0.2)


async def test_unknown_activity_type_retries_until_a_worker_has_it(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[CallsMissingActivity], activities=[compose_greeting]):
        handle = await client.start_workflow(CallsMissingActivity.run, "ray", id="missing-act", task_queue=task_queue)
        for _ in range(100):
            description = await handle.describe()
            pending = description.pending_activities
            if pending and pending[0].attempt >= 3:
                break
            await asyncio.sleep(0.1)
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert pending[0].activity_type == "shout"
        assert pending[0].last_failure is not None
        assert "'shout' is not registered on this worker" in pending[0].last_failure.message
        assert pending[0].last_failure.type == "NotFoundError"
    # The fixed worker has the activity: the same execution completes.
    async with Worker(client, task_queue=task_queue, workflows=[CallsMissingActivity], activities=[shout]):
        assert await handle.result() == "RAY"
    history = await handle.fetch_history()
    assert [e.attributes["attempt"] for e in history.events if e.event_type == EventType.ACTIVITY_TASK_STARTED][0] >= 3
    assert sum(e.event_type == EventType.ACTIVITY_TASK_FAILED for e in history.events) == 0


async def test_unknown_workflow_type_fails_the_task_not_the_workflow(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[NoTimeoutFixed], activities=[compose_greeting]):
        handle = await client.start_workflow("Unregistered", "x", id="unknown-wf", task_queue=task_queue)
        failed = await _wait_for_event(handle, EventType.WORKFLOW_TASK_FAILED)
        message = failed[0].attributes["failure"]["message"]
        assert "Workflow type 'Unregistered' is not registered on this worker" in message
        assert "NoTimeout" in message  # names what is registered
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    async with Worker(client, task_queue=task_queue, workflows=[Unregistered]):
        assert await handle.result() == "ran x"


async def test_missing_activity_timeout_fails_the_task_until_the_code_is_fixed(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[NoTimeoutBroken], activities=[compose_greeting]):
        handle = await client.start_workflow(NoTimeoutBroken.run, "x", id="no-timeout", task_queue=task_queue)
        failed = await _wait_for_event(handle, EventType.WORKFLOW_TASK_FAILED)
        message = failed[0].attributes["failure"]["message"]
        assert "start_to_close_timeout or schedule_to_close_timeout is required" in message
        assert "compose_greeting" in message
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    async with Worker(client, task_queue=task_queue, workflows=[NoTimeoutFixed], activities=[compose_greeting]):
        assert await handle.result() == "Hello, x!"
    types = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.ACTIVITY_TASK_SCHEDULED in types and types[-1] == EventType.WORKFLOW_EXECUTION_COMPLETED


async def test_nondeterministic_code_fails_the_task_and_the_old_code_resumes(env, task_queue):
    client = env.client
    v1 = dict(task_queue=task_queue, activities=[step_a, step_b], max_cached_workflows=0)
    async with Worker(client, workflows=[VersionedV1], **v1):
        handle = await client.start_workflow(VersionedV1.run, id="versioned", task_queue=task_queue)
        await _wait_for_event(handle, EventType.TIMER_STARTED)
    # A worker with reordered code replays the history when the timer fires: non-determinism.
    async with Worker(client, workflows=[VersionedV2], **v1):
        failed = await _wait_for_event(handle, EventType.WORKFLOW_TASK_FAILED)
    attributes = failed[0].attributes
    assert attributes["cause"] == "WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR"
    message = attributes["failure"]["message"]
    assert "step_a" in message and "step_b" in message, message
    assert attributes["failure"]["type"] == "NondeterminismError"
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    # Back on the original code, the same execution completes.
    async with Worker(client, workflows=[VersionedV1], **v1):
        assert await handle.result() == "a-done"


async def test_worker_rejects_undecorated_code(env, task_queue):
    async def plain(): ...

    with pytest.raises(TypeError, match="@activity.defn"):
        Worker(env.client, task_queue=task_queue, activities=[plain])
    with pytest.raises(TypeError, match="@workflow.defn"):
        Worker(env.client, task_queue=task_queue, workflows=[int])
    with pytest.raises(ValueError, match="two workflows are named 'NoTimeout'"):
        Worker(env.client, task_queue=task_queue, workflows=[NoTimeoutBroken, NoTimeoutFixed])
    with pytest.raises(TypeError, match=r"workflow_failure_exception_types.*'KeyError' is not an exception class"):
        Worker(env.client, task_queue=task_queue, workflows=[NoTimeoutFixed], workflow_failure_exception_types=["KeyError"])
