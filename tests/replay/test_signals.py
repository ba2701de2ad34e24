"""Signals and workflow cancellation in the replay core, on hand-built histories."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import Driver, command_types, decode_result

H = history_pb2
TIMEOUT = timedelta(seconds=10)


@workflow.defn
class Collector:
    """Collects signals until it has ``count`` of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self, count: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= count)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)


def test_signal_is_delivered_to_its_handler() -> None:
    driver = Driver(Collector, 1)
    first = driver.task()
    assert first.commands == []  # waiting on the condition
    driver.complete(first)
    driver.history.signaled("add", "a")
    second = driver.task()
    assert decode_result(second.commands[0]) == ["a"]


def test_signals_are_delivered_in_order() -> None:
    driver = Driver(Collector, 3)
    driver.complete(driver.task())
    driver.history.signaled("add", "one")
    driver.history.signaled("add", "two")
    driver.complete(driver.task())
    driver.history.signaled("add", "three")
    assert decode_result(driver.task().commands[0]) == ["one", "two", "three"]


def test_signal_with_start_reaches_the_handler_before_the_run() -> None:
    @workflow.defn
    class SeesSignalAtStart:
        def __init__(self) -> None:
            self.value: str | None = None

        @workflow.run
        async def run(self) -> str | None:
            return self.value  # no await: the signal was handled before the first line ran

        @workflow.signal(name="set-value")
        def set_value(self, value: str) -> None:
            self.value = value

    driver = Driver(SeesSignalAtStart)
    driver.history.signaled("set-value", "early")
    assert decode_result(driver.task().commands[0]) == "early"


@workflow.defn
class AsyncHandler:
    def __init__(self) -> None:
        self.log: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.log) == 2)
        return self.log

    @workflow.signal
    async def slow(self, name: str) -> None:
        await workflow.sleep(5)  # async handlers run as workflow tasks and may await
        self.log.append(name)


def test_async_handler_runs_as_a_task() -> None:
    driver = Driver(AsyncHandler)
    driver.complete(driver.task())
    driver.history.signaled("slow", "x")
    driver.history.signaled("slow", "y")
    second = driver.task()
    assert command_types(second.commands) == ["START_TIMER", "START_TIMER"]
    driver.complete(second)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    driver.history.timer_fired("2", driver.timer_started_id("2"))
    assert decode_result(driver.task().commands[0]) == ["x", "y"]


def test_signal_waits_for_a_handler_registered_later() -> None:
    @workflow.defn
    class LateHandler:
        def __init__(self) -> None:
            self.got: list[int] = []

        @workflow.run
        async def run(self) -> list[int]:
            await workflow.sleep(1)
            workflow.set_signal_handler("late", self.got.append)
            return self.got

    driver = Driver(LateHandler)
    driver.history.signaled("late", 1)  # with the start: no handler yet
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER"]
    driver.complete(first)
    driver.history.signaled("late", 2)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    assert decode_result(driver.task().commands[0]) == [1, 2]


def test_dynamic_handler_takes_signals_without_a_handler() -> None:
    @workflow.defn
    class Dynamic:
        def __init__(self) -> None:
            self.got: list[object] = []

        @workflow.run
        async def run(self) -> list[object]:
            await workflow.wait_condition(lambda: len(self.got) == 2)
            return self.got

        @workflow.signal
        def known(self, value: int) -> None:
            self.got.append(["known", value])

        @workflow.signal(dynamic=True)
        def other(self, name: str, args: list) -> None:
            self.got.append([name, args])

    driver = Driver(Dynamic)
    driver.complete(driver.task())
    driver.history.signaled("known", 1)
    driver.history.signaled("whatever", 2, 3)
    assert decode_result(driver.task().commands[0]) == [["known", 1], ["whatever", [2, 3]]]


def test_handler_error_of_a_listed_type_fails_the_workflow() -> None:
    @workflow.defn(failure_exception_types=[ValueError])  # else only the task fails: test_workflow_exceptions.py
    class BadHandler:
        @workflow.run
        async def run(self) -> None:
            await workflow.wait_condition(lambda: False)

        @workflow.signal
        def boom(self) -> None:
            raise ValueError("bad signal")

    driver = Driver(BadHandler)
    driver.complete(driver.task())
    driver.history.signaled("boom")
    result = driver.task()
    assert command_types(result.commands) == ["FAIL_WORKFLOW_EXECUTION"]
    failure = result.commands[0].fail_workflow_execution_command_attributes.failure
    assert "bad signal" in failure.message


