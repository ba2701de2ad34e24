"""The abstract workflow runtime behind ``rayflow.workflow`` (internal).

Workflow code runs on an event loop owned by the worker (``rayflow.worker.replay.WorkflowInstance``).
That loop implements ``WorkflowRuntime``, so the authoring API finds the runtime of the calling workflow
with ``asyncio.get_running_loop()`` and never imports the engine (temporalio does the same).
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rayflow.common import ActivityCancellationType, RetryPolicy

if TYPE_CHECKING:
    from rayflow.workflow import ActivityHandle, Info

__all__ = ["ActivityRequest", "WorkflowRuntime", "current", "in_workflow"]


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
