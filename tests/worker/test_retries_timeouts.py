"""Activity retries and timeouts, durable timers and workflow failures, end to end on a real service.

Activities run in other processes (the worker's replica actors): they count their attempts by
appending to a file under ``tmp_path`` whose path they get as an argument.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from rayflow import activity, workflow
from rayflow.common import EventType, RetryPolicy, RetryState, TimeoutType, WorkflowExecutionStatus
from rayflow.exceptions import ActivityError, ApplicationError, TimeoutError, WorkflowFailureError
from rayflow.worker import Worker

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0)
# Attempts that timed out keep running in the replica; do not wait for them when the worker stops.
QUICK_STOP = timedelta(milliseconds=200)


def _record_attempt(path: str) -> int:
    """Append this attempt's number to ``path``; return it."""
    attempt = activity.info().attempt
    with open(path, "a") as f:
        f.write(f"{attempt}\n")
    return attempt


def _attempts(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _events(history, event_type: EventType) -> list:
    return [e for e in history.events if e.event_type == event_type]


def _failure_chain(error: BaseException) -> tuple[ActivityError, BaseException]:
    """``WorkflowFailureError`` -> ``ActivityError`` -> cause: the last two."""
    assert isinstance(error, WorkflowFailureError)
    activity_error = error.cause
    assert isinstance(activity_error, ActivityError), repr(activity_error)
    assert activity_error.cause is not None
    return activity_error, activity_error.cause


# -- activities ------------------------------------------------------------------------------------------


class FlakyServiceError(Exception):
    pass


@activity.defn
def succeed_on_fifth(path: str) -> str:
    attempt = _record_attempt(path)
    if attempt < 5:
        raise RuntimeError(f"not yet: attempt {attempt}")
    return f"done on attempt {attempt}"


@activity.defn
async def always_fail(path: str) -> None:
    attempt = _record_attempt(path)
    raise FlakyServiceError(f"service down on attempt {attempt}")


@activity.defn
def fail_non_retryable(path: str, mode: str) -> None:
    attempt = _record_attempt(path)
    if mode == "type":
        raise ValueError(f"bad input on attempt {attempt}")
    raise ApplicationError(f"give up on attempt {attempt}", type="Fatal", non_retryable=True)


@activity.defn
async def resume_from_heartbeat(path: str) -> list:
    info = activity.info()
    _record_attempt(path)
    if info.attempt == 1:
        activity.heartbeat("step", 1)
        await asyncio.sleep(3)  # stops heartbeating: the 1 s heartbeat timeout fires
        return ["attempt 1 should have timed out"]
    return list(info.heartbeat_details)


@activity.defn
async def slow_first_attempt(path: str) -> str:
    attempt = _record_attempt(path)
    if attempt == 1:
        await asyncio.sleep(3)  # past the 1 s start-to-close timeout
    return f"attempt {attempt}"


@activity.defn
async def fail_slowly(path: str) -> None:
    attempt = _record_attempt(path)
    await asyncio.sleep(1.2)
    raise FlakyServiceError(f"slow failure on attempt {attempt}")


@activity.defn
async def never_polled() -> str:
    return "unreachable"


@activity.defn
async def add_one(value: int) -> int:
    return value + 1


@activity.defn
async def async_info() -> dict:
    return _info_dict()


@activity.defn
def sync_info() -> dict:
    return _info_dict()


def _info_dict() -> dict:
    info = activity.info()
    return {
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
        "activity_id": info.activity_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
        "task_queue": info.task_queue,
        "heartbeat_details": list(info.heartbeat_details),
        "start_to_close_timeout": info.start_to_close_timeout.total_seconds(),
        "has_task_token": bool(info.task_token),
    }


# -- workflows -------------------------------------------------------------------------------------------


@workflow.defn
class RunOne:
    """Runs one activity with the given retry policy and timeouts."""

    @workflow.run
    async def run(self, name: str, args: list, options: dict) -> object:
        return await workflow.execute_activity(name, args=args, **_activity_options(options))


def _activity_options(options: dict) -> dict:
    out: dict = {}
    for key in ("start_to_close_timeout", "schedule_to_close_timeout", "heartbeat_timeout"):
        if key in options:
            out[key] = timedelta(seconds=options[key])
    if "task_queue" in options:
        out["task_queue"] = options["task_queue"]
    out["retry_policy"] = RetryPolicy(
        initial_interval=timedelta(milliseconds=100),
        backoff_coefficient=1.0,
        maximum_attempts=options.get("maximum_attempts", 0),
        non_retryable_error_types=options.get("non_retryable_error_types", ()),
    )
    return out


@workflow.defn
class Timers:
    @workflow.run
    async def run(self) -> list:
        t0 = workflow.now()
        await asyncio.sleep(1)
        t1 = workflow.now()
        await workflow.sleep(timedelta(seconds=1))
        t2 = workflow.now()
        try:
            await workflow.wait_condition(lambda: False, timeout=0.5)
            outcome = "condition met"
        except asyncio.TimeoutError:  # noqa: UP041 - the documented API; TimeoutError here is rayflow's
            outcome = "timed out"
        return [outcome, (t1 - t0).total_seconds(), (t2 - t1).total_seconds()]


@workflow.defn
class Boom:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("boom", type="BoomError")  # a FailureError: it fails the workflow, not the task


@workflow.defn
class ThreeStepsAndTimer:
    @workflow.run
    async def run(self, start: int) -> int:
        value = start
        for _ in range(3):
            value = await workflow.execute_activity(add_one, value, start_to_close_timeout=timedelta(seconds=10))
        await workflow.sleep(0.2)
        return value


@workflow.defn
class InfoWorkflow:
    @workflow.run
    async def run(self) -> list:
        first = await workflow.execute_activity(sync_info, start_to_close_timeout=timedelta(seconds=10))
        second = await workflow.execute_activity(async_info, start_to_close_timeout=timedelta(seconds=10))
        return [first, second]


ALL_ACTIVITIES = [
    succeed_on_fifth,
    always_fail,
    fail_non_retryable,
    resume_from_heartbeat,
    slow_first_attempt,
    fail_slowly,
    add_one,
]


def _worker(env, task_queue: str, **kwargs) -> Worker:
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[RunOne],
        activities=ALL_ACTIVITIES,
        graceful_shutdown_timeout=QUICK_STOP,
        **kwargs,
    )


