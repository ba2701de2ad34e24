"""Workflow updates in the replay core: validation, acceptance, completion, and replay from history."""

from __future__ import annotations

from rayflow import workflow
from rayflow.converter import DataConverter
from rayflow.exceptions import ApplicationError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.worker.replay.updates import UpdateOffer

from .histories import HistoryBuilder, command_types, decode_result, new_instance

H = history_pb2
CONVERTER = DataConverter.default


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.total

    @workflow.update
    async def add(self, amount: int) -> int:
        if amount == 13:
            raise ApplicationError("unlucky")
        self.total += amount
        return self.total

    @add.validator
    def validate_add(self, amount: int) -> None:
        if amount < 0:
            raise ValueError("amount must be positive")

    @workflow.signal
    def finish(self) -> None:
        self.done = True


def _offer(update_id: str, amount: int) -> UpdateOffer:
    return UpdateOffer(update_id, "add", CONVERTER.to_payloads([amount]))


def _record(history: HistoryBuilder, commands: list[command_pb2.Command]) -> None:
    """WORKFLOW_TASK_COMPLETED and the events the service writes for these (update) commands."""
    completed = history.task_completed([])
    for command in commands:
        if command.command_type == command_pb2.COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE:
            a = command.accept_workflow_update_command_attributes
            history.add(H.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                        workflow_execution_update_accepted_event_attributes=H.WorkflowExecutionUpdateAcceptedEventAttributes(
                            update_id=a.update_id, name=a.name, input=a.input,
                            workflow_task_completed_event_id=completed))
        elif command.command_type == command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE:
            a = command.complete_workflow_update_command_attributes
            history.add(H.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
                        workflow_execution_update_completed_event_attributes=H.WorkflowExecutionUpdateCompletedEventAttributes(
                            update_id=a.update_id, result=a.result, failure=a.failure if a.HasField("failure") else None,
                            workflow_task_completed_event_id=completed))
        else:
            history.record(command, completed)


def test_accepted_update_runs_handler_and_yields_accept_and_complete() -> None:
    history = HistoryBuilder("Counter")
    instance = new_instance(Counter)
    history.workflow_task()
    first = instance.apply(history.events)
    assert first.commands == []
    _record(history, first.commands)
    history.workflow_task()
    second = instance.apply(history.since(instance.next_event_id), [_offer("u1", 5)])
    assert command_types(second.commands) == ["ACCEPT_WORKFLOW_UPDATE", "COMPLETE_WORKFLOW_UPDATE"]
    assert second.rejected_updates == []
    done = second.commands[1].complete_workflow_update_command_attributes
    assert CONVERTER.from_payloads(done.result) == [5]
    assert instance._object.total == 5
    instance.close()


def test_validator_rejection_yields_no_commands() -> None:
    history = HistoryBuilder("Counter")
    instance = new_instance(Counter)
    history.workflow_task()
    result = instance.apply(history.events, [_offer("bad", -1)])
    assert result.commands == []
    [(update_id, failure)] = result.rejected_updates
    assert update_id == "bad" and "positive" in failure.message
    assert instance._object.total == 0
    instance.close()


def test_handler_error_fails_the_update_not_the_workflow() -> None:
    history = HistoryBuilder("Counter")
    instance = new_instance(Counter)
    history.workflow_task()
    result = instance.apply(history.events, [_offer("u13", 13)])
    assert result.task_failure is None
    assert command_types(result.commands) == ["ACCEPT_WORKFLOW_UPDATE", "COMPLETE_WORKFLOW_UPDATE"]
    assert result.commands[1].complete_workflow_update_command_attributes.failure.message == "unlucky"
    assert not instance.is_completed
    instance.close()


def test_replay_from_history_reruns_the_handler_deterministically() -> None:
    history = HistoryBuilder("Counter")
    live = new_instance(Counter)
    history.workflow_task()
    first = live.apply(history.events, [_offer("u1", 2), _offer("bad", -5)])
    _record(history, first.commands)
    history.workflow_task()
    second = live.apply(history.since(live.next_event_id), [_offer("u2", 3)])
    _record(history, second.commands)
    history.signaled("finish")
    history.workflow_task()
    third = live.apply(history.since(live.next_event_id))
    assert decode_result(third.commands[0]) == 5
    fresh = new_instance(Counter)
    replayed = fresh.apply(history.events)
    assert replayed.task_failure is None
    assert decode_result(replayed.commands[0]) == 5
    assert fresh._object.total == 5
    live.close()
    fresh.close()
