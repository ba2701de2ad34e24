"""Child workflows on the history shard side (no I/O here): the parent's pending children and the
events that record their start and close.

The parent's mutable state keeps each child it initiated (``MutableState.children``) until the child
closed. After the parent's commit its shard starts the child on the child's shard with a request id
derived from the parent run and the initiated event id (so a retried start is idempotent) and records
CHILD_WORKFLOW_EXECUTION_STARTED (or START_CHILD_WORKFLOW_EXECUTION_FAILED). When the child closes,
its shard calls the parent's shard (``record_child_completed``) until the parent acknowledged.
"""

from __future__ import annotations

from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, internal_pb2, message_pb2, request_response_pb2
from rayflow.service.history import versioning
from rayflow.service.history.mutable_state import ET, StateBuilder

RR = request_response_pb2
TERMINATE, ABANDON, REQUEST_CANCEL = 1, 2, 3

# The closing event of a child run -> the parent's event recording it.
_CLOSE_EVENTS = {
    ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
    ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
    ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    ET.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
}


def initiate(builder: StateBuilder, attrs: command_pb2.StartChildWorkflowExecutionCommandAttributes,
             completed_event_id: int, identity: str) -> None:
    """A StartChildWorkflowExecution command: START_CHILD_WORKFLOW_EXECUTION_INITIATED and a pending child."""
    info = builder.info
    event_attrs = history_pb2.StartChildWorkflowExecutionInitiatedEventAttributes(
        namespace=attrs.namespace or info.namespace,
        workflow_id=attrs.workflow_id,
        workflow_type=attrs.workflow_type,
        task_queue=attrs.task_queue or info.task_queue,
        input=attrs.input,
        parent_close_policy=attrs.parent_close_policy or TERMINATE,
        workflow_task_completed_event_id=completed_event_id,
    )
    for name in ("workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout", "retry_policy",
                 "header"):
        if attrs.HasField(name):
            getattr(event_attrs, name).CopyFrom(getattr(attrs, name))
    event = builder.add_event(ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, event_attrs)
    child = builder.state.children[event.event_id]
    child.initiated_event_id = event.event_id
    child.namespace = event_attrs.namespace
    child.workflow_id = event_attrs.workflow_id
    child.workflow_type = event_attrs.workflow_type
    child.parent_close_policy = event_attrs.parent_close_policy
    request = child.request
    request.namespace = event_attrs.namespace
    request.workflow_id = event_attrs.workflow_id
    request.workflow_type = event_attrs.workflow_type
    request.task_queue = event_attrs.task_queue
    request.input.CopyFrom(event_attrs.input)
    for name in ("workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout", "retry_policy",
                 "header"):
        if event_attrs.HasField(name):
            getattr(request, name).CopyFrom(getattr(event_attrs, name))
    request.identity = identity
    request.request_id = f"child-{info.run_id}-{event.event_id}"
    request.parent_namespace = info.namespace
    request.parent_workflow_id = info.workflow_id
    request.parent_run_id = info.run_id
    request.parent_initiated_event_id = event.event_id
    request.versioning_override = ""
    request.version_directive = versioning.start_request_directive(info, event_attrs.task_queue,
                                                                   attrs.versioning_intent)


def record_started(builder: StateBuilder, initiated_event_id: int, run_id: str) -> bool:
    """CHILD_WORKFLOW_EXECUTION_STARTED; False when already recorded.

    A parent that closed while the child's start was on its way records no event (its history is closed)
    but keeps the child's run id, so that its close policy still reaches the child.
    """
    child = builder.state.children.get(initiated_event_id)
    if child is None or child.run_id:
        return False
    child.run_id = run_id
    if not builder.is_open:
        return child.parent_close_policy != ABANDON
    attrs = history_pb2.ChildWorkflowExecutionStartedEventAttributes(
        namespace=child.namespace, initiated_event_id=initiated_event_id, workflow_type=child.workflow_type,
        workflow_execution=message_pb2.WorkflowExecution(workflow_id=child.workflow_id, run_id=run_id),
    )
    if child.request.HasField("header"):
        attrs.header.CopyFrom(child.request.header)
    builder.add_input_event(ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, attrs)
    return True


