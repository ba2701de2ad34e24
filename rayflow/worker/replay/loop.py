"""A deterministic asyncio event loop for workflow code (internal).

It has no selector, no threads and no wall clock: callbacks run in the order they were scheduled, the
clock is the workflow's (the time of the current workflow task), and ``call_later`` becomes a durable
timer (the subclass issues the StartTimer command). Everything that would reach outside the workflow
(sockets, subprocesses, executors, signals) raises ``NotImplementedError``.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import sys
import weakref
from abc import abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["DeterministicEventLoop", "WorkflowTimer"]

logger = logging.getLogger("rayflow.workflow")


class WorkflowTimer(asyncio.TimerHandle):
    """A durable timer: ``cancel()`` before it fires cancels the timer in history too.

    Attributes:
        timer_id: the id in history (StartTimer / TIMER_STARTED / TIMER_FIRED).
        fired: its TIMER_FIRED event has been applied.
        start_command: the record of its StartTimer command (loop-specific; ``None`` if it was dropped).
    """

    def __init__(
        self,
        when: float,
        callback: Callable[..., Any],
        args: tuple[Any, ...],
        loop: DeterministicEventLoop,
        context: contextvars.Context | None,
        *,
        timer_id: str,
        start_command: Any,
    ) -> None:
        super().__init__(when, callback, args, loop, context)
        self.timer_id = timer_id
        self.fired = False
        self.start_command = start_command


class DeterministicEventLoop(asyncio.AbstractEventLoop):
    """The part of ``asyncio.AbstractEventLoop`` workflow code may use, run one callback at a time."""

    def __init__(self) -> None:
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._loop_closed = False
        self._exception_handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], Any] | None = None
        # This loop's tasks: asyncio.all_tasks(loop) walks every task of the process (all loops), which made
        # closing an instance cost O(tasks in the replica) (bench/RESULTS.md, issue 12).
        self._tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    # -- hooks for the workflow instance --------------------------------------------------------------

    @abstractmethod
    def _workflow_clock(self) -> float:
        """Seconds since the epoch on the workflow's clock."""

    @abstractmethod
    def _start_timer(
        self, delay: float, callback: Callable[..., Any], args: tuple[Any, ...], context: contextvars.Context | None
    ) -> asyncio.TimerHandle:
        """Create a durable timer firing after ``delay`` (> 0) seconds."""

    @abstractmethod
    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """Called by ``TimerHandle.cancel()`` before the handle is marked cancelled."""

    # -- running ---------------------------------------------------------------------------------

    def _running(self) -> _Running:
        """Make this the thread's running loop (restoring the previous one after), as a context manager.

        Async-generator hooks are cleared meanwhile: the hooks of a loop running in this thread (e.g. a
        Ray async actor's) would otherwise adopt workflow async generators and finalize them there.
        """
        return _Running(self)

    def _run_ready(self, stop: Callable[[], bool]) -> None:
        """Run ready callbacks in order until none is left or ``stop()`` is true."""
        while self._ready and not stop():
            handle = self._ready.popleft()
            if not handle._cancelled:
                handle._run()

    # -- the supported API -----------------------------------------------------------------------------

    def call_soon(
        self, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_later(
        self, delay: float, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        if delay <= 0:
            return self.call_soon(callback, *args, context=context)
        return self._start_timer(delay, callback, args, context)

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        # asyncio.timeout() (and wait_for from 3.12) schedule with call_at on loop.time(), which is the
        # workflow clock here, so the delay is deterministic.
        return self.call_later(when - self.time(), callback, *args, context=context)

    def time(self) -> float:
        return self._workflow_clock()

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        self._tasks.add(task)
        return task

    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        """This loop's tasks not done (those made with ``create_task``, as workflow code makes them)."""
        return [task for task in list(self._tasks) if not task.done()]

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return not self._loop_closed

    def is_closed(self) -> bool:
        return self._loop_closed

    def get_exception_handler(self) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], Any] | None:
        return self._exception_handler

    def set_exception_handler(self, handler: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], Any] | None) -> None:
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        if self._loop_closed or "task" in context and context.get("message", "").startswith("Task was destroyed"):
            # Dropped on eviction, or a workflow that finished with tasks still waiting: both are normal.
            return
        exc = context.get("exception")
        logger.warning(
            "workflow event loop: %s", context.get("message", "unhandled error"), exc_info=exc if exc else None
        )

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self._exception_handler is None:
            self.default_exception_handler(context)
            return
        try:
            self._exception_handler(self, context)
        except Exception:
            logger.exception("workflow event loop: the exception handler failed")


def _forbidden(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"loop.{name}() is not allowed in workflow code: workflow code must be deterministic and do no "
            f"I/O; do it in an activity"
        )

    method.__name__ = name
    return method


# Every other event loop method (I/O, threads, subprocesses, signals, run_until_complete, ...) is refused.
for _name, _value in vars(asyncio.AbstractEventLoop).items():
    if not _name.startswith("_") and callable(_value) and _name not in vars(DeterministicEventLoop):
        setattr(DeterministicEventLoop, _name, _forbidden(_name))
del _name, _value


class _Running:
    """``DeterministicEventLoop._running()``: a plain class, cheaper than a ``contextmanager`` generator on
    a path taken once per workflow task."""

    __slots__ = ("_loop", "_previous", "_hooks")

    def __init__(self, loop: DeterministicEventLoop) -> None:
        self._loop = loop

    def __enter__(self) -> None:
        self._previous = asyncio.events._get_running_loop()
        hooks = sys.get_asyncgen_hooks()
        # In the worker's replay thread there are none to clear (they are per thread).
        self._hooks = hooks if hooks.firstiter is not None or hooks.finalizer is not None else None
        asyncio.events._set_running_loop(self._loop)
        if self._hooks is not None:
            sys.set_asyncgen_hooks(firstiter=None, finalizer=None)

    def __exit__(self, *exc: object) -> None:
        hooks = self._hooks
        if hooks is not None:
            sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer)
        asyncio.events._set_running_loop(self._previous)
