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

import asyncio
import inspect
import random as _random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar, overload

from rayflow import _runtime
from rayflow._child_workflow import ChildWorkflowHandle, execute_child_workflow, start_child_workflow
from rayflow._session import Session
from rayflow.common import ActivityCancellationType, RetryPolicy
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

ClassType = TypeVar("ClassType", bound=type)
CallableType = TypeVar("CallableType", bound=Callable[..., Any])

_DEFINITION_ATTR = "__rayflow_workflow_definition__"
_RUN_ATTR = "__rayflow_workflow_run__"
_SIGNAL_ATTR = "__rayflow_workflow_signal__"
_QUERY_ATTR = "__rayflow_workflow_query__"
_UPDATE_ATTR = "__rayflow_workflow_update__"
_UPDATE_VALIDATOR_ATTR = "__rayflow_workflow_update_validator__"
_ACTIVITY_DEFINITION_ATTR = "__rayflow_activity_definition__"
_NO_ARG: Any = object()


# -- definitions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Definition:
    """What ``@workflow.defn`` attaches to a workflow class.

    Attributes:
        name: the workflow type (the class name unless ``defn(name=...)``).
        cls: the workflow class; the worker instantiates it with no arguments.
        run_method_name: the name of its ``@workflow.run`` method.
        signals: signal name to the name of its ``@workflow.signal`` method (``None``: the dynamic one).
    """

    name: str
    cls: type
    run_method_name: str
    signals: dict[str | None, str] = field(default_factory=dict, compare=False)
    #: query name to the name of its ``@workflow.query`` method.
    queries: dict[str, str] = field(default_factory=dict, compare=False)
    #: update name to the name of its ``@workflow.update`` method.
    updates: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def run_fn(self) -> Callable[..., Any]:
        """The unbound ``@workflow.run`` method."""
        return getattr(self.cls, self.run_method_name)


@overload
def defn(cls: ClassType) -> ClassType: ...


@overload
def defn(*, name: str | None = None) -> Callable[[ClassType], ClassType]: ...


def defn(cls: ClassType | None = None, *, name: str | None = None) -> Any:
    """Mark a class as a workflow definition.

    Use as ``@workflow.defn`` or ``@workflow.defn(name="Other")``. The class must define exactly one
    ``async`` method decorated ``@workflow.run`` and be constructible with no arguments.

    Args:
        cls: the class (when used without parentheses).
        name: the workflow type clients start it by (default: the class name).

    Raises:
        ValueError: the class has no ``@workflow.run`` method, or more than one, or the name is empty.
    """

    def decorate(cls: ClassType) -> ClassType:
        if not inspect.isclass(cls):
            raise TypeError(f"@workflow.defn decorates a class, got {cls!r}")
        run_names = sorted({attr for klass in cls.__mro__ for attr, value in vars(klass).items() if _is_run(value)})
        if len(run_names) != 1:
            found = f"found {len(run_names)}: {', '.join(run_names)}" if run_names else "found none"
            raise ValueError(
                f"Workflow class {cls.__qualname__} must have exactly one method decorated @workflow.run "
                f"({found}); decorate the single `async def` entry point with @workflow.run"
            )
        type_name = cls.__name__ if name is None else name
        if not isinstance(type_name, str) or not type_name:
            raise ValueError(f"Workflow class {cls.__qualname__}: name must be a non-empty string, got {name!r}")
        signals: dict[str | None, str] = {}
        for attr in dir(cls):
            signal_defn = getattr(inspect.getattr_static(cls, attr, None), _SIGNAL_ATTR, None)
            if not isinstance(signal_defn, _SignalDefinition):
                continue
            if signal_defn.name in signals:
                what = "a dynamic signal" if signal_defn.name is None else f"signal {signal_defn.name!r}"
                raise ValueError(
                    f"Workflow class {cls.__qualname__}: {what} has two handlers ({signals[signal_defn.name]} and "
                    f"{attr})"
                )
            signals[signal_defn.name] = attr
        queries: dict[str, str] = {}
        for attr in dir(cls):
            query_name = getattr(inspect.getattr_static(cls, attr, None), _QUERY_ATTR, None)
            if not isinstance(query_name, str):
                continue
            if query_name in queries:
                raise ValueError(
                    f"Workflow class {cls.__qualname__}: query {query_name!r} has two handlers ({queries[query_name]} "
                    f"and {attr})"
                )
            queries[query_name] = attr
        updates: dict[str, str] = {}
        for attr in dir(cls):
            update_name = getattr(inspect.getattr_static(cls, attr, None), _UPDATE_ATTR, None)
            if not isinstance(update_name, str):
                continue
            if update_name in updates:
                raise ValueError(
                    f"Workflow class {cls.__qualname__}: update {update_name!r} has two handlers ({updates[update_name]} "
                    f"and {attr})"
                )
            updates[update_name] = attr
        definition = _Definition(name=type_name, cls=cls, run_method_name=run_names[0], signals=signals,
                                 queries=queries, updates=updates)
        setattr(cls, _DEFINITION_ATTR, definition)
        run_fn = vars(cls).get(run_names[0])
        if run_fn is not None:
            # Lets get_definition(Greeting.run) find the class without importing it by qualname.
            setattr(run_fn, _DEFINITION_ATTR, definition)
        return cls

    if cls is not None:
        return decorate(cls)
    return decorate