def record_start_failed(builder: StateBuilder, initiated_event_id: int) -> bool:
    """START_CHILD_WORKFLOW_EXECUTION_FAILED (the id is in use): the child is forgotten."""
    child = builder.state.children.get(initiated_event_id)
    if not builder.is_open or child is None or child.run_id:
        return False
    del builder.state.children[initiated_event_id]
    builder.add_input_event(
        ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
        history_pb2.StartChildWorkflowExecutionFailedEventAttributes(
            namespace=child.namespace, workflow_id=child.workflow_id, workflow_type=child.workflow_type,
            cause=1, initiated_event_id=initiated_event_id,
        ),
    )
    return True


def record_closed(builder: StateBuilder, initiated_event_id: int, run_id: str,
                  close_event: history_pb2.HistoryEvent, first_run_id: str = "") -> bool:
    """The close of the child's chain (``run_id``, the run that ended it; ``first_run_id``, the run that began
    it, the one the parent knows) as CHILD_WORKFLOW_EXECUTION_<outcome>; False when already recorded."""
    child = builder.state.children.get(initiated_event_id)
    if not builder.is_open or child is None:
        return False
    first_run_id = first_run_id or run_id
    if not child.run_id:  # the close overtook the start's acknowledgement
        record_started(builder, initiated_event_id, first_run_id)
        child = builder.state.children[initiated_event_id]
    elif child.run_id != first_run_id:
        return False  # another chain of the same workflow id
    del builder.state.children[initiated_event_id]
    kind = close_event.event_type
    event_type = _CLOSE_EVENTS.get(kind)
    if event_type is None:
        return False
    execution = message_pb2.WorkflowExecution(workflow_id=child.workflow_id, run_id=run_id)
    common = dict(namespace=child.namespace, workflow_execution=execution, workflow_type=child.workflow_type,
                  initiated_event_id=initiated_event_id)
    if kind == ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        attrs = history_pb2.ChildWorkflowExecutionCompletedEventAttributes(
            **common, result=close_event.workflow_execution_completed_event_attributes.result)
    elif kind == ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        src = close_event.workflow_execution_failed_event_attributes
        attrs = history_pb2.ChildWorkflowExecutionFailedEventAttributes(
            **common, failure=src.failure, retry_state=src.retry_state)
    elif kind == ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        attrs = history_pb2.ChildWorkflowExecutionCanceledEventAttributes(
            **common, details=close_event.workflow_execution_canceled_event_attributes.details)
    elif kind == ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        attrs = history_pb2.ChildWorkflowExecutionTimedOutEventAttributes(
            **common, retry_state=close_event.workflow_execution_timed_out_event_attributes.retry_state)
    else:
        attrs = history_pb2.ChildWorkflowExecutionTerminatedEventAttributes(**common)
    builder.add_input_event(event_type, attrs)
    return True


def unstarted(state: internal_pb2.MutableState) -> list[internal_pb2.ChildInfo]:
    """Children initiated but not yet known started: their start is (re)sent."""
    if state.execution_info.status != RR.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return []
    return [child for child in state.children.values() if not child.run_id]


def needs_parent_notice(state: internal_pb2.MutableState) -> bool:
    info = state.execution_info
    return (bool(info.parent_workflow_id) and not info.parent_notified
            and info.status != RR.WORKFLOW_EXECUTION_STATUS_RUNNING
            and info.status != RR.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)


# -- signals to other workflows (a child's handle.signal) ------------------------------------------------

SIGNAL_REQUEST_IDS_KEPT = 100  # the latest signal request ids a run remembers (dedupe of resent signals)


