"""Child workflows in the authoring API: ``workflow.start_child_workflow`` / ``execute_child_workflow``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from rayflow import _determinism, _runtime
from rayflow._definition import _signal_name, get_definition
from rayflow.common import ParentClosePolicy, RetryPolicy, VersioningIntent

__all__ = ["ChildWorkflowHandle", "execute_child_workflow", "start_child_workflow"]

_NO_ARG: Any = object()


class ChildWorkflowHandle(asyncio.Future):
    """A started child workflow; await it for the child's result.

    Awaiting raises ``ChildWorkflowError`` (its ``cause`` says how the child ended) when the child did
    not complete.

    Attributes:
        id: the child's workflow id.
        workflow_type: the child's workflow type.
        run_id: the child's run id (set once started).
        first_execution_run_id: the run id of the child's first run.
    """

    def __init__(self, *, loop: asyncio.AbstractEventLoop, workflow_id: str, workflow_type: str) -> None:
        super().__init__(loop=loop)
        self.id = workflow_id
        self.workflow_type = workflow_type
        self.run_id: str | None = None
        self.first_execution_run_id: str | None = None
        self._started: asyncio.Future[ChildWorkflowHandle] = loop.create_future()

    async def signal(self, signal: Callable[..., Any] | str, arg: Any = _NO_ARG, *, args: Sequence[Any] = ()) -> None:
        """Signal the child (Temporal's SignalExternalWorkflowExecution); returns once the child has it.

        Args:
            signal: the child's ``@workflow.signal`` method, or the signal name.
            arg: the single argument (``args`` for several).

        Raises:
            ApplicationError: the signal could not be delivered (the child is unknown or already closed).
        """
        runtime = _runtime.current("ChildWorkflowHandle.signal()")
        if arg is not _NO_ARG:
            if args:
                raise ValueError("ChildWorkflowHandle.signal: give either arg or args, not both")
            args = [arg]
        await runtime.workflow_signal_child(  # type: ignore[attr-defined]
            workflow_id=self.id, signal_name=_signal_name(signal), args=list(args),
        )


async def start_child_workflow(
    workflow: Callable[..., Any] | str,
    arg: Any = _NO_ARG,
    *,
    args: Sequence[Any] = (),
    id: str | None = None,  # noqa: A002 - Temporal's name
    task_queue: str | None = None,
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
    execution_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    versioning_intent: VersioningIntent | None = None,
) -> ChildWorkflowHandle:
    """Start a child workflow and return its handle once it started.

    Args:
        workflow: the child's ``@workflow.run`` method (or class, or workflow type name).
        arg: the single argument (``args`` for several).
        id: the child's workflow id (default: a deterministic ``workflow.uuid4()``).
        task_queue: the child's task queue (default: the parent's).
        parent_close_policy: what happens to the child when the parent closes (default TERMINATE).
        execution_timeout: the child's execution timeout (default unlimited).
        retry_policy: the child's retry policy (recorded).
        versioning_intent: with worker versioning, COMPATIBLE (default on the parent's task queue) starts the
            child on workers compatible with the parent's build id; DEFAULT on the queue's default.

    Raises:
        WorkflowAlreadyStartedError: a workflow with this id is running.
    """
    runtime = _runtime.current("workflow.start_child_workflow()")
    if arg is not _NO_ARG:
        if args:
            raise ValueError("start_child_workflow: give either arg or args, not both")
        args = [arg]
    workflow_type = workflow if isinstance(workflow, str) else get_definition(workflow).name
    return await runtime.workflow_start_child(  # type: ignore[attr-defined]  # the handle, once started
        workflow_type=workflow_type,
        args=list(args),
        workflow_id=id or str(_determinism.uuid4()),
        task_queue=task_queue,
        parent_close_policy=int(ParentClosePolicy(parent_close_policy)),
        execution_timeout=execution_timeout,
        retry_policy=retry_policy,
        versioning_intent=int(VersioningIntent(versioning_intent or 0)),
    )


async def execute_child_workflow(
    workflow: Callable[..., Any] | str,
    arg: Any = _NO_ARG,
    *,
    args: Sequence[Any] = (),
    id: str | None = None,  # noqa: A002 - Temporal's name
    task_queue: str | None = None,
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
    execution_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    versioning_intent: VersioningIntent | None = None,
) -> Any:
    """Run a child workflow and return its result: ``await (await start_child_workflow(...))``."""
    handle = await start_child_workflow(
        workflow, arg, args=args, id=id, task_queue=task_queue, parent_close_policy=parent_close_policy,
        execution_timeout=execution_timeout, retry_policy=retry_policy, versioning_intent=versioning_intent,
    )
    return await handle