def run(fn: CallableType) -> CallableType:
    """Mark the ``async`` method that runs the workflow; its return value is the workflow's result.

    Raises:
        ValueError: the method is not ``async def``.
    """
    if not inspect.iscoroutinefunction(fn):
        raise ValueError(
            f"@workflow.run method {getattr(fn, '__qualname__', fn)!r} must be `async def` (workflow code "
            f"runs on rayflow's event loop)"
        )
    setattr(fn, _RUN_ATTR, True)
    return fn


def _is_run(value: Any) -> bool:
    return callable(value) and getattr(value, _RUN_ATTR, False) is True


@dataclass(frozen=True)
class _SignalDefinition:
    """What ``@workflow.signal`` attaches to a method: its signal name (``None`` for the dynamic handler)."""

    name: str | None


@overload
def signal(fn: CallableType) -> CallableType: ...


@overload
def signal(*, name: str | None = None, dynamic: bool = False) -> Callable[[CallableType], CallableType]: ...


def signal(fn: CallableType | None = None, *, name: str | None = None, dynamic: bool = False) -> Any:
    """Mark a workflow method as the handler of a signal (``handle.signal(MyWorkflow.my_signal, arg)``).

    Use as ``@workflow.signal``, ``@workflow.signal(name="other")`` or ``@workflow.signal(dynamic=True)``.
    The handler may be a plain or an ``async`` method (run as a task of the workflow); it gets the
    signal's arguments, the dynamic one ``(name, args)`` for every signal no other handler takes. Signals
    reach handlers in the order the service received them; one with no handler waits until
    ``workflow.set_signal_handler`` registers one. Handlers should only change workflow state (a
    ``workflow.wait_condition`` sees it); an error raised in one fails the workflow.

    Args:
        fn: the method (when used without parentheses).
        name: the signal name (default: the method name).
        dynamic: handle every signal that has no handler of its own.

    Raises:
        ValueError: ``name`` is empty, or given with ``dynamic``.
    """

    def decorate(fn: CallableType) -> CallableType:
        if not callable(fn):
            raise TypeError(f"@workflow.signal decorates a method, got {fn!r}")
        if dynamic and name is not None:
            raise ValueError(f"@workflow.signal on {fn.__qualname__}: give name= or dynamic=True, not both")
        signal_name = None if dynamic else fn.__name__ if name is None else name
        if not dynamic and (not isinstance(signal_name, str) or not signal_name):
            raise ValueError(f"@workflow.signal on {fn.__qualname__}: name must be a non-empty string, got {name!r}")
        setattr(fn, _SIGNAL_ATTR, _SignalDefinition(signal_name))
        return fn

    if fn is not None:
        return decorate(fn)
    return decorate


