"""Workflow updates end to end: results, validator rejection, handler failure, dedupe, start_update."""

from __future__ import annotations

import pytest

from rayflow import workflow
from rayflow.client import WorkflowUpdateStage
from rayflow.common import EventType
from rayflow.exceptions import ApplicationError, WorkflowUpdateFailedError
from rayflow.worker import Worker


@workflow.defn
class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.calls = 0
        self.closed = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closed)
        return self.balance

    @workflow.update
    async def deposit(self, amount: int) -> int:
        self.calls += 1
        if amount == 13:
            raise ApplicationError("unlucky amount", type="Unlucky")
        await workflow.sleep(0.1)
        self.balance += amount
        return self.balance

    @deposit.validator
    def check_deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError(f"deposit must be positive, got {amount}")

    @workflow.query
    def get_balance(self) -> int:
        return self.balance

    @workflow.query
    def get_calls(self) -> int:
        return self.calls

    @workflow.signal
    def close(self) -> None:
        self.closed = True


async def _types(handle) -> list[EventType]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def test_execute_update_returns_value_and_changes_state(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id="update-basic", task_queue=task_queue)
        assert await handle.execute_update(Account.deposit, 10) == 10
        assert await handle.execute_update("deposit", 5) == 15
        assert await handle.query(Account.get_balance) == 15
        await handle.signal(Account.close)
        assert await handle.result() == 15
        types = await _types(handle)
        assert types.count(EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 2
        assert types.count(EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED) == 2


async def test_validator_rejection_leaves_no_event(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id="update-reject", task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(Account.deposit, -1)
        assert "positive" in str(info.value.__cause__)
        types = await _types(handle)
        assert EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in types
        assert EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED not in types
        assert await handle.query(Account.get_calls) == 0
        await handle.signal(Account.close)
        assert await handle.result() == 0


async def test_handler_error_fails_update_not_workflow(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id="update-fail", task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(Account.deposit, 13)
        assert isinstance(info.value.__cause__, ApplicationError)
        assert info.value.__cause__.type == "Unlucky"
        assert await handle.execute_update(Account.deposit, 7) == 7  # the workflow keeps running
        await handle.signal(Account.close)
        assert await handle.result() == 7


async def test_same_update_id_runs_once(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id="update-dedupe", task_queue=task_queue)
        assert await handle.execute_update(Account.deposit, 4, id="once") == 4
        assert await handle.execute_update(Account.deposit, 4, id="once") == 4
        assert await handle.query(Account.get_calls) == 1
        assert await handle.query(Account.get_balance) == 4
        await handle.signal(Account.close)
        assert await handle.result() == 4
        assert (await _types(handle)).count(EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1


async def test_start_update_accepted_then_result(env, task_queue):
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[Account]):
        handle = await client.start_workflow(Account.run, id="update-start", task_queue=task_queue)
        update = await handle.start_update(Account.deposit, 8, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        assert update.id
        assert await update.result() == 8
        await handle.signal(Account.close)
        assert await handle.result() == 8