# -- retries ---------------------------------------------------------------------------------------------


async def test_activity_succeeds_on_fifth_attempt(env, task_queue, tmp_path):
    path = tmp_path / "attempts"
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["succeed_on_fifth", [str(path)], {"start_to_close_timeout": 10}],
            id="retry-5",
            task_queue=task_queue,
        )
        assert await handle.result() == "done on attempt 5"
    assert _attempts(path) == [1, 2, 3, 4, 5]

    history = await handle.fetch_history()
    # Retries are not events: one STARTED (of the last attempt) and one COMPLETED.
    started = _events(history, EventType.ACTIVITY_TASK_STARTED)
    assert len(started) == 1
    assert len(_events(history, EventType.ACTIVITY_TASK_COMPLETED)) == 1
    assert _events(history, EventType.ACTIVITY_TASK_FAILED) == []
    assert started[0].attributes["attempt"] == 5
    assert started[0].attributes["last_failure"]["message"] == "not yet: attempt 4"
    assert _events(history, EventType.ACTIVITY_TASK_COMPLETED)[0].attributes["result"] == "done on attempt 5"


async def test_maximum_attempts_stops_with_last_error(env, task_queue, tmp_path):
    path = tmp_path / "attempts"
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["always_fail", [str(path)], {"start_to_close_timeout": 10, "maximum_attempts": 3}],
            id="max-attempts",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert _attempts(path) == [1, 2, 3]

    activity_error, cause = _failure_chain(info.value)
    assert activity_error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    assert activity_error.activity_type == "always_fail"
    assert activity_error.activity_id == "1"
    assert isinstance(cause, ApplicationError)
    assert cause.message == "service down on attempt 3"
    assert cause.type == "FlakyServiceError"
    assert not cause.non_retryable

    history = await handle.fetch_history()
    failed = _events(history, EventType.ACTIVITY_TASK_FAILED)
    assert len(failed) == 1
    assert failed[0].attributes["retry_state"] == "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"
    assert failed[0].attributes["failure"]["message"] == "service down on attempt 3"
    assert failed[0].attributes["failure"]["type"] == "FlakyServiceError"
    assert _events(history, EventType.ACTIVITY_TASK_STARTED)[0].attributes["attempt"] == 3
    assert history.events[-1].event_type == EventType.WORKFLOW_EXECUTION_FAILED
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