def _handler_marker(handler_or_name: Any, attr: str, kind: str) -> Any:
    """The marker a ``@workflow.<kind>`` decorator left on a method, or the name itself (clients pass either).

    Raises ``ValueError`` for an empty name and ``TypeError`` for something that is neither.
    """
    if isinstance(handler_or_name, str):
        if not handler_or_name:
            raise ValueError(f"{kind} name must not be empty")
        return handler_or_name
    marker = getattr(getattr(handler_or_name, "__func__", handler_or_name), attr, None)
    if marker is None:
        raise TypeError(
            f"{getattr(handler_or_name, '__qualname__', handler_or_name)!r} is not a{'n' if kind[0] in 'aeiou' else ''} "
            f"{kind}: pass a method decorated @workflow.{kind} (e.g. MyWorkflow.my_{kind}) or the {kind} name"
        )
    return marker


def _signal_name(signal_or_name: Any) -> str:
    """The signal name of a ``@workflow.signal`` method, or the name itself (clients use it)."""
    marker = _handler_marker(signal_or_name, _SIGNAL_ATTR, "signal")
    if isinstance(marker, str):
        return marker
    if marker.name is None:
        raise ValueError(
            f"{signal_or_name.__qualname__} is the dynamic signal handler: pass the name of the signal to send"
        )
    return marker.name


@overload
def query(fn: CallableType) -> CallableType: ...


@overload
def query(*, name: str | None = None) -> Callable[[CallableType], CallableType]: ...


def query(fn: CallableType | None = None, *, name: str | None = None) -> Any:
    """Mark a plain (not ``async``) workflow method as the handler of a query (``handle.query(MyWorkflow.q)``).

    Use as ``@workflow.query`` or ``@workflow.query(name="other")``. A worker answers a query from the
    workflow's state after its last completed workflow task; the handler must only read that state: it
    cannot await, start activities or timers, and nothing it does is recorded in history.

    Args:
        fn: the method (when used without parentheses).
        name: the query name (default: the method name).
    """

    def decorate(fn: CallableType) -> CallableType:
        if not callable(fn):
            raise TypeError(f"@workflow.query decorates a method, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            raise ValueError(
                f"@workflow.query method {fn.__qualname__} must not be `async def`: a query handler only reads "
                f"workflow state and cannot await"
            )
        query_name = fn.__name__ if name is None else name
        if not isinstance(query_name, str) or not query_name:
            raise ValueError(f"@workflow.query on {fn.__qualname__}: name must be a non-empty string, got {name!r}")
        setattr(fn, _QUERY_ATTR, query_name)
        return fn

    if fn is not None:
        return decorate(fn)
    return decorate


def _query_name(query_or_name: Any) -> str:
    """The query name of a ``@workflow.query`` method, or the name itself (clients use it)."""
    return _handler_marker(query_or_name, _QUERY_ATTR, "query")


@overload
def update(fn: CallableType) -> CallableType: ...


@overload
def update(*, name: str | None = None) -> Callable[[CallableType], CallableType]: ...


