"""workflow.now(), time(), random(), uuid4(), info() and unsafe.is_replaying() on replay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from rayflow import workflow
from rayflow.common import timestamp_from_proto
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import START_TIME, Driver, HistoryBuilder, decode_result, new_instance


def noop() -> None: ...


async def _step() -> None:
    await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=1))


def _run_two_tasks(workflow_cls: type, *args: object, run_id: str = "run-1") -> tuple[Driver, object]:
    driver = Driver(workflow_cls, *args, run_id=run_id)
    driver.complete(driver.task())
    driver.history.activity_completed(driver.scheduled_id("1"), None)
    result = driver.task(advance=timedelta(minutes=5))
    return driver, decode_result(result.commands[0])


@workflow.defn
class Clock:
    @workflow.run
    async def run(self) -> list:
        first = [workflow.now().isoformat(), workflow.time()]
        await _step()
        return [*first, workflow.now().isoformat(), workflow.time(), asyncio.get_running_loop().time()]


def test_now_is_the_workflow_task_started_time_and_stable_on_replay() -> None:
    driver, result = _run_two_tasks(Clock)
    started = driver.history.find(history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    first_time = timestamp_from_proto(started[0].event_time)
    last_time = timestamp_from_proto(started[-1].event_time)
    assert first_time == START_TIME + timedelta(seconds=3)
    assert result == [
        first_time.isoformat(),
        first_time.timestamp(),
        last_time.isoformat(),
        last_time.timestamp(),
        last_time.timestamp(),
    ]
    assert workflow.now.__doc__  # documented


@workflow.defn
class Randomness:
    @workflow.run
    async def run(self) -> list:
        first = [workflow.random().random(), str(workflow.uuid4())]
        await _step()
        return [*first, workflow.random().randint(0, 10**9), str(workflow.uuid4())]


def test_random_and_uuid4_are_the_same_on_replay() -> None:
    # Driver checks that a fresh replay of the whole history returns the same values.
    _, result = _run_two_tasks(Randomness)
    assert uuid.UUID(result[1]).version == 4
    _, again = _run_two_tasks(Randomness)
    assert again == result
    _, other_run = _run_two_tasks(Randomness, run_id="run-2")
    assert other_run != result


@workflow.defn
class Infos:
    @workflow.run
    async def run(self) -> list:
        info = workflow.info()
        return [info.namespace, info.workflow_id, info.run_id, info.workflow_type, info.task_queue, info.attempt,
                info.first_execution_run_id, info.start_time.isoformat()]  # fmt: skip


def test_info_fields() -> None:
    h = HistoryBuilder("Infos", attempt=2)
    h.workflow_task()
    result = new_instance(Infos).apply(h.events)
    assert decode_result(result.commands[0]) == [
        "default", "wf-1", "run-1", "Infos", "tq", 2, "first-run", (START_TIME + timedelta(seconds=1)).isoformat()
    ]  # fmt: skip


@workflow.defn
class Replaying:
    seen: list[bool] = []

    @workflow.run
    async def run(self) -> None:
        Replaying.seen.append(workflow.unsafe.is_replaying())
        await _step()
        Replaying.seen.append(workflow.unsafe.is_replaying())


def test_is_replaying_only_for_tasks_already_in_history() -> None:
    Replaying.seen = []
    h = HistoryBuilder("Replaying")
    h.workflow_task()
    instance = new_instance(Replaying)
    driver_like = instance.apply(h.events)
    assert Replaying.seen == [False]
    h.task_completed(driver_like.commands)
    h.activity_completed(5, None)
    h.workflow_task()
    Replaying.seen = []
    new_instance(Replaying).apply(h.events)
    assert Replaying.seen == [True, False]
