"""ActivityRunner on hand-built activity tasks (no Ray, no service)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rayflow import activity
from rayflow.common import duration_to_proto, timestamp_to_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import ApplicationError, CancelledError
from rayflow.proto.rayflow.v1 import message_pb2, request_response_pb2
from rayflow.worker.activity_runner import ActivityRunner

converter = DataConverter.default
Completed = request_response_pb2.RespondActivityTaskCompletedRequest
Failed = request_response_pb2.RespondActivityTaskFailedRequest


class Heartbeats:
    """Collects heartbeats as the service would receive them."""

    def __init__(self, cancel: bool = False) -> None:
        self.sent: list[tuple[float, list[Any]]] = []
        self.cancel = cancel

    async def __call__(self, task_token: bytes, details: message_pb2.Payloads) -> bool:
        assert task_token == b"token"
        self.sent.append((time.monotonic(), converter.from_payloads(details)))
        return self.cancel


def make_task(activity_type: str, *args: Any, **fields: Any) -> request_response_pb2.PollActivityTaskQueueResponse:
    heartbeat_details = fields.pop("heartbeat_details", ())
    heartbeat_timeout = fields.pop("heartbeat_timeout", None)
    task = request_response_pb2.PollActivityTaskQueueResponse(
        task_token=b"token",
        workflow_namespace="default",
        workflow_type="Pipeline",
        workflow_execution=message_pb2.WorkflowExecution(workflow_id="wf-1", run_id="run-1"),
        activity_type=activity_type,
        activity_id="act-1",
        input=converter.to_payloads(list(args)),
        attempt=fields.pop("attempt", 1),
        task_queue="tq",
        scheduled_time=timestamp_to_proto(datetime(2024, 1, 1, tzinfo=UTC)),
        started_time=timestamp_to_proto(datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)),
        start_to_close_timeout=duration_to_proto(timedelta(seconds=30)),
        **fields,
    )
    if heartbeat_details:
        task.heartbeat_details.CopyFrom(converter.to_payloads(list(heartbeat_details)))
    if heartbeat_timeout is not None:
        task.heartbeat_timeout.CopyFrom(duration_to_proto(heartbeat_timeout))
    return task


async def run(activities: list[Any], task: Any, heartbeats: Heartbeats | None = None, **kw: Any) -> Any:
    runner = ActivityRunner(activities, heartbeat=heartbeats or Heartbeats(), **kw)
    try:
        return await runner.run(task, "worker-1")
    finally:
        await runner.shutdown()


def result_of(response: Any) -> Any:
    assert isinstance(response, Completed), response
    assert response.task_token == b"token" and response.identity == "worker-1"
    return converter.from_payload(response.result)


def failure_of(response: Any) -> message_pb2.Failure:
    assert isinstance(response, Failed), response
    assert response.task_token == b"token" and response.identity == "worker-1"
    return response.failure


# -- activities ------------------------------------------------------------------------------------


@activity.defn
async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@activity.defn(name="sync-concat")
def concat(a: str, b: str) -> str:
    return a + b


@activity.defn
async def async_info() -> dict[str, Any]:
    return _info_dict()


@activity.defn
def sync_info() -> dict[str, Any]:
    return {**_info_dict(), "thread": threading.current_thread().name}


def _info_dict() -> dict[str, Any]:
    info = activity.info()
    return {
        "in_activity": activity.in_activity(),
        "attempt": info.attempt,
        "ids": [info.activity_id, info.activity_type, info.workflow_id, info.workflow_run_id],
        "workflow": [info.workflow_namespace, info.workflow_type, info.task_queue],
        "heartbeat_details": list(info.heartbeat_details),
        "timeouts": [str(info.start_to_close_timeout), str(info.heartbeat_timeout)],
        "times": [info.scheduled_time.isoformat(), info.started_time.isoformat()],
        "token": info.task_token.decode(),
    }


class Boom(Exception):
    pass


@activity.defn
def fails() -> None:
    raise Boom("it broke")


@activity.defn
async def fails_for_good() -> None:
    raise ApplicationError("bad input", type="X", non_retryable=True)


@activity.defn
def returns_lock() -> Any:
    return threading.Lock()


# -- tests -----------------------------------------------------------------------------------------


def test_defn_keeps_the_function() -> None:
    definition = activity.get_definition(concat)
    assert definition is not None
    assert (definition.name, definition.is_async, definition.resource_label) == ("sync-concat", False, None)
    assert concat("a", "b") == "ab"

    @activity.defn(resource_label="gpu")
    async def train() -> None: ...

    definition = activity.get_definition(train)
    assert definition is not None and (definition.name, definition.is_async, definition.resource_label) == (
        "train",
        True,
        "gpu",
    )
    assert activity.get_definition(_info_dict) is None


def test_outside_activity() -> None:
    assert not activity.in_activity()
    for fn in (activity.info, activity.heartbeat, activity.is_cancelled):
        with pytest.raises(RuntimeError, match="Not in activity context"):
            fn()


def test_duplicate_and_undecorated_activities_rejected() -> None:
    @activity.defn(name="add")
    def other_add() -> None: ...

    with pytest.raises(ValueError, match="two activities are named 'add'"):
        ActivityRunner([add, other_add], heartbeat=Heartbeats())
    with pytest.raises(ValueError, match="decorate it with @activity.defn"):
        ActivityRunner([_info_dict], heartbeat=Heartbeats())


async def test_async_and_sync_activities_succeed() -> None:
    assert result_of(await run([add, concat], make_task("add", 2, 3))) == 5
    assert result_of(await run([add, concat], make_task("sync-concat", "ab", "cd"))) == "abcd"


@pytest.mark.parametrize("name", ["async_info", "sync_info"])
async def test_info_inside_activity(name: str) -> None:
    task = make_task(name, attempt=3, heartbeat_details=["step", 7], heartbeat_timeout=timedelta(seconds=10))
    info = result_of(await run([async_info, sync_info], task))
    assert info.pop("thread", "rayflow-activity").startswith("rayflow-activity")
    assert info == {
        "in_activity": True,
        "attempt": 3,
        "ids": ["act-1", name, "wf-1", "run-1"],
        "workflow": ["default", "Pipeline", "tq"],
        "heartbeat_details": ["step", 7],
        "timeouts": ["0:00:30", "0:00:10"],
        "times": ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:05+00:00"],
        "token": "token",
    }
    assert not activity.in_activity()  # the context did not leak into the caller


async def test_failure_carries_message_and_type() -> None:
    failure = failure_of(await run([fails], make_task("fails")))
    assert failure.message == "it broke"
    assert failure.application_failure_info.type == "Boom"
    assert not failure.application_failure_info.non_retryable
    assert "Boom: it broke" in failure.stack_trace

    failure = failure_of(await run([fails_for_good], make_task("fails_for_good")))
    assert failure.message == "bad input"
    assert failure.application_failure_info.type == "X"
    assert failure.application_failure_info.non_retryable


async def test_unknown_activity_is_not_found() -> None:
    failure = failure_of(await run([add, concat], make_task("train")))
    assert failure.application_failure_info.type == "NotFoundError"
    assert not failure.application_failure_info.non_retryable
    assert failure.message == (
        "Activity function 'train' is not registered on this worker (registered: add, sync-concat); "
        "add it to Worker(activities=[...])"
    )


async def test_result_that_cannot_be_encoded_fails() -> None:
    failure = failure_of(await run([returns_lock], make_task("returns_lock")))
    assert failure.application_failure_info.type == "PayloadError"
    assert "result of activity 'returns_lock' cannot be sent" in failure.message
    assert "lock" in failure.message


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_heartbeats_are_throttled(kind: str) -> None:
    async def beat_async() -> None:
        activity.heartbeat("progress", 0)
        await asyncio.sleep(0.1)  # the first heartbeat goes out at once
        for i in range(1, 5):
            activity.heartbeat("progress", i)
        await asyncio.sleep(0.7)
        raise Boom("after heartbeats")

    def beat_sync() -> None:
        activity.heartbeat("progress", 0)
        time.sleep(0.1)  # the first heartbeat goes out at once
        for i in range(1, 5):
            activity.heartbeat("progress", i)
        time.sleep(0.7)
        raise Boom("after heartbeats")

    fn = activity.defn(name="beat")(beat_async if kind == "async" else beat_sync)
    heartbeats = Heartbeats()
    start = time.monotonic()
    response = await run([fn], make_task("beat", heartbeat_timeout=timedelta(seconds=0.5)), heartbeats)

    # Interval 0.8 x 0.5 s: the first details at once, then only the latest, not one send per call.
    assert [details for _, details in heartbeats.sent] == [["progress", 0], ["progress", 4]]
    first, second = heartbeats.sent[0][0] - start, heartbeats.sent[1][0] - start
    assert first < 0.3 and second >= 0.38
    failure_of(response)
    assert converter.from_payloads(response.last_heartbeat_details) == ["progress", 4]


async def test_heartbeat_callback_error_is_not_raised_and_cancel_is_seen() -> None:
    async def broken(task_token: bytes, details: message_pb2.Payloads) -> bool:
        raise ConnectionError("service down")

    @activity.defn(name="beat")
    def beat() -> bool:
        activity.heartbeat(1)
        return activity.is_cancelled()

    runner = ActivityRunner([beat], heartbeat=broken)
    assert result_of(await runner.run(make_task("beat"), "worker-1")) is False
    await runner.shutdown()

    @activity.defn(name="wait-cancel")
    async def wait_cancel() -> bool:
        activity.heartbeat()
        try:
            for _ in range(100):
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:  # the cancel request cancels an async activity at its await
            return activity.is_cancelled()
        return False

    assert result_of(await run([wait_cancel], make_task("wait-cancel"), Heartbeats(cancel=True))) is True


async def test_sync_activities_run_in_parallel() -> None:
    spans: list[tuple[float, float]] = []

    @activity.defn(name="nap")
    def nap() -> None:
        begin = time.monotonic()
        time.sleep(0.3)
        spans.append((begin, time.monotonic()))

    runner = ActivityRunner([nap], heartbeat=Heartbeats())
    responses = await asyncio.gather(*(runner.run(make_task("nap"), "worker-1") for _ in range(5)))
    await runner.shutdown()
    assert all(isinstance(r, Completed) for r in responses)
    # All five were running at one moment: the latest start precedes the earliest end.
    assert max(begin for begin, _ in spans) < min(end for _, end in spans)


async def test_cancel_request_makes_heartbeat_raise_and_reports_cancelled() -> None:
    @activity.defn(name="beats-until-cancelled")
    def beats_until_cancelled() -> str:
        for _ in range(200):
            activity.heartbeat("progress")  # raises CancelledError once the service asked to cancel
            time.sleep(0.01)
        return "finished"

    response = await run(
        [beats_until_cancelled],
        make_task("beats-until-cancelled", heartbeat_timeout=timedelta(seconds=0.05)),
        Heartbeats(cancel=True),
    )
    assert isinstance(response, request_response_pb2.RespondActivityTaskCanceledRequest), response
    assert response.task_token == b"token"
    assert response.identity == "worker-1"


async def test_cancel_request_cancels_an_async_activity() -> None:
    @activity.defn(name="sleeps")
    async def sleeps() -> str:
        activity.heartbeat()
        await asyncio.sleep(5)
        return "finished"

    response = await run([sleeps], make_task("sleeps"), Heartbeats(cancel=True))
    assert isinstance(response, request_response_pb2.RespondActivityTaskCanceledRequest), response


async def test_cancelled_error_without_a_cancel_request_is_a_failure() -> None:
    @activity.defn(name="raises-cancelled")
    def raises_cancelled() -> None:
        raise CancelledError("not asked to")

    response = await run([raises_cancelled], make_task("raises-cancelled"))
    assert isinstance(response, Failed), response
