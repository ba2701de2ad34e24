"""The interceptor chain of one activity attempt (internal): built only when the worker has interceptors.

The innermost inbound link calls the activity (a sync one in the runner's thread pool, with the context of
the chain copied into the thread, so e.g. a span made current by an interceptor is current in the activity);
the innermost outbound link is what ``activity.heartbeat()`` reaches.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from typing import Any

from rayflow.worker._interceptor import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

__all__ = ["activity_chain"]


def activity_chain(interceptors: Sequence[Interceptor], info: Any, record: Callable[[Sequence[Any]], None]
                   ) -> tuple[ActivityInboundInterceptor, Callable[[Sequence[Any]], None]]:
    """The attempt's outermost inbound interceptor, and the heartbeat function that goes through the outbound
    chain (``activity.heartbeat(*details)`` calls it with ``details``)."""
    innermost = _Inbound()
    inbound: ActivityInboundInterceptor = innermost
    for interceptor in reversed(list(interceptors)):
        inbound = interceptor.intercept_activity(inbound)
    base = _Outbound(info, record)
    inbound.init(base)
    outbound = innermost.outbound or base  # an init that did not pass it on
    return inbound, lambda details: outbound.heartbeat(*details)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self) -> None:
        self.outbound: ActivityOutboundInterceptor | None = None

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self.outbound = outbound

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002
        if input.executor is None:
            return await input.fn(*input.args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(input.executor, contextvars.copy_context().run, input.fn, *input.args)


class _Outbound(ActivityOutboundInterceptor):
    def __init__(self, info: Any, record: Callable[[Sequence[Any]], None]) -> None:
        self._info = info
        self._record = record

    def info(self) -> Any:
        return self._info

    def heartbeat(self, *details: Any) -> None:
        self._record(details)
