"""Every workflow id reuse / conflict policy case (Temporal's semantics), on real workflows and a Worker."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.common import EventType, WorkflowExecutionStatus, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from rayflow.exceptions import ApplicationError, TerminatedError, WorkflowAlreadyStartedError, WorkflowFailureError
from rayflow.worker import Worker

Conflict, Reuse, Status = WorkflowIDConflictPolicy, WorkflowIDReusePolicy, WorkflowExecutionStatus


@workflow.defn
class Echo:
    """Returns its argument; ``"fail"`` fails the run, ``"wait"`` keeps it running for an hour."""

    @workflow.run
    async def run(self, value: str) -> str:
        if value == "fail":
            raise ApplicationError("asked to fail", non_retryable=True)
        if value == "wait":
            await workflow.sleep(timedelta(hours=1))
        return value


async def _status(handle) -> WorkflowExecutionStatus:
    return (await handle.describe()).status


async def test_conflict_policies_while_running(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        first = await client.start_workflow(Echo.run, "wait", id="c", task_queue=task_queue)

        # FAIL (default, or explicit): the running run stays; the error names the policy and the run.
        for policy in (None, Conflict.FAIL):
            with pytest.raises(WorkflowAlreadyStartedError, match="conflict policy is FAIL") as info:
                await client.start_workflow(Echo.run, "x", id="c", task_queue=task_queue, id_conflict_policy=policy)
            assert info.value.run_id == first.run_id and info.value.workflow_type == "Echo"

        # USE_EXISTING: nothing starts, the handle is the running run (whatever the reuse policy says).
        length = (await first.describe()).history_length
        for reuse in (None, Reuse.REJECT_DUPLICATE):
            same = await client.start_workflow(Echo.run, "x", id="c", task_queue=task_queue,
                                               id_conflict_policy=Conflict.USE_EXISTING, id_reuse_policy=reuse)
            assert same.run_id == first.run_id
        assert (await first.describe()).history_length == length
        assert await _status(first) == Status.RUNNING

        # TERMINATE_EXISTING: the running run ends as TERMINATED and the new one runs.
        second = await client.start_workflow(Echo.run, "second", id="c", task_queue=task_queue,
                                             id_conflict_policy=Conflict.TERMINATE_EXISTING)
        assert second.run_id != first.run_id
        assert await second.result() == "second"
        with pytest.raises(WorkflowFailureError) as failure:
            await first.result()
        assert isinstance(failure.value.cause, TerminatedError)
        assert "id conflict policy TERMINATE_EXISTING" in str(failure.value.cause)
        assert await _status(first) == Status.TERMINATED
        closing = (await first.fetch_history()).events[-1]
        assert closing.event_type == EventType.WORKFLOW_EXECUTION_TERMINATED
        assert closing.attributes["identity"] == f"{os.getpid()}@test"

        # TERMINATE_EXISTING when the current run is closed: the reuse policy decides, as for any start.
        with pytest.raises(WorkflowAlreadyStartedError, match="REJECT_DUPLICATE"):
            await client.start_workflow(Echo.run, "x", id="c", task_queue=task_queue,
                                        id_conflict_policy=Conflict.TERMINATE_EXISTING,
                                        id_reuse_policy=Reuse.REJECT_DUPLICATE)
        # USE_EXISTING when closed: a new run starts (default ALLOW_DUPLICATE).
        third = await client.start_workflow(Echo.run, "wait", id="c", task_queue=task_queue,
                                            id_conflict_policy=Conflict.USE_EXISTING)
        assert third.run_id not in (first.run_id, second.run_id)

        # Reuse policy TERMINATE_IF_RUNNING: terminates a running run, and allows one after a closed run.
        fourth = await client.start_workflow(Echo.run, "fourth", id="c", task_queue=task_queue,
                                             id_reuse_policy=Reuse.TERMINATE_IF_RUNNING)
        assert await fourth.result() == "fourth"
        assert await _status(third) == Status.TERMINATED
        with pytest.raises(WorkflowFailureError, match="id reuse policy TERMINATE_IF_RUNNING"):
            await third.result()
        fifth = await client.start_workflow(Echo.run, "fifth", id="c", task_queue=task_queue,
                                            id_reuse_policy=Reuse.TERMINATE_IF_RUNNING)
        assert await fifth.result() == "fifth"

    with pytest.raises(ValueError, match="TERMINATE_IF_RUNNING cannot be combined"):
        await client.start_workflow(Echo.run, "x", id="c", task_queue=task_queue,
                                    id_reuse_policy=Reuse.TERMINATE_IF_RUNNING, id_conflict_policy=Conflict.FAIL)


async def test_reuse_policies_after_close(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        closed = {
            "completed": await client.start_workflow(Echo.run, "ok", id="completed", task_queue=task_queue),
            "failed": await client.start_workflow(Echo.run, "fail", id="failed", task_queue=task_queue),
            "terminated": await client.start_workflow(Echo.run, "wait", id="terminated", task_queue=task_queue),
        }
        await closed["terminated"].terminate("to test reuse")
        assert await closed["completed"].result() == "ok"
        with pytest.raises(WorkflowFailureError):
            await closed["failed"].result()
        assert [await _status(h) for h in closed.values()] == [Status.COMPLETED, Status.FAILED, Status.TERMINATED]

        # REJECT_DUPLICATE: never, whatever the closed run's status.
        for wf_id, handle in closed.items():
            with pytest.raises(WorkflowAlreadyStartedError, match="REJECT_DUPLICATE never allows") as info:
                await client.start_workflow(Echo.run, "x", id=wf_id, task_queue=task_queue,
                                            id_reuse_policy=Reuse.REJECT_DUPLICATE)
            assert info.value.run_id == handle.run_id
            assert Status((await handle.describe()).status).name in str(info.value)

        # ALLOW_DUPLICATE_FAILED_ONLY: not after a completed run; after a failed or terminated one, yes.
        with pytest.raises(WorkflowAlreadyStartedError, match="closed as COMPLETED.*ALLOW_DUPLICATE_FAILED_ONLY"):
            await client.start_workflow(Echo.run, "x", id="completed", task_queue=task_queue,
                                        id_reuse_policy=Reuse.ALLOW_DUPLICATE_FAILED_ONLY)
        for wf_id in ("failed", "terminated"):
            again = await client.start_workflow(Echo.run, "again", id=wf_id, task_queue=task_queue,
                                                id_reuse_policy=Reuse.ALLOW_DUPLICATE_FAILED_ONLY)
            assert again.run_id != closed[wf_id].run_id
            assert await again.result() == "again"

        # ALLOW_DUPLICATE (default, or explicit): always after a closed run.
        for policy in (None, Reuse.ALLOW_DUPLICATE):
            again = await client.start_workflow(Echo.run, "dup", id="completed", task_queue=task_queue,
                                                id_reuse_policy=policy)
            assert await again.result() == "dup"


async def test_start_request_id_is_idempotent_under_every_policy(env, task_queue):
    client = env.client
    first = await client.start_workflow(Echo.run, "wait", id="idem", task_queue=task_queue, request_id="req-1")
    # A retried start (same request id) gets the run it started, even with the default conflict policy FAIL.
    retried = await client.start_workflow(Echo.run, "wait", id="idem", task_queue=task_queue, request_id="req-1")
    assert retried.run_id == first.run_id
    with pytest.raises(WorkflowAlreadyStartedError):
        await client.start_workflow(Echo.run, "wait", id="idem", task_queue=task_queue, request_id="req-2")
    # ... and it terminates nothing under TERMINATE_EXISTING.
    retried = await client.start_workflow(Echo.run, "wait", id="idem", task_queue=task_queue, request_id="req-1",
                                          id_conflict_policy=Conflict.TERMINATE_EXISTING)
    assert retried.run_id == first.run_id and await _status(first) == Status.RUNNING
    # Once the run closed, a retry still gets it, even under REJECT_DUPLICATE.
    await first.terminate()
    retried = await client.start_workflow(Echo.run, "wait", id="idem", task_queue=task_queue, request_id="req-1",
                                          id_reuse_policy=Reuse.REJECT_DUPLICATE)
    assert retried.run_id == first.run_id and await _status(retried) == Status.TERMINATED