def initiate_signal(builder: StateBuilder, attrs: command_pb2.SignalExternalWorkflowExecutionCommandAttributes,
                    completed_event_id: int) -> None:
    """A SignalExternalWorkflowExecution command: SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED and a pending send."""
    info = builder.info
    event_attrs = history_pb2.SignalExternalWorkflowExecutionInitiatedEventAttributes(
        workflow_task_completed_event_id=completed_event_id,
        namespace=attrs.namespace or info.namespace,
        workflow_execution=message_pb2.WorkflowExecution(workflow_id=attrs.workflow_id, run_id=attrs.run_id),
        signal_name=attrs.signal_name, input=attrs.input, control=attrs.control,
        child_workflow_only=attrs.child_workflow_only,
    )
    if attrs.HasField("header"):
        event_attrs.header.CopyFrom(attrs.header)
    event = builder.add_event(ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED, event_attrs)
    pending = builder.state.external_signals[event.event_id]
    pending.initiated_event_id = event.event_id
    pending.namespace = event_attrs.namespace
    pending.workflow_id = attrs.workflow_id
    pending.run_id = attrs.run_id
    pending.signal_name = attrs.signal_name
    pending.input.CopyFrom(attrs.input)
    pending.control = attrs.control
    pending.request_id = f"signal-{info.run_id}-{event.event_id}"
    if attrs.HasField("header"):
        pending.header.CopyFrom(attrs.header)


def record_signal_sent(builder: StateBuilder, initiated_event_id: int, delivered: bool) -> bool:
    """EXTERNAL_WORKFLOW_EXECUTION_SIGNALED (or SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED); False when recorded."""
    pending = builder.state.external_signals.get(initiated_event_id)
    if not builder.is_open or pending is None:
        return False
    del builder.state.external_signals[initiated_event_id]
    execution = message_pb2.WorkflowExecution(workflow_id=pending.workflow_id, run_id=pending.run_id)
    if delivered:
        builder.add_input_event(
            ET.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
            history_pb2.ExternalWorkflowExecutionSignaledEventAttributes(
                initiated_event_id=initiated_event_id, namespace=pending.namespace, workflow_execution=execution,
                control=pending.control,
            ),
        )
    else:
        builder.add_input_event(
            ET.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
            history_pb2.SignalExternalWorkflowExecutionFailedEventAttributes(
                cause=1, namespace=pending.namespace, workflow_execution=execution,
                initiated_event_id=initiated_event_id, control=pending.control,
            ),
        )
    return True


def unsent_signals(state: internal_pb2.MutableState) -> list[internal_pb2.ExternalSignalInfo]:
    """Signals initiated but not yet known delivered: they are (re)sent."""
    if state.execution_info.status != RR.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return []
    return list(state.external_signals.values())


def remember_signal_request(state: internal_pb2.MutableState, request_id: str) -> bool:
    """Keep a received signal's request id; False when it was recorded already (a resend)."""
    if not request_id:
        return True
    if request_id in state.signal_request_ids:
        return False
    state.signal_request_ids.append(request_id)
    if len(state.signal_request_ids) > SIGNAL_REQUEST_IDS_KEPT:
        del state.signal_request_ids[: len(state.signal_request_ids) - SIGNAL_REQUEST_IDS_KEPT]
    return True


def needs_close_policy(state: internal_pb2.MutableState) -> list[internal_pb2.ChildInfo]:
    """Started children of a closed parent whose close policy (terminate / request cancel) is not applied yet."""
    if state.execution_info.status == RR.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return []
    return [child for child in state.children.values()
            if child.run_id and child.parent_close_policy != ABANDON and not child.close_policy_applied]


def needs_attention(state: internal_pb2.MutableState) -> bool:
    """A closed run with cross-shard work left (tell its parent; apply its close policy to children)."""
    return needs_parent_notice(state) or bool(needs_close_policy(state))
