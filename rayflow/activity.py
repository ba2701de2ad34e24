"""Activity authoring API (Temporal's names).

An activity is a plain function, sync or async, decorated with ``@activity.defn``. Inside it,
``activity.info()`` describes the running attempt, ``activity.heartbeat(*details)`` reports
progress (and details a retry can resume from), and ``activity.is_cancelled()`` says whether
cancellation was requested. This module does not import the worker: the worker sets the current
activity context, which travels in a context variable (into threads, for sync activities).
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, overload

__all__ = [
    "Info",
    "defn",
    "get_definition",
    "heartbeat",
    "in_activity",
    "info",
    "is_cancelled",
]

CallableT = TypeVar("CallableT", bound=Callable[..., Any])

_DEFINITION_ATTR = "__rayflow_activity_definition__"


@dataclass(frozen=True)
class _Definition:
    """What ``@activity.defn`` records on a function."""

    name: str
    fn: Callable[..., Any]
    is_async: bool
    resource_label: str | None = None


@overload
def defn(fn: CallableT) -> CallableT: ...


@overload
def defn(*, name: str | None = None, resource_label: str | None = None) -> Callable[[CallableT], CallableT]: ...


def defn(
    fn: CallableT | None = None, *, name: str | None = None, resource_label: str | None = None
) -> CallableT | Callable[[CallableT], CallableT]:
    """Mark a function (sync or async) as an activity; it is returned unchanged.

    Use as ``@activity.defn`` or ``@activity.defn(name="load", resource_label="gpu")``.

    Args:
        fn: the activity function.
        name: the activity type workflows call it by (default: the function's ``__name__``).
        resource_label: run it only on workers advertising this label, e.g. ``"gpu"`` (default: any).
    """

    def decorate(fn: CallableT) -> CallableT:
        if not callable(fn):
            raise TypeError(f"@activity.defn decorates a function, got {type(fn).__name__}")
        activity_name = name if name is not None else getattr(fn, "__name__", None)
        if not activity_name or activity_name == "<lambda>":
            raise ValueError(
                f"cannot name activity {fn!r}: give it a name with @activity.defn(name=...) "
                f"(lambdas and callables without __name__ have none)"
            )
        if resource_label is not None and not resource_label:
            raise ValueError("@activity.defn(resource_label=...) must be a non-empty label such as 'gpu', or None")
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
        setattr(fn, _DEFINITION_ATTR, _Definition(activity_name, fn, is_async, resource_label))
        return fn

    if fn is not None:
        return decorate(fn)
    return decorate


def get_definition(fn: Any) -> _Definition | None:
    """The definition ``@activity.defn`` put on ``fn`` (also through a bound method), or ``None``."""
    definition = getattr(fn, _DEFINITION_ATTR, None)
    return definition if isinstance(definition, _Definition) else None


@dataclass(frozen=True)
class Info:
    """The running activity attempt.

    Attributes:
        activity_id: id of the activity within its workflow.
        activity_type: the activity's registered name.
        attempt: attempt number, starting at 1.
        workflow_id, workflow_run_id, workflow_namespace, workflow_type: the workflow that scheduled it.
        task_queue: the task queue the activity was dispatched on.
        replica_task_queue: the activity task queue only the replica running this attempt polls: a
            workflow can send later activities there (``execute_activity(..., task_queue=...)``) to run
            them in the same process, e.g. download, process and upload on one host ("" outside a worker).
        heartbeat_details: details of the last heartbeat of a previous attempt (empty on the first).
        heartbeat_timeout, schedule_to_close_timeout, start_to_close_timeout: ``None`` when unset.
        scheduled_time: when the activity was first scheduled.
        current_attempt_scheduled_time: when this attempt was scheduled.
        started_time: when this attempt started.
        task_token: opaque token naming this attempt to the service.
    """

    activity_id: str
    activity_type: str
    attempt: int
    workflow_id: str
    workflow_run_id: str
    workflow_namespace: str
    workflow_type: str
    task_queue: str
    heartbeat_details: Sequence[Any]
    heartbeat_timeout: timedelta | None
    schedule_to_close_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    scheduled_time: datetime
    current_attempt_scheduled_time: datetime
    started_time: datetime
    task_token: bytes
    replica_task_queue: str = ""


@dataclass(frozen=True)
class _Context:
    """The runtime behind the functions below, set by the worker for each attempt."""

    info: Info
    heartbeat: Callable[[Sequence[Any]], None]
    is_cancelled: Callable[[], bool]


_current: contextvars.ContextVar[_Context] = contextvars.ContextVar("rayflow_activity_context")


def _set_context(context: _Context) -> contextvars.Token[_Context]:
    """Make ``context`` current (worker use only)."""
    return _current.set(context)


def _context() -> _Context:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("Not in activity context") from None


def in_activity() -> bool:
    """True inside an activity (also in the thread of a sync activity)."""
    return _current.get(None) is not None


def info() -> Info:
    """The running attempt's ``Info``; raises ``RuntimeError`` outside an activity."""
    return _context().info


def heartbeat(*details: Any) -> None:
    """Report progress; the latest ``details`` reach the service soon, and a retry gets them back.

    Never blocks: calls are throttled (at most one send per 0.8 x heartbeat timeout, 30 s without one)
    and only the latest details are sent. Raises ``RuntimeError`` outside an activity,
    ``PayloadError`` when ``details`` cannot be serialized, and ``rayflow.exceptions.CancelledError``
    once the workflow asked to cancel the activity (a heartbeat response says so; an async activity is
    also cancelled at its current await). Letting it propagate reports the activity as cancelled.
    """
    _context().heartbeat(details)


def is_cancelled() -> bool:
    """True once cancellation of this activity was requested; raises ``RuntimeError`` outside an activity."""
    return _context().is_cancelled()
