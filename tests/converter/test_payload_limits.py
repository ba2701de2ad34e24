"""Payload size limits: oversized data fails the task that carries it, clearly, once, and stays out of history."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.common import RetryPolicy, RetryState
from rayflow.constants import DEFAULT_MAX_PAYLOAD_SIZE
from rayflow.converter import DataConverter
from rayflow.exceptions import ActivityError, PayloadError, WorkflowFailureError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.service.history import payload_limits
from rayflow.worker import Worker

MB = 1024 * 1024
OVERSIZED = 3 * MB  # over the default 2 MB limit
LIMIT_TEXT = r"over the payload limit of 2 MB \(2097152 bytes\): pass a reference"


def no_store(env):
    """A client without a payload store: large payloads meet the service's limit instead of going to the store."""
    from rayflow.client import Client

    return Client(env.config, namespace=env.client.namespace, data_converter=DataConverter(payload_store=False),
                  identity="limits@test")


# -- the helpers --------------------------------------------------------------------------------------
def test_message_names_what_the_size_and_the_limit():
    text = payload_limits.too_large_message("ScheduleActivityTask input", 3 * MB, 2 * MB)
    assert text == (
        "ScheduleActivityTask input is 3.0 MB (3145728 bytes), over the payload limit of 2 MB (2097152 bytes): "
        "pass a reference (a path or an object-store key) instead of the data"
    )
    assert "100.0 KB (102400 bytes), over the payload limit of 64 KB (65536 bytes)" in (
        payload_limits.too_large_message("x", 100 * 1024, 64 * 1024)
    )


def test_check_payloads_raises_payload_error():
    payloads = DataConverter.default.to_payloads([b"x" * 2000])
    payload_limits.check_payloads(payloads, 4096, "the input of signal 's'")
    with pytest.raises(PayloadError, match=r"the input of signal 's' is 2\.0 KB \(\d+ bytes\), over the payload limit"):
        payload_limits.check_payloads(payloads, 1024, "the input of signal 's'")
    assert DEFAULT_MAX_PAYLOAD_SIZE == 2 * MB


def test_command_violation_names_the_command_and_field():
    command = command_pb2.Command(command_type=command_pb2.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK)
    attrs = command.schedule_activity_task_command_attributes
    attrs.activity_type = "a" * 5000  # not a payload: never counted
    attrs.input.CopyFrom(DataConverter.default.to_payloads([b"x" * 100]))
    assert payload_limits.command_violation(command, 1024) is None
    attrs.input.CopyFrom(DataConverter.default.to_payloads([b"x" * 2000]))
    assert payload_limits.command_violation(command, 1024).startswith("ScheduleActivityTask input is 2.0 KB")

    can = command_pb2.Command(command_type=command_pb2.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION)
    for i in range(3):
        can.continue_as_new_workflow_execution_command_attributes.memo[f"m{i}"].CopyFrom(
            DataConverter.default.to_payloads([b"y" * 500]).payloads[0]
        )
    assert payload_limits.command_violation(can, 1024).startswith("ContinueAsNewWorkflowExecution memo is")


# -- end to end -------------------------------------------------------------------------------------
@activity.defn
async def payload_size(data: bytes) -> int:
    return len(data)


@activity.defn
async def big_result(size: int) -> bytes:
    return b"r" * size


@workflow.defn
class SendsTooMuch:
    @workflow.run
    async def run(self, size: int) -> int:
        return await workflow.execute_activity(payload_size, b"i" * size, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class GetsTooMuch:
    @workflow.run
    async def run(self, size: int) -> list:
        try:
            await workflow.execute_activity(
                big_result,
                size,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5),
            )
        except ActivityError as err:
            return [
                type(err.__cause__).__name__,
                str(err.__cause__),
                err.retry_state == RetryState.NON_RETRYABLE_FAILURE,
            ]
        return ["no error"]


def _event_types(history) -> list[str]:
    return [history_pb2.EventType.Name(e.event_type) for e in history.raw.events]


async def test_oversized_activity_input_fails_the_workflow_once(env, task_queue):
    client = no_store(env)
    async with Worker(client, task_queue=task_queue, workflows=[SendsTooMuch], activities=[payload_size]):
        handle = await client.start_workflow(
            SendsTooMuch.run, OVERSIZED, id=f"big-in-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert raised.value.cause.__class__.__name__ == "ServerError"
    assert raised.value.cause.non_retryable
    message = str(raised.value.cause)
    assert "ScheduleActivityTask input is 3.0 MB" in message
    assert "over the payload limit of 2 MB (2097152 bytes)" in message

    history = await handle.fetch_history()
    types = _event_types(history)
    assert types[-2:] == ["EVENT_TYPE_WORKFLOW_TASK_FAILED", "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"]
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" not in types
    assert types.count("EVENT_TYPE_WORKFLOW_TASK_FAILED") == 1  # never retried
    failed = history.raw.events[-2].workflow_task_failed_event_attributes
    assert failed.cause == history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR
    assert "ScheduleActivityTask input is 3.0 MB" in failed.failure.message
    assert history.raw.ByteSize() < 64 * 1024  # none of the data entered history


async def test_oversized_activity_result_fails_the_activity_without_retries(env, task_queue):
    client = no_store(env)
    async with Worker(client, task_queue=task_queue, workflows=[GetsTooMuch], activities=[big_result]):
        handle = await client.start_workflow(
            GetsTooMuch.run, OVERSIZED, id=f"big-out-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        cause_type, cause_message, non_retryable = await handle.result()
    assert cause_type == "ServerError"
    assert "the result of activity 'big_result' is 3.0 MB" in cause_message
    assert "over the payload limit of 2 MB (2097152 bytes)" in cause_message
    assert non_retryable

    history = await handle.fetch_history()
    started = [e for e in history.raw.events if e.event_type == history_pb2.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert [e.activity_task_started_event_attributes.attempt for e in started] == [1]
    (failed,) = [e for e in history.raw.events if e.event_type == history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    assert failed.activity_task_failed_event_attributes.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert history.raw.ByteSize() < 64 * 1024


async def test_oversized_start_input_is_rejected_and_nothing_recorded(env, task_queue):
    workflow_id = f"big-start-{uuid.uuid4().hex[:6]}"
    with pytest.raises(PayloadError, match=LIMIT_TEXT):
        await no_store(env).start_workflow(SendsTooMuch.run, b"s" * OVERSIZED, id=workflow_id, task_queue=task_queue)
    handle = no_store(env).get_workflow_handle(workflow_id)
    with pytest.raises(Exception, match="not found"):
        await handle.describe()


async def test_oversized_terminate_details_are_refused_and_the_run_goes_on(env, task_queue):
    workflow_id = f"big-terminate-{uuid.uuid4().hex[:6]}"
    handle = await no_store(env).start_workflow(SendsTooMuch.run, 10, id=workflow_id, task_queue=task_queue)
    with pytest.raises(PayloadError, match="the details of terminate is 3.0 MB"):
        await handle.terminate("too much", details=[b"d" * OVERSIZED])
    description = await handle.describe()
    assert description.status.name == "RUNNING"
    assert description.history_length == 2  # started + first workflow task scheduled: nothing else recorded
    await handle.terminate("done")
    assert (await handle.describe()).status.name == "TERMINATED"
