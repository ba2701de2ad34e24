"""client.list_workflows(...): every run of the namespace across shards, filtered, newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rayflow import workflow
from rayflow.client import WorkflowExecution
from rayflow.common import WorkflowExecutionStatus
from rayflow.exceptions import ApplicationError, WorkflowFailureError
from rayflow.worker import Worker

Status = WorkflowExecutionStatus


@workflow.defn
class Job:
    @workflow.run
    async def run(self, ok: bool) -> str:
        if not ok:
            raise ApplicationError("job failed", non_retryable=True)
        return "ok"


async def _listed(client, **filters) -> list[WorkflowExecution]:
    return [execution async for execution in client.list_workflows(**filters)]


async def test_list_filter_order_and_pages(env, task_queue):
    client = env.client
    idle_queue = f"{task_queue}-idle"  # no worker: its workflows stay running
    handles = []
    async with Worker(client, task_queue=task_queue, workflows=[Job]):
        for i in range(4):
            handles.append(await client.start_workflow(Job.run, True, id=f"job-{i}", task_queue=task_queue))
            await handles[-1].result()
        middle = datetime.now(UTC)
        failed = await client.start_workflow(Job.run, False, id="job-bad", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError):
            await failed.result()
        handles.append(failed)
        again = await client.start_workflow(Job.run, True, id="job-0", task_queue=task_queue)  # a second run of job-0
        await again.result()
        handles.append(again)
    for i in range(3):
        handles.append(await client.start_workflow("Report", id=f"report-{i}", task_queue=idle_queue))
    await handles[-1].terminate("not needed")
    newest_first = [h.run_id for h in reversed(handles)]

    everything = await _listed(client)
    assert [e.run_id for e in everything] == newest_first
    assert len({e.id for e in everything}) == len(handles) - 1  # job-0 ran twice
    starts = [e.start_time for e in everything]
    assert starts == sorted(starts, reverse=True)

    by_run = {e.run_id: e for e in everything}
    for handle in (handles[0], failed, handles[-1]):
        described = await handle.describe()
        listed = by_run[handle.run_id]
        assert (listed.id, listed.workflow_type, listed.task_queue, listed.status, listed.start_time,
                listed.close_time, listed.history_length) == (
            described.id, described.workflow_type, described.task_queue, described.status, described.start_time,
            described.close_time, described.history_length)
    assert by_run[handles[-2].run_id].status == Status.RUNNING and by_run[handles[-2].run_id].close_time is None

    # Filters, alone and together.
    assert [e.run_id for e in await _listed(client, status=Status.RUNNING)] == newest_first[1:3]
    assert [e.run_id for e in await _listed(client, status=Status.FAILED)] == [failed.run_id]
    assert [e.run_id for e in await _listed(client, status=Status.TERMINATED)] == [handles[-1].run_id]
    assert len(await _listed(client, status=Status.COMPLETED, workflow_type="Job")) == 5
    assert [e.run_id for e in await _listed(client, workflow_type="Report")] == newest_first[:3]
    assert [e.run_id for e in await _listed(client, task_queue=idle_queue, status=Status.RUNNING)] == newest_first[1:3]
    assert await _listed(client, workflow_type="Job", task_queue=idle_queue) == []
    recent = await _listed(client, start_time_min=middle)
    assert [e.run_id for e in recent] == newest_first[:5]
    assert [e.run_id for e in await _listed(client, start_time_max=middle)] == newest_first[5:]
    window = await _listed(client, start_time_min=recent[-1].start_time, start_time_max=recent[-2].start_time)
    assert [e.run_id for e in window] == newest_first[3:5]

    # Pages of any size give the same sequence (the cursor crosses shards); counts match.
    for page_size in (1, 2, 3, 100):
        assert [e.run_id for e in await _listed(client, page_size=page_size)] == newest_first
    assert await client.count_workflows() == len(handles)
    assert await client.count_workflows(status=Status.RUNNING, workflow_type="Report") == 2
    assert await client.count_workflows(start_time_min=middle) == 5

    with pytest.raises(ValueError, match="page_size"):
        client.list_workflows(page_size=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        client.list_workflows(start_time_min=datetime.now())
