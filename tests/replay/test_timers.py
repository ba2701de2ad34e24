"""Durable timers: asyncio.sleep, workflow.sleep, wait_condition and asyncio.wait_for timeouts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from rayflow import workflow
from rayflow.exceptions import ActivityError, CancelledError

from .histories import Driver, command_types, decode_result


def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class AsyncioSleep:
    @workflow.run
    async def run(self) -> str:
        start = workflow.now()
        await asyncio.sleep(5)
        return str(workflow.now() - start)


@workflow.defn
class WorkflowSleep:
    @workflow.run
    async def run(self) -> str:
        start = workflow.now()
        await workflow.sleep(timedelta(minutes=2))
        return str(workflow.now() - start)


def _run_sleep(workflow_cls: type, seconds: float) -> None:
    driver = Driver(workflow_cls)
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER"]
    attrs = first.commands[0].start_timer_command_attributes
    assert attrs.timer_id == "1"
    assert attrs.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=seconds)
    driver.complete(first)
    driver.history.timer_fired("1", driver.timer_started_id("1"), advance=timedelta(seconds=seconds))
    second = driver.task()
    assert command_types(second.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    # 3 events (fired, scheduled, started) of one second each, the timer's own delay included once.
    assert decode_result(second.commands[0]) == str(timedelta(seconds=seconds + 4))


def test_asyncio_sleep_is_a_durable_timer() -> None:
    _run_sleep(AsyncioSleep, 5)


def test_workflow_sleep_is_a_durable_timer() -> None:
    _run_sleep(WorkflowSleep, 120)


def test_sleep_zero_only_yields() -> None:
    @workflow.defn
    class Yields:
        @workflow.run
        async def run(self) -> str:
            await asyncio.sleep(0)
            await workflow.sleep(0)
            return "ok"

    assert command_types(Driver(Yields).task().commands) == ["COMPLETE_WORKFLOW_EXECUTION"]


@workflow.defn
class WaitsForActivityFlag:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        async def background() -> None:
            await workflow.execute_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))
            self.done = True

        asyncio.create_task(background())
        await workflow.wait_condition(lambda: self.done)
        return "condition met"


def test_wait_condition_without_timeout() -> None:
    driver = Driver(WaitsForActivityFlag)
    first = driver.task()
    assert command_types(first.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    driver.complete(first)
    driver.history.activity_completed(driver.scheduled_id("1"), "r")
    assert decode_result(driver.task().commands[0]) == "condition met"


@workflow.defn
class WaitsWithTimeout:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, activity_first: bool) -> str:
        async def background() -> None:
            await workflow.execute_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))
            self.done = True

        if activity_first:
            asyncio.create_task(background())
        try:
            await workflow.wait_condition(lambda: self.done, timeout=timedelta(seconds=30))
        except TimeoutError:
            return "timed out"
        return "condition met"


def test_wait_condition_times_out() -> None:
    driver = Driver(WaitsWithTimeout, False)
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER"]
    assert first.commands[0].start_timer_command_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=30)
    driver.complete(first)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    assert decode_result(driver.task().commands[0]) == "timed out"


def test_wait_condition_met_before_timeout_cancels_the_timer() -> None:
    driver = Driver(WaitsWithTimeout, True)
    first = driver.task()
    # The task created first runs on the next loop turn, after wait_condition started its timer.
    assert command_types(first.commands) == ["START_TIMER", "SCHEDULE_ACTIVITY_TASK"]
    driver.complete(first)
    driver.history.activity_completed(driver.scheduled_id("1"), "r")
    second = driver.task()
    assert command_types(second.commands) == ["CANCEL_TIMER", "COMPLETE_WORKFLOW_EXECUTION"]
    assert second.commands[0].cancel_timer_command_attributes.timer_id == "1"
    assert decode_result(second.commands[1]) == "condition met"
    driver.complete(second)  # TIMER_CANCELED and WORKFLOW_EXECUTION_COMPLETED replay cleanly
    driver.history.workflow_task()
    assert driver.instance.apply(driver.history.since(driver.instance.next_event_id)).task_failure is None


def test_condition_already_true_needs_no_timer() -> None:
    @workflow.defn
    class AlreadyTrue:
        @workflow.run
        async def run(self) -> str:
            await workflow.wait_condition(lambda: True, timeout=10)
            return "ok"

    # The timer is started and cancelled in the same activation: neither command is sent.
    assert command_types(Driver(AlreadyTrue).task().commands) == ["COMPLETE_WORKFLOW_EXECUTION"]


@workflow.defn
class WaitFor:
    @workflow.run
    async def run(self) -> str:
        try:
            return await asyncio.wait_for(
                workflow.execute_activity(compose_greeting, "x", start_to_close_timeout=timedelta(minutes=1)),
                timeout=10,
            )
        except TimeoutError:
            return "too slow"
        except ActivityError as err:  # Temporal: cancelling the awaiting task cancels the activity (TRY_CANCEL)
            assert isinstance(err.cause, CancelledError)
            return "too slow"


def test_wait_for_activity_cancels_its_timer_when_the_activity_wins() -> None:
    driver = Driver(WaitFor)
    first = driver.task()
    # wait_for starts its timer, then the task wrapping execute_activity runs and schedules it.
    assert command_types(first.commands) == ["START_TIMER", "SCHEDULE_ACTIVITY_TASK"]
    assert first.commands[0].start_timer_command_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(seconds=10)
    driver.complete(first)
    driver.history.activity_completed(driver.scheduled_id("1"), "fast")
    second = driver.task()
    assert command_types(second.commands) == ["CANCEL_TIMER", "COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(second.commands[1]) == "fast"


def test_wait_for_activity_times_out_when_the_timer_wins() -> None:
    driver = Driver(WaitFor)
    driver.complete(driver.task())
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    second = driver.task()
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK", "COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(second.commands[1]) == "too slow"
    driver.complete(second)
    driver.history.activity_completed(driver.scheduled_id("1"), "late")  # ignored: the workflow is done


def test_timer_ids_count_from_one_in_creation_order() -> None:
    @workflow.defn
    class ThreeTimers:
        @workflow.run
        async def run(self) -> None:
            await asyncio.gather(asyncio.sleep(1), workflow.sleep(2), asyncio.sleep(3))

    commands = Driver(ThreeTimers).task().commands
    assert [c.start_timer_command_attributes.timer_id for c in commands] == ["1", "2", "3"]
    assert [c.start_timer_command_attributes.start_to_fire_timeout.seconds for c in commands] == [1, 2, 3]


def test_asyncio_timeout_and_task_group_use_durable_timers() -> None:
    @workflow.defn
    class Structured:
        @workflow.run
        async def run(self) -> str:
            try:
                async with asyncio.timeout(20):
                    async with asyncio.TaskGroup() as group:
                        group.create_task(asyncio.sleep(5))
                        group.create_task(asyncio.sleep(50))
            except TimeoutError:
                return "timed out"
            return "finished"

    driver = Driver(Structured)
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER"] * 3
    seconds = [c.start_timer_command_attributes.start_to_fire_timeout.seconds for c in first.commands]
    assert seconds == [20, 5, 50]
    driver.complete(first)
    driver.history.timer_fired("2", driver.timer_started_id("2"))
    middle = driver.task()
    assert middle.commands == []
    driver.complete(middle)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    second = driver.task()
    assert command_types(second.commands) == ["CANCEL_TIMER", "COMPLETE_WORKFLOW_EXECUTION"]
    assert second.commands[0].cancel_timer_command_attributes.timer_id == "3"
    assert decode_result(second.commands[1]) == "timed out"
