"""Continue-as-new end to end: a chain of runs under one workflow id, signals across the switch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from rayflow import workflow
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.worker import Worker

#: Every test here runs on each store backend (tests/conftest.py).
STORE_BACKENDS = ["sqlite", "postgresql"]


@workflow.defn
class Loop:
    """Continues as new ``runs`` times; returns what each run saw."""

    @workflow.run
    async def run(self, runs: int, seen: list) -> list:
        info = workflow.info()
        seen = [*seen, [info.run_id, info.continued_run_id, info.first_execution_run_id]]
        await workflow.sleep(0.05)
        if runs > 0:
            workflow.continue_as_new(runs - 1, seen)
        return seen


@workflow.defn
class Counter:
    """Counts signals, carrying the count across continue-as-new, until ``target`` have arrived.

    Each run waits for at least one new signal, then continues as new: signals keep arriving while it switches.
    """

    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self, count: int, target: int) -> tuple:
        self.count += count
        carried = count
        await workflow.wait_condition(lambda: self.count > carried)
        await workflow.sleep(0.02)
        if self.count >= target:
            return self.count, workflow.info().run_id
        workflow.continue_as_new(self.count, target)

    @workflow.signal
    def bump(self) -> None:
        self.count += 1


async def test_continue_as_new_loop_of_ten_runs(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Loop]):
        handle = await client.start_workflow(Loop.run, args=[10, []], id="can-loop", task_queue=task_queue,
                                             run_timeout=timedelta(minutes=5))
        seen = await handle.result()  # on the first run's handle: follows the chain
    assert len(seen) == 11
    run_ids = [run_id for run_id, _, _ in seen]
    assert len(set(run_ids)) == 11 and run_ids[0] == handle.run_id
    assert [continued for _, continued, _ in seen] == [None, *run_ids[:-1]]
    assert {first for _, _, first in seen} == {handle.run_id}
    # Each run has its own fresh history: one start, then its own close.
    for index, run_id in enumerate(run_ids):
        run = client.get_workflow_handle("can-loop", run_id=run_id)
        history = await run.fetch_history()
        assert history.events[0].event_type == EventType.WORKFLOW_EXECUTION_STARTED
        started = history.events[0].raw.workflow_execution_started_event_attributes
        assert started.continued_execution_run_id == (run_ids[index - 1] if index else "")
        assert started.workflow_run_timeout.ToTimedelta() == timedelta(minutes=5)  # inherited
        last = history.events[-1]
        description = await run.describe()
        if index < 10:
            assert last.event_type == EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            assert last.raw.workflow_execution_continued_as_new_event_attributes.new_execution_run_id == (
                run_ids[index + 1]
            )
            assert description.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        else:
            assert last.event_type == EventType.WORKFLOW_EXECUTION_COMPLETED
            assert description.status == WorkflowExecutionStatus.COMPLETED
    latest = await client.get_workflow_handle("can-loop").describe()
    assert latest.run_id == run_ids[-1]


async def test_signals_sent_while_it_continues_as_new_are_all_counted(env, task_queue):
    client = env.client
    target = 30
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, args=[0, target], id="can-signals", task_queue=task_queue)
        latest = client.get_workflow_handle("can-signals")  # no run id: signals go to the current run
        await latest.signal(Counter.bump)
        # The first run continues as new on its first signal; the rest are sent while the chain moves on.
        while (await latest.describe()).run_id == handle.run_id:
            await asyncio.sleep(0.05)
        for _ in range(target - 1):
            await latest.signal(Counter.bump)
            await asyncio.sleep(0.01)
        count, last_run_id = await asyncio.wait_for(handle.result(), 60)
    assert count == target  # none lost, none counted twice
    assert last_run_id != handle.run_id
