"""Sticky execution: later workflow tasks go to the replica that caches the workflow; if it dies, another
replica replays the history from its start and completes the workflow."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.common import EventType
from rayflow.worker import Worker


@activity.defn
async def step(name: str) -> str:
    return name


@workflow.defn
class Steps:
    @workflow.run
    async def run(self) -> list[str]:
        done = [await workflow.execute_activity(step, "one", start_to_close_timeout=timedelta(seconds=10))]
        await workflow.sleep(timedelta(seconds=3))
        done.append(await workflow.execute_activity(step, "two", start_to_close_timeout=timedelta(seconds=10)))
        return done


def _workflow_task_identities(events) -> list[str]:
    return [e.attributes["identity"] for e in events if e.event_type == EventType.WORKFLOW_TASK_STARTED]


async def test_later_workflow_tasks_stay_on_the_caching_replica(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Steps], activities=[step], replicas=2):
        handle = await env.client.start_workflow(Steps.run, id="sticky", task_queue=task_queue)
        await asyncio.sleep(0.5)
        description = await handle.describe()
        assert description.raw.workflow_execution_info.sticky_task_queue.startswith("__sticky__/")
        assert await handle.result() == ["one", "two"]
    events = (await handle.fetch_history()).events
    identities = _workflow_task_identities(events)
    assert len(identities) >= 3
    assert len(set(identities)) == 1, identities  # every workflow task on the replica that cached it
    scheduled = [e.attributes["task_queue"] for e in events if e.event_type == EventType.WORKFLOW_TASK_SCHEDULED]
    assert scheduled[0] == task_queue and all(q.startswith("__sticky__/") for q in scheduled[1:])


async def test_killed_caching_replica_another_replays_and_completes(env, task_queue):
    worker = Worker(env.client, task_queue=task_queue, workflows=[Steps], activities=[step], replicas=2,
                    sticky_queue_schedule_to_start_timeout=timedelta(seconds=1))
    async with worker:
        handle = await env.client.start_workflow(Steps.run, id="sticky-kill", task_queue=task_queue)
        for _ in range(100):  # wait for the timer: the workflow is now cached on one replica only
            events = (await handle.fetch_history()).events
            if any(e.event_type == EventType.TIMER_STARTED for e in events):
                break
            await asyncio.sleep(0.1)
        caching = _workflow_task_identities(events)[-1]
        os.kill(int(caching.split("@")[0]), signal.SIGKILL)
        assert await handle.result() == ["one", "two"]
    events = (await handle.fetch_history()).events
    identities = _workflow_task_identities(events)
    assert identities[-1] != caching
    # After the kill the task left the dead replica's sticky queue for the normal queue and was replayed there.
    scheduled = [e for e in events if e.event_type == EventType.WORKFLOW_TASK_SCHEDULED]
    assert sum(e.event_type == EventType.WORKFLOW_EXECUTION_COMPLETED for e in events) == 1
    assert sum(e.event_type == EventType.TIMER_FIRED for e in events) == 1
    assert len(scheduled) >= 3
