"""Activity cancellation in the replay core: RequestCancelActivityTask and how each type resolves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.common import ActivityCancellationType
from rayflow.exceptions import ActivityError, CancelledError
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import Driver, command_types, decode_result

H = history_pb2
TIMEOUT = timedelta(seconds=10)


@workflow.defn
class CancelsOnSignal:
    """Starts an activity, cancels its handle on a signal, and reports what the await raised."""

    def __init__(self) -> None:
        self.cancel = False

    @workflow.run
    async def run(self, cancellation_type: str) -> str:
        handle = workflow.start_activity(
            "work", start_to_close_timeout=TIMEOUT,
            cancellation_type=ActivityCancellationType[cancellation_type],
        )
        await workflow.wait_condition(lambda: self.cancel)
        handle.cancel()
        try:
            return f"result {await handle}"
        except ActivityError as err:
            assert isinstance(err.cause, CancelledError)
            return f"cancelled {err.cause.details}"

    @workflow.signal
    def stop(self) -> None:
        self.cancel = True


def _started_and_signalled(cancellation_type: str) -> tuple[Driver, int]:
    driver = Driver(CancelsOnSignal, cancellation_type)
    first = driver.task()
    assert command_types(first.commands) == ["SCHEDULE_ACTIVITY_TASK"]
    driver.complete(first)
    scheduled = driver.scheduled_id("1")
    driver.history.activity_started(scheduled)
    driver.history.signaled("stop")
    return driver, scheduled


def test_try_cancel_requests_cancellation_and_resolves_at_once() -> None:
    driver, scheduled = _started_and_signalled("TRY_CANCEL")
    second = driver.task()
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK", "COMPLETE_WORKFLOW_EXECUTION"]
    assert second.commands[0].request_cancel_activity_task_command_attributes.scheduled_event_id == scheduled
    assert decode_result(second.commands[1]) == "cancelled ()"


def test_wait_cancellation_completed_resolves_when_the_activity_reports() -> None:
    driver, scheduled = _started_and_signalled("WAIT_CANCELLATION_COMPLETED")
    second = driver.task()
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK"]  # still waiting
    driver.complete(second)
    driver.history.activity_canceled(scheduled, "why", started_id=scheduled + 1)
    third = driver.task()
    assert command_types(third.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(third.commands[0]) == "cancelled ('why',)"


def test_wait_cancellation_completed_gets_a_result_that_won_the_race() -> None:
    driver, scheduled = _started_and_signalled("WAIT_CANCELLATION_COMPLETED")
    driver.complete(driver.task())
    driver.history.activity_completed(scheduled, "done anyway")
    assert decode_result(driver.task().commands[0]) == "result done anyway"


def test_abandon_sends_no_command_and_resolves_at_once() -> None:
    driver, scheduled = _started_and_signalled("ABANDON")
    second = driver.task()
    assert command_types(second.commands) == ["COMPLETE_WORKFLOW_EXECUTION"]
    assert decode_result(second.commands[0]) == "cancelled ()"


@pytest.mark.parametrize("cancellation_type", ["TRY_CANCEL", "ABANDON"])
def test_late_outcome_after_an_immediate_resolution_is_ignored(cancellation_type: str) -> None:
    @workflow.defn
    class CancelsThenSleeps:
        @workflow.run
        async def run(self) -> str:
            handle = workflow.start_activity(
                "work", start_to_close_timeout=TIMEOUT,
                cancellation_type=ActivityCancellationType[cancellation_type],
            )
            await workflow.sleep(1)
            handle.cancel()
            try:
                await handle
            except ActivityError:
                pass
            await workflow.sleep(5)
            return "done"

    driver = Driver(CancelsThenSleeps)
    driver.complete(driver.task())
    scheduled = driver.scheduled_id("1")
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    second = driver.task()
    expected = ["START_TIMER"] if cancellation_type == "ABANDON" else ["REQUEST_CANCEL_ACTIVITY_TASK", "START_TIMER"]
    assert command_types(second.commands) == expected
    driver.complete(second)
    driver.history.activity_completed(scheduled, "late")
    third = driver.task()
    assert third.commands == []  # ignored
    driver.complete(third)
    driver.history.timer_fired("2", driver.timer_started_id("2"))
    assert decode_result(driver.task().commands[0]) == "done"


def test_cancelled_before_it_started_gets_both_events_from_the_service() -> None:
    """History as the service writes it for an activity not yet started: CANCEL_REQUESTED then CANCELED."""
    driver = Driver(CancelsOnSignal, "WAIT_CANCELLATION_COMPLETED")
    driver.complete(driver.task())
    scheduled = driver.scheduled_id("1")
    driver.history.signaled("stop")
    second = driver.task()
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK"]
    driver.complete(second)  # records ACTIVITY_TASK_CANCEL_REQUESTED
    driver.history.activity_canceled(scheduled)
    assert decode_result(driver.task().commands[0]) == "cancelled ()"


@workflow.defn
class AwaitsWork:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity("work", start_to_close_timeout=TIMEOUT)


def test_workflow_cancel_requests_activity_cancel_and_cancels_the_run() -> None:
    driver = Driver(AwaitsWork)
    driver.complete(driver.task())
    scheduled = driver.scheduled_id("1")
    driver.history.activity_started(scheduled)
    driver.history.cancel_requested()
    second = driver.task()
    assert command_types(second.commands) == ["REQUEST_CANCEL_ACTIVITY_TASK", "CANCEL_WORKFLOW_EXECUTION"]
    assert second.commands[0].request_cancel_activity_task_command_attributes.scheduled_event_id == scheduled
    driver.complete(second)
    assert driver.instance.is_completed


def test_replay_with_a_different_cancel_target_is_nondeterministic() -> None:
    from rayflow.exceptions import NondeterminismError

    driver, scheduled = _started_and_signalled("TRY_CANCEL")
    second = driver.task()
    driver.complete(second)
    # Tamper with the recorded request: it now names another activity.
    for event in driver.history.find(H.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED):
        event.activity_task_cancel_requested_event_attributes.scheduled_event_id = scheduled + 100
    from .histories import new_instance

    fresh = new_instance(CancelsOnSignal)
    driver.history.workflow_task()
    result = fresh.apply(driver.history.events)
    assert isinstance(result.task_failure, NondeterminismError)
