"""The side of a workflow instance that workflow code sees (internal).

``WorkflowRuntimeImpl`` is the deterministic event loop plus ``rayflow._runtime.WorkflowRuntime``: it
turns what the code does (start an activity, sleep, finish) into commands, and delivers jobs (the
start, activity results, fired timers, signals, a cancel request) to the code. Walking history and
matching commands against it is ``instance.py``'s part.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import inspect
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from rayflow import workflow
from rayflow._runtime import ActivityRequest, WorkflowRuntime
from rayflow.common import ActivityCancellationType, timestamp_from_proto
from rayflow.converter import DataConverter
from rayflow.exceptions import ActivityError, CancelledError, FailureError, NondeterminismError, PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.worker import _interceptor as icpt
from rayflow.worker.replay import commands, jobs, patches
from rayflow.worker.replay import interceptors as chain
from rayflow.worker.replay.loop import DeterministicEventLoop, WorkflowTimer

__all__ = ["PendingCommand", "WorkflowRuntimeImpl"]

HistoryEvent = history_pb2.HistoryEvent
logger = logging.getLogger("rayflow.workflow")
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
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        interceptors: Sequence[icpt.Interceptor] = (),
    ) -> None:
        super().__init__()
        self._definition = workflow.get_definition(definition)
        self._converter = data_converter
        # Besides FailureError and asyncio.TimeoutError, the exceptions that fail the workflow, not the task.
        self._failure_types = (*self._definition.failure_exception_types, *workflow_failure_exception_types)
        self._info = workflow.Info(
            namespace=namespace,
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=workflow_type,
            task_queue=task_queue,
            first_execution_run_id=run_id,
        )
        self._random: random.Random | None = None  # seeded from the run id when the code first asks
        self._now_value = _EPOCH  # the current task's time, converted from _now_pending when first read
        self._now_pending: tuple[int, int] | None = None  # (seconds, nanos): no reference to the task's message
        self._replaying = False
        self._activation_commands: list[PendingCommand] | None = None  # set while an activation runs
        self._activity_seq = 0
        self._timer_seq = 0
        self._activities: dict[int, workflow.ActivityHandle] = {}  # by ACTIVITY_TASK_SCHEDULED event id
        self._timers: dict[str, WorkflowTimer] = {}
        self._children: dict[int, Any] = {}  # child workflow handles, by START_CHILD_..._INITIATED event id
        self._signal_seq = 0
        self._external_signals: dict[int, tuple[asyncio.Future[None], str, str]] = {}  # by SIGNAL_EXTERNAL_..._INITIATED id
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future[Any]]] = []
        self._object: Any = None  # the workflow object, created by the start job
        self._signal_handlers: dict[str | None, Callable[..., Any]] = {}  # None: the dynamic handler
        self._buffered_signals: dict[str, list[HistoryEvent]] = {}  # signals with no handler yet, by name
        self._cancel_requested = False
        self._run_task: asyncio.Task[Any] | None = None
        self._completed = False
        self._history_length = 0  # events up to the current task's WORKFLOW_TASK_STARTED
        self._task_failure: BaseException | None = None
        self._task_failure_cause = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED
        self._patches: dict[str, bool] = {}  # workflow.patched() answers, by patch id, for the whole run
        self._replayed_patches: set[str] = set()  # patch markers the task being replayed recorded
        # Interceptors (rayflow.worker.Interceptor): None without any, and then the code is called directly.
        self._outbound: icpt.WorkflowOutboundInterceptor | None = None  # set by the chain's init
        self._inbound = chain.build(self, interceptors) if interceptors else None

    # -- task failures -------------------------------------------------------------------------------

    def _nondeterminism(self, detail: str) -> NondeterminismError:
        info = self._info
        return NondeterminismError(
            f"Workflow {info.workflow_type!r} (workflow id {info.workflow_id!r}, run id {info.run_id!r}) is "
            f"nondeterministic: {detail}. On replay workflow code must issue the same commands in the same order: "
            f"base decisions on inputs and results only, and use workflow.now()/random()/uuid4() rather than the "
            f"clock, random or uuid; to change the code of running workflows, guard the change with "
            f"workflow.patched() or give the new code a new workflow type"
        )

    def _record_task_failure(self, error: BaseException) -> None:
        if self._task_failure is None:
            self._task_failure = error
            self._task_failure_cause = (
                history_pb2.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
                if isinstance(error, NondeterminismError)
                else history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
            )

    def _fails_workflow(self, error: BaseException) -> bool:
        """Temporal's rule: a ``FailureError``, an ``asyncio.TimeoutError`` or a listed type (subclasses
        count) fails the workflow (an update: the update); any other exception is a bug that fails the
        workflow task, retried until fixed code is deployed."""
        return isinstance(error, Exception) and (
            isinstance(error, (FailureError, asyncio.TimeoutError)) or isinstance(error, self._failure_types)
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
            self._signal(event)
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self._request_cancel()
        elif kind in jobs.CHILD_EVENT_TYPES:
            self._resolve_child(event)
        elif kind in jobs.EXTERNAL_SIGNAL_EVENT_TYPES:
            self._resolve_external_signal(event)

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
            continued_run_id=attrs.continued_execution_run_id or None,
            memo={key: self._converter.payload_converter.from_payload(value) for key, value in attrs.memo.items()},
            headers=dict(attrs.header.fields),
        )
        args = self._converter.from_payloads(attrs.input)
        # The object exists before the run starts, so signals delivered with the start find their handlers.
        try:
            self._object = self._definition.cls()
        except BaseException as err:
            self._code_failed(err)
            return
        for signal_name, method_name in self._definition.signals.items():
            self._signal_handlers[signal_name] = getattr(self._object, method_name)
        self._run_task = self.create_task(self._run_workflow(args), name=f"workflow {self._info.workflow_type}")
        # A run cancelled before its first step ends without entering _run_workflow's handlers.
        self._run_task.add_done_callback(
            lambda task: self._code_failed(asyncio.CancelledError()) if task.cancelled() else None
        )

    async def _run_workflow(self, args: list[Any]) -> None:
        try:
            run_fn = getattr(self._object, self._definition.run_method_name)
            if self._inbound is None:
                result = await run_fn(*args)
            else:
                result = await self._inbound.execute_workflow(icpt.ExecuteWorkflowInput(
                    type=self._definition.cls, run_fn=run_fn, args=args, headers=self._info.headers))
        except BaseException as err:
            self._code_failed(err)
        else:
            self._complete_workflow(result)

    def _code_failed(self, err: BaseException, *, in_handler: bool = False) -> None:
        """An error escaped workflow code: the run, the constructor or a signal handler."""
        if isinstance(err, GeneratorExit) or self._loop_closed:
            raise err
        if in_handler and isinstance(err, asyncio.CancelledError):
            return  # a handler task cancelled by the code: not the workflow's business
        if isinstance(err, workflow.ContinueAsNewError):
            self._continue_as_new(err)
        elif self._cancel_requested and _is_cancellation(err):
            self._cancel_workflow()
        elif isinstance(err, asyncio.CancelledError):
            self._fail_workflow(CancelledError("Workflow run was cancelled"))
        elif self._fails_workflow(err):
            self._fail_workflow(err)
        else:  # a bug (or nondeterminism): the task fails and is retried, the workflow goes on
            self._record_task_failure(err)

    # -- signals and cancellation --------------------------------------------------------------------

    def _signal(self, event: HistoryEvent) -> None:
        name = event.workflow_execution_signaled_event_attributes.signal_name
        if name in self._signal_handlers or None in self._signal_handlers:
            self._deliver_signal(event)
            return
        if not self._replaying and name not in self._buffered_signals:
            logger.warning(
                "workflow %s (%s): no handler for signal %r; it is kept until one is registered",
                self._info.workflow_id, self._info.workflow_type, name,
            )
        self._buffered_signals.setdefault(name, []).append(event)

    def _deliver_signal(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_signaled_event_attributes
        name = attrs.signal_name
        args = self._converter.from_payloads(attrs.input)
        if self._inbound is not None:
            signal = icpt.HandleSignalInput(signal=name, args=args, headers=dict(attrs.header.fields))
            self.create_task(self._run_signal_handler(self._inbound.handle_signal, (signal,)), name=f"signal {name}")
            return
        handler = self._signal_handlers.get(name)
        call_args: tuple[Any, ...] = tuple(args)
        if handler is None:
            handler, call_args = self._signal_handlers[None], (name, args)
        if inspect.iscoroutinefunction(handler):
            self.create_task(self._run_signal_handler(handler, call_args), name=f"signal {name}")
            return
        try:
            handler(*call_args)
        except BaseException as err:
            self._code_failed(err, in_handler=True)

    async def _run_signal_handler(self, handler: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            await handler(*args)
        except BaseException as err:
            self._code_failed(err, in_handler=True)

    def _request_cancel(self) -> None:
        """Cancel the run task: ``asyncio.CancelledError`` is raised at the code's current await."""
        if self._cancel_requested:
            return
        self._cancel_requested = True
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()

    def _cancel_workflow(self) -> None:
        if self._stopped():
            return
        self._add_command(commands.cancel_workflow())
        self._completed = True

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

    def _continue_as_new(self, request: workflow.ContinueAsNewError) -> None:
        if self._stopped():
            return
        what = f"Workflow {self._info.workflow_type}: continue_as_new"
        try:
            payloads = self._converter.to_payloads(list(request.input_args))
            memo = (None if request.memo is None
                    else {key: self._converter.payload_converter.to_payload(value) for key, value in request.memo.items()})
        except PayloadError as err:
            self._record_task_failure(PayloadError(f"{what}: cannot encode its arguments or memo: {err}"))
            return
        command = commands.continue_as_new(
            payloads, workflow_type=request.workflow_type, task_queue=request.task_queue,
            run_timeout=request.run_timeout, task_timeout=request.task_timeout, memo=memo,
            versioning_intent=request.versioning_intent,
        )
        commands.set_header(command.continue_as_new_workflow_execution_command_attributes,
                            getattr(request, "headers", None))
        self._add_command(command)
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

    def workflow_start_child(
        self, *, workflow_type: str, args: list[Any], workflow_id: str, task_queue: str | None,
        parent_close_policy: int, execution_timeout: timedelta | None, retry_policy: Any,
        versioning_intent: int = 0,
    ) -> Any:
        """Start a child (through the interceptors, if any); an awaitable of its handle once started."""
        if self._outbound is not None:
            return self._outbound.start_child_workflow(icpt.StartChildWorkflowInput(
                workflow=workflow_type, args=args, id=workflow_id, task_queue=task_queue,
                parent_close_policy=parent_close_policy, execution_timeout=execution_timeout,
                retry_policy=retry_policy, versioning_intent=versioning_intent,
            ))
        return self._start_child(
            workflow_type=workflow_type, args=args, workflow_id=workflow_id, task_queue=task_queue,
            parent_close_policy=parent_close_policy, execution_timeout=execution_timeout, retry_policy=retry_policy,
            versioning_intent=versioning_intent,
        )

    def _start_child(
        self, *, workflow_type: str, args: list[Any], workflow_id: str, task_queue: str | None,
        parent_close_policy: int, execution_timeout: timedelta | None, retry_policy: Any,
        versioning_intent: int = 0, headers: Any = None,
    ) -> asyncio.Future[Any]:
        """A StartChildWorkflowExecution command; the future of its handle resolves once the child started (the
        handle itself as the child's events arrive)."""
        from rayflow._child_workflow import ChildWorkflowHandle

        try:
            payloads = self._converter.to_payloads(list(args))
        except PayloadError as err:
            self._record_task_failure(err)
            raise
        command = commands.start_child_workflow(
            workflow_id=workflow_id, workflow_type=workflow_type, task_queue=task_queue or self._info.task_queue,
            input=payloads, parent_close_policy=parent_close_policy, execution_timeout=execution_timeout,
            retry_policy=retry_policy.to_proto() if retry_policy is not None else None,
            versioning_intent=versioning_intent,
        )
        commands.set_header(command.start_child_workflow_execution_command_attributes, headers)
        handle = ChildWorkflowHandle(loop=self, workflow_id=workflow_id, workflow_type=workflow_type)

        def recorded(event: HistoryEvent) -> None:
            self._children[event.event_id] = handle

        self._add_command(command, on_recorded=recorded)
        return handle._started

    def _resolve_child(self, event: HistoryEvent) -> None:
        from rayflow.exceptions import WorkflowAlreadyStartedError

        initiated = jobs.child_initiated_event_id(event)
        handle = self._children.get(initiated)
        if handle is None:
            raise self._nondeterminism(
                f"history has {commands.describe_event(event)} at event {event.event_id} for the child workflow "
                f"initiated at event {initiated}, but the workflow code started no child workflow there"
            )
        kind = event.event_type
        if kind == history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            run_id = event.child_workflow_execution_started_event_attributes.workflow_execution.run_id
            handle.run_id = handle.first_execution_run_id = run_id
            if not handle._started.done():
                handle._started.set_result(handle)
            return
        del self._children[initiated]
        if kind == history_pb2.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
            error = WorkflowAlreadyStartedError(handle.id, handle.workflow_type)
            if not handle._started.done():
                handle._started.set_exception(error)
            return
        if not handle._started.done():
            handle._started.set_result(handle)
        if handle.done():
            return
        if kind == history_pb2.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            handle.set_result(self._converter.from_payload(event.child_workflow_execution_completed_event_attributes.result))
        else:
            handle.set_exception(jobs.child_error(event, data_converter=self._converter))

    def workflow_signal_child(self, *, workflow_id: str, signal_name: str, args: list[Any]) -> Any:
        """Signal a child (through the interceptors, if any); an awaitable of its delivery."""
        if self._outbound is not None:
            return self._outbound.signal_child_workflow(icpt.SignalChildWorkflowInput(
                signal=signal_name, args=args, child_workflow_id=workflow_id))
        return self._signal_child(workflow_id=workflow_id, signal_name=signal_name, args=args)

    def _signal_child(self, *, workflow_id: str, signal_name: str, args: list[Any],
                      headers: Any = None) -> asyncio.Future[None]:
        """A SignalExternalWorkflowExecution command to a child; the future resolves once the child has the
        signal (EXTERNAL_WORKFLOW_EXECUTION_SIGNALED) and fails on SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED."""
        try:
            payloads = self._converter.to_payloads(list(args))
        except PayloadError as err:
            self._record_task_failure(err)
            raise
        self._signal_seq += 1
        command = commands.signal_external_workflow(
            workflow_id=workflow_id, run_id="", signal_name=signal_name, input=payloads, seq=self._signal_seq,
        )
        commands.set_header(command.signal_external_workflow_execution_command_attributes, headers)
        future: asyncio.Future[None] = self.create_future()

        def recorded(event: HistoryEvent) -> None:
            self._external_signals[event.event_id] = (future, workflow_id, signal_name)

        self._add_command(command, on_recorded=recorded)
        return future

    def _resolve_external_signal(self, event: HistoryEvent) -> None:
        from rayflow.exceptions import ApplicationError

        attrs = getattr(event, event.WhichOneof("attributes"))
        initiated = attrs.initiated_event_id
        entry = self._external_signals.pop(initiated, None)
        if entry is None:
            raise self._nondeterminism(
                f"history has {commands.describe_event(event)} at event {event.event_id} for the signal initiated "
                f"at event {initiated}, but the workflow code sent no signal there"
            )
        future, workflow_id, signal_name = entry
        if future.done():
            return
        if event.event_type == history_pb2.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
            future.set_result(None)
        else:
            future.set_exception(ApplicationError(
                f"Signal {signal_name!r} to workflow {workflow_id!r} failed: the workflow was not found or is "
                f"already closed", type="SignalExternalWorkflowExecutionFailed", non_retryable=True,
            ))

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

    @property
    def _now(self) -> datetime:
        """Aware UTC time of the current workflow task's WORKFLOW_TASK_STARTED (the epoch before any)."""
        if self._now_pending is not None:
            seconds, nanos = self._now_pending
            self._now_value = timestamp_from_proto(Timestamp(seconds=seconds, nanos=nanos)) or self._now_value
            self._now_pending = None
        return self._now_value

    def _set_now(self, event_time: Timestamp) -> None:
        """The current task started at ``event_time`` (unset keeps the previous time)."""
        seconds, nanos = event_time.seconds, event_time.nanos
        if seconds or nanos:
            self._now_pending = (seconds, nanos)

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
        if self._random is None:  # made on first use: most workflows never ask, and seeding costs
            seed = int.from_bytes(hashlib.sha256(self._info.run_id.encode()).digest()[:8], "big")
            self._random = random.Random(seed)
        return self._random

    def workflow_is_replaying(self) -> bool:
        return self._replaying

    def workflow_start_activity(self, request: ActivityRequest) -> workflow.ActivityHandle:
        if self._outbound is not None:
            return self._outbound.start_activity(icpt.StartActivityInput(
                activity=request.activity_type, args=request.args, activity_id=request.activity_id,
                task_queue=request.task_queue, schedule_to_close_timeout=request.schedule_to_close_timeout,
                schedule_to_start_timeout=request.schedule_to_start_timeout,
                start_to_close_timeout=request.start_to_close_timeout, heartbeat_timeout=request.heartbeat_timeout,
                retry_policy=request.retry_policy, cancellation_type=request.cancellation_type,
                resource_label=request.resource_label, versioning_intent=request.versioning_intent,
            ))
        return self._start_activity(request)

    def _start_activity(self, request: ActivityRequest, headers: Any = None) -> workflow.ActivityHandle:
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
        commands.set_header(command.schedule_activity_task_command_attributes, headers)
        handle = workflow.ActivityHandle(
            loop=self,
            activity_id=activity_id,
            activity_type=request.activity_type,
            cancellation_type=request.cancellation_type,
        )
        scheduled: list[int] = []  # its ACTIVITY_TASK_SCHEDULED event id, once recorded

        def recorded(event: HistoryEvent) -> None:
            scheduled.append(event.event_id)
            self._activities[event.event_id] = handle

        pending = self._add_command(command, on_recorded=recorded)
        handle._on_cancel = lambda h: self._cancel_activity(h, pending, scheduled[0] if scheduled else 0)
        return handle

    def _cancel_activity(
        self, handle: workflow.ActivityHandle, schedule: PendingCommand | None, scheduled_event_id: int
    ) -> None:
        """The code cancelled an activity handle (directly, or by cancelling the task awaiting it).

        Not yet sent: the ScheduleActivityTask is dropped. ABANDON: no command. Else a
        RequestCancelActivityTask; TRY_CANCEL resolves the handle at once, WAIT_CANCELLATION_COMPLETED
        when the activity's outcome (ACTIVITY_TASK_CANCELED, COMPLETED, FAILED, TIMED_OUT) arrives.
        """
        if self._loop_closed or handle.done():
            return
        cancellation_type = handle.cancellation_type
        if schedule is not None and self._activation_commands is not None and any(
            p is schedule for p in self._activation_commands
        ):
            schedule.dropped = True  # never sent: no ScheduleActivityTask, no RequestCancelActivityTask
        elif scheduled_event_id and cancellation_type != ActivityCancellationType.ABANDON:
            self._add_command(commands.request_cancel_activity(scheduled_event_id))
            if cancellation_type == ActivityCancellationType.WAIT_CANCELLATION_COMPLETED:
                return
        handle.set_exception(
            jobs.activity_cancelled_error(
                scheduled_event_id=scheduled_event_id,
                activity_type=handle.activity_type,
                activity_id=handle.activity_id,
            )
        )

    async def workflow_sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def workflow_wait_condition(self, fn: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        future = self.create_future()
        self._conditions.append((fn, future))
        if timeout is None:
            await future
        else:
            await asyncio.wait_for(future, timeout)

    def workflow_set_signal_handler(self, name: str, handler: Callable[..., Any] | None) -> None:
        if handler is None:
            self._signal_handlers.pop(name, None)
            return
        if not callable(handler):
            error = TypeError(f"workflow.set_signal_handler({name!r}): handler must be callable, got {handler!r}")
            self._record_task_failure(error)
            raise error
        self._signal_handlers[name] = handler
        for event in self._buffered_signals.pop(name, []):
            if self._stopped():
                break
            self._deliver_signal(event)

    def workflow_history_length(self) -> int:
        return self._history_length

    def workflow_continue_as_new(self, error: workflow.ContinueAsNewError) -> Any:
        if self._outbound is None:
            raise error
        self._outbound.continue_as_new(icpt.ContinueAsNewInput(
            workflow=error.workflow_type, args=error.input_args, task_queue=error.task_queue,
            run_timeout=error.run_timeout, task_timeout=error.task_timeout, memo=error.memo,
            versioning_intent=error.versioning_intent,
        ))
        raise error  # an interceptor that returned instead of raising: continue as new all the same

    def workflow_fail_task(self, error: BaseException) -> None:
        self._record_task_failure(error)

    def workflow_patch(self, patch_id: str, *, deprecated: bool) -> bool:
        answer = self._patches.get(patch_id)
        if answer is None:
            # Live: take the new code and record it. Replaying: the new code ran iff this task recorded it.
            answer = not self._replaying or patch_id in self._replayed_patches
            self._patches[patch_id] = answer
            if answer:
                self._add_command(patches.patch_marker(patch_id, deprecated=deprecated))
        return answer or deprecated


def _is_cancellation(err: BaseException) -> bool:
    """The error a cancelled workflow ends with: asyncio's, rayflow's, or an activity's cancellation."""
    return isinstance(err, (asyncio.CancelledError, CancelledError)) or (
        isinstance(err, ActivityError) and isinstance(err.cause, CancelledError)
    )


def _duration(message: Any, name: str) -> timedelta | None:
    if not message.HasField(name):
        return None
    value = getattr(message, name).ToTimedelta()
    return value if value > timedelta(0) else None
