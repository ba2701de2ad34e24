"""Which exceptions fail the workflow and which fail only the workflow task (Temporal's rules).

A ``FailureError`` (``ApplicationError``, an ``ActivityError`` let through, ...) or an ``asyncio.TimeoutError``
fails the workflow. Any other exception is taken for a bug: it fails the workflow task, which is retried, so
deploying fixed code lets the workflow go on. ``@workflow.defn(failure_exception_types=[...])`` and the
worker's ``workflow_failure_exception_types`` list the types (subclasses count) that fail the workflow
instead; listing ``NondeterminismError`` (or a base of it) makes nondeterminism fail the workflow too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from rayflow import workflow
from rayflow.exceptions import ApplicationError, NondeterminismError
from rayflow.proto.rayflow.v1 import history_pb2

from .histories import CONVERTER, Driver, HistoryBuilder, command_types, new_instance
from .test_updates import _offer, _record

UNHANDLED = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
NON_DETERMINISTIC = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR


def _failure(result):
    assert command_types(result.commands) == ["FAIL_WORKFLOW_EXECUTION"], result
    return result.commands[0].fail_workflow_execution_command_attributes.failure


@workflow.defn
class RaisesKeyError:
    @workflow.run
    async def run(self) -> None:
        raise KeyError("missing thing")


@workflow.defn(name="RaisesKeyError", failure_exception_types=[KeyError])
class RaisesListedKeyError:
    @workflow.run
    async def run(self) -> None:
        raise KeyError("missing thing")


@workflow.defn(name="RaisesKeyError", failure_exception_types=[LookupError])
class RaisesKeyErrorBaseListed:
    @workflow.run
    async def run(self) -> None:
        raise KeyError("missing thing")


def test_a_plain_exception_fails_the_task_not_the_workflow() -> None:
    driver = Driver(RaisesKeyError)
    result = driver.task()
    assert result.commands == []
    assert isinstance(result.task_failure, KeyError)
    assert result.task_failure_cause == UNHANDLED
    assert driver.instance.is_completed is False


def test_a_listed_type_fails_the_workflow() -> None:
    failure = _failure(Driver(RaisesListedKeyError).task())
    assert failure.message == "'missing thing'"
    assert failure.application_failure_info.type == "KeyError"
    assert "missing thing" in failure.stack_trace


def test_a_subclass_of_a_listed_type_fails_the_workflow() -> None:
    assert _failure(Driver(RaisesKeyErrorBaseListed).task()).application_failure_info.type == "KeyError"


def test_worker_level_types_add_to_the_definitions() -> None:
    history = HistoryBuilder("RaisesKeyError")
    history.workflow_task()
    instance = new_instance(RaisesKeyError, workflow_failure_exception_types=[KeyError])
    assert _failure(instance.apply(history.events)).message == "'missing thing'"
    other = new_instance(RaisesKeyError, workflow_failure_exception_types=[ValueError])
    assert isinstance(other.apply(history.events).task_failure, KeyError)


def test_application_error_and_asyncio_timeout_fail_the_workflow() -> None:
    @workflow.defn
    class Raises:
        @workflow.run
        async def run(self, kind: str) -> None:
            if kind == "application":
                raise ApplicationError("refused", type="Refused")
            await workflow.wait_condition(lambda: False, timeout=timedelta(seconds=1))

    assert _failure(Driver(Raises, "application").task()).application_failure_info.type == "Refused"
    driver = Driver(Raises, "timeout")
    timer = driver.task()
    assert command_types(timer.commands) == ["START_TIMER"]
    driver.complete(timer)
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    assert _failure(driver.task()).application_failure_info.type == "TimeoutError"


def test_failure_exception_types_must_be_exception_classes() -> None:
    with pytest.raises(TypeError, match="failure_exception_types"):

        @workflow.defn(failure_exception_types=["KeyError"])
        class Bad:
            @workflow.run
            async def run(self) -> None: ...

    assert workflow.get_definition(RaisesListedKeyError).failure_exception_types == (KeyError,)
    assert workflow.get_definition(RaisesKeyError).failure_exception_types == ()


# -- signal and update handlers ---------------------------------------------------------------------------


@workflow.defn
class Handlers:
    def __init__(self) -> None:
        self.total = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def boom(self) -> None:
        raise ValueError("bad signal")

    @workflow.update
    async def add(self, amount: int) -> int:
        if amount == 13:
            raise ApplicationError("unlucky")
        if amount < 0:
            raise ValueError("bug in the handler")
        self.total += amount
        return self.total


@workflow.defn(name="Handlers", failure_exception_types=[ValueError])
class HandlersListingValueError(Handlers):
    pass


def test_a_signal_handler_error_fails_the_task_unless_listed() -> None:
    driver = Driver(Handlers)
    driver.complete(driver.task())
    driver.history.signaled("boom")
    result = driver.task()
    assert isinstance(result.task_failure, ValueError) and result.commands == []

    listed = Driver(HandlersListingValueError)
    listed.complete(listed.task())
    listed.history.signaled("boom")
    assert "bad signal" in _failure(listed.task()).message


def _update_result(workflow_cls: type, amount: int):
    history = HistoryBuilder("Handlers")
    instance = new_instance(workflow_cls)
    history.workflow_task()
    _record(history, instance.apply(history.events).commands)
    history.workflow_task()
    return instance.apply(history.since(instance.next_event_id), [_offer("u1", amount)])


def test_an_update_handler_error_fails_the_update_only_for_failure_types() -> None:
    unlucky = _update_result(Handlers, 13)  # an ApplicationError: the update fails, the workflow goes on
    assert command_types(unlucky.commands) == ["ACCEPT_WORKFLOW_UPDATE", "COMPLETE_WORKFLOW_UPDATE"]
    failure = unlucky.commands[1].complete_workflow_update_command_attributes.failure
    assert failure.message == "unlucky"

    bug = _update_result(Handlers, -1)  # any other exception: a bug, the workflow task fails
    assert isinstance(bug.task_failure, ValueError) and bug.task_failure_cause == UNHANDLED

    listed = _update_result(HandlersListingValueError, -1)  # listed: the update fails (not the workflow)
    assert command_types(listed.commands) == ["ACCEPT_WORKFLOW_UPDATE", "COMPLETE_WORKFLOW_UPDATE"]
    assert listed.commands[1].complete_workflow_update_command_attributes.failure.message == "bug in the handler"


# -- nondeterminism --------------------------------------------------------------------------------


def a() -> None: ...


@workflow.defn
class SchedulesA:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(a, start_to_close_timeout=timedelta(seconds=1))


@workflow.defn(name="SchedulesA", failure_exception_types=[NondeterminismError])
class SchedulesAFailingOnNondeterminism(SchedulesA):
    pass


def _history_scheduling(activity_type: str) -> HistoryBuilder:
    h = HistoryBuilder("SchedulesA")
    h.workflow_task()
    completed = h.task_completed()
    h.activity_scheduled(activity_type, "1", completed_id=completed)
    h.activity_completed(5, "r")
    h.workflow_task()
    return h


def test_nondeterminism_fails_the_task_by_default() -> None:
    result = new_instance(SchedulesA).apply(_history_scheduling("b").events)
    assert isinstance(result.task_failure, NondeterminismError) and result.task_failure_cause == NON_DETERMINISTIC


@pytest.mark.parametrize("where", ["definition", "worker", "worker base class"])
def test_nondeterminism_listed_fails_the_workflow(where: str) -> None:
    if where == "definition":
        instance = new_instance(SchedulesAFailingOnNondeterminism)
    else:
        listed = NondeterminismError if where == "worker" else Exception
        instance = new_instance(SchedulesA, workflow_failure_exception_types=[listed])
    result = instance.apply(_history_scheduling("b").events)
    assert result.task_failure is None
    failure = _failure(result)
    assert "nondeterministic" in failure.message and "activity 'b'" in failure.message
    assert failure.application_failure_info.type == "NondeterminismError"
    assert instance.is_completed
    assert CONVERTER.from_failure(failure).type == "NondeterminismError"