def test_signal_decorator_validation() -> None:
    with pytest.raises(ValueError, match="not both"):
        workflow.signal(name="x", dynamic=True)(lambda self: None)
    with pytest.raises(ValueError, match="two handlers"):

        @workflow.defn
        class Twice:
            @workflow.run
            async def run(self) -> None: ...

            @workflow.signal(name="s")
            def a(self) -> None: ...

            @workflow.signal(name="s")
            def b(self) -> None: ...

    assert workflow.get_definition(Collector).signals == {"add": "add"}


# -- cancellation ---------------------------------------------------------------------------------------


@workflow.defn
class SleepsLong:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(hours=1))
        return "woke"


def test_cancel_request_cancels_the_timer_and_the_workflow() -> None:
    driver = Driver(SleepsLong)
    driver.complete(driver.task())
    driver.history.cancel_requested()
    result = driver.task()
    assert command_types(result.commands) == ["CANCEL_TIMER", "CANCEL_WORKFLOW_EXECUTION"]
    assert result.commands[0].cancel_timer_command_attributes.timer_id == "1"
    driver.complete(result)
    assert driver.instance.is_completed


def test_cancel_with_the_start_never_runs_the_code() -> None:
    driver = Driver(SleepsLong)
    driver.history.cancel_requested()
    assert command_types(driver.task().commands) == ["CANCEL_WORKFLOW_EXECUTION"]


@workflow.defn
class CleansUp:
    @workflow.run
    async def run(self) -> str:
        try:
            return await workflow.execute_activity("work", start_to_close_timeout=TIMEOUT)
        finally:
            await workflow.execute_activity("cleanup", start_to_close_timeout=TIMEOUT)


def test_cleanup_activity_runs_after_cancel() -> None:
    driver = Driver(CleansUp)
    first = driver.task()
    assert command_types(first.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    driver.complete(first)
    driver.history.cancel_requested()
    second = driver.task()
    # The cancel reaches the running activity (TRY_CANCEL), then the cleanup activity is scheduled.
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK", "SCHEDULE_ACTIVITY_TASK"]
    assert second.commands[1].schedule_activity_task_command_attributes.activity_type == "cleanup"
    driver.complete(second)
    driver.history.activity_completed(driver.scheduled_id("1"), "late result, ignored")
    driver.history.activity_completed(driver.scheduled_id("2"), None)
    third = driver.task()
    assert command_types(third.commands) == ["CANCEL_WORKFLOW_EXECUTION"]
    driver.complete(third)
    assert driver.instance.is_completed


def test_swallowed_cancellation_completes_normally() -> None:
    @workflow.defn
    class Swallows:
        @workflow.run
        async def run(self) -> str:
            try:
                await workflow.sleep(100)
            except asyncio.CancelledError:
                return "ignored the cancel"
            return "slept"

    driver = Driver(Swallows)
    driver.complete(driver.task())
    driver.history.cancel_requested()
    result = driver.task()
    assert command_types(result.commands) == ["CANCEL_TIMER", "COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(result.commands[1]) == "ignored the cancel"


def test_duplicate_cancel_requests_cancel_once() -> None:
    driver = Driver(CleansUp)
    driver.complete(driver.task())
    driver.history.cancel_requested()
    driver.complete(driver.task())
    driver.history.cancel_requested()  # must not cancel the cleanup
    assert driver.task().commands == []


def test_code_cancelling_a_sleeping_task_cancels_its_timer() -> None:
    @workflow.defn
    class CancelsTask:
        @workflow.run
        async def run(self) -> str:
            sleeper = asyncio.get_running_loop().create_task(workflow.sleep(100))
            await workflow.sleep(1)
            sleeper.cancel()
            try:
                await sleeper
            except asyncio.CancelledError:
                return "cancelled"
            return "slept"

    driver = Driver(CancelsTask)
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER", "START_TIMER"]
    driver.complete(first)
    # The run's own sleep starts timer 1 before the new task first runs and starts timer 2.
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    second = driver.task()
    assert command_types(second.commands) == ["CANCEL_TIMER", "COMPLETE_WORKFLOW_EXECUTION"]
    assert second.commands[0].cancel_timer_command_attributes.timer_id == "2"
    assert decode_result(second.commands[1]) == "cancelled"

