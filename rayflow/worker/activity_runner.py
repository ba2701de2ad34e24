"""Runs activity tasks inside a worker replica (internal).

``ActivityRunner.run`` takes one activity task as the service handed it out and returns the
request that answers it (completed or failed); it never raises for an error of the activity
itself. Async activities run as tasks on the caller's event loop, sync ones in a thread pool with
the activity context copied into the thread. Heartbeats are throttled here: the first goes out at
once, then at most one per interval, always ending with the latest details.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rayflow import activity
from rayflow.common import timestamp_from_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import ApplicationError, CancelledError, PayloadError
from rayflow.proto.rayflow.v1 import message_pb2, request_response_pb2
from rayflow.worker._activity_chain import activity_chain
from rayflow.worker._interceptor import ExecuteActivityInput

__all__ = ["ActivityRunner", "HeartbeatCallback"]

logger = logging.getLogger(__name__)

#: ``heartbeat(task_token, details) -> cancel_requested``.
HeartbeatCallback = Callable[[bytes, message_pb2.Payloads], Awaitable[bool]]

#: Heartbeats are sent at most once per this fraction of the heartbeat timeout.
_THROTTLE_FRACTION = 0.8
#: Throttle interval of activities without a heartbeat timeout.
_DEFAULT_THROTTLE_S = 30.0

ActivityResponse = (
    request_response_pb2.RespondActivityTaskCompletedRequest
    | request_response_pb2.RespondActivityTaskFailedRequest
    | request_response_pb2.RespondActivityTaskCanceledRequest
)


class _Heartbeater:
    """Throttles one attempt's heartbeats; ``record`` may be called from any thread and never blocks."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        task_token: bytes,
        interval_s: float,
        send: HeartbeatCallback,
        data_converter: DataConverter,
        background: set[asyncio.Task[None]],
    ) -> None:
        self._loop = loop
        self._background = background  # keeps sends in flight alive after the attempt ends
        self._task_token = task_token
        self._interval_s = interval_s
        self._send = send
        self._data_converter = data_converter
        self._lock = threading.Lock()
        self._latest: message_pb2.Payloads | None = None  # guarded by _lock
        # The fields below are touched on the loop only.
        self._dirty = False  # details recorded since the last send started
        self._last_sent: float | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._sending: asyncio.Task[None] | None = None
        self._stopped = False
        self.cancel_requested = threading.Event()
        self.on_cancel: Callable[[], None] | None = None  # called on the loop once cancellation is requested

    @property
    def latest(self) -> message_pb2.Payloads | None:
        with self._lock:
            return self._latest

    def record(self, details: Sequence[Any]) -> None:
        if self.cancel_requested.is_set():
            # The service asked to cancel this activity (a heartbeat response said so): stop it here.
            raise CancelledError("Activity cancelled")
        payloads = self._data_converter.to_payloads(list(details))  # PayloadError goes to the caller
        with self._lock:
            self._latest = payloads
        if _running_loop() is self._loop:
            self._on_recorded()
        else:
            try:
                self._loop.call_soon_threadsafe(self._on_recorded)
            except RuntimeError:  # the loop is closed: the worker is gone, nobody to tell
                pass

    def stop(self) -> None:
        """Send nothing more (a send in flight finishes on its own)."""
        self._stopped = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def _on_recorded(self) -> None:
        if self._stopped:
            return
        self._dirty = True
        self._schedule()

    def _schedule(self) -> None:
        # A send in flight or a pending flush will pick up the latest details.
        if self._stopped or not self._dirty or self._sending is not None or self._flush is not None:
            return
        wait = 0.0 if self._last_sent is None else self._last_sent + self._interval_s - time.monotonic()
        if wait <= 0:
            self._sending = self._loop.create_task(self._send_latest())
            self._background.add(self._sending)
            self._sending.add_done_callback(self._background.discard)
        else:
            self._flush = self._loop.call_later(wait, self._on_flush)

    def _on_flush(self) -> None:
        self._flush = None
        self._schedule()

    async def _send_latest(self) -> None:
        try:
            self._dirty = False
            self._last_sent = time.monotonic()
            payloads = self.latest
            assert payloads is not None
            try:
                if await self._send(self._task_token, payloads) and not self.cancel_requested.is_set():
                    self.cancel_requested.set()
                    if self.on_cancel is not None and not self._stopped:
                        self.on_cancel()
            except Exception:
                logger.warning("sending an activity heartbeat failed; the next one will retry", exc_info=True)
        finally:
            self._sending = None
        self._schedule()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _timedelta(task: request_response_pb2.PollActivityTaskQueueResponse, field: str) -> timedelta | None:
    if not task.HasField(field):
        return None
    value = getattr(task, field).ToTimedelta()
    return value if value > timedelta(0) else None


