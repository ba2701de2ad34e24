"""workflow.patched / deprecate_patch: markers in history decide which code path a replay takes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.converter import DataConverter
from rayflow.exceptions import NondeterminismError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2

from .histories import Driver, HistoryBuilder, command_types, decode_result, new_instance

H = history_pb2
CONVERTER = DataConverter.default
TIMEOUT = timedelta(seconds=5)


def old_step() -> None: ...


def new_step() -> None: ...


@workflow.defn(name="Patchy")
class OldCode:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(old_step, start_to_close_timeout=TIMEOUT)


@workflow.defn(name="Patchy")
class PatchedCode:
    @workflow.run
    async def run(self) -> str:
        if workflow.patched("p1"):
            assert workflow.patched("p1")  # memoized: no second marker
            return await workflow.execute_activity(new_step, start_to_close_timeout=TIMEOUT)
        assert not workflow.patched("p1")
        return await workflow.execute_activity(old_step, start_to_close_timeout=TIMEOUT)


@workflow.defn(name="Patchy")
class DeprecatedCode:
    @workflow.run
    async def run(self) -> str:
        workflow.deprecate_patch("p1")
        return await workflow.execute_activity(new_step, start_to_close_timeout=TIMEOUT)


@workflow.defn(name="Patchy")
class PatchRemovedCode:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(new_step, start_to_close_timeout=TIMEOUT)


def _marker(patch_id: str, deprecated: bool) -> dict:
    attrs = H.MarkerRecordedEventAttributes(marker_name="core_patch")
    attrs.details["patch_id"].CopyFrom(CONVERTER.to_payloads([patch_id]))
    attrs.details["deprecated"].CopyFrom(CONVERTER.to_payloads([deprecated]))
    return {"marker_recorded_event_attributes": attrs}


def _history(activity_type: str, *, marker: tuple[str, bool] | None) -> HistoryBuilder:
    """Task 1 recorded [marker?, ScheduleActivityTask activity_type]; the activity completed; task 2 runs."""
    h = HistoryBuilder("Patchy")
    h.workflow_task()
    completed = h.task_completed()
    if marker is not None:
        h.add(H.EVENT_TYPE_MARKER_RECORDED, **_marker(*marker))
    scheduled = h.activity_scheduled(activity_type, "1", completed_id=completed)
    h.activity_completed(scheduled.event_id, activity_type)
    h.workflow_task()
    return h


def _complete(driver: Driver, result) -> None:
    """Driver.complete, also recording RecordMarker commands as MARKER_RECORDED events."""
    h = driver.history
    completed = h.task_completed()
    for command in result.commands:
        if command.command_type == command_pb2.COMMAND_TYPE_RECORD_MARKER:
            attrs = command.record_marker_command_attributes
            event_attrs = H.MarkerRecordedEventAttributes(
                marker_name=attrs.marker_name, workflow_task_completed_event_id=completed
            )
            for key, value in attrs.details.items():
                event_attrs.details[key].CopyFrom(value)
            h.add(H.EVENT_TYPE_MARKER_RECORDED, marker_recorded_event_attributes=event_attrs)
        else:
            h.record(command, completed)


def _replay(workflow_cls: type, h: HistoryBuilder):
    result = new_instance(workflow_cls).apply(h.events)
    assert result.task_failure is None, result.task_failure
    return result


def _marker_details(command: command_pb2.Command) -> tuple[str, str, bool]:
    attrs = command.record_marker_command_attributes
    return (
        attrs.marker_name,
        CONVERTER.from_payloads(attrs.details["patch_id"])[0],
        CONVERTER.from_payloads(attrs.details["deprecated"])[0],
    )


def test_patched_live_records_one_marker_and_takes_the_new_path() -> None:
    driver = Driver(PatchedCode)
    first = driver.task()
    assert command_types(first.commands) == ["RECORD_MARKER", "SCHEDULE_ACTIVITY_TASK"]
    assert _marker_details(first.commands[0]) == ("core_patch", "p1", False)
    assert first.commands[1].schedule_activity_task_command_attributes.activity_type == "new_step"
    # The recorded marker matches the command on every later replay (Driver also replays from scratch).
    _complete(driver, first)
    driver.history.activity_completed(driver.scheduled_id("1"), "new")
    assert decode_result(driver.task().commands[0]) == "new"


def test_patched_replays_history_with_its_marker_on_the_new_path() -> None:
    result = _replay(PatchedCode, _history("new_step", marker=("p1", False)))
    assert decode_result(result.commands[0]) == "new_step"


def test_patched_is_false_replaying_history_of_the_old_code() -> None:
    result = _replay(PatchedCode, _history("old_step", marker=None))
    assert decode_result(result.commands[0]) == "old_step"


def test_old_code_history_against_unpatched_new_code_is_nondeterminism() -> None:
    result = new_instance(PatchRemovedCode).apply(_history("old_step", marker=None).events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert "old_step" in str(result.task_failure) and "new_step" in str(result.task_failure)


def test_old_code_replays_clean_without_markers() -> None:
    result = _replay(OldCode, _history("old_step", marker=None))
    assert decode_result(result.commands[0]) == "old_step"


def test_deprecate_patch_live_records_a_deprecated_marker() -> None:
    result = Driver(DeprecatedCode).task()
    assert command_types(result.commands) == ["RECORD_MARKER", "SCHEDULE_ACTIVITY_TASK"]
    assert _marker_details(result.commands[0]) == ("core_patch", "p1", True)


@pytest.mark.parametrize("marker", [("p1", False), ("p1", True), None])
def test_deprecate_patch_replays_history_with_or_without_the_marker(marker) -> None:
    result = _replay(DeprecatedCode, _history("new_step", marker=marker))
    assert decode_result(result.commands[0]) == "new_step"


@pytest.mark.parametrize("marker", [("p1", False), ("p1", True)])
def test_code_that_dropped_the_patch_skips_its_marker(marker) -> None:
    result = _replay(PatchRemovedCode, _history("new_step", marker=marker))
    assert decode_result(result.commands[0]) == "new_step"


def test_marker_of_another_patch_does_not_turn_this_one_on() -> None:
    result = _replay(PatchedCode, _history("old_step", marker=("other", False)))
    assert decode_result(result.commands[0]) == "old_step"


def test_patch_marker_after_the_command_it_guards_is_nondeterminism() -> None:
    h = HistoryBuilder("Patchy")
    h.workflow_task()
    completed = h.task_completed()
    h.activity_scheduled("new_step", "1", completed_id=completed)
    h.add(H.EVENT_TYPE_MARKER_RECORDED, **_marker("p1", False))
    h.workflow_task()
    result = new_instance(PatchedCode).apply(h.events)
    assert isinstance(result.task_failure, NondeterminismError)
    assert "RecordMarker 'core_patch'" in str(result.task_failure)


def test_patched_outside_a_workflow_raises() -> None:
    with pytest.raises(RuntimeError, match="workflow code"):
        workflow.patched("p1")
    with pytest.raises(TypeError, match="patch_id"):
        workflow.deprecate_patch("")


def test_patched_in_a_later_task_live_after_old_replayed_tasks() -> None:
    """A run started by the old code takes the new path at the first patched() call it makes live."""

    @workflow.defn(name="TwoSteps")
    class TwoSteps:
        @workflow.run
        async def run(self) -> list[str]:
            first = await workflow.execute_activity(old_step, start_to_close_timeout=TIMEOUT)
            step = new_step if workflow.patched("second") else old_step
            return [first, await workflow.execute_activity(step, start_to_close_timeout=TIMEOUT)]

    driver = Driver(TwoSteps)
    _complete(driver, driver.task())
    driver.history.activity_completed(driver.scheduled_id("1"), "a")
    second = driver.task()
    assert command_types(second.commands) == ["RECORD_MARKER", "SCHEDULE_ACTIVITY_TASK"]
    assert second.commands[1].schedule_activity_task_command_attributes.activity_type == "new_step"
    _complete(driver, second)
    driver.history.activity_completed(driver.scheduled_id("2"), "b")
    assert decode_result(driver.task().commands[0]) == ["a", "b"]  # the marker replays (Driver: also from scratch)