def update(fn: CallableType | None = None, *, name: str | None = None) -> Any:
    """Mark a workflow method as the handler of an update (``handle.execute_update(MyWorkflow.my_update, arg)``).

    Use as ``@workflow.update`` or ``@workflow.update(name="other")``. An update is a signal that returns
    a result: the handler (plain or ``async``) may change workflow state, await activities and timers,
    and its return value is the update's result. ``@my_update.validator`` marks a plain method that
    checks the arguments first (it must not change state): if it raises, the update is rejected and
    nothing is written to history. An exception raised by the handler fails the update (the client
    gets ``WorkflowUpdateFailedError``), not the workflow.

    Args:
        fn: the method (when used without parentheses).
        name: the update name (default: the method name).
    """

    def decorate(fn: CallableType) -> CallableType:
        if not callable(fn):
            raise TypeError(f"@workflow.update decorates a method, got {fn!r}")
        update_name = fn.__name__ if name is None else name
        if not isinstance(update_name, str) or not update_name:
            raise ValueError(f"@workflow.update on {fn.__qualname__}: name must be a non-empty string, got {name!r}")
        setattr(fn, _UPDATE_ATTR, update_name)

        def validator(validator_fn: Callable[..., Any]) -> Callable[..., Any]:
            if inspect.iscoroutinefunction(validator_fn):
                raise ValueError(
                    f"update validator {validator_fn.__qualname__} must not be `async def`: it only checks the "
                    f"arguments and cannot await"
                )
            setattr(fn, _UPDATE_VALIDATOR_ATTR, validator_fn)
            return validator_fn

        fn.validator = validator  # type: ignore[attr-defined]
        return fn

    if fn is not None:
        return decorate(fn)
    return decorate


def _update_name(update_or_name: Any) -> str:
    """The update name of a ``@workflow.update`` method, or the name itself (clients use it)."""
    return _handler_marker(update_or_name, _UPDATE_ATTR, "update")


def set_signal_handler(name: str, handler: Callable[..., Any] | None) -> None:
    """Register (or with ``None`` remove) the handler of signal ``name`` while the workflow runs.

    Signals of that name received so far with no handler are delivered to it at once, in order.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"workflow.set_signal_handler(): name must be a non-empty string, got {name!r}")
    _runtime.current("workflow.set_signal_handler()").workflow_set_signal_handler(name, handler)


def get_definition(cls_or_run_method: Any) -> _Definition:
    """The definition of a ``@workflow.defn`` class, given the class or its ``@workflow.run`` method.

    Clients pass the unbound method (``client.start_workflow(Greeting.run, ...)``); the class is found
    through the definition ``@workflow.defn`` attached to that method.

    Raises:
        ValueError: the argument is neither a workflow class nor its run method.
    """
    target = cls_or_run_method
    if isinstance(target, _Definition):
        return target
    if inspect.isclass(target):
        definition = vars(target).get(_DEFINITION_ATTR)
    else:
        target = getattr(target, "__func__", target)  # a bound run method
        definition = getattr(target, _DEFINITION_ATTR, None)
    if not isinstance(definition, _Definition):
        raise ValueError(
            f"{getattr(cls_or_run_method, '__qualname__', cls_or_run_method)!r} is not a workflow: pass a class "
            f"decorated @workflow.defn or its @workflow.run method"
        )
    return definition


# -- information and determinism helpers ---------------------------------------------------------------


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

    def get_current_history_length(self) -> int:
        """The number of events in this run's history, as of the current workflow task."""
        return _runtime.current("workflow.info().get_current_history_length()").workflow_history_length()

    def is_continue_as_new_suggested(self) -> bool:
        """True once the history is long enough that the workflow should ``continue_as_new`` (at
        ``rayflow.constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH`` events, well before the history limit)."""
        from rayflow import constants

        length = _runtime.current("workflow.info().is_continue_as_new_suggested()").workflow_history_length()
        return length >= constants.CONTINUE_AS_NEW_SUGGESTED_HISTORY_LENGTH


def info() -> Info:
    """Information about the running workflow."""
    return _runtime.current("workflow.info()").workflow_info()


def now() -> datetime:
    """The workflow's current time: an aware UTC datetime, the start time of the current workflow task.

    It is the same on every replay and does not move while a task runs.
    """
    return _runtime.current("workflow.now()").workflow_now()