class ActivityRunner:
    """Runs the activities registered on one worker.

    Args:
        activities: functions decorated with ``@activity.defn`` (names must be unique).
        data_converter: decodes arguments and encodes results and failures (default: ``DataConverter.default``).
        max_workers: threads for sync activities, i.e. how many run at once (default 100).
        heartbeat: ``heartbeat(task_token, details) -> cancel_requested``, awaited on the runner's loop.
        replica_task_queue: the replica's own activity task queue (``activity.info().replica_task_queue``).
        interceptors: ``rayflow.worker.Interceptor`` objects whose ``intercept_activity`` wraps each attempt
            (default none: the activity is called directly).
    """

    def __init__(
        self,
        activities: Sequence[Callable[..., Any]],
        *,
        data_converter: DataConverter = DataConverter.default,
        max_workers: int = 100,
        heartbeat: HeartbeatCallback,
        replica_task_queue: str = "",
        interceptors: Sequence[Any] = (),
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self._activities: dict[str, tuple[Callable[..., Any], bool]] = {}
        for fn in activities:
            definition = activity.get_definition(fn)
            if definition is None:
                raise ValueError(
                    f"{getattr(fn, '__qualname__', fn)!r} is not an activity: decorate it with @activity.defn"
                )
            if definition.name in self._activities:
                raise ValueError(
                    f"two activities are named {definition.name!r}; give one another name with @activity.defn(name=...)"
                )
            # Keep the callable as given (a bound method stays bound); the definition only names it.
            self._activities[definition.name] = (fn, definition.is_async)
        self._data_converter = data_converter
        self._heartbeat = heartbeat
        self._replica_task_queue = replica_task_queue
        self._interceptors = list(interceptors)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="rayflow-activity")
        self._heartbeat_sends: set[asyncio.Task[None]] = set()

    @property
    def activity_names(self) -> list[str]:
        """Registered activity types, sorted."""
        return sorted(self._activities)

    async def run(self, task: request_response_pb2.PollActivityTaskQueueResponse, identity: str) -> ActivityResponse:
        """Run one attempt and return the request answering it (never raises for the activity's errors)."""
        entry = self._activities.get(task.activity_type)
        if entry is None:
            registered = ", ".join(self.activity_names) or "none"
            error = ApplicationError(
                f"Activity function {task.activity_type!r} is not registered on this worker "
                f"(registered: {registered}); add it to Worker(activities=[...])",
                type="NotFoundError",
            )
            return self._failed(task, identity, error, None)
        fn, is_async = entry

        loop = asyncio.get_running_loop()
        heartbeat_timeout = _timedelta(task, "heartbeat_timeout")
        interval = heartbeat_timeout.total_seconds() * _THROTTLE_FRACTION if heartbeat_timeout else _DEFAULT_THROTTLE_S
        heartbeater = _Heartbeater(
            loop, task.task_token, interval, self._heartbeat, self._data_converter, self._heartbeat_sends
        )
        try:
            context = contextvars.copy_context()
            info = self._info(task, heartbeat_timeout)
            inbound = None
            record = heartbeater.record
            if self._interceptors:  # the attempt goes through their chain; heartbeats through its outbound side
                inbound, record = activity_chain(self._interceptors, info, heartbeater.record)
            context.run(activity._set_context, activity._Context(info, record, heartbeater.cancel_requested.is_set))
            args = await self._data_converter.from_payloads_async(task.input)
            if inbound is not None:
                call = ExecuteActivityInput(fn=fn, args=args, executor=None if is_async else self._executor,
                                            headers=dict(task.header.fields))
                activity_task = loop.create_task(inbound.execute_activity(call), context=context)
                if is_async:
                    heartbeater.on_cancel = activity_task.cancel
                result = await activity_task
            elif is_async:
                activity_task = loop.create_task(context.run(fn, *args), context=context)
                heartbeater.on_cancel = activity_task.cancel  # cancellation reaches it at its current await
                result = await activity_task
            else:
                result = await loop.run_in_executor(self._executor, context.run, fn, *args)
            try:
                payloads = self._data_converter.to_payload(result)
            except PayloadError as err:
                raise PayloadError(f"the result of activity {task.activity_type!r} cannot be sent: {err}") from err
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is being cancelled
            if heartbeater.cancel_requested.is_set():
                return self._canceled(task, identity, ())
            return self._failed(task, identity, CancelledError("activity cancelled"), heartbeater)
        except CancelledError as error:
            if heartbeater.cancel_requested.is_set():
                return self._canceled(task, identity, error.details)
            return self._failed(task, identity, error, heartbeater)
        except Exception as error:
            logger.warning(
                "activity %s (id %s, attempt %d) failed",
                task.activity_type,
                task.activity_id,
                task.attempt,
                exc_info=True,
            )
            return self._failed(task, identity, error, heartbeater)
        finally:
            heartbeater.stop()
        return request_response_pb2.RespondActivityTaskCompletedRequest(
            task_token=task.task_token, result=payloads, identity=identity
        )

    async def shutdown(self) -> None:
        """Wait for running sync activities' threads to end; the runner cannot run tasks afterwards."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)

    def _canceled(
        self, task: request_response_pb2.PollActivityTaskQueueResponse, identity: str, details: Sequence[Any]
    ) -> request_response_pb2.RespondActivityTaskCanceledRequest:
        """The attempt ended by honouring the cancel request the service sent with a heartbeat response."""
        request = request_response_pb2.RespondActivityTaskCanceledRequest(task_token=task.task_token, identity=identity)
        try:
            request.details.CopyFrom(self._data_converter.to_payloads(list(details)))
        except PayloadError:
            logger.warning("activity %s: the details of its cancellation cannot be encoded", task.activity_type)
        return request

    def _failed(
        self,
        task: request_response_pb2.PollActivityTaskQueueResponse,
        identity: str,
        error: BaseException,
        heartbeater: _Heartbeater | None,
    ) -> request_response_pb2.RespondActivityTaskFailedRequest:
        request = request_response_pb2.RespondActivityTaskFailedRequest(
            task_token=task.task_token, failure=self._data_converter.to_failure(error), identity=identity
        )
        latest = heartbeater.latest if heartbeater is not None else None
        if latest is not None:
            request.last_heartbeat_details.CopyFrom(latest)
        return request

    def _info(
        self, task: request_response_pb2.PollActivityTaskQueueResponse, heartbeat_timeout: timedelta | None
    ) -> activity.Info:
        started = timestamp_from_proto(task.started_time) or datetime.now(UTC)
        scheduled = timestamp_from_proto(task.scheduled_time) or started
        return activity.Info(
            activity_id=task.activity_id,
            activity_type=task.activity_type,
            attempt=max(task.attempt, 1),
            workflow_id=task.workflow_execution.workflow_id,
            workflow_run_id=task.workflow_execution.run_id,
            workflow_namespace=task.workflow_namespace,
            workflow_type=task.workflow_type,
            task_queue=task.task_queue,
            heartbeat_details=tuple(self._data_converter.from_payloads(task.heartbeat_details)),
            heartbeat_timeout=heartbeat_timeout,
            schedule_to_close_timeout=_timedelta(task, "schedule_to_close_timeout"),
            start_to_close_timeout=_timedelta(task, "start_to_close_timeout"),
            scheduled_time=scheduled,
            current_attempt_scheduled_time=timestamp_from_proto(task.current_attempt_scheduled_time) or scheduled,
            started_time=started,
            task_token=task.task_token,
            replica_task_queue=self._replica_task_queue,
        )
