"""The abstract workflow runtime behind ``rayflow.workflow`` (internal).

Workflow code runs on an event loop owned by the worker (``rayflow.worker.replay.WorkflowInstance``).
That loop implements ``WorkflowRuntime``, so the authoring API finds the runtime of the calling workflow
with ``asyncio.get_running_loop()`` and never imports the engine (temporalio does the same).

The types the runtime speaks in (``Info``, ``ActivityHandle``, ``ActivityRequest``) live here too, below
every module of the authoring API (``rayflow.workflow`` re-exports the public ones).
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from rayflow.common import ActivityCancellationType, RetryPolicy

__all__ = ["ActivityHandle", "ActivityRequest", "Info", "WorkflowRuntime", "current", "fail_task", "in_workflow"]


@dataclass(frozen=True)
class ActivityRequest:
    """One validated ``start_activity`` call, handed from ``workflow.py`` to the runtime.

    Attributes:
        activity_type: the activity's registered name.
        args: the arguments, not yet encoded.
        task_queue: the activity task queue (``None``: the workflow's own).
        schedule_to_close_timeout: total time allowed, retries included (``None``: unlimited).
        schedule_to_start_timeout: time allowed in the queue per attempt (``None``: unlimited).
        start_to_close_timeout: time allowed per attempt (``None``: schedule_to_close_timeout).
        heartbeat_timeout: longest gap between heartbeats (``None``: no heartbeat required).
        retry_policy: how failed attempts are retried (``None``: the service's default).
        activity_id: the id in history (``None``: the activity's sequence number in this run).
        resource_label: only workers advertising this label may run it (``None``: any worker).
        cancellation_type: what cancelling the activity's handle waits for (default TRY_CANCEL).
        versioning_intent: a ``VersioningIntent`` value (0: COMPATIBLE on the workflow's own queue).
    """

    activity_type: str
    args: Sequence[Any] = ()
    task_queue: str | None = None
    schedule_to_close_timeout: timedelta | None = None
    schedule_to_start_timeout: timedelta | None = None
    start_to_close_timeout: timedelta | None = None
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    activity_id: str | None = None
    resource_label: str | None = None
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL
    versioning_intent: int = 0


@dataclass(frozen=True)
class Info:
    """Who the running workflow is (``workflow.info()``).

    Attributes:
        namespace: its namespace.
        workflow_id: its workflow id.
        run_id: the id of this run.
        workflow_type: its workflow type name.
        task_queue: the task queue its workflow tasks go to.
        attempt: the workflow retry attempt, from 1.
        first_execution_run_id: the run id of the first run of its retry/continue-as-new chain.
        start_time: when this run started (``None`` until its start event is applied).
        execution_timeout: the workflow execution timeout (``None``: unlimited).
        run_timeout: the workflow run timeout (``None``: unlimited).
        task_timeout: the workflow task timeout (``None``: the service's default).
        continued_run_id: the run this one continued as new from (``None``: the first run of the chain).
        memo: the memo this run was given by ``continue_as_new(memo=...)`` or inherited (read only).
        headers: the headers its start carried (name -> ``Payload``, set by interceptors, e.g. trace context).
    """

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    attempt: int = 1
    first_execution_run_id: str | None = None
    start_time: datetime | None = None
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    continued_run_id: str | None = None
    memo: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)

    def get_current_history_length(self) -> int:
        """The number of events in this run's history, as of the current workflow task."""
        return current("workflow.info().get_current_history_length()").workflow_history_length()

    def is_continue_as_new_suggested(self) -> bool:
        """True once the history is long enough that the workflow should ``continue_as_new`` (at
        ``rayflow.constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH`` events, well before the history limit)."""
        from rayflow import constants

        length = current("workflow.info().is_continue_as_new_suggested()").workflow_history_length()
        return length >= constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH


class ActivityHandle(asyncio.Future):
    """The pending result of an activity started with ``workflow.start_activity``; await it for the result.

    Awaiting raises ``ActivityError`` (its ``cause`` says why) when the activity failed for good.
    ``cancel()`` (or cancelling the task awaiting it, e.g. by the workflow's cancellation) cancels the
    activity as its ``cancellation_type`` says: the await then raises ``ActivityError`` whose cause is
    ``CancelledError`` (at once for TRY_CANCEL and ABANDON, once the activity ended for
    WAIT_CANCELLATION_COMPLETED).

    Attributes:
        activity_id: the activity id recorded in history.
        activity_type: the activity's name.
        cancellation_type: what cancelling it waits for (an ``ActivityCancellationType``).
    """

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        activity_id: str,
        activity_type: str,
        cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    ) -> None:
        super().__init__(loop=loop)
        self.activity_id = activity_id
        self.activity_type = activity_type
        self.cancellation_type = ActivityCancellationType(cancellation_type)
        self._on_cancel: Callable[[ActivityHandle], None] | None = None  # set by the runtime
        self._cancel_requested = False

    def cancel(self, msg: Any = None) -> bool:
        """Request cancellation of the activity; True unless it already ended."""
        if self.done():
            return False
        if self._on_cancel is None:
            return super().cancel(msg)
        if not self._cancel_requested:
            self._cancel_requested = True
            self._on_cancel(self)
        # The future stays pending until the runtime resolves it (ActivityError caused by CancelledError).
        return True


class WorkflowRuntime(ABC):
    """What workflow code may ask of the engine running it (implemented by the worker's event loop)."""

    @abstractmethod
    def workflow_info(self) -> Info:
        """Identity and start attributes of the running workflow."""

    @abstractmethod
    def workflow_now(self) -> datetime:
        """Aware UTC time of the current workflow task (its WorkflowTaskStarted event)."""

    @abstractmethod
    def workflow_random(self) -> random.Random:
        """A ``random.Random`` seeded from the run id: the same sequence on every replay."""

    @abstractmethod
    def workflow_is_replaying(self) -> bool:
        """True while the code re-runs a workflow task already recorded in history."""

    @abstractmethod
    def workflow_start_activity(self, request: ActivityRequest) -> ActivityHandle:
        """Schedule an activity (a ScheduleActivityTask command) and return the handle to its result."""

    @abstractmethod
    async def workflow_sleep(self, seconds: float) -> None:
        """Sleep on a durable timer (a StartTimer command)."""

    @abstractmethod
    async def workflow_wait_condition(self, fn: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once ``fn()`` is true; raise ``asyncio.TimeoutError`` after ``timeout`` seconds."""

    @abstractmethod
    def workflow_set_signal_handler(self, name: str, handler: Callable[..., Any] | None) -> None:
        """Register (``None``: remove) the handler of signal ``name``; deliver its buffered signals to it."""

    def workflow_history_length(self) -> int:
        """The number of events in the run's history as of the current workflow task (0: unknown)."""
        return 0

    @abstractmethod
    def workflow_fail_task(self, error: BaseException) -> None:
        """Fail the current workflow task (not the workflow) with ``error``: a bug in how the code uses
        the API, fixed by deploying new code, after which the task is retried."""

    def workflow_continue_as_new(self, error: BaseException) -> Any:
        """Raise ``error`` (a ``workflow.ContinueAsNewError``), after the workflow's interceptors saw it."""
        raise error

    @abstractmethod
    def workflow_patch(self, patch_id: str, *, deprecated: bool) -> bool:
        """Whether the code after patch ``patch_id`` runs (``workflow.patched``/``deprecate_patch``)."""


def in_workflow() -> bool:
    """True when called from workflow code (on a workflow event loop)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return isinstance(loop, WorkflowRuntime)


def current(api: str) -> WorkflowRuntime:
    """The runtime of the calling workflow; ``api`` names the caller in the error raised outside one."""
    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if not isinstance(loop, WorkflowRuntime):
        raise RuntimeError(
            f"{api} can only be called from workflow code (a @workflow.run method and the code it calls, "
            f"run by a rayflow worker); this code is not running inside a workflow"
        )
    return loop


def fail_task(runtime: WorkflowRuntime, error: BaseException) -> NoReturn:
    """Record a misuse of the API as a workflow task failure, then raise it in the calling code."""
    runtime.workflow_fail_task(error)
    raise error
