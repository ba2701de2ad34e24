"""client.describe_task_queue: pollers of both queues, backlog per label with its age, dispatch rate."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from rayflow import activity, workflow
from rayflow.client import PollerInfo, TaskQueueDescription
from rayflow.worker import Worker

TIMEOUT = timedelta(seconds=30)


@activity.defn
async def double(n: int) -> int:
    return 2 * n


@workflow.defn
class Doubles:
    @workflow.run
    async def run(self, count: int) -> int:
        return sum(await asyncio.gather(*(
            workflow.execute_activity(double, n, start_to_close_timeout=TIMEOUT) for n in range(count)
        )))


@workflow.defn
class NeedsNowhere:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(double, 1, start_to_close_timeout=TIMEOUT, resource_label="nowhere")


async def test_describe_shows_pollers_backlog_and_dispatch_rate(env, task_queue):
    client = env.client
    empty = await client.describe_task_queue(task_queue)
    assert empty.activity.pollers == [] and empty.activity.backlog == 0 and empty.activity.backlog_age is None
    # A queue-wide limit also keeps activities off eager execution: they all go through Matching.
    async with Worker(client, task_queue=task_queue, workflows=[Doubles, NeedsNowhere], activities=[double],
                      labels={"team": "blue"}, identity="describe-{replica}",
                      max_task_queue_activities_per_second=1000) as worker:
        assert await client.execute_workflow(Doubles.run, 4, id="doubles", task_queue=task_queue) == 12
        await client.start_workflow(NeedsNowhere.run, id="nowhere", task_queue=task_queue)
        deadline = time.monotonic() + 20
        while True:
            described = await client.describe_task_queue(task_queue)
            if described.activity.backlog or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
        described = await client.describe_task_queue(task_queue)

    assert isinstance(described, TaskQueueDescription) and described.name == task_queue
    now = datetime.now(UTC)
    for kind in (described.workflow, described.activity):
        assert [p.identity for p in kind.pollers] == worker.identities == ["describe-0"]
        poller = kind.pollers[0]
        assert isinstance(poller, PollerInfo)
        assert now - timedelta(seconds=60) < poller.last_access_time <= now
        assert poller.node_id and poller.node_ip and poller.actor_id
        assert [p.partition for p in kind.partitions] == [0, 1, 2, 3]
    assert described.activity.pollers[0].labels == ["team", "team:blue"]
    assert described.activity.pollers[0].rate_limit == 1000.0
    assert described.workflow.pollers[0].rate_limit is None
    assert described.activity.rate_limit == 1000.0 and described.workflow.rate_limit is None

    activity = described.activity
    assert activity.backlog == 1 and activity.backlog_by_label == {"nowhere": 1}
    assert activity.backlog_age is not None and timedelta(0) < activity.backlog_age < timedelta(seconds=60)
    [holding] = [p for p in activity.partitions if p.backlog]
    assert holding.backlog_by_label == {"nowhere": 1} and holding.backlog_age is not None
    assert all(p.backlog_age is None for p in activity.partitions if not p.backlog)

    assert activity.dispatch_rate > 0 and described.workflow.dispatch_rate > 0
    assert activity.dispatch_rate == sum(p.dispatch_rate for p in activity.partitions)
    assert described.workflow.backlog == 0
