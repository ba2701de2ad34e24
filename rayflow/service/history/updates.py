"""Workflow updates on the history shard (internal).

A client's update (``update_workflow``) waits in memory, like a query, until a workflow task offers it
to the worker (``PollWorkflowTaskQueueResponse.updates``); a workflow task is scheduled for it when none
is. The worker validates it: a rejection comes back with the task's answer and writes nothing; an
acceptance is an AcceptWorkflowUpdate command (WORKFLOW_EXECUTION_UPDATE_ACCEPTED, with the name and
arguments, so replay delivers it again) and the handler's end a CompleteWorkflowUpdate command
(WORKFLOW_EXECUTION_UPDATE_COMPLETED). Accepted updates are kept in ``MutableState.updates`` by id, with
their outcome once completed: a second request with the same update id joins the first or gets its
stored outcome, so an update runs once.

An update not yet accepted is lost if the shard restarts; the client's call is retried by Ray
(``max_task_retries``) and registers it again. A run that closes fails its waiting updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rayflow.proto.rayflow.v1 import command_pb2, history_pb2, internal_pb2, message_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR

__all__ = ["PendingUpdates", "STAGE_ACCEPTED", "STAGE_COMPLETED", "apply_accept", "apply_complete"]

STAGE_ADMITTED, STAGE_ACCEPTED, STAGE_COMPLETED = 1, 2, 3
ET = history_pb2
Key = tuple[str, str, str]


class BadUpdateCommandError(Exception):
    pass


@dataclass
class _Pending:
    name: str
    input: message_pb2.Payloads
    offered: bool = True  # still to be offered to the worker (not accepted yet)
    header: message_pb2.Header | None = None  # the client's interceptors' headers
    accepted: asyncio.Future[RR.UpdateWorkflowExecutionResponse] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    completed: asyncio.Future[RR.UpdateWorkflowExecutionResponse] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


def _failure(message: str, type_: str) -> message_pb2.Failure:
    failure = message_pb2.Failure(message=message, source="rayflow-service")
    failure.application_failure_info.type = type_
    failure.application_failure_info.non_retryable = True
    return failure


def _response(key: Key, update_id: str, stage: int, info: internal_pb2.UpdateInfo | None = None,
              failure: message_pb2.Failure | None = None) -> RR.UpdateWorkflowExecutionResponse:
    response = RR.UpdateWorkflowExecutionResponse(update_id=update_id, run_id=key[2], stage=stage)
    if failure is not None:
        response.failure.CopyFrom(failure)
    elif info is not None and info.completed_event_id:
        if info.HasField("failure"):
            response.failure.CopyFrom(info.failure)
        else:
            response.result.CopyFrom(info.result)
    return response


class PendingUpdates:
    """The updates clients wait on, by run and update id (in memory only)."""

    def __init__(self) -> None:
        self._by_key: dict[Key, dict[str, _Pending]] = {}

    def register(self, key: Key, state: internal_pb2.MutableState, is_open: bool,
                 request: RR.UpdateWorkflowExecutionRequest
                 ) -> RR.UpdateWorkflowExecutionResponse | tuple[_Pending, bool]:
        """Under the run's lock: a final answer, or (the pending update, whether it needs offering anew)."""
        update_id = request.update_id
        info = state.updates.get(update_id)
        if info is not None and info.completed_event_id:
            return _response(key, update_id, STAGE_COMPLETED, info)
        pending = self._by_key.get(key, {}).get(update_id)
        if pending is not None:
            return pending, False
        if info is not None:  # accepted before this shard incarnation: wait for its completion
            pending = _Pending(request.name, request.input, offered=False, header=request.header)
            pending.accepted.set_result(_response(key, update_id, STAGE_ACCEPTED))
            self._by_key.setdefault(key, {})[update_id] = pending
            return pending, False
        if not is_open:
            return _response(key, update_id, STAGE_COMPLETED, failure=_failure(
                f"update {request.name!r} (id {update_id}): workflow {key[1]!r} run {key[2]!r} is already closed",
                "WorkflowExecutionAlreadyCompleted"))
        pending = _Pending(request.name, request.input, header=request.header)
        self._by_key.setdefault(key, {})[update_id] = pending
        return pending, True

    def offers(self, key: Key) -> list[RR.WorkflowUpdateRequest]:
        """The updates to offer with the run's next workflow task."""
        return [RR.WorkflowUpdateRequest(update_id=update_id, name=p.name, input=p.input, header=p.header)
                for update_id, p in self._by_key.get(key, {}).items() if p.offered]

    def needs_task(self, key: Key, state: internal_pb2.MutableState, rejected: Iterable[str]) -> bool:
        """Updates are waiting that the task just completed did not accept or reject."""
        rejected = set(rejected)
        return any(p.offered and update_id not in rejected and update_id not in state.updates
                   for update_id, p in self._by_key.get(key, {}).items())

    def rejected(self, key: Key, rejections: Iterable[RR.WorkflowUpdateRejection]) -> None:
        pendings = self._by_key.get(key, {})
        for rejection in rejections:
            pending = pendings.get(rejection.update_id)
            if pending is None or not pending.offered:
                continue
            del pendings[rejection.update_id]
            response = _response(key, rejection.update_id, STAGE_COMPLETED, failure=rejection.failure)
            for future in (pending.accepted, pending.completed):
                if not future.done():
                    future.set_result(response)

    def committed(self, key: Key, state: internal_pb2.MutableState, new_events: Iterable[history_pb2.HistoryEvent],
                  closed: bool) -> None:
        """After a write: resolve the waiters of updates accepted or completed by it; fail the rest on close."""
        pendings = self._by_key.get(key)
        if not pendings:
            return
        for event in new_events:
            if event.event_type == ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                update_id = event.workflow_execution_update_accepted_event_attributes.update_id
                pending = pendings.get(update_id)
                if pending is not None:
                    pending.offered = False
                    if not pending.accepted.done():
                        pending.accepted.set_result(_response(key, update_id, STAGE_ACCEPTED))
            elif event.event_type == ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                update_id = event.workflow_execution_update_completed_event_attributes.update_id
                pending = pendings.pop(update_id, None)
                if pending is not None and not pending.completed.done():
                    pending.completed.set_result(_response(key, update_id, STAGE_COMPLETED, state.updates[update_id]))
        if closed:
            for update_id, pending in pendings.items():
                response = _response(key, update_id, STAGE_COMPLETED, failure=_failure(
                    f"update {pending.name!r} (id {update_id}): workflow {key[1]!r} run {key[2]!r} closed before "
                    f"the update completed", "WorkflowExecutionAlreadyCompleted"))
                for future in (pending.accepted, pending.completed):
                    if not future.done():
                        future.set_result(response)
            pendings.clear()
        if not pendings:
            self._by_key.pop(key, None)