@pytest.mark.parametrize("mode", ["type", "flag"])
async def test_non_retryable_failure_stops_at_first_attempt(env, task_queue, tmp_path, mode):
    path = tmp_path / "attempts"
    options = {"start_to_close_timeout": 10, "non_retryable_error_types": ["ValueError"]}
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["fail_non_retryable", [str(path), mode], options],
            id=f"non-retryable-{mode}",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert _attempts(path) == [1]

    activity_error, cause = _failure_chain(info.value)
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert isinstance(cause, ApplicationError)
    if mode == "type":
        assert (cause.type, cause.message, cause.non_retryable) == ("ValueError", "bad input on attempt 1", False)
    else:
        assert (cause.type, cause.message, cause.non_retryable) == ("Fatal", "give up on attempt 1", True)
    failed = _events(await handle.fetch_history(), EventType.ACTIVITY_TASK_FAILED)
    assert [e.attributes["retry_state"] for e in failed] == ["RETRY_STATE_NON_RETRYABLE_FAILURE"]


# -- timeouts --------------------------------------------------------------------------------------------


async def test_heartbeat_timeout_retries_with_last_details(env, task_queue, tmp_path):
    path = tmp_path / "attempts"
    options = {"start_to_close_timeout": 10, "heartbeat_timeout": 1}
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["resume_from_heartbeat", [str(path)], options],
            id="heartbeat",
            task_queue=task_queue,
        )
        assert await handle.result() == ["step", 1]
    assert _attempts(path) == [1, 2]

    started = _events(await handle.fetch_history(), EventType.ACTIVITY_TASK_STARTED)
    assert len(started) == 1 and started[0].attributes["attempt"] == 2
    last_failure = started[0].attributes["last_failure"]
    assert last_failure["timeout_failure_info"]["timeout_type"] == "TIMEOUT_TYPE_HEARTBEAT"


async def test_start_to_close_timeout_retries(env, task_queue, tmp_path):
    path = tmp_path / "attempts"
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["slow_first_attempt", [str(path)], {"start_to_close_timeout": 1}],
            id="start-to-close",
            task_queue=task_queue,
        )
        assert await handle.result() == "attempt 2"
    assert _attempts(path) == [1, 2]

    started = _events(await handle.fetch_history(), EventType.ACTIVITY_TASK_STARTED)
    assert len(started) == 1 and started[0].attributes["attempt"] == 2
    last_failure = started[0].attributes["last_failure"]
    assert last_failure["timeout_failure_info"]["timeout_type"] == "TIMEOUT_TYPE_START_TO_CLOSE"


async def test_schedule_to_close_timeout_ends_retries(env, task_queue, tmp_path):
    path = tmp_path / "attempts"
    async with _worker(env, task_queue):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["fail_slowly", [str(path)], {"schedule_to_close_timeout": 2}],
            id="schedule-to-close",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert len(_attempts(path)) >= 1

    activity_error, cause = _failure_chain(info.value)
    assert isinstance(cause, TimeoutError), repr(cause)
    assert cause.type == TimeoutType.SCHEDULE_TO_CLOSE
    assert activity_error.retry_state == RetryState.TIMEOUT
    history = await handle.fetch_history()
    timed_out = _events(history, EventType.ACTIVITY_TASK_TIMED_OUT)
    assert len(timed_out) == 1
    assert timed_out[0].attributes["failure"]["timeout_failure_info"]["timeout_type"] == (
        "TIMEOUT_TYPE_SCHEDULE_TO_CLOSE"
    )
    assert history.events[-1].event_type == EventType.WORKFLOW_EXECUTION_FAILED


