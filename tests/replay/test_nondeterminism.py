"""Replay checks that the code issues the commands history recorded, and fails the task when not."""

from __future__ import annotations

from datetime import timedelta

from rayflow import workflow
from rayflow.exceptions import NondeterminismError
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import HistoryBuilder, command_types, new_instance

NON_DETERMINISTIC = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR


def a() -> None: ...


@workflow.defn
class SchedulesA:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(a, start_to_close_timeout=timedelta(seconds=1))


def _history_with(activity_type: str, activity_id: str = "1") -> HistoryBuilder:
    h = HistoryBuilder("SchedulesA")
    h.workflow_task()
    completed = h.task_completed()
    h.activity_scheduled(activity_type, activity_id, completed_id=completed)  # event 5
    h.activity_completed(5, "r")
    h.workflow_task()
    return h


def test_other_activity_in_history_is_nondeterminism_naming_both() -> None:
    result = new_instance(SchedulesA).apply(_history_with("b").events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert result.task_failure_cause == NON_DETERMINISTIC
    assert result.commands == []
    assert (
        "history has ACTIVITY_TASK_SCHEDULED activity 'b' (id 1) at event 5 but the workflow code issued "
        "ScheduleActivityTask activity 'a' (id 1)"
    ) in str(result.task_failure)
    assert "'SchedulesA'" in str(result.task_failure) and "wf-1" in str(result.task_failure)


def test_other_activity_id_is_nondeterminism() -> None:
    result = new_instance(SchedulesA).apply(_history_with("a", "7").events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert "(id 7)" in str(result.task_failure)


def test_nondeterminism_detected_against_the_commands_of_a_cached_instance() -> None:
    h = _history_with("b")
    instance = new_instance(SchedulesA)
    assert command_types(instance.apply(h.events[:3]).commands) == ["SCHEDULE_ACTIVITY_TASK"]
    result = instance.apply(h.since(4))
    assert isinstance(result.task_failure, NondeterminismError)


def test_command_event_without_command_is_nondeterminism() -> None:
    @workflow.defn
    class DoesNothing:
        @workflow.run
        async def run(self) -> None:
            await workflow.wait_condition(lambda: False)

    h = HistoryBuilder("DoesNothing")
    h.workflow_task()
    completed = h.task_completed()
    h.activity_scheduled("a", "1", completed_id=completed)
    h.workflow_task()
    result = new_instance(DoesNothing).apply(h.events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert (
        "history has ACTIVITY_TASK_SCHEDULED activity 'a' (id 1) at event 5 but the workflow code issued no command"
        in str(result.task_failure)
    )


def test_command_missing_from_history_is_nondeterminism() -> None:
    h = HistoryBuilder("SchedulesA")
    h.workflow_task()
    h.task_completed()  # recorded no command, but the code schedules one
    h.workflow_task()
    result = new_instance(SchedulesA).apply(h.events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert "issued ScheduleActivityTask activity 'a' (id 1) but history has no event for it" in str(result.task_failure)


def test_timer_instead_of_activity_is_nondeterminism() -> None:
    h = HistoryBuilder("SchedulesA")
    h.workflow_task()
    completed = h.task_completed()
    h.add(
        history_pb2.EVENT_TYPE_TIMER_STARTED,
        timer_started_event_attributes=history_pb2.TimerStartedEventAttributes(
            timer_id="1", workflow_task_completed_event_id=completed
        ),
    )
    h.workflow_task()
    result = new_instance(SchedulesA).apply(h.events)
    assert "history has TIMER_STARTED timer (id 1) at event 5 but the workflow code issued ScheduleActivityTask" in str(
        result.task_failure
    )


def test_raising_nondeterminism_in_code_fails_the_task() -> None:
    @workflow.defn
    class Raises:
        @workflow.run
        async def run(self) -> None:
            raise workflow.NondeterminismError("detected by hand")

    h = HistoryBuilder("Raises")
    h.workflow_task()
    result = new_instance(Raises).apply(h.events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert result.task_failure_cause == NON_DETERMINISTIC
