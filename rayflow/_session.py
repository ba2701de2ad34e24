"""Worker sessions in workflow code (internal; the public entry point is ``workflow.session()``).

A session pins a series of activities to one worker replica (one process, one host), Temporal's session
model built on rayflow's own pieces, so it replays like any other workflow code:

- entering runs a built-in *session-creation* activity on the workflow's task queue (or the one given); the
  replica that takes it opens a session if it has a free session slot (``Worker(max_concurrent_sessions=N)``),
  and answers with its own replica task queue and identity; a full replica fails the attempt, which is retried
  soon, so another replica can take it;
- ``s.execute_activity`` / ``s.start_activity`` send activities to that replica queue, with a
  schedule-to-start timeout of ``failure_timeout``: if the replica died nobody polls its queue, the activity
  times out there, and the workflow sees ``SessionFailedError``;
- leaving runs a built-in *session-completion* activity on the replica queue that frees the slot (ignored
  when the replica is gone).

The built-in activities are handled by the replica itself (``rayflow.worker.sessions``), never by the
user's registry. This module imports no engine: it only calls the authoring API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from rayflow import _determinism, _runtime, _workflow_activities
from rayflow._runtime import ActivityHandle
from rayflow.common import RetryPolicy, TimeoutType
from rayflow.exceptions import ActivityError, SessionFailedError, TimeoutError

__all__ = ["SESSION_COMPLETE_ACTIVITY", "SESSION_CREATE_ACTIVITY", "SESSION_NO_SLOT_ERROR", "Session"]

#: Names of the built-in activities every replica with activities runs itself.
SESSION_CREATE_ACTIVITY = "__rayflow_session_create__"
SESSION_COMPLETE_ACTIVITY = "__rayflow_session_complete__"
#: ``ApplicationError.type`` of a creation attempt that found the replica full (retried on another).
SESSION_NO_SLOT_ERROR = "SessionSlotUnavailable"

#: How creation attempts are retried: soon, so another replica takes the session quickly.
_CREATE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.5, maximum_interval=timedelta(seconds=2)
)
_CREATE_START_TO_CLOSE = timedelta(seconds=10)
_COMPLETE_START_TO_CLOSE = timedelta(seconds=10)
_NO_ARG: Any = object()


class Session:
    """A worker session: every activity started through it runs on the same worker replica.

    Made by ``workflow.session(...)`` and used as ``async with workflow.session() as s:``.

    Attributes:
        id: the session id (``None`` until entered).
        task_queue: the activity task queue of the session's replica (``None`` until entered).
        identity: the worker identity of the session's replica (``None`` until entered).
        resource_label: the label the session's replica was required to have (``None``: any).
        failed: True once an activity of the session found its replica gone.
    """

    def __init__(
        self,
        *,
        resource_label: str | None,
        task_queue: str | None,
        creation_timeout: timedelta,
        failure_timeout: timedelta,
    ) -> None:
        for name, value in (("creation_timeout", creation_timeout), ("failure_timeout", failure_timeout)):
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ValueError(f"workflow.session(): {name} must be a positive timedelta, got {value!r}")
        if resource_label is not None and (not isinstance(resource_label, str) or not resource_label):
            raise ValueError(f"workflow.session(): resource_label must be a non-empty string, got {resource_label!r}")
        if task_queue is not None and (not isinstance(task_queue, str) or not task_queue):
            raise ValueError(f"workflow.session(): task_queue must be a non-empty string, got {task_queue!r}")
        self.resource_label = resource_label
        self.creation_timeout = creation_timeout
        self.failure_timeout = failure_timeout
        self._creation_task_queue = task_queue
        self.id: str | None = None
        self.task_queue: str | None = None
        self.identity: str | None = None
        self.failed = False
        self._open = False
        self._entered = False

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, identity={self.identity!r}, task_queue={self.task_queue!r})"

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> Session:
        _runtime.current("workflow.session()")
        if self._entered:
            raise RuntimeError("a workflow.session() can be entered once; make a new one for another session")
        self._entered = True
        session_id = str(_determinism.uuid4())
        info = _determinism.info()
        try:
            created = await _workflow_activities.execute_activity(
                SESSION_CREATE_ACTIVITY,
                {"session_id": session_id, "workflow_id": info.workflow_id, "run_id": info.run_id},
                task_queue=self._creation_task_queue,
                resource_label=self.resource_label,
                schedule_to_close_timeout=self.creation_timeout,
                start_to_close_timeout=min(_CREATE_START_TO_CLOSE, self.creation_timeout),
                retry_policy=_CREATE_RETRY,
            )
        except ActivityError as err:
            where = f"task queue {self._creation_task_queue or info.task_queue!r}"
            if self.resource_label:
                where += f" with resource label {self.resource_label!r}"
            raise SessionFailedError(
                f"could not create a worker session within {self.creation_timeout}: no replica polling {where} "
                f"had a free session slot (Worker(max_concurrent_sessions=...)) in time",
                session_id=session_id,
            ) from err
        self.id = created["session_id"]
        self.task_queue = created["task_queue"]
        self.identity = created["identity"]
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.complete()

    async def complete(self) -> None:
        """Close the session and free its slot on the replica (``async with`` does it on exit)."""
        if not self._open:
            return
        self._open = False
        if self.failed:
            return
        try:
            await _workflow_activities.execute_activity(
                SESSION_COMPLETE_ACTIVITY,
                {"session_id": self.id},
                task_queue=self.task_queue,
                schedule_to_start_timeout=self.failure_timeout,
                start_to_close_timeout=_COMPLETE_START_TO_CLOSE,
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            pass  # the replica is gone, and its sessions with it

    # -- activities --------------------------------------------------------------------------------

    def start_activity(
        self,
        activity: Callable[..., Any] | str,
        arg: Any = _NO_ARG,
        *,
        args: Sequence[Any] = (),
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        heartbeat_timeout: timedelta | None = None,
        retry_policy: RetryPolicy | None = None,
        activity_id: str | None = None,
        resource_label: str | None = None,
    ) -> ActivityHandle:
        """``workflow.start_activity`` on the session's replica; its schedule-to-start timeout defaults to the
        session's ``failure_timeout``. Awaiting the handle raises ``SessionFailedError`` when the replica is gone.

        Raises:
            RuntimeError: the session is not open (not entered yet, or closed).
            SessionFailedError: an earlier activity of the session already found its replica gone.
        """
        runtime = _runtime.current("Session.start_activity()")
        if self.failed:
            raise SessionFailedError(
                f"worker session {self.id} on {self.identity} failed earlier: its replica is gone; open a new "
                f"session to run {_name(activity)}",
                session_id=self.id,
                identity=self.identity,
            )
        if not self._open:
            raise RuntimeError(
                f"Session.start_activity({_name(activity)}): the session is not open; use it inside "
                f"`async with workflow.session() as s:`"
            )
        inner = _workflow_activities.start_activity(
            activity,
            *(() if arg is _NO_ARG else (arg,)),
            args=args,
            task_queue=self.task_queue,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout or self.failure_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy,
            activity_id=activity_id,
            resource_label=resource_label,
        )
        outer = type(inner)(loop=runtime, activity_id=inner.activity_id, activity_type=inner.activity_type)
        inner.add_done_callback(lambda done: self._relay(done, outer))
        outer.add_done_callback(lambda done: inner.cancel() if done.cancelled() else None)
        return outer

    async def execute_activity(
        self,
        activity: Callable[..., Any] | str,
        arg: Any = _NO_ARG,
        *,
        args: Sequence[Any] = (),
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        heartbeat_timeout: timedelta | None = None,
        retry_policy: RetryPolicy | None = None,
        activity_id: str | None = None,
        resource_label: str | None = None,
    ) -> Any:
        """``workflow.execute_activity`` on the session's replica (see ``start_activity``).

        Raises:
            SessionFailedError: the session's replica is gone (nobody took the activity within
                ``failure_timeout``); its ``__cause__`` is the ``ActivityError``.
            ActivityError: the activity failed for good on the replica.
        """
        return await self.start_activity(
            activity,
            arg,
            args=args,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy,
            activity_id=activity_id,
            resource_label=resource_label,
        )

    def _relay(self, inner: asyncio.Future, outer: asyncio.Future) -> None:
        if outer.done():
            return
        if inner.cancelled():
            outer.cancel()
            return
        error = inner.exception()
        if error is None:
            outer.set_result(inner.result())
            return
        cause = getattr(error, "cause", None)
        if (isinstance(error, ActivityError) and isinstance(cause, TimeoutError)
                and cause.type == TimeoutType.SCHEDULE_TO_START):
            self.failed = True
            failure = SessionFailedError(
                f"worker session {self.id} failed: its replica {self.identity} did not take activity "
                f"{error.activity_type} (id {error.activity_id}) within {self.failure_timeout}, so it is gone "
                f"(or too busy); open a new session to continue",
                session_id=self.id,
                identity=self.identity,
            )
            failure.__cause__ = error
            error = failure
        outer.set_exception(error)


def _name(activity: Any) -> str:
    return activity if isinstance(activity, str) else getattr(activity, "__name__", repr(activity))
