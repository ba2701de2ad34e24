"""The workflow interceptor chain of one run (internal).

``build`` instantiates the run's ``WorkflowInboundInterceptor`` classes around ``_Inbound`` (which calls the
workflow's own code) and hands ``_Outbound`` (which issues the commands) to their ``init``. A run without
interceptors has no chain at all: the runtime calls its code directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, NoReturn

from rayflow import workflow
from rayflow._runtime import ActivityRequest
from rayflow.worker._interceptor import (
    ContinueAsNewInput,
    ExecuteWorkflowInput,
    HandleQueryInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

__all__ = ["build", "call_sync"]


def build(runtime: Any, interceptors: Sequence[Interceptor]) -> WorkflowInboundInterceptor | None:
    """The outermost inbound interceptor of a run (None when no interceptor wants workflows)."""
    classes = []
    for interceptor in interceptors:
        cls = interceptor.workflow_interceptor_class(WorkflowInterceptorClassInput())
        if cls is not None:
            classes.append(cls)
    if not classes:
        return None
    inbound: WorkflowInboundInterceptor = _Inbound(runtime)
    for cls in reversed(classes):
        inbound = cls(inbound)
    inbound.init(_Outbound(runtime))
    return inbound


def call_sync(coroutine: Any, what: str) -> Any:
    """Run a coroutine that must not suspend (a query's chain) to its end; its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError(f"{what} awaited something: query handlers and their interceptors must not await")


class _Inbound(WorkflowInboundInterceptor):
    """The innermost inbound link: the workflow's own run method and handlers."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self._runtime._outbound = outbound

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:  # noqa: A002
        return await input.run_fn(*input.args)

    async def handle_signal(self, input: HandleSignalInput) -> None:  # noqa: A002
        handlers = self._runtime._signal_handlers
        handler = handlers.get(input.signal)
        args: tuple[Any, ...] = tuple(input.args)
        if handler is None:
            handler, args = handlers[None], (input.signal, list(input.args))
        result = handler(*args)
        if inspect.isawaitable(result):
            await result

    async def handle_query(self, input: HandleQueryInput) -> Any:  # noqa: A002
        runtime = self._runtime
        return getattr(runtime._object, runtime._definition.queries[input.query])(*input.args)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:  # noqa: A002
        runtime = self._runtime
        handler = getattr(runtime._object, runtime._definition.updates[input.update])
        validator = getattr(getattr(handler, "__func__", handler), workflow._UPDATE_VALIDATOR_ATTR, None)
        if validator is not None:
            validator(runtime._object, *input.args)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:  # noqa: A002
        runtime = self._runtime
        result = getattr(runtime._object, runtime._definition.updates[input.update])(*input.args)
        if inspect.isawaitable(result):
            result = await result
        return result


class _Outbound(WorkflowOutboundInterceptor):
    """The innermost outbound link: the commands."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def info(self) -> Any:
        return self._runtime._info

    def start_activity(self, input: StartActivityInput) -> Any:  # noqa: A002
        request = ActivityRequest(
            activity_type=input.activity, args=tuple(input.args), task_queue=input.task_queue,
            schedule_to_close_timeout=input.schedule_to_close_timeout,
            schedule_to_start_timeout=input.schedule_to_start_timeout,
            start_to_close_timeout=input.start_to_close_timeout, heartbeat_timeout=input.heartbeat_timeout,
            retry_policy=input.retry_policy, activity_id=input.activity_id, resource_label=input.resource_label,
            cancellation_type=input.cancellation_type, versioning_intent=input.versioning_intent,
        )
        return self._runtime._start_activity(request, input.headers)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:  # noqa: A002
        return await self._runtime._start_child(
            workflow_type=input.workflow, args=list(input.args), workflow_id=input.id, task_queue=input.task_queue,
            parent_close_policy=input.parent_close_policy, execution_timeout=input.execution_timeout,
            retry_policy=input.retry_policy, versioning_intent=input.versioning_intent, headers=input.headers,
        )

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:  # noqa: A002
        await self._runtime._signal_child(workflow_id=input.child_workflow_id, signal_name=input.signal,
                                          args=list(input.args), headers=input.headers)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:  # noqa: A002
        raise NotImplementedError("rayflow workflows signal their children only (ChildWorkflowHandle.signal)")

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:  # noqa: A002
        error = workflow.ContinueAsNewError(
            args=input.args, workflow_type=input.workflow, task_queue=input.task_queue, run_timeout=input.run_timeout,
            task_timeout=input.task_timeout, memo=dict(input.memo) if input.memo is not None else None,
            versioning_intent=input.versioning_intent,
        )
        error.headers = dict(input.headers)
        raise error
