"""Workflow updates in a workflow instance (internal).

The service offers the updates waiting for a run with a workflow task (``PollWorkflowTaskQueueResponse.
updates``). When the task runs live, each offered update is validated (its ``@my_update.validator``, if
any): a rejection is reported with the task's answer and nothing is recorded; an accepted update issues
an AcceptWorkflowUpdate command (WORKFLOW_EXECUTION_UPDATE_ACCEPTED, which carries the name and
arguments) and its handler runs; when the handler returns or raises, a CompleteWorkflowUpdate command
(WORKFLOW_EXECUTION_UPDATE_COMPLETED) records the result or the failure. As in Temporal, a
``FailureError`` in the handler (or a type in ``failure_exception_types``) fails the update only, never the
workflow; any other exception fails the workflow task (a bug: retried until fixed code is deployed).

On replay the UPDATE_ACCEPTED events a completed task recorded deliver those updates to that task's
activation again (after its other jobs, as live), without validation, so the handlers run
deterministically and their commands match history.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rayflow import workflow
from rayflow.exceptions import ApplicationError, NondeterminismError, PayloadError
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2
from rayflow.worker.replay import commands

if TYPE_CHECKING:
    from rayflow.worker.replay.runtime import WorkflowRuntimeImpl

__all__ = ["UpdateOffer", "deliver", "recorded_updates"]


@dataclass(frozen=True)
class UpdateOffer:
    """An update to deliver in an activation; ``validate`` is False when replaying an accepted one."""

    update_id: str
    name: str
    input: message_pb2.Payloads
    validate: bool = True
    header: message_pb2.Header | None = None  # the client's interceptors' headers


def recorded_updates(events_after_started: Iterable[history_pb2.HistoryEvent]) -> list[UpdateOffer]:
    """The updates a completed task accepted: its UPDATE_ACCEPTED events, up to the next task's start."""
    offers = []
    for event in events_after_started:
        if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            break
        if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attrs = event.workflow_execution_update_accepted_event_attributes
            offers.append(UpdateOffer(attrs.update_id, attrs.name, attrs.input, validate=False, header=attrs.header))
    return offers


def deliver(runtime: WorkflowRuntimeImpl, offer: UpdateOffer) -> message_pb2.Failure | None:
    """Validate (live) and accept one update, starting its handler; the rejection's failure, or None."""
    definition = runtime._definition
    method_name = definition.updates.get(offer.name)
    obj = runtime._object
    if method_name is None or obj is None:
        if not offer.validate:
            raise runtime._nondeterminism(
                f"history accepted update {offer.name!r} (id {offer.update_id}) but workflow type "
                f"{definition.name!r} has no handler for it"
            )
        known = ", ".join(sorted(definition.updates)) or "none"
        error = ApplicationError(
            f"update {offer.name!r}: workflow type {definition.name!r} has no handler for it (its updates: {known})",
            type="UpdateNotFound", non_retryable=True,
        )
        return runtime._converter.to_failure(error)
    try:
        args = runtime._converter.from_payloads(offer.input)
    except PayloadError as err:
        if not offer.validate:
            raise
        return runtime._converter.to_failure(err)
    handler = getattr(obj, method_name)
    if runtime._inbound is not None:
        return _deliver_intercepted(runtime, offer, args)
    if offer.validate:
        validator = getattr(getattr(handler, "__func__", handler), workflow._UPDATE_VALIDATOR_ATTR, None)
        if validator is not None:
            try:
                validator(obj, *args)
            except NondeterminismError:
                raise
            except Exception as err:
                return runtime._converter.to_failure(err)
    runtime._add_command(commands.accept_update(offer.update_id, offer.name, offer.input, offer.header))
    runtime.create_task(_run_handler(runtime, offer.update_id, handler, args), name=f"update {offer.name}")
    return None


def _deliver_intercepted(runtime: WorkflowRuntimeImpl, offer: UpdateOffer, args: list[Any]
                         ) -> message_pb2.Failure | None:
    """``deliver`` through the run's interceptors: ``handle_update_validator`` then ``handle_update_handler``."""
    from rayflow.worker._interceptor import HandleUpdateInput

    inbound = runtime._inbound
    update = HandleUpdateInput(id=offer.update_id, update=offer.name, args=args,
                               headers=dict(offer.header.fields) if offer.header is not None else {})
    if offer.validate:
        try:
            inbound.handle_update_validator(update)
        except NondeterminismError:
            raise
        except Exception as err:
            return runtime._converter.to_failure(err)
    runtime._add_command(commands.accept_update(offer.update_id, offer.name, offer.input, offer.header))
    runtime.create_task(_run_handler(runtime, offer.update_id, inbound.handle_update_handler, [update]),
                        name=f"update {offer.name}")
    return None


async def _run_handler(runtime: WorkflowRuntimeImpl, update_id: str, handler: Any, args: list[Any]) -> None:
    try:
        result = handler(*args)
        if inspect.isawaitable(result):
            result = await result
    except workflow.ContinueAsNewError as err:
        runtime._code_failed(err)
        return
    except (Exception, asyncio.CancelledError) as err:
        if isinstance(err, asyncio.CancelledError) or runtime._fails_workflow(err):  # the update fails
            runtime._add_command(commands.complete_update(update_id, failure=runtime._converter.to_failure(err)))
        else:  # a bug (or nondeterminism): the workflow task fails and is retried, as in Temporal
            runtime._record_task_failure(err)
        return
    except BaseException as err:
        runtime._code_failed(err, in_handler=True)
        return
    try:
        payloads = runtime._converter.to_payloads([result])
    except PayloadError as err:
        runtime._add_command(commands.complete_update(update_id, failure=runtime._converter.to_failure(err)))
        return
    runtime._add_command(commands.complete_update(update_id, result=payloads))
