"""WorkflowInstance.apply: splitting history into tasks, cached instances, completion and eviction."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.common import timestamp_from_proto
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import CONVERTER, Driver, HistoryBuilder, command_types, decode_result, new_instance


def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> list:
        first = workflow.now().isoformat()
        greeting = await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=10))
        return [first, greeting]


def test_failed_workflow_task_is_skipped_and_its_jobs_go_to_the_next_task() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()  # 2, 3
    h.task_failed()  # 4
    h.workflow_task()  # 5, 6
    result = new_instance(Greeting).apply(h.events)
    assert command_types(result.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    h.task_completed(result.commands)  # 7, 8
    h.activity_completed(8, "hi")  # 9, 10
    h.workflow_task()  # 11, 12
    h.task_failed()  # 13
    h.add(history_pb2.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)  # 14
    h.add(history_pb2.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)  # 15: schedule-to-start timeout
    h.workflow_task()  # 16, 17
    result = new_instance(Greeting).apply(h.events)
    # now() in the first task is the time of the task that completed (event 6), not the failed one.
    assert decode_result(result.commands[0]) == [timestamp_from_proto(h.events[5].event_time).isoformat(), "hi"]


def test_incremental_and_full_replay_give_identical_commands() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    cached = new_instance(Greeting)
    first = cached.apply(h.events)
    assert first.commands == new_instance(Greeting).apply(h.events).commands
    h.task_completed(first.commands)
    h.activity_completed(5, "hi")
    h.workflow_task()
    incremental = cached.apply(h.since(4))
    full = new_instance(Greeting).apply(h.events)
    assert command_types(incremental.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    assert incremental.commands == full.commands


def test_cached_instance_rejects_events_that_do_not_follow() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    instance = new_instance(Greeting)
    instance.apply(h.events)
    h.task_completed()
    h.workflow_task()
    with pytest.raises(ValueError, match="start at event 5 but event 4 is next"):
        instance.apply(h.since(5))
    with pytest.raises(ValueError, match="not consecutive: event 6 follows event 4"):
        instance.apply([h.events[3], h.events[5]])
    with pytest.raises(ValueError, match="a history starts with WORKFLOW_EXECUTION_STARTED"):
        new_instance(Greeting).apply([_renumbered(h.events[1], 1)])
    assert command_types(instance.apply(h.since(4)).commands) == []  # the right events still apply


def _renumbered(event: history_pb2.HistoryEvent, event_id: int) -> history_pb2.HistoryEvent:
    copy = history_pb2.HistoryEvent()
    copy.CopyFrom(event)
    copy.event_id = event_id
    return copy


def test_answered_task_that_failed_needs_eviction() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    instance = new_instance(Greeting)
    instance.apply(h.events)
    h.task_failed()
    h.workflow_task()
    with pytest.raises(ValueError, match="was not completed"):
        instance.apply(h.since(4))
    assert command_types(new_instance(Greeting).apply(h.events).commands) == ["SCHEDULE_ACTIVITY_TASK"]


def test_instance_that_failed_a_task_refuses_more_events() -> None:
    @workflow.defn
    class Broken:
        @workflow.run
        async def run(self) -> None:
            await workflow.execute_activity(compose_greeting, "x")  # no timeout

    h = HistoryBuilder("Broken")
    h.workflow_task()
    instance = new_instance(Broken)
    assert isinstance(instance.apply(h.events).task_failure, ValueError)
    h.task_failed()
    h.workflow_task()
    with pytest.raises(ValueError, match="failed its last workflow task"):
        instance.apply(h.since(4))


def test_unhandled_exception_of_a_listed_type_fails_the_workflow() -> None:
    @workflow.defn(failure_exception_types=[KeyError])  # else only the task fails: test_workflow_exceptions.py
    class Fails:
        @workflow.run
        async def run(self) -> None:
            raise KeyError("missing thing")

    result = Driver(Fails).task()
    assert result.task_failure is None
    assert command_types(result.commands) == ["FAIL_WORKFLOW_EXECUTION"]
    failure = result.commands[0].fail_workflow_execution_command_attributes.failure
    assert failure.message == "'missing thing'"
    assert failure.application_failure_info.type == "KeyError"
    assert "missing thing" in failure.stack_trace


def test_no_commands_after_completion() -> None:
    @workflow.defn
    class BackgroundAfterReturn:
        @workflow.run
        async def run(self) -> str:
            async def later() -> None:
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                workflow.start_activity(compose_greeting, "x", start_to_close_timeout=timedelta(seconds=1))

            asyncio.create_task(later())
            return "done"

    instance = new_instance(BackgroundAfterReturn)
    h = HistoryBuilder("BackgroundAfterReturn")
    h.workflow_task()
    result = instance.apply(h.events)
    assert command_types(result.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    assert instance.is_completed
    instance.close()


def test_base_exception_from_run_fails_the_task() -> None:
    @workflow.defn
    class Exits:
        @workflow.run
        async def run(self) -> None:
            raise SystemExit(3)

    h = HistoryBuilder("Exits")
    h.workflow_task()
    result = new_instance(Exits).apply(h.events)
    assert isinstance(result.task_failure, SystemExit)
    assert result.task_failure_cause == history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE


def test_undecodable_input_fails_the_task() -> None:
    h = HistoryBuilder("Greeting")
    h.events[0].workflow_execution_started_event_attributes.input.payloads.add(
        metadata={"encoding": b"x/unknown"}, data=b"?"
    )
    h.workflow_task()
    result = new_instance(Greeting).apply(h.events)
    assert type(result.task_failure).__name__ == "PayloadError"


def test_io_on_the_workflow_loop_is_refused() -> None:
    @workflow.defn
    class DoesIO:
        @workflow.run
        async def run(self) -> None:
            await asyncio.get_running_loop().run_in_executor(None, print)

    result = Driver(DoesIO).task()  # a bug in the workflow code: its task fails, to be retried on fixed code
    assert result.commands == []
    assert isinstance(result.task_failure, NotImplementedError)
    assert "loop.run_in_executor() is not allowed in workflow code" in str(result.task_failure)


async def test_apply_inside_a_running_loop_restores_it() -> None:
    outer = asyncio.get_running_loop()
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    result = new_instance(Greeting).apply(h.events)
    assert command_types(result.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    assert asyncio.get_running_loop() is outer
    await asyncio.sleep(0)  # the outer loop still works


def test_apply_from_another_thread() -> None:
    h = HistoryBuilder("Greeting", "World")
    h.workflow_task()
    results = []
    thread = threading.Thread(target=lambda: results.append(new_instance(Greeting).apply(h.events)))
    thread.start()
    thread.join()
    assert command_types(results[0].commands) == ["SCHEDULE_ACTIVITY_TASK"]


def test_close_drops_pending_coroutines_quietly(caplog: pytest.LogCaptureFixture) -> None:
    finally_ran = []

    @workflow.defn
    class Waits:
        @workflow.run
        async def run(self) -> None:
            try:
                await asyncio.gather(asyncio.sleep(60), workflow.wait_condition(lambda: False))
            finally:
                finally_ran.append(True)

    h = HistoryBuilder("Waits")
    h.workflow_task()
    instance = new_instance(Waits)
    assert command_types(instance.apply(h.events).commands) == ["START_TIMER"]
    with caplog.at_level(logging.DEBUG):
        instance.close()
        del instance
        gc.collect()
    assert finally_ran == [True]
    assert "destroyed" not in caplog.text and "never retrieved" not in caplog.text
    assert CONVERTER  # keeps the shared converter import used


def test_workflow_init_may_use_the_api() -> None:
    @workflow.defn
    class InitUsesInfo:
        def __init__(self) -> None:
            self.workflow_id = workflow.info().workflow_id

        @workflow.run
        async def run(self) -> str:
            return self.workflow_id

    assert decode_result(Driver(InitUsesInfo).task().commands[0]) == "wf-1"
