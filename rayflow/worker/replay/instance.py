"""One workflow run in a worker: history in, commands out, on a deterministic event loop (internal).

``WorkflowInstance.apply(events)`` follows Temporal's model. History splits into workflow tasks at
each WORKFLOW_TASK_STARTED. Input events (the start, activity results, fired timers, signals) wait as
jobs until a task delivers them. A task that completed in the past (its WORKFLOW_TASK_STARTED is
followed by WORKFLOW_TASK_COMPLETED) is re-run in replay mode; a task that failed or timed out is
skipped and its jobs go to the next one; the last task, whose WORKFLOW_TASK_STARTED ends the events,
runs live and its commands are returned. The command events written after each WORKFLOW_TASK_COMPLETED
are matched one by one against the commands the code issued; any difference is a nondeterminism
error, which fails the workflow task (the workflow only if it lists ``NondeterminismError`` in its
failure exception types, as Temporal does).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from rayflow.converter import DataConverter
from rayflow.exceptions import NondeterminismError, PayloadError
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.worker.replay import commands, jobs, patches
from rayflow.worker.replay.queries import run_query
from rayflow.worker.replay.runtime import PendingCommand, WorkflowRuntimeImpl
from rayflow.worker.replay.updates import UpdateOffer, deliver, recorded_updates

__all__ = ["ActivationResult", "WorkflowInstance"]

HistoryEvent = history_pb2.HistoryEvent
_COMMAND_EVENT_TYPES = commands.COMMAND_EVENT_TYPES
_JOB_EVENT_TYPES = jobs.JOB_EVENT_TYPES
_TASK_STARTED = history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED
_TASK_COMPLETED = history_pb2.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


def _after(events: list[HistoryEvent], index: int) -> Iterator[HistoryEvent]:
    """The events after ``events[index]``, without copying them (a task's scans stop at the next task)."""
    return (events[i] for i in range(index + 1, len(events)))


@dataclass
class ActivationResult:
    """What a workflow task answers.

    Attributes:
        commands: the commands to send with RespondWorkflowTaskCompleted (empty on task failure).
        task_failure: when set, fail the workflow task with it instead (RespondWorkflowTaskFailed) and
            evict the instance.
        task_failure_cause: a ``WorkflowTaskFailedCause``: NON_DETERMINISTIC_ERROR for nondeterminism,
            WORKFLOW_WORKER_UNHANDLED_FAILURE for other failures, UNSPECIFIED when there is none.
    """

    commands: list[command_pb2.Command] = field(default_factory=list)
    task_failure: BaseException | None = None
    task_failure_cause: int = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED
    #: (update id, failure) of the offered updates their validators rejected (nothing is recorded for them).
    rejected_updates: list[tuple[str, Any]] = field(default_factory=list)
    #: An error that fails the task by default (e.g. nondeterminism) but whose type the workflow lists in its
    #: failure exception types: ``commands`` fail the workflow with it instead.
    workflow_failure: BaseException | None = None


class WorkflowInstance(WorkflowRuntimeImpl):
    """A workflow run: its object, its event loop and its position in history.

    Args:
        definition: the ``@workflow.defn`` class's definition (or the class itself).
        namespace: the namespace of the run.
        workflow_id: the workflow id.
        run_id: the run id (seeds ``workflow.random()``).
        workflow_type: the workflow type name.
        task_queue: the workflow's task queue (the default activity task queue).
        data_converter: converts arguments, results and failures (default ``DataConverter.default``).
        workflow_failure_exception_types: the worker's exception types that fail the workflow instead of
            the workflow task, besides the definition's ``failure_exception_types`` (default none).
        interceptors: ``rayflow.worker.Interceptor`` objects whose workflow interceptor classes wrap this run
            (default none).
    """

    def __init__(
        self,
        definition: Any,
        *,
        namespace: str,
        workflow_id: str,
        run_id: str,
        workflow_type: str,
        task_queue: str,
        data_converter: DataConverter = DataConverter.default,
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        interceptors: Sequence[Any] = (),
    ) -> None:
        super().__init__(
            definition,
            namespace=namespace,
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=workflow_type,
            task_queue=task_queue,
            data_converter=data_converter,
            workflow_failure_exception_types=workflow_failure_exception_types,
            interceptors=interceptors,
        )
        self._next_event_id = 1
        self._last_started_event_id = 0
        self._answered_task = False  # the last activation ran live; its WORKFLOW_TASK_COMPLETED is next
        self._pending_jobs: list[HistoryEvent] = []
        self._unmatched: collections.deque[PendingCommand] = collections.deque()

    # -- the worker's API -----------------------------------------------------------------------------

    @property
    def next_event_id(self) -> int:
        """The id of the first event the next ``apply`` must start with."""
        return self._next_event_id

    @property
    def last_started_event_id(self) -> int:
        """The WORKFLOW_TASK_STARTED event id of the last task run (0 before any)."""
        return self._last_started_event_id

    @property
    def is_completed(self) -> bool:
        """The code issued CompleteWorkflowExecution, FailWorkflowExecution or CancelWorkflowExecution."""
        return self._completed

    def apply(self, events: Sequence[HistoryEvent], updates: Sequence[Any] = ()) -> ActivationResult:
        """Apply new history events and run the workflow task they end with.

        Args:
            events: the whole history on a fresh instance, else the events after those already applied;
                the last one is the WORKFLOW_TASK_STARTED of the task to answer.
            updates: the updates offered with the task (``WorkflowUpdateRequest`` messages or
                ``UpdateOffer``): validated, then accepted or rejected, in the live task.

        Raises:
            ValueError: the events do not continue this instance's history (evict it and replay).
        """
        events = list(events)
        self._check_continues(events)
        live: list[PendingCommand] = []
        rejected: list[tuple[str, Any]] = []
        offers = [u if isinstance(u, UpdateOffer) else UpdateOffer(u.update_id, u.name, u.input, header=u.header)
                  for u in updates]
        last = len(events) - 1
        # Patch markers and accepted updates are rare: look for them after each replayed task only if any.
        kinds = {event.event_type for event in events}
        has_markers = history_pb2.EVENT_TYPE_MARKER_RECORDED in kinds
        has_updates = history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED in kinds
        try:
            for index, event in enumerate(events):
                self._next_event_id = event.event_id + 1
                kind = event.event_type
                if kind in _COMMAND_EVENT_TYPES:
                    self._match(event)
                elif kind in _JOB_EVENT_TYPES:
                    self._pending_jobs.append(event)
                elif kind == _TASK_STARTED:
                    self._check_all_recorded(event)
                    if index == last:
                        live = self._activate(event, replaying=False, offers=offers, rejected=rejected)
                        self._answered_task = True
                    elif events[index + 1].event_type == _TASK_COMPLETED:
                        self._replayed_patches = (patches.recorded_patch_ids(_after(events, index))
                                                  if has_markers else set())
                        self._activate(event, replaying=True,
                                       offers=recorded_updates(_after(events, index)) if has_updates else ())
                    # else it failed or timed out: its jobs stay pending for the next task
                elif kind == _TASK_COMPLETED:
                    self._answered_task = False
                if self._task_failure is not None:
                    break
        except (NondeterminismError, PayloadError) as err:  # the activation itself failed
            self._record_task_failure(err)
        if self._task_failure is not None:
            if self._fails_workflow(self._task_failure):  # e.g. NondeterminismError listed by the workflow
                return self._fail_on_task_error()
            return ActivationResult(task_failure=self._task_failure, task_failure_cause=self._task_failure_cause)
        return ActivationResult(commands=[pending.command for pending in live], rejected_updates=rejected)

    def _fail_on_task_error(self) -> ActivationResult:
        """Answer with FailWorkflowExecution for an error that would fail the task (nondeterminism, a payload
        that cannot be converted, a misuse of the API) when its type is listed in ``failure_exception_types``:
        as in Temporal, it then fails the workflow.

        The code's state is not to be trusted past the error: its other commands are dropped and the
        instance is completed (evicted after this task).
        """
        error, self._task_failure = self._task_failure, None
        self._task_failure_cause = history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED
        self._completed = True
        return ActivationResult(commands=[commands.fail_workflow(self._converter.to_failure(error))],
                                workflow_failure=error)

    def query(self, name: str, args: Sequence[Any] = (), headers: Any = None) -> Any:
        """Answer query ``name`` from the current state: its ``@workflow.query`` handler's result.

        Nothing is issued or recorded. Raises ``WorkflowQueryFailedError`` for an unknown name or a
        handler that raised.
        """
        return run_query(self, name, args, headers)

    def close(self) -> None:
        """Drop the workflow's coroutines quietly (on eviction); the instance cannot be used after."""
        if self._loop_closed:
            return
        self._loop_closed = True
        with self._running():
            for task in self.pending_tasks():
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                try:
                    task.get_coro().close()  # runs `finally` blocks; they may not await
                except BaseException:  # the code is being dropped, and its errors with it
                    pass
        self._ready.clear()
        self._conditions.clear()
        self._timers.clear()
        self._activities.clear()
        self._unmatched.clear()
        self._pending_jobs.clear()

    # -- history --------------------------------------------------------------------------------------

    def _check_continues(self, events: list[HistoryEvent]) -> None:
        evict = "evict this instance and replay the full history on a new one"
        if self._loop_closed:
            raise ValueError(f"this workflow instance was closed; {evict}")
        if self._task_failure is not None:
            raise ValueError(f"this workflow instance failed its last workflow task ({self._task_failure!r}); {evict}")
        if not events:
            raise ValueError("apply() needs at least the WORKFLOW_TASK_STARTED event of the task to run")
        first = events[0]
        if first.event_id != self._next_event_id:
            raise ValueError(
                f"the events start at event {first.event_id} but event {self._next_event_id} is next; {evict}"
            )
        for previous, event in pairwise(events):
            if event.event_id != previous.event_id + 1:
                raise ValueError(
                    f"history is not consecutive: event {event.event_id} follows event {previous.event_id}"
                )
        if first.event_id == 1 and first.event_type != history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            raise ValueError(
                f"a history starts with WORKFLOW_EXECUTION_STARTED, not {commands.event_type_name(first.event_type)}"
            )
        if self._answered_task and first.event_type != history_pb2.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            raise ValueError(
                f"the workflow task this instance answered (started at event {self._last_started_event_id}) was not "
                f"completed: event {first.event_id} is {commands.event_type_name(first.event_type)}; {evict}"
            )

    def _match(self, event: HistoryEvent) -> None:
        if self._skips_patch_marker(event):
            return
        if not self._unmatched:
            raise self._nondeterminism(
                f"history has {commands.describe_event(event)} at event {event.event_id} but the workflow code "
                f"issued no command for it"
            )
        pending = self._unmatched.popleft()
        if not commands.matches(pending.command, event) or patches.command_patch(
            pending.command
        ) != patches.event_patch(event):
            raise self._nondeterminism(
                f"history has {commands.describe_event(event)} at event {event.event_id} but the workflow code "
                f"issued {commands.describe_command(pending.command)}"
            )
        if pending.on_recorded is not None:
            pending.on_recorded(event)

    def _skips_patch_marker(self, event: HistoryEvent) -> bool:
        """A patch marker the code did not record again (it deprecated or dropped the patch) is skipped."""
        patch_id = patches.event_patch(event)
        if patch_id is None:
            return False
        return not any(patches.command_patch(pending.command) == patch_id for pending in self._unmatched)

    def _check_all_recorded(self, started: HistoryEvent) -> None:
        if self._unmatched:
            raise self._nondeterminism(
                f"the workflow code issued {commands.describe_command(self._unmatched[0].command)} but history has "
                f"no event for it before the workflow task started at event {started.event_id}"
            )

    # -- activations -------------------------------------------------------------------------------

    def _activate(self, started: HistoryEvent, *, replaying: bool, offers: Sequence[Any] = (),
                  rejected: list[tuple[str, Any]] | None = None) -> list[PendingCommand]:
        """Deliver the pending jobs and run the code until it waits; return the commands it issued."""
        self._set_now(started.event_time)
        self._replaying = replaying
        self._last_started_event_id = started.event_id
        self._history_length = started.event_id
        pending_jobs, self._pending_jobs = self._pending_jobs, []
        self._activation_commands = []
        try:
            with self._running():
                for job in pending_jobs:
                    if self._stopped():
                        break
                    self._apply_job(job)
                if offers:
                    for offer in offers:
                        if self._stopped():
                            break
                        failure = deliver(self, offer)
                        if failure is not None and rejected is not None:
                            rejected.append((offer.update_id, failure))
                while not self._stopped():
                    self._run_ready(self._stopped)
                    if self._stopped() or not self._check_conditions():
                        break
            issued = [pending for pending in self._activation_commands if not pending.dropped]
        finally:
            self._activation_commands = None
        self._unmatched.extend(issued)
        return issued
