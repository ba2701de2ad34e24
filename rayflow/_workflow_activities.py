"""Activities started from workflow code: ``workflow.start_activity`` / ``execute_activity`` (internal).

The arguments are checked here (a misuse fails the workflow task, not the workflow) and handed to the
runtime as one ``ActivityRequest``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from rayflow import _runtime
from rayflow._runtime import ActivityHandle
from rayflow.common import ActivityCancellationType, RetryPolicy, VersioningIntent

__all__ = ["execute_activity", "start_activity"]

_ACTIVITY_DEFINITION_ATTR = "__rayflow_activity_definition__"
_NO_ARG: Any = object()


def start_activity(
    activity: Callable[..., Any] | str,
    arg: Any = _NO_ARG,
    *,
    args: Sequence[Any] = (),
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    activity_id: str | None = None,
    resource_label: str | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    versioning_intent: VersioningIntent | None = None,
) -> ActivityHandle:
    """Schedule an activity and return a handle to await its result.

    Args:
        activity: a function decorated ``@activity.defn``, or an activity name.
        arg: the single argument, for activities that take one (use ``args`` for several).
        args: the arguments (default none).
        task_queue: the activity task queue (default: the workflow's task queue).
        schedule_to_close_timeout: total time allowed, retries included (default unlimited).
        schedule_to_start_timeout: time an attempt may wait in the queue (default unlimited).
        start_to_close_timeout: time one attempt may run (default: schedule_to_close_timeout). One of
            start_to_close_timeout and schedule_to_close_timeout is required.
        heartbeat_timeout: longest gap between heartbeats (default: no heartbeats required).
        retry_policy: how failed attempts are retried (default: ``RetryPolicy()``, unlimited attempts).
        activity_id: the id recorded in history (default: the activity's sequence number in this run).
        resource_label: run only on workers advertising this label, e.g. ``"gpu"`` (default: the label
            given to ``@activity.defn``, else any worker).
        cancellation_type: what cancelling the handle waits for: TRY_CANCEL (default) requests the
            cancellation and raises at once, WAIT_CANCELLATION_COMPLETED raises once the activity ended,
            ABANDON raises at once without telling the activity.
        versioning_intent: with worker versioning, COMPATIBLE (default on the workflow's own task queue)
            runs it on workers compatible with the workflow's build id; DEFAULT on the queue's default.

    Raises:
        ValueError: no timeout bounds the activity, or the arguments are inconsistent. This also fails
            the workflow task (not the workflow), so deploying fixed code lets the workflow continue.
    """
    runtime = _runtime.current("workflow.start_activity()")
    try:
        request = _activity_request(
            activity,
            arg,
            args=args,
            task_queue=task_queue,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy,
            activity_id=activity_id,
            resource_label=resource_label,
            cancellation_type=cancellation_type,
            versioning_intent=versioning_intent,
        )
    except (TypeError, ValueError) as err:
        _runtime.fail_task(runtime, err)
    return runtime.workflow_start_activity(request)


async def execute_activity(
    activity: Callable[..., Any] | str,
    arg: Any = _NO_ARG,
    *,
    args: Sequence[Any] = (),
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: RetryPolicy | None = None,
    activity_id: str | None = None,
    resource_label: str | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    versioning_intent: VersioningIntent | None = None,
) -> Any:
    """Run an activity and return its result: ``await start_activity(...)``; same arguments.

    Raises:
        ActivityError: the activity failed for good; ``cause`` is the ``ApplicationError``,
            ``TimeoutError`` or ``CancelledError`` that ended it.
        ValueError: as ``start_activity``.
    """
    return await start_activity(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        activity_id=activity_id,
        resource_label=resource_label,
        cancellation_type=cancellation_type,
        versioning_intent=versioning_intent,
    )


def _activity_request(
    activity: Callable[..., Any] | str,
    arg: Any,
    *,
    args: Sequence[Any],
    task_queue: str | None,
    schedule_to_close_timeout: timedelta | None,
    schedule_to_start_timeout: timedelta | None,
    start_to_close_timeout: timedelta | None,
    heartbeat_timeout: timedelta | None,
    retry_policy: RetryPolicy | None,
    activity_id: str | None,
    resource_label: str | None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    versioning_intent: VersioningIntent | None = None,
) -> _runtime.ActivityRequest:
    name, default_label = _activity_name(activity)
    if not isinstance(cancellation_type, ActivityCancellationType):
        raise TypeError(
            f"Activity {name}: cancellation_type must be an ActivityCancellationType, got {cancellation_type!r}"
        )
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise TypeError(f"Activity {name}: args must be a list or tuple of arguments, got {type(args).__name__}")
    if arg is not _NO_ARG:
        if args:
            raise ValueError(f"Activity {name}: pass one positional argument or args=[...], not both")
        args = (arg,)
    if start_to_close_timeout is None and schedule_to_close_timeout is None:
        raise ValueError(
            f"Activity {name}: start_to_close_timeout or schedule_to_close_timeout is required, e.g. "
            f"execute_activity({name}, ..., start_to_close_timeout=timedelta(minutes=5))"
        )
    for field_name, value in (
        ("schedule_to_close_timeout", schedule_to_close_timeout),
        ("schedule_to_start_timeout", schedule_to_start_timeout),
        ("start_to_close_timeout", start_to_close_timeout),
        ("heartbeat_timeout", heartbeat_timeout),
    ):
        if value is None:
            continue
        if not isinstance(value, timedelta):
            raise TypeError(f"Activity {name}: {field_name} must be a timedelta, got {type(value).__name__}")
        if value <= timedelta(0):
            raise ValueError(f"Activity {name}: {field_name} must be positive, got {value}")
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise TypeError(f"Activity {name}: retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}")
    if activity_id is not None and (not isinstance(activity_id, str) or not activity_id):
        raise ValueError(f"Activity {name}: activity_id must be a non-empty string, got {activity_id!r}")
    return _runtime.ActivityRequest(
        activity_type=name,
        args=tuple(args),
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        activity_id=activity_id,
        resource_label=resource_label if resource_label is not None else default_label,
        cancellation_type=cancellation_type,
        versioning_intent=int(VersioningIntent(versioning_intent or 0)),
    )


def _activity_name(activity: Callable[..., Any] | str) -> tuple[str, str | None]:
    """The activity's name and default resource label (from ``@activity.defn``, when decorated)."""
    if isinstance(activity, str):
        if not activity:
            raise ValueError("Activity name must not be empty")
        return activity, None
    definition = getattr(activity, _ACTIVITY_DEFINITION_ATTR, None)
    name = getattr(definition, "name", None) or getattr(activity, "__name__", None)
    if not callable(activity) or not isinstance(name, str) or not name:
        raise TypeError(f"Activity must be a function decorated @activity.defn or an activity name, got {activity!r}")
    label = getattr(definition, "resource_label", None)
    return name, label if isinstance(label, str) and label else None