def time() -> float:
    """``workflow.now()`` as seconds since the epoch (the clock ``asyncio`` uses in workflow code)."""
    return _runtime.current("workflow.time()").workflow_now().timestamp()


def random() -> _random.Random:
    """A ``random.Random`` seeded from the run id: it gives the same numbers on every replay.

    Use it instead of the ``random`` module (whose numbers change on replay).
    """
    return _runtime.current("workflow.random()").workflow_random()


def uuid4() -> uuid.UUID:
    """A version-4 UUID drawn from ``workflow.random()``: the same on every replay."""
    rng = _runtime.current("workflow.uuid4()").workflow_random()
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class unsafe:  # noqa: N801 - Temporal's name: workflow.unsafe.is_replaying()
    """Helpers whose result differs between the first run and a replay; use them with care."""

    @staticmethod
    def is_replaying() -> bool:
        """True while the code re-runs a workflow task already recorded in history (e.g. to skip logging)."""
        return _runtime.current("workflow.unsafe.is_replaying()").workflow_is_replaying()


# -- versioning ------------------------------------------------------------------------------------


def patched(patch_id: str) -> bool:
    """Whether to run the new code of a change to a workflow that may have runs in flight (Temporal's API).

    ``if workflow.patched("my-change"): new code else: old code``. Run live, it records a marker in
    history and returns True; replaying history recorded with the marker it returns True, and replaying
    history recorded by the old code (no marker here) it returns False. The answer is the same for the
    rest of the run. Once no run of the old code is left, replace the call with ``deprecate_patch``.
    """
    if not isinstance(patch_id, str) or not patch_id:
        raise TypeError(f"workflow.patched(): patch_id must be a non-empty str, got {patch_id!r}")
    return _runtime.current("workflow.patched()").workflow_patch(patch_id, deprecated=False)


def deprecate_patch(patch_id: str) -> None:
    """Mark patch ``patch_id`` as deprecated: only the new code is left, and history recorded with or
    without the patch's marker replays. Once no run recorded before it is left, remove the call."""
    if not isinstance(patch_id, str) or not patch_id:
        raise TypeError(f"workflow.deprecate_patch(): patch_id must be a non-empty str, got {patch_id!r}")
    _runtime.current("workflow.deprecate_patch()").workflow_patch(patch_id, deprecated=True)


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
    ) -> None:
        super().__init__("continue as new")
        self.input_args = tuple(args)
        self.workflow_type = workflow_type
        self.task_queue = task_queue
        self.run_timeout = run_timeout
        self.task_timeout = task_timeout
        self.memo = memo


def continue_as_new(
    *args: Any,
    workflow: Callable[..., Any] | str | None = None,
    task_queue: str | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    memo: dict[str, Any] | None = None,
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
                _fail(runtime, TypeError(f"workflow.continue_as_new(): workflow must be a @workflow.run method or "
                                         f"a workflow type name, got {workflow!r} ({err})"))
    for name, value in (("run_timeout", run_timeout), ("task_timeout", task_timeout)):
        if value is not None and (not isinstance(value, timedelta) or value <= timedelta(0)):
            _fail(runtime, ValueError(f"workflow.continue_as_new(): {name} must be a positive timedelta, got {value!r}"))
    raise ContinueAsNewError(args=args, workflow_type=workflow_type, task_queue=task_queue or None,
                             run_timeout=run_timeout, task_timeout=task_timeout, memo=memo)


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
        _fail(runtime, ValueError(f"workflow.sleep(): duration must not be negative, got {duration!r}"))
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


# -- activities ------------------------------------------------------------------------------------------


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
        )
    except (TypeError, ValueError) as err:
        _fail(runtime, err)
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
    )


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


def _fail(runtime: _runtime.WorkflowRuntime, error: BaseException) -> NoReturn:
    """Record a misuse of the API as a workflow task failure, then raise it in the calling code."""
    runtime.workflow_fail_task(error)
    raise error
