"""Workflow definitions: ``@workflow.defn`` and the handler decorators (internal; ``rayflow.workflow`` is the API).

The decorators only attach markers to the class and its methods; nothing here runs workflow code or talks
to a runtime, so clients, workers and the authoring API all read definitions from this one module.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

__all__ = ["defn", "exception_types", "get_definition", "query", "run", "signal", "update"]

ClassType = TypeVar("ClassType", bound=type)
CallableType = TypeVar("CallableType", bound=Callable[..., Any])

_DEFINITION_ATTR = "__rayflow_workflow_definition__"
_RUN_ATTR = "__rayflow_workflow_run__"
_SIGNAL_ATTR = "__rayflow_workflow_signal__"
_QUERY_ATTR = "__rayflow_workflow_query__"
_UPDATE_ATTR = "__rayflow_workflow_update__"
_UPDATE_VALIDATOR_ATTR = "__rayflow_workflow_update_validator__"


@dataclass(frozen=True)
class _Definition:
    """What ``@workflow.defn`` attaches to a workflow class.

    Attributes:
        name: the workflow type (the class name unless ``defn(name=...)``).
        cls: the workflow class; the worker instantiates it with no arguments.
        run_method_name: the name of its ``@workflow.run`` method.
        signals: signal name to the name of its ``@workflow.signal`` method (``None``: the dynamic one).
        failure_exception_types: exception types (subclasses count) that fail the workflow instead of
            only its workflow task (``defn(failure_exception_types=...)``).
    """

    name: str
    cls: type
    run_method_name: str
    signals: dict[str | None, str] = field(default_factory=dict, compare=False)
    #: query name to the name of its ``@workflow.query`` method.
    queries: dict[str, str] = field(default_factory=dict, compare=False)
    #: update name to the name of its ``@workflow.update`` method.
    updates: dict[str, str] = field(default_factory=dict, compare=False)
    failure_exception_types: tuple[type[BaseException], ...] = field(default=(), compare=False)
    #: Worker deployments: a ``rayflow.common.VersioningBehavior`` value (0: the worker's default).
    versioning_behavior: int = field(default=0, compare=False)

    @property
    def run_fn(self) -> Callable[..., Any]:
        """The unbound ``@workflow.run`` method."""
        return getattr(self.cls, self.run_method_name)


@overload
def defn(cls: ClassType) -> ClassType: ...


@overload
def defn(
    *, name: str | None = None, failure_exception_types: Sequence[type[BaseException]] = (),
    versioning_behavior: int = 0,
) -> Callable[[ClassType], ClassType]: ...


def defn(
    cls: ClassType | None = None,
    *,
    name: str | None = None,
    failure_exception_types: Sequence[type[BaseException]] = (),
    versioning_behavior: int = 0,
) -> Any:
    """Mark a class as a workflow definition.

    Use as ``@workflow.defn`` or ``@workflow.defn(name="Other")``. The class must define exactly one
    ``async`` method decorated ``@workflow.run`` and be constructible with no arguments.

    An exception escaping the workflow code (the run method, a signal or update handler) fails the
    workflow when it is a ``FailureError`` (e.g. ``ApplicationError``) or an ``asyncio.TimeoutError``. Any
    other exception is taken for a bug: it fails only the workflow task, which is retried (with backoff)
    until a worker with fixed code completes it, as in Temporal.

    Args:
        cls: the class (when used without parentheses).
        name: the workflow type clients start it by (default: the class name).
        failure_exception_types: exception types that fail the workflow (an update handler: the update)
            instead of the workflow task, besides those of ``Worker(workflow_failure_exception_types=...)``;
            subclasses count. Listing ``NondeterminismError`` (or a base class of it, e.g. ``Exception``)
            makes nondeterminism fail the workflow too. Default: none.
        versioning_behavior: on a worker deployment, ``VersioningBehavior.PINNED`` (each run finishes on the
            version that started it) or ``AUTO_UPGRADE`` (each task runs on the current version); default: the
            worker's ``WorkerDeploymentConfig(default_versioning_behavior=...)``.

    Raises:
        ValueError: the class has no ``@workflow.run`` method, or more than one, or the name is empty.
        TypeError: ``failure_exception_types`` holds something that is not an exception class.
    """
    failure_types = exception_types(failure_exception_types, "@workflow.defn(failure_exception_types=...)")
    if int(versioning_behavior) not in (0, 1, 2):
        raise ValueError(f"@workflow.defn(versioning_behavior=...) must be a VersioningBehavior, got "
                         f"{versioning_behavior!r}")

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
                                 queries=queries, updates=updates, failure_exception_types=failure_types,
                                 versioning_behavior=int(versioning_behavior))
        setattr(cls, _DEFINITION_ATTR, definition)
        run_fn = vars(cls).get(run_names[0])
        if run_fn is not None:
            # Lets get_definition(Greeting.run) find the class without importing it by qualname.
            setattr(run_fn, _DEFINITION_ATTR, definition)
        return cls

    if cls is not None:
        return decorate(cls)
    return decorate


def exception_types(types: Sequence[type[BaseException]], where: str) -> tuple[type[BaseException], ...]:
    """``types`` as a tuple, checked to be exception classes; ``where`` names the option in the error."""
    if isinstance(types, (str, bytes, type)) or not isinstance(types, Sequence):
        raise TypeError(f"{where}: give a list of exception classes, e.g. [KeyError], got {types!r}")
    for value in types:
        if not (isinstance(value, type) and issubclass(value, BaseException)):
            raise TypeError(f"{where}: {value!r} is not an exception class; list classes, e.g. [KeyError]")
    return tuple(types)


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
    ``workflow.wait_condition`` sees it); an error raised in one is handled as one raised by the run
    method (``defn``: a ``FailureError`` fails the workflow, any other exception the workflow task).

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
    nothing is written to history. A ``FailureError`` (e.g. ``ApplicationError``) raised by the handler,
    or an exception of a type in ``failure_exception_types``, fails the update (the client gets
    ``WorkflowUpdateFailedError``), not the workflow; any other exception fails the workflow task, which
    is retried, as in Temporal.

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
