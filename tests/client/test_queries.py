"""Queries end to end: answered from the cache or by replay, never recorded; failures and timeouts."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.exceptions import WorkflowQueryFailedError
from rayflow.worker import Worker


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.signal
    def bump(self) -> None:
        self.count += 1

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def value(self) -> int:
        return self.count

    @workflow.query(name="plus")
    def value_plus(self, n: int) -> int:
        return self.count + n

    @workflow.query
    def broken(self) -> int:
        raise RuntimeError("query handler bug")


async def _wait_count(handle, expected: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        value = await handle.query(Counter.value)
        if value == expected or time.monotonic() > deadline:
            return value


@pytest.mark.parametrize("cached", [1000, 0])
async def test_counter_query(env, task_queue, cached):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Counter], max_cached_workflows=cached):
        handle = await client.start_workflow(Counter.run, id=f"query-counter-{cached}", task_queue=task_queue)
        assert await handle.query(Counter.value) == 0
        await handle.signal(Counter.bump)
        assert await _wait_count(handle, 1) == 1
        assert await handle.query("plus", 10) == 11
        length = (await handle.describe()).history_length
        for _ in range(3):
            assert await handle.query(Counter.value) == 1
        assert (await handle.describe()).history_length == length
        with pytest.raises(WorkflowQueryFailedError, match="no query 'nope'"):
            await handle.query("nope")
        with pytest.raises(WorkflowQueryFailedError, match="query handler bug"):
            await handle.query(Counter.broken)
        assert (await handle.describe()).history_length == length
        await handle.signal(Counter.finish)
        assert await handle.result() == 1
        # a closed run is answered by replaying its full history
        assert await handle.query(Counter.value) == 1


async def test_query_without_worker_times_out(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id="query-no-worker", task_queue=task_queue)
        assert await handle.query(Counter.value) == 0
    # the worker is gone: nobody answers
    started = time.monotonic()
    with pytest.raises(WorkflowQueryFailedError, match="no worker polled task queue"):
        await handle.query(Counter.value, rpc_timeout=timedelta(seconds=2))
    assert time.monotonic() - started < 8
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        assert await handle.query(Counter.value, rpc_timeout=timedelta(seconds=20)) == 0
        await handle.signal(Counter.finish)
        assert await handle.result() == 0


async def test_a_query_right_after_a_signal_sees_it(env, task_queue):
    """As in Temporal, a query waits for the workflow task a signal scheduled: signalled n times, the very next
    query answers n (it is not answered from the cached state before the signal was applied)."""
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=f"query-after-signal-{task_queue}", task_queue=task_queue)
        answers = []
        for _ in range(20):
            await handle.signal(Counter.bump)
            answers.append(await handle.query(Counter.value))
        assert answers == list(range(1, 21))
        await handle.signal(Counter.finish)
        assert await handle.result() == 20