# -- commands ----------------------------------------------------------------------------------------


def apply_accept(builder: Any, attrs: command_pb2.AcceptWorkflowUpdateCommandAttributes,
                 completed_event_id: int) -> None:
    """AcceptWorkflowUpdate: WORKFLOW_EXECUTION_UPDATE_ACCEPTED, and the update kept by id."""
    if not attrs.update_id or attrs.update_id in builder.state.updates:
        raise BadUpdateCommandError(f"AcceptWorkflowUpdate: update id {attrs.update_id!r} is empty or already accepted")
    event = builder.add_event(
        ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        history_pb2.WorkflowExecutionUpdateAcceptedEventAttributes(
            update_id=attrs.update_id, name=attrs.name, input=attrs.input,
            workflow_task_completed_event_id=completed_event_id, header=attrs.header,
        ),
    )
    builder.state.updates[attrs.update_id].CopyFrom(
        internal_pb2.UpdateInfo(update_id=attrs.update_id, accepted_event_id=event.event_id))


def apply_complete(builder: Any, attrs: command_pb2.CompleteWorkflowUpdateCommandAttributes,
                   completed_event_id: int) -> None:
    """CompleteWorkflowUpdate: WORKFLOW_EXECUTION_UPDATE_COMPLETED, and the outcome kept for dedupe."""
    info = builder.state.updates.get(attrs.update_id)
    if info is None or info.completed_event_id:
        raise BadUpdateCommandError(
            f"CompleteWorkflowUpdate: update id {attrs.update_id!r} was not accepted or is already completed")
    event_attrs = history_pb2.WorkflowExecutionUpdateCompletedEventAttributes(
        update_id=attrs.update_id, accepted_event_id=info.accepted_event_id,
        workflow_task_completed_event_id=completed_event_id,
    )
    if attrs.HasField("failure"):
        event_attrs.failure.CopyFrom(attrs.failure)
        info.failure.CopyFrom(attrs.failure)
    else:
        event_attrs.result.CopyFrom(attrs.result)
        info.result.CopyFrom(attrs.result)
    event = builder.add_event(ET.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, event_attrs)
    info.completed_event_id = event.event_id
    trim_completed(builder.state)


#: Completed updates whose outcome stays in the mutable state (a retry of an older one reads it from history).
OUTCOMES_KEPT = 16
#: Completed updates remembered at all (for dedupe by update id; Temporal caps updates per run near this).
COMPLETED_KEPT = 2000


def trim_completed(state: internal_pb2.MutableState) -> None:
    """Keep the mutable state small however many updates a run had: the latest ``OUTCOMES_KEPT`` completed
    updates keep their outcome, older ones only their event ids (the outcome is in history), and past
    ``COMPLETED_KEPT`` the oldest are forgotten."""
    completed = sorted((info.completed_event_id, update_id) for update_id, info in state.updates.items()
                       if info.completed_event_id)
    for index, (_, update_id) in enumerate(reversed(completed)):
        info = state.updates[update_id]
        if index >= COMPLETED_KEPT:
            del state.updates[update_id]
        elif index >= OUTCOMES_KEPT and (info.HasField("result") or info.HasField("failure")):
            info.ClearField("result")
            info.ClearField("failure")


def is_trimmed(info: internal_pb2.UpdateInfo) -> bool:
    """A completed update whose outcome was trimmed from the state (read it from its completed event)."""
    return bool(info.completed_event_id) and not info.HasField("result") and not info.HasField("failure")

