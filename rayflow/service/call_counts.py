"""Per-method call counters of the service's Ray actors, behind an env flag (internal; a benchmark diagnostic).

The service's throughput is set by how many actor calls a workflow needs (see ``_batcher``), so the benchmarks
count them: with ``RAYFLOW_COUNT_CALLS=1`` in the environment when an actor class is decorated (its module is
imported), ``@counted`` wraps every public method of the class to count its invocations and adds an async
``call_counts()`` method that returns them. Without the flag the decorator returns the class untouched: no
wrapper, no cost.

The flag must be set in every process that imports the class: the driver (whose copy gives the actor handles
their method list, so ``call_counts`` exists on the handle) and the Ray workers that host the actors (they
import the module again). Ray workers inherit the environment of the raylet, which inherits it from the driver
that starts the local Ray, so exporting the variable before ``ray.init`` is enough there.

Counts are keyed by method name. A public method invoked from inside another one of the same class (a history
shard's ``batch`` runs its items through the shard's own ``start_workflow``, ``record_task_started``...) counts
under ``"outer>inner"`` (e.g. ``"batch>start_workflow"``): plain keys are the calls that came in over Ray, the
``>`` keys the items they carried.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["COUNT_CALLS_ENV", "counted", "enabled"]

#: Set to ``1`` to count the calls of every ``@counted`` actor class decorated afterwards.
COUNT_CALLS_ENV = "RAYFLOW_COUNT_CALLS"

T = TypeVar("T", bound=type)

# The counted method running in the current task or thread (None: a call that came in from outside).
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("rayflow_counted_method", default=None)

# Counts per decorated class (``module.qualname``) in this process. Process-global on purpose: Ray pickles an
# actor class (and the wrappers it puts around each method) when it exports it, so a counter captured in the
# wrappers' closures would arrive as several copies; the wrappers and ``call_counts`` reach this table through
# module functions, which pickle by reference, so in the actor's process they all share one counter.
_COUNTS: collections.defaultdict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


def enabled() -> bool:
    """Whether ``RAYFLOW_COUNT_CALLS=1`` is set now."""
    return os.environ.get(COUNT_CALLS_ENV, "") == "1"


def counted(cls: T) -> T:
    """Class decorator: count the calls of each public method of ``cls`` when ``RAYFLOW_COUNT_CALLS=1``.

    Apply it to the plain class, below ``@ray.remote``. It changes ``cls`` in place (so the class keeps its
    module and name, and Ray's pickling by reference finds the same object) and returns it. Each wrapper keeps
    the method's kind (async, sync, generator, async generator), its signature (``functools.wraps``) and its
    ``@ray.method`` options (``__ray_*__`` attributes). Adds ``async call_counts() -> dict[str, int]``.
    Without the flag ``cls`` is returned unchanged.
    """
    if not enabled():
        return cls
    key = f"{cls.__module__}.{cls.__qualname__}"
    for name in dir(cls):
        if name.startswith("_") or name == "call_counts":
            continue
        method = inspect.getattr_static(cls, name)
        if inspect.isfunction(method):  # plain methods; static/class methods and properties are left alone
            setattr(cls, name, _wrap(key, name, method))

    async def call_counts(self: Any) -> dict[str, int]:
        """Calls per public method since the actor's process imported its class (``>``: nested calls)."""
        return _counts_of(key)

    call_counts.__qualname__ = f"{cls.__qualname__}.call_counts"
    cls.call_counts = call_counts  # type: ignore[attr-defined]
    return cls


def _wrap(key: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    # The wrappers reach the counters and the context variable only through module functions (see _COUNTS;
    # a ContextVar does not even pickle, which matters for a class pickled by value, one defined in a function).
    def count() -> None:
        _count(key, name)

    def enter() -> contextvars.Token[str | None]:
        return _enter(key, name)

    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(method):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            count()  # a generator's body runs in its consumer's context: nothing is marked as running
            async for item in method(*args, **kwargs):
                yield item

    elif inspect.iscoroutinefunction(method):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            try:
                return await method(*args, **kwargs)
            finally:
                _leave(token)

    elif inspect.isgeneratorfunction(method):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            count()
            return (yield from method(*args, **kwargs))

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            try:
                return method(*args, **kwargs)
            finally:
                _leave(token)

    functools.wraps(method)(wrapper)  # name, doc, signature (__wrapped__) and __dict__, so __ray_*__ options too
    for attr in dir(method):
        if attr.startswith("__ray_"):
            setattr(wrapper, attr, getattr(method, attr))
    return wrapper


def _counts_of(key: str) -> dict[str, int]:
    return dict(_COUNTS[key])


def _count(key: str, name: str) -> None:
    outer = _current.get()
    _COUNTS[key][name if outer is None else f"{outer}>{name}"] += 1


def _enter(key: str, name: str) -> contextvars.Token[str | None]:
    _count(key, name)
    return _current.set(name)


def _leave(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)
