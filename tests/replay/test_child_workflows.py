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
