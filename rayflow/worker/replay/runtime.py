"""The side of a workflow instance that workflow code sees (internal).

``WorkflowRuntimeImpl`` is the deterministic event loop plus ``rayflow._runtime.WorkflowRuntime``: it
turns what the code does (start an activity, sleep, finish) into commands, and delivers jobs (the
start, activity results, fired timers) to the code. Walking history and matching commands against it
is ``instance.py``'s part.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rayflow import workflow
from rayflow._runtime import ActivityRequest, WorkflowRuntime
from rayflow.common import timestamp_from_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import CancelledError, NondeterminismError, PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.worker.replay import commands, jobs
from rayflow.worker.replay.loop import DeterministicEventLoop, WorkflowTimer

__all__ = ["PendingCommand", "WorkflowRuntimeImpl"]

HistoryEvent = history_pb2.HistoryEvent
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(eq=False)
class PendingCommand:
    """A command the code issued, waiting for the event that records it."""

    command: command_pb2.Command
    on_recorded: Callable[[HistoryEvent], None] | None = None
    dropped: bool = False  # cancelled in the activation that created it: never sent


class WorkflowRuntimeImpl(DeterministicEventLoop, WorkflowRuntime):
    """The workflow object's event loop and runtime; see ``WorkflowInstance`` for the arguments."""

    def __init__(
        self,
        definition: Any,
        *,
        namespace: str,
        workflow_id: str,
        run_id: str,
        workflow_type: str,
        task_queue: str,
        data_converter: DataConverter,
    ) -> None:
        super().__init__()
        self._definition = workflow.get_definition(definition)
        self._converter = data_converter
        self._info = workflow.Info(
            namespace=namespace,
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=workflow_type,
            task_queue=task_queue,
            first_execution_run_id=run_id,
        )
        self._random = random.Random(int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big"))
        self._now = _EPOCH
        self._replaying = False
        self._activation_commands: list[PendingCommand] | None = None  # set while an activation runs
        self._activity_seq = 0
        self._timer_seq = 0
        self._activities: dict[int, workflow.ActivityHandle] = {}  # by ACTIVITY_TASK_SCHEDULED event id
        self._timers: dict[str, WorkflowTimer] = {}
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future[Any]]] = []
        self._signals: list[HistoryEvent] = []  # kept for signal handlers (a later issue)
        self._cancel_requested = False
        self._run_task: asyncio.Task[Any] | None = None
        self._completed = False
        self._task_failure: BaseException | None = None
        self._task_failure_cause = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED

    # -- task failures -------------------------------------------------------------------------------

    def _nondeterminism(self, detail: str) -> NondeterminismError:
        info = self._info
        return NondeterminismError(
            f"Workflow {info.workflow_type!r} (workflow id {info.workflow_id!r}, run id {info.run_id!r}) is "
            f"nondeterministic: {detail}. On replay workflow code must issue the same commands in the same order: "
            f"base decisions on inputs and results only, and use workflow.now()/random()/uuid4() rather than the "
            f"clock, random or uuid; to change the code of running workflows, give the new code a new workflow type"
        )

    def _record_task_failure(self, error: BaseException) -> None:
        if self._task_failure is None:
            self._task_failure = error
            self._task_failure_cause = (
                history_pb2.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
                if isinstance(error, NondeterminismError)
                else history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
            )

    def _stopped(self) -> bool:
        return self._task_failure is not None or self._completed or self._loop_closed

    # -- jobs and commands ----------------------------------------------------------------------------

    def _apply_job(self, event: HistoryEvent) -> None:
        kind = event.event_type
        if kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self._start(event)
        elif kind in jobs.ACTIVITY_RESOLUTION_TYPES:
            self._resolve_activity(event)
        elif kind == history_pb2.EVENT_TYPE_TIMER_FIRED:
            self._fire_timer(event)
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            self._signals.append(event)
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self._cancel_requested = True

    def _start(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        self._info = dataclasses.replace(
            self._info,
            attempt=attrs.attempt or 1,
            first_execution_run_id=attrs.first_execution_run_id or self._info.run_id,
            start_time=timestamp_from_proto(event.event_time),
            execution_timeout=_duration(attrs, "workflow_execution_timeout"),
            run_timeout=_duration(attrs, "workflow_run_timeout"),
            task_timeout=_duration(attrs, "workflow_task_timeout"),
        )
        args = self._converter.from_payloads(attrs.input)
        self._run_task = self.create_task(self._run_workflow(args), name=f"workflow {self._info.workflow_type}")

    async def _run_workflow(self, args: list[Any]) -> None:
        try:
            instance = self._definition.cls()
            result = await getattr(instance, self._definition.run_method_name)(*args)
        except asyncio.CancelledError:
            # Nothing cancels the run itself yet (workflow cancellation is a later issue).
            self._fail_workflow(CancelledError("Workflow run was cancelled"))
        except NondeterminismError as err:
            self._record_task_failure(err)
        except Exception as err:
            self._fail_workflow(err)
        except BaseException as err:
            if isinstance(err, GeneratorExit) or self._loop_closed:
                raise
            self._record_task_failure(err)
        else:
            self._complete_workflow(result)

    def _complete_workflow(self, result: Any) -> None:
        if self._stopped():
            return
        try:
            payloads = self._converter.to_payload(result)
        except PayloadError as err:
            self._record_task_failure(
                PayloadError(f"Workflow {self._info.workflow_type}: cannot encode its result: {err}")
            )
            return
        self._add_command(commands.complete_workflow(payloads))
        self._completed = True

    def _fail_workflow(self, error: BaseException) -> None:
        if self._stopped():
            return
        self._add_command(commands.fail_workflow(self._converter.to_failure(error)))
        self._completed = True

    def _add_command(
        self, command: command_pb2.Command, on_recorded: Callable[[HistoryEvent], None] | None = None
    ) -> PendingCommand | None:
        if self._activation_commands is None or self._stopped():
            return None  # after completion, or outside an activation (eviction): nothing is sent
        pending = PendingCommand(command, on_recorded)
        self._activation_commands.append(pending)
        return pending

    def _resolve_activity(self, event: HistoryEvent) -> None:
        scheduled_id = jobs.scheduled_event_id(event)
        handle = self._activities.pop(scheduled_id, None)
        if handle is None:
            raise self._nondeterminism(
                f"history has {commands.describe_event(event)} at event {event.event_id} for the activity scheduled "
                f"at event {scheduled_id}, but the workflow code scheduled no activity there"
            )
        if handle.done():
            return  # cancelled in the workflow: the result is ignored
        if event.event_type == history_pb2.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            handle.set_result(self._converter.from_payload(event.activity_task_completed_event_attributes.result))
        else:
            handle.set_exception(
                jobs.activity_error(
                    event,
                    activity_type=handle.activity_type,
                    activity_id=handle.activity_id,
                    data_converter=self._converter,
                )
            )

    def _fire_timer(self, event: HistoryEvent) -> None:
        timer_id = event.timer_fired_event_attributes.timer_id
        timer = self._timers.pop(timer_id, None)
        if timer is None:
            raise self._nondeterminism(
                f"history has TIMER_FIRED timer (id {timer_id}) at event {event.event_id} but the workflow code "
                f"started no such timer"
            )
        if not timer.cancelled():
            timer.fired = True
            self._ready.append(timer)

    def _check_conditions(self) -> bool:
        """Resolve the wait_condition futures whose condition is now true; True if any was."""
        waiting, self._conditions = self._conditions, []
        resolved = False
        still_waiting = []
        for fn, future in waiting:
            if future.done():
                continue
            try:
                ready = fn()
            except Exception as err:
                future.set_exception(err)
                resolved = True
                continue
            if ready:
                future.set_result(None)
                resolved = True
            else:
                still_waiting.append((fn, future))
        self._conditions = still_waiting + self._conditions
        return resolved

    # -- event loop hooks ----------------------------------------------------------------------------

    def _workflow_clock(self) -> float:
        return self._now.timestamp()

    def _start_timer(
        self, delay: float, callback: Callable[..., Any], args: tuple[Any, ...], context: contextvars.Context | None
    ) -> asyncio.TimerHandle:
        self._timer_seq += 1
        timer_id = str(self._timer_seq)
        pending = self._add_command(commands.start_timer(timer_id, delay))
        timer = WorkflowTimer(
            self.time() + delay, callback, args, self, context, timer_id=timer_id, start_command=pending
        )
        self._timers[timer_id] = timer
        return timer

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if not isinstance(handle, WorkflowTimer) or handle.fired or handle.start_command is None:
            return
        if self._activation_commands is not None and any(p is handle.start_command for p in self._activation_commands):
            handle.start_command.dropped = True  # never sent: no StartTimer, no CancelTimer
            return
        self._add_command(commands.cancel_timer(handle.timer_id))

    # -- WorkflowRuntime -----------------------------------------------------------------------------

    def workflow_info(self) -> workflow.Info:
        return self._info

    def workflow_now(self) -> datetime:
        return self._now

    def workflow_random(self) -> random.Random:
        return self._random

    def workflow_is_replaying(self) -> bool:
        return self._replaying

    def workflow_start_activity(self, request: ActivityRequest) -> workflow.ActivityHandle:
        self._activity_seq += 1
        activity_id = request.activity_id or str(self._activity_seq)
        try:
            command = commands.schedule_activity(
                request,
                activity_id=activity_id,
                default_task_queue=self._info.task_queue,
                data_converter=self._converter,
            )
        except PayloadError as err:
            self._record_task_failure(err)
            raise
        handle = workflow.ActivityHandle(loop=self, activity_id=activity_id, activity_type=request.activity_type)
        self._add_command(command, on_recorded=lambda event: self._activities.__setitem__(event.event_id, handle))
        return handle

    async def workflow_sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def workflow_wait_condition(self, fn: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        future = self.create_future()
        self._conditions.append((fn, future))
        if timeout is None:
            await future
        else:
            await asyncio.wait_for(future, timeout)

    def workflow_fail_task(self, error: BaseException) -> None:
        self._record_task_failure(error)


def _duration(message: Any, name: str) -> timedelta | None:
    if not message.HasField(name):
        return None
    value = getattr(message, name).ToTimedelta()
    return value if value > timedelta(0) else None
