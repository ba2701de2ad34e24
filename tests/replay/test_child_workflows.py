"""Child workflows in the replay core, on hand-built histories."""

from __future__ import annotations

from rayflow import workflow
from rayflow.exceptions import ApplicationError, ChildWorkflowError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, message_pb2

from .histories import CONVERTER, Driver, decode_result

H = history_pb2


@workflow.defn
class Child:
    @workflow.run
    async def run(self, n: int) -> int:
        return n + 1


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, n: int) -> str:
        handle = await workflow.start_child_workflow(Child.run, n, id="kid")
        assert handle.id == "kid"
        try:
            return f"ok {await handle} {handle.first_execution_run_id}"
        except ChildWorkflowError as err:
            return f"failed {type(err.cause).__name__} {err.cause}"


def _initiate(driver: Driver, result) -> int:
    (command,) = result.commands
    assert command.command_type == command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION
    attrs = command.start_child_workflow_execution_command_attributes
    assert (attrs.workflow_id, attrs.workflow_type, attrs.task_queue) == ("kid", "Child", "tq")
    driver.history.task_completed([])
    event = driver.history.add(
        H.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        start_child_workflow_execution_initiated_event_attributes=H.StartChildWorkflowExecutionInitiatedEventAttributes(
            workflow_id="kid", workflow_type="Child", task_queue="tq", input=attrs.input,
            workflow_task_completed_event_id=driver.history.last_id,
        ),
    )
    return event.event_id


def _started(driver: Driver, initiated: int) -> None:
    driver.history.add(
        H.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        child_workflow_execution_started_event_attributes=H.ChildWorkflowExecutionStartedEventAttributes(
            initiated_event_id=initiated, workflow_type="Child",
            workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid", run_id="kid-run"),
        ),
    )


def test_child_result_reaches_parent() -> None:
    driver = Driver(Parent, 1)
    initiated = _initiate(driver, driver.task())
    _started(driver, initiated)
    assert driver.task().commands == []  # started: waiting for the result
    driver.history.task_completed([])
    driver.history.add(
        H.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        child_workflow_execution_completed_event_attributes=H.ChildWorkflowExecutionCompletedEventAttributes(
            initiated_event_id=initiated, workflow_type="Child", result=CONVERTER.to_payload(2),
            workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid", run_id="kid-run"),
        ),
    )
    result = driver.task()
    assert len(result.commands) == 1
    assert decode_result(result.commands[0]) == "ok 2 kid-run"


def test_child_failure_is_child_workflow_error() -> None:
    driver = Driver(Parent, 1)
    initiated = _initiate(driver, driver.task())
    _started(driver, initiated)
    driver.history.add(
        H.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        child_workflow_execution_failed_event_attributes=H.ChildWorkflowExecutionFailedEventAttributes(
            initiated_event_id=initiated, workflow_type="Child",
            failure=CONVERTER.to_failure(ApplicationError("bad")),
            workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid", run_id="kid-run"),
        ),
    )
    result = driver.task()
    assert decode_result(result.commands[0]) == "failed ApplicationError bad"


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.value: str | None = None

    @workflow.signal
    def give(self, value: str) -> None:
        self.value = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        return self.value or ""


@workflow.defn
class Signaller:
    @workflow.run
    async def run(self) -> str:
        handle = await workflow.start_child_workflow(Waiter.run, id="kid")
        try:
            await handle.signal(Waiter.give, "hello")
        except ApplicationError as err:
            return f"signal failed: {err}"
        return "sent"


def _signal_initiated(driver: Driver) -> int:
    """Start the child, run the next task, check its SignalExternalWorkflowExecution, record it."""
    result = driver.task()
    (command,) = result.commands
    assert command.command_type == command_pb2.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION
    driver.history.task_completed([])
    initiated = driver.history.add(
        H.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        start_child_workflow_execution_initiated_event_attributes=H.StartChildWorkflowExecutionInitiatedEventAttributes(
            workflow_id="kid", workflow_type="Waiter", task_queue="tq",
            workflow_task_completed_event_id=driver.history.last_id,
        ),
    ).event_id
    driver.history.add(
        H.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        child_workflow_execution_started_event_attributes=H.ChildWorkflowExecutionStartedEventAttributes(
            initiated_event_id=initiated, workflow_type="Waiter",
            workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid", run_id="kid-run"),
        ),
    )
    result = driver.task()
    (command,) = result.commands
    assert command.command_type == command_pb2.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION
    attrs = command.signal_external_workflow_execution_command_attributes
    assert (attrs.workflow_id, attrs.signal_name, attrs.control) == ("kid", "give", "1")
    assert CONVERTER.from_payloads(attrs.input) == ["hello"]
    driver.history.task_completed([])
    return driver.history.add(
        H.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        signal_external_workflow_execution_initiated_event_attributes=(
            H.SignalExternalWorkflowExecutionInitiatedEventAttributes(
                workflow_task_completed_event_id=driver.history.last_id, signal_name="give", input=attrs.input,
                control=attrs.control, workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid"),
            )
        ),
    ).event_id


def test_child_signal_resolves_when_signaled() -> None:
    driver = Driver(Signaller)
    initiated = _signal_initiated(driver)
    assert driver.task().commands == []  # initiated: waiting for the delivery
    driver.history.task_completed([])
    driver.history.add(
        H.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        external_workflow_execution_signaled_event_attributes=H.ExternalWorkflowExecutionSignaledEventAttributes(
            initiated_event_id=initiated, control="1",
            workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid"),
        ),
    )
    result = driver.task()
    assert len(result.commands) == 1
    assert decode_result(result.commands[0]) == "sent"


def test_child_signal_failure_raises() -> None:
    driver = Driver(Signaller)
    initiated = _signal_initiated(driver)
    driver.history.add(
        H.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
        signal_external_workflow_execution_failed_event_attributes=(
            H.SignalExternalWorkflowExecutionFailedEventAttributes(
                initiated_event_id=initiated, cause=1, control="1",
                workflow_execution=message_pb2.WorkflowExecution(workflow_id="kid"),
            )
        ),
    )
    result = driver.task()
    assert len(result.commands) == 1
    message = decode_result(result.commands[0])
    assert message.startswith("signal failed: ") and "'give'" in message and "'kid'" in message
