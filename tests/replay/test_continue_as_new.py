"""Continue-as-new in the replay core and the state builder, on hand-built histories (no service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rayflow import constants, workflow
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, request_response_pb2
from rayflow.service.history.mutable_state import StateBuilder

from .histories import CONVERTER, Driver, HistoryBuilder, command_types, new_instance

H = history_pb2


@workflow.defn
class Looper:
    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.sleep(1)
        if n > 0:
            workflow.continue_as_new(n - 1)
        return n


@workflow.defn
class Other:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


def _attrs(result) -> command_pb2.ContinueAsNewWorkflowExecutionCommandAttributes:
    assert command_types(result.commands) == ["CONTINUE_AS_NEW_WORKFLOW_EXECUTION"]
    return result.commands[0].continue_as_new_workflow_execution_command_attributes


def test_continue_as_new_issues_the_command_with_the_new_arguments() -> None:
    driver = Driver(Looper, 3)
    driver.complete(driver.task())
    driver.history.timer_fired("1", driver.timer_started_id("1"))
    result = driver.task()
    attrs = _attrs(result)
    assert CONVERTER.from_payloads(attrs.input) == [2]
    assert attrs.workflow_type == "" and attrs.task_queue == ""  # inherited by the service
    assert not attrs.HasField("workflow_run_timeout")
    assert attrs.inherit_memo
    assert driver.instance.is_completed


def test_continue_as_new_replays_against_its_recorded_event() -> None:
    history = HistoryBuilder("Looper", 1)
    history.workflow_task()
    instance = new_instance(Looper)
    first = instance.apply(history.events)
    completed = history.task_completed(first.commands)
    started = history.events[-1].event_id
    history.timer_fired("1", started)
    history.workflow_task()
    second = instance.apply(history.since(instance.next_event_id))
    attrs = _attrs(second)
    history.task_completed()
    history.add(
        H.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        workflow_execution_continued_as_new_event_attributes=H.WorkflowExecutionContinuedAsNewEventAttributes(
            new_execution_run_id="run-2", workflow_type="Looper", task_queue="tq", input=attrs.input,
            workflow_task_completed_event_id=completed,
        ),
    )
    # A fresh instance replays the whole closed history without a nondeterminism error.
    history.workflow_task()
    fresh = new_instance(Looper)
    replayed = fresh.apply(history.events)
    assert replayed.task_failure is None
    fresh.close()
    instance.close()


def test_except_exception_does_not_swallow_continue_as_new() -> None:
    @workflow.defn
    class Catches:
        @workflow.run
        async def run(self) -> str:
            try:
                workflow.continue_as_new("again")
            except Exception:  # noqa: BLE001 - the point of the test
                return "swallowed"
            return "unreachable"

    attrs = _attrs(Driver(Catches).task())
    assert CONVERTER.from_payloads(attrs.input) == ["again"]


def test_continue_as_new_options_are_sent() -> None:
    @workflow.defn
    class Switches:
        @workflow.run
        async def run(self) -> None:
            workflow.continue_as_new(
                "x", workflow=Other.run, task_queue="other-tq", run_timeout=timedelta(minutes=5),
                task_timeout=timedelta(seconds=3), memo={"owner": "me"},
            )

    attrs = _attrs(Driver(Switches).task())
    assert attrs.workflow_type == "Other"
    assert attrs.task_queue == "other-tq"
    assert attrs.workflow_run_timeout.ToTimedelta() == timedelta(minutes=5)
    assert attrs.workflow_task_timeout.ToTimedelta() == timedelta(seconds=3)
    assert not attrs.inherit_memo
    assert CONVERTER.payload_converter.from_payload(attrs.memo["owner"]) == "me"


def test_info_shows_the_continued_run_and_memo() -> None:
    @workflow.defn
    class Reports:
        @workflow.run
        async def run(self) -> list:
            info = workflow.info()
            return [info.continued_run_id, info.first_execution_run_id, info.memo]

    history = HistoryBuilder("Reports")
    started = history.events[0].workflow_execution_started_event_attributes
    started.continued_execution_run_id = "run-0"
    started.memo["k"].CopyFrom(CONVERTER.payload_converter.to_payload(7))
    history.workflow_task()
    instance = new_instance(Reports)
    result = instance.apply(history.events)
    payloads = result.commands[0].complete_workflow_execution_command_attributes.result
    assert CONVERTER.from_payload(payloads) == ["run-0", "first-run", {"k": 7}]
    instance.close()


def test_continue_as_new_is_suggested_once_the_history_is_long(monkeypatch) -> None:
    monkeypatch.setattr(constants, "CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH", 20)

    @workflow.defn
    class Sleeper:
        @workflow.run
        async def run(self) -> None:
            while not workflow.info().is_continue_as_new_suggested():
                await workflow.sleep(1)
            workflow.continue_as_new(workflow.info().get_current_history_length())

    driver = Driver(Sleeper)
    for _ in range(10):
        result = driver.task()
        if result.commands and result.commands[0].command_type == command_pb2.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
            break
        driver.complete(result)
        driver.history.timer_fired(str(_ + 1), driver.timer_started_id(str(_ + 1)))
    length = CONVERTER.from_payloads(_attrs(result).input)[0]
    assert length >= 20 and length == driver.history.last_id
    assert constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH == 20


def test_default_suggestion_threshold_is_well_below_the_history_limit() -> None:
    assert 1000 <= constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH <= 20_000


# -- the service side: one builder closes the run, another starts its successor ---------------------------


def _started_run(**timeouts: timedelta) -> StateBuilder:
    request = request_response_pb2.StartWorkflowExecutionRequest(
        namespace="default", workflow_id="wf", workflow_type="Looper", task_queue="tq", request_id="r",
    )
    for name, value in timeouts.items():
        getattr(request, name).FromTimedelta(value)
    return StateBuilder.start_execution(request, datetime(2024, 1, 1, tzinfo=UTC))


def test_state_builder_closes_the_run_and_builds_its_successor() -> None:
    run = _started_run(workflow_run_timeout=timedelta(minutes=1), workflow_execution_timeout=timedelta(minutes=10))
    closing = StateBuilder(run.state, datetime(2024, 1, 1, 0, 9, 30, tzinfo=UTC))
    attrs = command_pb2.ContinueAsNewWorkflowExecutionCommandAttributes(
        input=CONVERTER.to_payloads([1]), inherit_memo=False
    )
    attrs.memo["m"].CopyFrom(CONVERTER.payload_converter.to_payload("v"))
    successor = closing.continue_as_new(attrs, 5, "worker")
    assert closing.closed and closing.successor is successor
    assert closing.info.status == request_response_pb2.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
    closed_event = closing.new_events[-1]
    assert closed_event.event_type == H.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert closed_event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id == (
        successor.info.run_id
    )
    info = successor.info
    assert info.run_id != run.info.run_id and info.workflow_id == "wf"
    assert info.workflow_type == "Looper" and info.task_queue == "tq"
    assert info.first_execution_run_id == run.info.run_id
    started = successor.new_events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id == run.info.run_id
    assert started.first_execution_run_id == run.info.run_id
    assert CONVERTER.payload_converter.from_payload(started.memo["m"]) == "v"
    assert info.run_timeout.ToTimedelta() == timedelta(minutes=1)  # inherited
    # The execution timeout spans the chain: 30 s are left of it, less than the 1-minute run timeout.
    assert info.execution_expiration_time == run.info.execution_expiration_time
    assert info.run_expiration_time.ToDatetime(tzinfo=UTC) == datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    assert [e.event_type for e in successor.new_events] == [
        H.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, H.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]
