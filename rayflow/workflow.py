"""Authoring API for workflows (Temporal Python SDK names and meanings).

A workflow is a class decorated ``@workflow.defn`` with one ``async`` method decorated
``@workflow.run``. Its code must be deterministic: it is replayed from history after a crash or an
eviction, so it must take time, randomness and ids from ``workflow.now()``, ``workflow.random()`` and
``workflow.uuid4()``, and do side effects only in activities::

    @workflow.defn
    class Greeting:
        @workflow.run
        async def run(self, name: str) -> str:
            return await workflow.execute_activity(
                compose_greeting, name, start_to_close_timeout=timedelta(seconds=10)
            )

``asyncio.sleep``, ``asyncio.wait_for``, ``asyncio.gather`` and tasks work in workflow code; sleeps and
timeouts are durable timers recorded in history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from rayflow import _runtime
from rayflow._child_workflow import ChildWorkflowHandle, execute_child_workflow, start_child_workflow

# Private names the client and the worker read through this module (redundant aliases re-export them).
from rayflow._definition import _UPDATE_VALIDATOR_ATTR as _UPDATE_VALIDATOR_ATTR
from rayflow._definition import _Definition as _Definition
from rayflow._definition import _query_name as _query_name
from rayflow._definition import _signal_name as _signal_name
from rayflow._definition import _update_name as _update_name
from rayflow._definition import defn, get_definition, query, run, signal, update
from rayflow._determinism import deprecate_patch, info, now, patched, random, time, unsafe, uuid4
from rayflow._runtime import ActivityHandle, Info
from rayflow._session import Session
from rayflow._workflow_activities import execute_activity, start_activity
from rayflow.common import VersioningIntent
from rayflow.exceptions import NondeterminismError

__all__ = [
    "ActivityHandle",
    "ChildWorkflowHandle",
    "ContinueAsNewError",
    "Info",
    "NondeterminismError",
    "continue_as_new",
    "defn",
    "deprecate_patch",
    "execute_activity",
    "execute_child_workflow",
    "get_definition",
    "info",
    "now",
    "patched",
    "random",
    "run",
    "Session",
    "session",
    "query",
    "set_signal_handler",
    "signal",
    "sleep",
    "start_activity",
    "start_child_workflow",
    "time",
    "unsafe",
    "update",
    "uuid4",
    "wait_condition",
]

# -- signals, continue-as-new, timers and conditions, sessions --------------------------------------


def set_signal_handler(name: str, handler: Callable[..., Any] | None) -> None:
    """Register (or with ``None`` remove) the handler of signal ``name`` while the workflow runs.

    Signals of that name received so far with no handler are delivered to it at once, in order.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"workflow.set_signal_handler(): name must be a non-empty string, got {name!r}")
    _runtime.current("workflow.set_signal_handler()").workflow_set_signal_handler(name, handler)



# -- continue-as-new -------------------------------------------------------------------------------


class ContinueAsNewError(BaseException):  # noqa: N818 - Temporal's name
    """Raised by ``workflow.continue_as_new``: the run ends CONTINUED_AS_NEW and a new run starts.

    It derives from ``BaseException`` so that ``except Exception`` in workflow code does not swallow it.
    Do not raise it yourself or catch it.
    """

    def __init__(
        self,
        *,
        args: Sequence[Any],
        workflow_type: str | None,
        task_queue: str | None,
        run_timeout: timedelta | None,
        task_timeout: timedelta | None,
        memo: dict[str, Any] | None,
        versioning_intent: int = 0,
    ) -> None:
        super().__init__("continue as new")
        self.input_args = tuple(args)
        self.workflow_type = workflow_type
        self.task_queue = task_queue
        self.run_timeout = run_timeout
        self.task_timeout = task_timeout
        self.memo = memo
        self.versioning_intent = versioning_intent
        self.headers: dict[str, Any] = {}  # set by workflow interceptors (carried to the new run)


