"""WorkflowInstance.query on hand-built histories: read-only answers, unknown names, handler errors."""

from __future__ import annotations

import pytest

from rayflow import workflow
from rayflow.exceptions import WorkflowQueryFailedError
from rayflow.worker.replay.queries import query_history

from .histories import Driver, new_instance


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.count >= 5)

    @workflow.signal
    def bump(self) -> None:
        self.count += 1

    @workflow.query
    def value(self) -> int:
        return self.count

    @workflow.query(name="times")
    def times(self, n: int) -> int:
        return self.count * n

    @workflow.query
    def broken(self) -> int:
        raise ValueError("bad query")


def test_query_answers_from_the_state_and_issues_nothing() -> None:
    driver = Driver(Counter)
    driver.complete(driver.task())
    assert driver.instance.query("value") == 0
    driver.history.signaled("bump")
    result = driver.task()
    assert result.commands == []
    assert driver.instance.query("value") == 1
    assert driver.instance.query("times", [3]) == 3
    assert driver.instance.query("value") == 1  # queries change nothing
    driver.complete(result)
    driver.history.signaled("bump")
    assert driver.task().commands == []


def test_unknown_query_and_failing_handler() -> None:
    driver = Driver(Counter)
    driver.complete(driver.task())
    with pytest.raises(WorkflowQueryFailedError, match="no query 'nope'.*value"):
        driver.instance.query("nope")
    with pytest.raises(WorkflowQueryFailedError, match="bad query") as info:
        driver.instance.query("broken")
    assert isinstance(info.value.__cause__, ValueError)


def test_query_on_a_fresh_replay_sees_only_completed_tasks() -> None:
    driver = Driver(Counter)
    driver.complete(driver.task())
    driver.history.signaled("bump")
    driver.complete(driver.task())
    driver.history.signaled("bump")  # not yet delivered by a completed task
    driver.history.workflow_task()  # in flight
    fresh = new_instance(Counter)
    try:
        fresh.apply(query_history(driver.history.events))
        assert fresh.query("value") == 1
    finally:
        fresh.close()


def test_query_before_the_workflow_started_fails_cleanly() -> None:
    fresh = new_instance(Counter)
    with pytest.raises(WorkflowQueryFailedError, match="does not exist yet"):
        fresh.query("value")


def test_async_query_handler_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be `async def`"):
        @workflow.query
        async def q(self) -> int:
            return 0
