"""Activities in workflow code: ScheduleActivityTask commands, results and failures."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from types import SimpleNamespace

from rayflow import workflow
from rayflow.common import RetryPolicy, RetryState
from rayflow.exceptions import ActivityError, ApplicationError, CancelledError, PayloadError
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2

from .histories import CONVERTER, Driver, HistoryBuilder, command_types, decode_result, new_instance


def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


def train(data: str) -> str:
    return data


# What rayflow.activity.defn attaches (another module); only name and resource_label are read.
train.__rayflow_activity_definition__ = SimpleNamespace(name="train_model", resource_label="gpu")  # type: ignore[attr-defined]


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=10))


def greeting_history() -> HistoryBuilder:
    """The full history of Greeting("World") up to the task that completes it."""
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()  # 2, 3
    completed = h.task_completed()  # 4
    h.activity_scheduled("compose_greeting", "1", completed_id=completed)  # 5
    h.activity_completed(5, "Hello, World!")  # 6, 7
    h.workflow_task()  # 8, 9
    return h


def test_first_activation_schedules_the_activity() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    result = new_instance(Greeting).apply(h.events)
    assert result.task_failure is None
    assert command_types(result.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    attrs = result.commands[0].schedule_activity_task_command_attributes
    assert (attrs.activity_type, attrs.activity_id, attrs.task_queue) == ("compose_greeting", "1", "tq")
    assert CONVERTER.from_payloads(attrs.input) == ["World"]
    assert attrs.start_to_close_timeout.ToTimedelta() == timedelta(seconds=10)
    assert not attrs.HasField("schedule_to_close_timeout")
    assert not attrs.HasField("heartbeat_timeout")
    assert not attrs.HasField("retry_policy")
    assert attrs.resource_label == ""


def test_full_history_replays_to_completion() -> None:
    instance = new_instance(Greeting)
    result = instance.apply(greeting_history().events)
    assert command_types(result.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(result.commands[0]) == "Hello, World!"
    assert instance.is_completed
    assert (instance.next_event_id, instance.last_started_event_id) == (10, 9)


def test_cached_instance_applies_only_new_events() -> None:
    h = greeting_history()
    instance = new_instance(Greeting)
    first = instance.apply(h.events[:3])
    assert command_types(first.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    assert (instance.next_event_id, instance.last_started_event_id, instance.is_completed) == (4, 3, False)
    second = instance.apply(h.since(4))
    assert decode_result(second.commands[0]) == "Hello, World!"
    assert instance.is_completed


def test_options_are_copied_into_the_command() -> None:
    @workflow.defn
    class Options:
        @workflow.run
        async def run(self) -> None:
            await workflow.execute_activity(
                "remote",
                args=[1, {"a": 2}],
                task_queue="other",
                schedule_to_close_timeout=timedelta(minutes=5),
                schedule_to_start_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=3),
                retry_policy=RetryPolicy(maximum_attempts=3),
                activity_id="my-id",
                resource_label="big",
            )

    result = Driver(Options).task()
    attrs = result.commands[0].schedule_activity_task_command_attributes
    assert (attrs.activity_type, attrs.activity_id, attrs.task_queue, attrs.resource_label) == (
        "remote",
        "my-id",
        "other",
        "big",
    )
    assert CONVERTER.from_payloads(attrs.input) == [1, {"a": 2}]
    assert attrs.schedule_to_close_timeout.ToTimedelta() == timedelta(minutes=5)
    assert attrs.schedule_to_start_timeout.ToTimedelta() == timedelta(seconds=30)
    assert attrs.heartbeat_timeout.ToTimedelta() == timedelta(seconds=3)
    assert not attrs.HasField("start_to_close_timeout")
    assert attrs.retry_policy.maximum_attempts == 3


def test_activity_definition_gives_name_and_default_label() -> None:
    @workflow.defn
    class Labels:
        @workflow.run
        async def run(self) -> None:
            workflow.start_activity(train, "x", start_to_close_timeout=timedelta(seconds=1))
            workflow.start_activity(train, "y", start_to_close_timeout=timedelta(seconds=1), resource_label="cpu")
            await asyncio.sleep(0)

    commands = Driver(Labels).task().commands
    assert command_types(commands) == [
        "SCHEDULE_ACTIVITY_TASK",
        "SCHEDULE_ACTIVITY_TASK",
        "COMPLETE_WORKFLOW_EXECUTION",
    ]
    attrs = [c.schedule_activity_task_command_attributes for c in commands[:2]]
    assert [(a.activity_type, a.activity_id, a.resource_label) for a in attrs] == [
        ("train_model", "1", "gpu"),
        ("train_model", "2", "cpu"),
    ]


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, count: int) -> list[str]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(compose_greeting, str(i), start_to_close_timeout=timedelta(seconds=5))
                    for i in range(count)
                )
            )
        )


def test_gather_schedules_all_activities_in_one_activation() -> None:
    driver = Driver(FanOut, 5)
    first = driver.task()
    assert command_types(first.commands) == ["SCHEDULE_ACTIVITY_TASK"] * 5
    assert [c.schedule_activity_task_command_attributes.activity_id for c in first.commands] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    driver.complete(first)
    for activity_id in ["3", "1", "5"]:  # results arrive in any order
        driver.history.activity_completed(driver.scheduled_id(activity_id), f"r{activity_id}")
    middle = driver.task()
    assert middle.commands == []
    driver.complete(middle)
    for activity_id in ["4", "2"]:
        driver.history.activity_completed(driver.scheduled_id(activity_id), f"r{activity_id}")
    assert decode_result(driver.task().commands[0]) == ["r1", "r2", "r3", "r4", "r5"]


@workflow.defn
class CatchesFailure:
    @workflow.run
    async def run(self) -> list:
        try:
            await workflow.execute_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return [err.message, err.activity_type, err.activity_id, err.scheduled_event_id, err.retry_state.name,
                    cause.message, cause.type, list(cause.details)]  # fmt: skip
        return []


def test_activity_failure_reaches_the_workflow_as_activity_error() -> None:
    driver = Driver(CatchesFailure)
    driver.complete(driver.task())
    scheduled = driver.scheduled_id("1")
    driver.history.activity_failed(scheduled, ApplicationError("disk full", 42, type="DiskFull"))
    result = driver.task()
    assert decode_result(result.commands[0]) == [
        "Activity task failed",
        "compose_greeting",
        "1",
        scheduled,
        RetryState.NON_RETRYABLE_FAILURE.name,
        "disk full",
        "DiskFull",
        [42],
    ]


def test_uncaught_activity_failure_fails_the_workflow_with_the_cause_chain() -> None:
    driver = Driver(Greeting, "World")
    driver.complete(driver.task())
    driver.history.activity_failed(driver.scheduled_id("1"), ValueError("bad name"))
    result = driver.task()
    assert command_types(result.commands) == ["FAIL_WORKFLOW_EXECUTION"]
    error = CONVERTER.from_failure(result.commands[0].fail_workflow_execution_command_attributes.failure)
    assert isinstance(error, ActivityError) and error.activity_type == "compose_greeting"
    assert isinstance(error.cause, ApplicationError)
    assert (error.cause.message, error.cause.type) == ("bad name", "ValueError")


def test_timed_out_activity_gives_timeout_cause() -> None:
    from rayflow.common import TimeoutType
    from rayflow.exceptions import TimeoutError as RayflowTimeoutError

    driver = Driver(CatchesTimeout)
    driver.complete(driver.task())
    scheduled = driver.scheduled_id("1")
    failure = CONVERTER.to_failure(RayflowTimeoutError("activity timeout", type=TimeoutType.START_TO_CLOSE))
    driver.history.add(
        history_pb2.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        activity_task_timed_out_event_attributes=history_pb2.ActivityTaskTimedOutEventAttributes(
            failure=failure, scheduled_event_id=scheduled, retry_state=message_pb2.RETRY_STATE_TIMEOUT
        ),
    )
    assert decode_result(driver.task().commands[0]) == ["Activity task timed out", "START_TO_CLOSE", "TIMEOUT"]


@workflow.defn
class CatchesTimeout:
    @workflow.run
    async def run(self) -> list:
        try:
            await workflow.execute_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))
        except ActivityError as err:
            return [err.message, err.cause.type.name, err.retry_state.name]
        return []


@workflow.defn
class NoTimeout:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(compose_greeting, "x")
        except ValueError:
            return "caught"  # catching it does not hide the task failure
        return "no error"


def test_missing_timeout_fails_the_task_not_the_workflow() -> None:
    result = Driver(NoTimeout).task()
    assert result.commands == []
    assert isinstance(result.task_failure, ValueError)
    assert str(result.task_failure).startswith(
        "Activity compose_greeting: start_to_close_timeout or schedule_to_close_timeout is required"
    )
    assert result.task_failure_cause == history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE


@workflow.defn
class Unpicklable:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(compose_greeting, threading.Lock(), start_to_close_timeout=timedelta(seconds=1))


def test_unserializable_argument_fails_the_task() -> None:
    result = Driver(Unpicklable).task()
    assert isinstance(result.task_failure, PayloadError)
    assert "compose_greeting" in str(result.task_failure)
    assert result.commands == []


def test_handle_cancelled_before_it_was_sent_drops_the_schedule() -> None:
    @workflow.defn
    class CancelsHandle:
        @workflow.run
        async def run(self) -> str:
            handle = workflow.start_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))
            await asyncio.sleep(0)
            handle.cancel()
            try:
                await handle
            except ActivityError as err:
                assert isinstance(err.cause, CancelledError)
            await workflow.sleep(10)
            return "done"

    driver = Driver(CancelsHandle)
    first = driver.task()
    assert command_types(first.commands) == ["START_TIMER"]  # never sent: no schedule, no cancel request
    driver.complete(first)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    assert decode_result(driver.task().commands[0]) == "done"
