"""A closed run keeps 'needs attention' (reloaded by its shard after a restart) until its cross-shard work is done."""

from __future__ import annotations

from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service.history import children

RR = request_response_pb2


def _parent(status: int) -> internal_pb2.MutableState:
    state = internal_pb2.MutableState()
    state.execution_info.status = status
    child = state.children[5]
    child.initiated_event_id = 5
    child.workflow_id = "child"
    child.run_id = "run-1"
    child.parent_close_policy = children.TERMINATE
    return state


def test_closed_parent_needs_attention_until_the_close_policy_is_applied():
    running = _parent(RR.WORKFLOW_EXECUTION_STATUS_RUNNING)
    assert not children.needs_attention(running)

    closed = _parent(RR.WORKFLOW_EXECUTION_STATUS_COMPLETED)
    assert [c.workflow_id for c in children.needs_close_policy(closed)] == ["child"]
    assert children.needs_attention(closed)

    closed.children[5].close_policy_applied = True
    assert children.needs_close_policy(closed) == []
    assert not children.needs_attention(closed)


def test_abandoned_and_unstarted_children_need_no_close_policy():
    closed = _parent(RR.WORKFLOW_EXECUTION_STATUS_FAILED)
    closed.children[5].parent_close_policy = children.ABANDON
    unstarted = closed.children[7]
    unstarted.initiated_event_id = 7
    unstarted.parent_close_policy = children.TERMINATE
    assert children.needs_close_policy(closed) == []


def test_closed_child_needs_attention_until_its_parent_is_told():
    state = internal_pb2.MutableState()
    state.execution_info.status = RR.WORKFLOW_EXECUTION_STATUS_COMPLETED
    state.execution_info.parent_workflow_id = "parent"
    assert children.needs_attention(state)
    state.execution_info.parent_notified = True
    assert not children.needs_attention(state)