async def test_schedule_to_close_before_any_pickup_is_schedule_to_start(env, task_queue):
    nobody = f"nobody-{uuid.uuid4().hex[:10]}"
    options = {"schedule_to_close_timeout": 1.5, "task_queue": nobody}
    async with Worker(env.client, task_queue=task_queue, workflows=[RunOne]):
        handle = await env.client.start_workflow(
            RunOne.run,
            args=["never_polled", [], options],
            id="never-picked-up",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()

    activity_error, cause = _failure_chain(info.value)
    assert isinstance(cause, TimeoutError), repr(cause)
    assert cause.type == TimeoutType.SCHEDULE_TO_START
    assert activity_error.retry_state == RetryState.TIMEOUT
    history = await handle.fetch_history()
    scheduled = _events(history, EventType.ACTIVITY_TASK_SCHEDULED)
    assert scheduled[0].attributes["task_queue"] == nobody
    timed_out = _events(history, EventType.ACTIVITY_TASK_TIMED_OUT)
    assert len(timed_out) == 1
    assert timed_out[0].attributes["failure"]["timeout_failure_info"]["timeout_type"] == (
        "TIMEOUT_TYPE_SCHEDULE_TO_START"
    )
    # No worker ever started it: Temporal writes no ACTIVITY_TASK_STARTED (started_event_id stays 0).
    assert _events(history, EventType.ACTIVITY_TASK_STARTED) == []
    assert "started_event_id" not in timed_out[0].attributes


# -- timers ----------------------------------------------------------------------------------------------


async def test_durable_timers(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Timers]):
        handle = await env.client.start_workflow(Timers.run, id="timers", task_queue=task_queue)
        outcome, first, second = await handle.result()
    assert outcome == "timed out"
    # workflow.now() is the start of the current workflow task: it moved past each 1 s timer.
    assert first >= 1.0 and second >= 1.0

    history = await handle.fetch_history()
    started = _events(history, EventType.TIMER_STARTED)
    fired = _events(history, EventType.TIMER_FIRED)
    assert [e.attributes["start_to_fire_timeout"] for e in started] == ["1s", "1s", "0.500s"]
    assert [e.attributes["timer_id"] for e in fired] == [e.attributes["timer_id"] for e in started]
    assert [int(e.attributes["started_event_id"]) for e in fired] == [e.event_id for e in started]
    for timer_started, timer_fired in zip(started, fired, strict=True):
        assert timer_fired.event_time > timer_started.event_time


# -- workflow failure ------------------------------------------------------------------------------------


async def test_unhandled_application_error_fails_workflow(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[Boom]):
        handle = await env.client.start_workflow(Boom.run, id="boom", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), repr(cause)
    assert cause.message == "boom"
    assert cause.type == "BoomError"
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    history = await handle.fetch_history()
    assert history.events[-1].event_type == EventType.WORKFLOW_EXECUTION_FAILED
    assert history.events[-1].attributes["failure"]["message"] == "boom"
    assert _events(history, EventType.WORKFLOW_TASK_FAILED) == []


# -- no cache: every task replays ------------------------------------------------------------------------


async def test_sequence_without_workflow_cache(env, task_queue):
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ThreeStepsAndTimer], activities=[add_one], max_cached_workflows=0
    ):
        handle = await env.client.start_workflow(ThreeStepsAndTimer.run, 10, id="no-cache", task_queue=task_queue)
        assert await handle.result() == 13

    history = await handle.fetch_history()
    assert len(_events(history, EventType.WORKFLOW_TASK_COMPLETED)) == 5  # start, 3 activities, timer
    assert _events(history, EventType.WORKFLOW_TASK_FAILED) == []
    # No sticky queue: every workflow task went to the normal queue.
    queues = {e.attributes["task_queue"] for e in _events(history, EventType.WORKFLOW_TASK_SCHEDULED)}
    assert queues == {task_queue}
    results = [e.attributes["result"] for e in _events(history, EventType.ACTIVITY_TASK_COMPLETED)]
    assert results == [11, 12, 13]
    assert len(_events(history, EventType.TIMER_FIRED)) == 1


# -- activity.info() -------------------------------------------------------------------------------------


async def test_activity_info_sync_and_async(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[InfoWorkflow], activities=[sync_info, async_info]):
        handle = await env.client.start_workflow(InfoWorkflow.run, id="info", task_queue=task_queue)
        first, second = await handle.result()
    common = {
        "workflow_id": "info",
        "workflow_run_id": handle.run_id,
        "workflow_type": "InfoWorkflow",
        "attempt": 1,
        "task_queue": task_queue,
        "heartbeat_details": [],
        "start_to_close_timeout": 10.0,
        "has_task_token": True,
    }
    assert first == {**common, "activity_id": "1", "activity_type": "sync_info"}
    assert second == {**common, "activity_id": "2", "activity_type": "async_info"}