def continue_as_new(
    *args: Any,
    workflow: Callable[..., Any] | str | None = None,
    task_queue: str | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    memo: dict[str, Any] | None = None,
    versioning_intent: VersioningIntent | None = None,
) -> NoReturn:
    """End this run as CONTINUED_AS_NEW and start a new run of the workflow id with ``args`` (Temporal's API).

    The new run has a new run id and a fresh history; ``workflow.info().continued_run_id`` is this run's
    id. Its type, task queue, timeouts and memo are this run's unless given; the execution timeout spans the
    whole chain. Signals received but not yet handled when the run continues are not lost: the workflow
    task runs again to handle them first. ``result()`` on a handle to this run follows the chain.

    Args:
        args: the arguments of the new run.
        workflow: the ``@workflow.run`` method, or type name, the new run runs (default: this one's).
        task_queue: the new run's task queue (default: this one's).
        run_timeout: the new run's run timeout (default: this one's).
        task_timeout: the new run's workflow task timeout (default: this one's).
        memo: the new run's memo (default: this one's).
        versioning_intent: with worker versioning, COMPATIBLE (default) keeps the new run on workers
            compatible with this run's build id; DEFAULT starts it on the queue's default build id.

    Raises:
        ContinueAsNewError: always; let it propagate out of the ``@workflow.run`` method.
    """
    runtime = _runtime.current("workflow.continue_as_new()")
    workflow_type = None
    if workflow is not None:
        if isinstance(workflow, str) and workflow:
            workflow_type = workflow
        else:
            try:
                workflow_type = get_definition(workflow).name
            except (TypeError, ValueError) as err:
                _runtime.fail_task(runtime, TypeError(f"workflow.continue_as_new(): workflow must be a @workflow.run method or "
                                         f"a workflow type name, got {workflow!r} ({err})"))
    for name, value in (("run_timeout", run_timeout), ("task_timeout", task_timeout)):
        if value is not None and (not isinstance(value, timedelta) or value <= timedelta(0)):
            _runtime.fail_task(runtime, ValueError(f"workflow.continue_as_new(): {name} must be a positive timedelta, got {value!r}"))
    error = ContinueAsNewError(args=args, workflow_type=workflow_type, task_queue=task_queue or None,
                               run_timeout=run_timeout, task_timeout=task_timeout, memo=memo,
                               versioning_intent=int(VersioningIntent(versioning_intent or 0)))
    runtime.workflow_continue_as_new(error)  # raises it (after the workflow's interceptors saw it)
    raise error


# -- timers and conditions -------------------------------------------------------------------------


async def sleep(duration: float | timedelta) -> None:
    """Sleep on a durable timer: the workflow may be evicted, or its worker die, and still wake on time.

    ``asyncio.sleep`` in workflow code does the same.

    Args:
        duration: seconds, or a ``timedelta``; 0 only yields to other workflow tasks.

    Raises:
        ValueError: the duration is negative.
    """
    runtime = _runtime.current("workflow.sleep()")
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
    if seconds < 0:
        _runtime.fail_task(runtime, ValueError(f"workflow.sleep(): duration must not be negative, got {duration!r}"))
    await runtime.workflow_sleep(seconds)


async def wait_condition(fn: Callable[[], bool], *, timeout: float | timedelta | None = None) -> None:  # noqa: ASYNC109 - Temporal's API
    """Wait until ``fn()`` returns true; it is checked each time workflow code has run.

    Args:
        fn: a fast, side-effect-free check of workflow state.
        timeout: give up after this long (a durable timer); ``None`` (default) waits forever.

    Raises:
        asyncio.TimeoutError: the timeout passed first.
    """
    runtime = _runtime.current("workflow.wait_condition()")
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    await runtime.workflow_wait_condition(fn, seconds)


# -- worker sessions ---------------------------------------------------------------------------------------


def session(
    *,
    resource_label: str | None = None,
    task_queue: str | None = None,
    creation_timeout: timedelta = timedelta(seconds=60),
    failure_timeout: timedelta = timedelta(seconds=10),
) -> Session:
    """A worker session: run a series of activities on one worker replica (same process, same host)::

        async with workflow.session(resource_label="gpu") as s:
            path = await s.execute_activity(download, url, start_to_close_timeout=timedelta(minutes=5))
            await s.execute_activity(process, path, start_to_close_timeout=timedelta(minutes=30))

    Entering opens the session on a replica of ``task_queue`` that has a free session slot
    (``Worker(max_concurrent_sessions=N)``, default 1000); ``s.execute_activity`` and ``s.start_activity``
    take the arguments of ``workflow.execute_activity`` (less ``task_queue``) and send the activity to that
    replica's own queue (``s.task_queue``); leaving frees the slot. Everything is recorded as activities, so
    it replays deterministically.

    Args:
        resource_label: open the session only on a replica advertising this label, e.g. ``"gpu"``.
        task_queue: the task queue whose replicas may host it (default: the workflow's).
        creation_timeout: how long to look for a replica with a free slot (default 60 s).
        failure_timeout: how long an activity of the session may wait for the replica to take it before the
            replica is considered gone (default 10 s; its schedule-to-start timeout unless one is given).

    Raises:
        SessionFailedError: (on entering) no replica opened the session within ``creation_timeout``;
            (from the session's activities) the replica is gone: open a new session to go on.
        ValueError: a timeout is not a positive ``timedelta``.
    """
    _runtime.current("workflow.session()")
    return Session(
        resource_label=resource_label,
        task_queue=task_queue,
        creation_timeout=creation_timeout,
        failure_timeout=failure_timeout,
    )
