"""Signals a workflow sends to another (a child's handle.signal), on the history shard side (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, request_response_pb2
from rayflow.service.history import children
from rayflow.service.history.mutable_state import StateBuilder

H = history_pb2


def _running() -> StateBuilder:
    request = request_response_pb2.StartWorkflowExecutionRequest(
        namespace="ns", workflow_id="parent", workflow_type="P", task_queue="tq", request_id="r")
    return StateBuilder(StateBuilder.start_execution(request, datetime.now(UTC)).state, datetime.now(UTC))


def test_initiated_signal_is_pending_until_recorded() -> None:
    builder = _running()
    children.initiate_signal(builder, command_pb2.SignalExternalWorkflowExecutionCommandAttributes(
        workflow_id="kid", signal_name="give", control="1"), completed_event_id=1)
    event = builder.new_events[-1]
    assert event.event_type == H.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
    (pending,) = children.unsent_signals(builder.state)
    assert pending.request_id == f"signal-{builder.info.run_id}-{event.event_id}"
    assert children.record_signal_sent(builder, event.event_id, True)
    assert not children.record_signal_sent(builder, event.event_id, True)  # once
    assert children.unsent_signals(builder.state) == []
    assert any(e.event_type == H.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED for e in builder.new_events)


def test_signal_request_ids_dedupe_and_stay_bounded() -> None:
    state = _running().state
    assert children.remember_signal_request(state, "a")
    assert not children.remember_signal_request(state, "a")
    assert children.remember_signal_request(state, "")  # no id: never deduplicated
    for n in range(children.SIGNAL_REQUEST_IDS_KEPT + 5):
        children.remember_signal_request(state, f"id-{n}")
    assert len(state.signal_request_ids) == children.SIGNAL_REQUEST_IDS_KEPT
    assert "a" not in state.signal_request_ids
