"""Queries on a workflow instance: call a ``@workflow.query`` handler on its current state (internal).

A query reads the state the workflow reached after the workflow tasks applied so far. Nothing runs on
the workflow's event loop and no command is issued: the handler is a plain method that must not await.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rayflow.exceptions import WorkflowQueryFailedError
from rayflow.proto.rayflow.v1 import history_pb2

if TYPE_CHECKING:
    from rayflow.worker.replay.runtime import WorkflowRuntimeImpl

__all__ = ["query_history", "run_query"]


def run_query(instance: WorkflowRuntimeImpl, name: str, args: Sequence[Any], headers: Any = None) -> Any:
    """Call query ``name``'s handler with ``args`` on the instance's workflow object; its result.

    Raises:
        WorkflowQueryFailedError: no handler of that name, the workflow has not started, or the handler
            raised (the error is its cause) or returned an awaitable.
    """
    definition = instance._definition
    workflow_type = definition.name
    method_name = definition.queries.get(name)
    if method_name is None:
        known = ", ".join(sorted(definition.queries)) or "none"
        raise WorkflowQueryFailedError(
            f"workflow type {workflow_type!r} has no query {name!r} (its queries: {known}); decorate a method of "
            f"the workflow class with @workflow.query"
        )
    if instance._object is None:
        raise WorkflowQueryFailedError(
            f"query {name!r} of workflow {instance._info.workflow_id!r}: the workflow object does not exist yet "
            f"(its first workflow task has not run, or its constructor failed)"
        )
    handler = getattr(instance._object, method_name)
    try:
        with instance._running():
            if instance._inbound is None:
                result = handler(*args)
            else:  # through the interceptors (handle_query): a chain that must not suspend
                from rayflow.worker._interceptor import HandleQueryInput
                from rayflow.worker.replay.interceptors import call_sync

                query = HandleQueryInput(id="", query=name, args=list(args), headers=dict(headers or {}))
                result = call_sync(instance._inbound.handle_query(query), f"query {name!r}")
    except Exception as err:
        raise WorkflowQueryFailedError(
            f"query {name!r} of workflow {instance._info.workflow_id!r} failed: {type(err).__name__}: {err}"
        ) from err
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise WorkflowQueryFailedError(
            f"query {name!r} of workflow {instance._info.workflow_id!r}: its handler returned an awaitable; query "
            f"handlers must be plain methods that only read workflow state"
        )
    return result


def query_history(events: Sequence[history_pb2.HistoryEvent]) -> list[history_pb2.HistoryEvent]:
    """The events a fresh instance replays to answer a query: the state after the last completed task.

    A workflow task started but not completed (its WORKFLOW_TASK_STARTED is the last event) would run
    live: it is left out, so its new input is not seen, as in Temporal.
    """
    events = list(events)
    if events and events[-1].event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        events.pop()
    return events
