"""The HistoryShard actor: single writer of the executions whose workflow ids hash to it.

Every state change is one atomic store write (events + mutable state, group-committed with other
executions' writes); only after it committed do tasks go to Matching and timers to the timer queue.
A restarted shard bumps its ownership counter (so a stale twin can no longer write), reloads the
open executions, rebuilds their timers and dispatches their pending tasks again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from rayflow import constants
from rayflow.exceptions import WorkflowNotFoundError, WorkflowQueryFailedError
from rayflow.persistence import ExecutionWrite, ShardOwnershipLostError, StoreUnavailableError, open_store
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2, message_pb2, request_response_pb2
from rayflow.service import placement
from rayflow.service._ray_calls import call
from rayflow.service.config import ServiceConfig, is_sticky_queue
from rayflow.service.errors import TaskNotFoundError
from rayflow.service.history import _wire, children, id_policy, listing, payload_limits, timeouts, updates
from rayflow.service.history.client import HistoryClient
from rayflow.service.history.command_handler import BadCommandError, apply_commands
from rayflow.service.history.mutable_state import RUNNING, StateBuilder, pending_tasks
from rayflow.service.history.queries import STICKY_FALLBACK_S as _QUERY_STICKY_FALLBACK_S
from rayflow.service.history.queries import PendingQueries, query_timeout, timeout_message
from rayflow.service.history.timer_queue import TimerQueue
from rayflow.service.matching.client import MatchingClient
from rayflow.service.resilient_store import ResilientStore, UnknownWriteOutcome

logger = logging.getLogger(__name__)

T = TypeVar("T")
RR = request_response_pb2
Key = tuple[str, str, str]  # (namespace, workflow_id, run_id)

# What a transaction's mutate function returns when it only read the state (nothing to write).
UNCHANGED = object()

# A task not started this long after it was dispatched is dispatched again (Matching dedupes).
_REDISPATCH_AFTER_S = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Execution:
    state: internal_pb2.MutableState
    dispatched_at: dict[tuple[int, int, int], float] = field(default_factory=dict)


class _Lock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class HistoryShard:
    """Ray actor (created by ``rayflow.service.bootstrap``) owning shard ``index``."""

    def __init__(self, config: ServiceConfig, index: int) -> None:
        logging.basicConfig(level=logging.INFO)
        self._config = config
        self._index = index
        self._store = ResilientStore(open_store(config.store, durability=config.durability),
                                     what=f"history shard {index}")
        self._range_id = 0
        self._open: dict[Key, _Execution] = {}
        self._current: dict[tuple[str, str], str] = {}
        self._locks: dict[tuple[str, str], _Lock] = {}
        self._close_waiters: dict[Key, list[asyncio.Future[bytes]]] = {}
        self._queries = PendingQueries()  # in memory only: a query is never persisted
        self._updates = updates.PendingUpdates()  # updates not yet completed (in memory; see updates.py)
        self._matching = MatchingClient(config)
        self._sticky_timeout = constants.DEFAULT_STICKY_SCHEDULE_TO_START_TIMEOUT
        self._timers = TimerQueue(self._on_timer)
        self._background: set[asyncio.Task[Any]] = set()
        self._history = HistoryClient(config)  # other shards: child workflows and their parents
        self._child_work_inflight: set[tuple] = set()
        self._started = asyncio.get_running_loop().create_task(self._start())

    # -- lifecycle ----------------------------------------------------------------------------
    async def _start(self) -> None:
        while True:  # a store that is down when the shard (re)starts delays it, never breaks it
            try:
                self._range_id = await self._store.acquire_shard(self._index)
                records = await self._store.list_open_executions(self._index)
                break
            except StoreUnavailableError:
                logger.warning("history shard %d: the store %s is unreachable; retrying", self._index,
                               self._config.store_url.redacted)
        now = _now()
        for record in records:
            state = internal_pb2.MutableState.FromString(record.state)
            key = (record.namespace, record.workflow_id, record.run_id)
            if state.execution_info.status != RUNNING:
                # Closed, with cross-shard work left when the shard died (tell the parent, close children).
                info = state.execution_info
                events = await self._store.read_history(
                    self._index, *key, first_event_id=info.close_event_id, last_event_id=info.close_event_id
                )
                self._child_work(key, state, history_pb2.HistoryEvent.FromString(events[0]))
                continue
            execution = _Execution(state)
            self._open[key] = execution
            self._current[key[:2]] = key[2]
            self._register_timers(key, state)
            for task in pending_tasks(state, now):
                self._dispatch(key, execution, task)
            self._child_work(key, state)
        self._timers.start()
        self._spawn(self._redispatch_loop())
        logger.info("history shard %d ready: store %s, range %d, %d open executions", self._index,
                    self._config.store_url.redacted, self._range_id, len(self._open))

    async def ready(self) -> int:
        await self._started
        return len(self._open)

    async def get_config(self) -> ServiceConfig:
        return self._config

    async def pid(self) -> int:
        return os.getpid()

    async def location(self) -> dict[str, Any]:
        return placement.actor_location()

    # -- client RPCs --------------------------------------------------------------------------
    async def start_workflow(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.StartWorkflowExecutionRequest.FromString(request_bytes)
        self._check_payload(request.input, f"the input of workflow {request.workflow_type!r}")
        self._check_payload(request.start_signal_input, f"the input of signal {request.start_signal_name!r}")
        ns, wf_id = request.namespace, request.workflow_id
        async with self._locked(ns, wf_id):
            current_run = await self._current_run(ns, wf_id)
            current = await self._load((ns, wf_id, current_run)) if current_run else None
            if request.start_signal_name and not request.workflow_id_conflict_policy and (
                    request.workflow_id_reuse_policy != id_policy.TERMINATE_IF_RUNNING):
                # Signal-with-start (Temporal's SignalWithStart): a running run is signalled by default.
                request.workflow_id_conflict_policy = id_policy.USE_EXISTING
            decision = id_policy.decide(request, current.state.execution_info if current else None)
            if decision.existing_run_id:
                if request.start_signal_name and current.state.execution_info.request_id != request.request_id:
                    # Signal-with-start on the running run (not a retry of the start that made it): signal it.
                    signaled = StateBuilder(current.state, _now())
                    signaled.signal(request.start_signal_name, request.start_signal_input, request.identity)
                    await self._commit((ns, wf_id, current_run), signaled)
                return RR.StartWorkflowExecutionResponse(run_id=decision.existing_run_id,
                                                         started=False).SerializeToString()
            now = _now()
            builder = StateBuilder.start_execution(request, now)
            if request.start_signal_name:  # signal-with-start: the signal follows the start event
                builder.signal(request.start_signal_name, request.start_signal_input, request.identity)
            key = (ns, wf_id, builder.info.run_id)
            changes = [(key, builder, True)]
            if decision.terminate_reason and current is not None:
                # The running run ends as TERMINATED in the same atomic write that starts its successor.
                ended = StateBuilder(current.state, now)
                ended.terminate(decision.terminate_reason, None, request.identity)
                changes.insert(0, ((ns, wf_id, current_run), ended, False))
            await self._commit_all(changes)
            return RR.StartWorkflowExecutionResponse(run_id=key[2], started=True).SerializeToString()

    async def describe(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        await self._started
        key = await self._resolve(namespace, workflow_id, run_id)
        state = (await self._load(key)).state
        info = state.execution_info
        response = RR.DescribeWorkflowExecutionResponse()
        out = response.workflow_execution_info
        out.execution.workflow_id = info.workflow_id
        out.execution.run_id = info.run_id
        out.workflow_type = info.workflow_type
        out.start_time.CopyFrom(info.start_time)
        if info.HasField("close_time"):
            out.close_time.CopyFrom(info.close_time)
        out.status = info.status
        out.history_length = info.next_event_id - 1
        out.task_queue = info.task_queue
        out.first_execution_run_id = info.first_execution_run_id
        out.sticky_task_queue = info.sticky_task_queue
        out.parent_namespace = info.parent_namespace
        out.parent_workflow_id = info.parent_workflow_id
        out.parent_run_id = info.parent_run_id
        for act in sorted(state.activities.values(), key=lambda a: a.scheduled_event_id):
            pending = response.pending_activities.add(
                activity_id=act.activity_id,
                activity_type=act.activity_type,
                state=RR.PENDING_ACTIVITY_STATE_STARTED if act.HasField("started_time")
                else RR.PENDING_ACTIVITY_STATE_SCHEDULED,
                attempt=act.attempt,
                maximum_attempts=act.retry_policy.maximum_attempts,
                last_worker_identity=act.started_identity,
            )
            pending.scheduled_time.CopyFrom(act.current_attempt_scheduled_time)
            for src, dst in (("heartbeat_details", "heartbeat_details"), ("last_heartbeat_time", "last_heartbeat_time"),
                             ("started_time", "last_started_time"), ("last_failure", "last_failure")):
                if act.HasField(src):
                    getattr(pending, dst).CopyFrom(getattr(act, src))
        wft = state.workflow_task
        if wft.scheduled_event_id:
            pending_wft = response.pending_workflow_task
            pending_wft.scheduled_event_id = wft.scheduled_event_id
            pending_wft.started_event_id = wft.started_event_id
            pending_wft.attempt = wft.attempt
            pending_wft.task_queue = wft.task_queue
            pending_wft.scheduled_time.CopyFrom(wft.scheduled_time)
            if wft.HasField("started_time"):
                pending_wft.started_time.CopyFrom(wft.started_time)
            if wft.HasField("last_failure"):
                pending_wft.last_failure.CopyFrom(wft.last_failure)
        return response.SerializeToString()

    async def get_history(self, namespace: str, workflow_id: str, run_id: str, first_event_id: int = 1,
                          last_event_id: int | None = None) -> tuple[str, list[bytes]]:
        await self._started
        key = await self._resolve(namespace, workflow_id, run_id)
        events = await self._store.read_history(self._index, *key, first_event_id=first_event_id,
                                                last_event_id=last_event_id)
        return key[2], events

    async def terminate_workflow(self, request_bytes: bytes) -> str:
        """End a running run at once as TERMINATED; returns its run id. Its pending tasks become stale."""
        await self._started
        request = RR.TerminateWorkflowExecutionRequest.FromString(request_bytes)
        self._check_payload(request.details, "the details of terminate")
        key = await self._resolve(request.namespace, request.workflow_id, request.run_id)

        def terminate(builder: StateBuilder) -> bool:
            if not builder.is_open:
                raise WorkflowNotFoundError(
                    f"workflow {key[1]!r} run {key[2]!r} is already closed ({id_policy.status_name(builder.info.status)}): "
                    f"only a running workflow can be terminated"
                )
            details = request.details if request.HasField("details") else None
            builder.terminate(request.reason, details, request.identity)
            return True

        if await self._transact(key, terminate) is None:
            raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
        return key[2]

    async def list_executions(self, request_bytes: bytes) -> list[listing.Row]:
        """This shard's executions matching the request, newest first: up to ``page_size`` rows after the token."""
        await self._started
        request = RR.ListWorkflowExecutionsRequest.FromString(request_bytes)
        summaries = await self._store.list_executions(
            self._index, request.namespace, **listing.filters(request),
            before=listing.decode_token(request.next_page_token), limit=max(request.page_size, 1),
        )
        return [listing.row(summary) for summary in summaries]

    async def count_executions(self, request_bytes: bytes) -> int:
        await self._started
        request = RR.ListWorkflowExecutionsRequest.FromString(request_bytes)
        return await self._store.count_executions(self._index, request.namespace, **listing.filters(request))

    async def wait_for_close(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        """Long poll: the serialized closing event of the run, once it closes."""
        await self._started
        key = await self._resolve(namespace, workflow_id, run_id)
        async with self._locked(namespace, workflow_id):
            info = (await self._load(key)).state.execution_info
            if info.status == RUNNING:
                waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
                self._close_waiters.setdefault(key, []).append(waiter)
            else:
                events = await self._store.read_history(
                    self._index, *key, first_event_id=info.close_event_id, last_event_id=info.close_event_id
                )
                return events[0]
        return await waiter

    # -- matching RPC -------------------------------------------------------------------------
    async def record_task_started(self, task_bytes: bytes, identity: str, request_id: str) -> bytes | None:
        """Mark a dispatched task started and build what the poller needs; None if the task is stale."""
        await self._started
        task = internal_pb2.MatchingTask.FromString(task_bytes)
        key = (task.namespace, task.workflow_id, task.run_id)
        if task.query_id:
            return await self._query_task_started(key, task)
        if task.task_queue_type == RR.TASK_QUEUE_TYPE_WORKFLOW:
            return await self._record_workflow_task_started(key, task, identity, request_id)
        return await self._record_activity_task_started(key, task, identity, request_id)

    async def _record_workflow_task_started(self, key: Key, task, identity: str, request_id: str) -> bytes | None:
        def start(builder: StateBuilder) -> bool:
            wft = builder.state.workflow_task
            if not builder.is_open or wft.scheduled_event_id != task.scheduled_event_id or wft.attempt != task.attempt:
                return False
            if wft.started_event_id:
                return UNCHANGED if wft.request_id == request_id else False  # a retried call: answer again
            builder.start_workflow_task(identity, request_id)
            return True

        state = await self._transact(key, start)
        if state is None:
            return None
        return await self._workflow_task(key, state, is_sticky_queue(task.task_queue))

    async def _workflow_task(self, key: Key, state: internal_pb2.MutableState, sticky: bool) -> bytes:
        """The started workflow task with its history: all of it, or (sticky) what the worker has not seen."""
        info, wft = state.execution_info, state.workflow_task
        sticky = sticky and info.previous_started_event_id > 0
        first = info.previous_started_event_id + 1 if sticky else 1
        events = await self._store.read_history(self._index, *key, first_event_id=first,
                                                last_event_id=wft.started_event_id)
        token = internal_pb2.TaskToken(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                       scheduled_event_id=wft.scheduled_event_id,
                                       started_event_id=wft.started_event_id, attempt=wft.attempt)
        response = RR.PollWorkflowTaskQueueResponse(
            task_token=token.SerializeToString(),
            workflow_type=info.workflow_type,
            previous_started_event_id=info.previous_started_event_id,
            started_event_id=wft.started_event_id,
            attempt=wft.attempt,
            task_queue=info.task_queue,
            namespace=key[0],
        )
        response.workflow_execution.workflow_id = key[1]
        response.workflow_execution.run_id = key[2]
        response.scheduled_time.CopyFrom(wft.scheduled_time)
        response.started_time.CopyFrom(wft.started_time)
        response.updates.extend(self._updates.offers(key))
        return response.SerializeToString() + _wire.length_delimited(7, _wire.history_bytes(events))

    async def _record_activity_task_started(self, key: Key, task, identity: str, request_id: str) -> bytes | None:
        def start(builder: StateBuilder) -> bool:
            act = builder.state.activities.get(task.scheduled_event_id)
            if not builder.is_open or act is None or act.attempt != task.attempt:
                return False
            if act.HasField("started_time"):
                return UNCHANGED if act.request_id == request_id else False
            builder.start_activity(act, identity, request_id)
            return True

        state = await self._transact(key, start)
        if state is None:
            return None
        return self._activity_task(key, state, state.activities[task.scheduled_event_id]).SerializeToString()

    @staticmethod
    def _activity_task(key: Key, state: internal_pb2.MutableState, act: internal_pb2.ActivityInfo
                       ) -> RR.PollActivityTaskQueueResponse:
        """What the worker needs to run one started activity attempt."""
        token = internal_pb2.TaskToken(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                       scheduled_event_id=act.scheduled_event_id, attempt=act.attempt,
                                       activity_id=act.activity_id)
        response = RR.PollActivityTaskQueueResponse(
            task_token=token.SerializeToString(),
            workflow_namespace=key[0],
            workflow_type=state.execution_info.workflow_type,
            activity_type=act.activity_type,
            activity_id=act.activity_id,
            input=act.input,
            attempt=act.attempt,
            task_queue=act.task_queue,
            retry_policy=act.retry_policy,
        )
        response.workflow_execution.workflow_id = key[1]
        response.workflow_execution.run_id = key[2]
        for name in ("heartbeat_details", "scheduled_time", "current_attempt_scheduled_time", "started_time",
                     "schedule_to_close_timeout", "start_to_close_timeout", "heartbeat_timeout"):
            if act.HasField(name):
                getattr(response, name).CopyFrom(getattr(act, name))
        return response

    # -- worker RPCs --------------------------------------------------------------------------
    async def respond_workflow_task_completed(self, request_bytes: bytes) -> bytes:
        """Apply the commands; activities the worker offered to run itself come back started (eager)."""
        await self._started
        request = RR.RespondWorkflowTaskCompletedRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)
        eager: list[int] = []

        def complete(builder: StateBuilder) -> bool:
            self._check_workflow_task(builder, token)
            for command in request.commands:
                oversized = payload_limits.command_violation(command, self._config.max_payload_size)
                if oversized is not None:  # nothing of the task is recorded, and the run fails (no endless retry)
                    payload_limits.fail_oversized_workflow(builder, oversized, request.identity)
                    return True
            trial = StateBuilder(builder.state, builder.now)
            completed = trial.complete_workflow_task(request.identity)
            try:
                apply_commands(trial, list(request.commands), completed.event_id, request.identity)
                if trial.closed and any(e.event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                                        for e in builder.state.buffered_events):
                    # Temporal's UnhandledCommand: the code must see these signals before the run may close.
                    raise BadCommandError(
                        history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                        "signals arrived while the workflow task ran; the task runs again to handle them",
                    )
            except BadCommandError as err:
                failure = message_pb2.Failure(message=str(err), source="rayflow-service")
                failure.server_failure_info.SetInParent()
                builder.fail_workflow_task(err.cause, failure, request.identity, timed_out=False)
                return True
            if not trial.closed:
                trial.info.sticky_task_queue = request.sticky_task_queue
                if request.HasField("sticky_schedule_to_start_timeout"):
                    trial.info.sticky_schedule_to_start_timeout.CopyFrom(request.sticky_schedule_to_start_timeout)
                if trial.flush_buffered_events() or self._updates.needs_task(
                        key, trial.state, (r.update_id for r in request.rejected_updates)):
                    trial.schedule_workflow_task()
                eager.extend(self._start_eagerly(trial, request))
            builder.adopt(trial)
            return True

        key = self._token_key(token)
        state = await self._transact(key, complete, missing_ok=False)
        self._updates.rejected(key, request.rejected_updates)
        response = RR.RespondWorkflowTaskCompletedResponse()
        for scheduled_event_id in eager:
            response.activity_tasks.append(self._activity_task(key, state, state.activities[scheduled_event_id]))
        return response.SerializeToString()

    @staticmethod
    def _start_eagerly(builder: StateBuilder, request: RR.RespondWorkflowTaskCompletedRequest) -> list[int]:
        """Start, in this same write, activities the completing worker runs itself (no Matching round trip)."""
        slots = request.eager_activity_slots
        if slots <= 0:
            return []
        types = set(request.eager_activity_types)
        started = []
        for task in list(builder.tasks):
            if len(started) >= slots:
                break
            act = builder.state.activities.get(task.scheduled_event_id)
            if (task.task_queue_type != RR.TASK_QUEUE_TYPE_ACTIVITY or act is None or act.resource_label
                    or act.task_queue != builder.info.task_queue or act.activity_type not in types):
                continue
            builder.tasks.remove(task)
            builder.start_activity(act, request.identity, f"eager-{uuid.uuid4().hex}")
            started.append(act.scheduled_event_id)
        return started

    async def respond_workflow_task_failed(self, request_bytes: bytes) -> None:
        await self._started
        request = RR.RespondWorkflowTaskFailedRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)

        def fail(builder: StateBuilder) -> bool:
            self._check_workflow_task(builder, token)
            builder.fail_workflow_task(request.cause, request.failure, request.identity, timed_out=False)
            return True

        await self._transact(self._token_key(token), fail, missing_ok=False)

    async def respond_activity_task_completed(self, request_bytes: bytes) -> bytes:
        """Record the result; the workflow task it schedules comes back started when it is the worker's own."""
        await self._started
        request = RR.RespondActivityTaskCompletedRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)
        handed_over = False

        def complete(builder: StateBuilder) -> bool:
            nonlocal handed_over
            act = self._check_activity(builder, token)
            oversized = self._oversized(request.result, f"the result of activity {act.activity_type!r}")
            if oversized is not None:  # the attempt fails without retries: a retry would return the same data
                self._fail_activity_oversized(builder, act, oversized, request.identity)
            else:
                builder.finish_activity(
                    act,
                    history_pb2.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
                    history_pb2.ActivityTaskCompletedEventAttributes(result=request.result, identity=request.identity),
                )
            handed_over = self._start_on_sticky_worker(builder, request.worker_sticky_task_queue, request.identity)
            return True

        key = self._token_key(token)
        state = await self._transact(key, complete, missing_ok=False)
        response = RR.RespondActivityTaskCompletedResponse()
        if handed_over:
            response.workflow_task.ParseFromString(await self._workflow_task(key, state, sticky=True))
        return response.SerializeToString()

    @staticmethod
    def _start_on_sticky_worker(builder: StateBuilder, worker_sticky_queue: str, identity: str) -> bool:
        """Start the just-scheduled workflow task on the worker whose sticky queue it was bound for."""
        wft = builder.state.workflow_task
        if not worker_sticky_queue or wft.started_event_id or wft.task_queue != worker_sticky_queue:
            return False
        for task in builder.tasks:
            if task.task_queue_type == RR.TASK_QUEUE_TYPE_WORKFLOW and task.scheduled_event_id == wft.scheduled_event_id:
                builder.tasks.remove(task)
                builder.start_workflow_task(identity, f"handover-{uuid.uuid4().hex}")
                return True
        return False

    async def respond_activity_task_failed(self, request_bytes: bytes) -> None:
        await self._started
        request = RR.RespondActivityTaskFailedRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)

        def fail(builder: StateBuilder) -> bool:
            act = self._check_activity(builder, token)
            oversized = (self._oversized(request.failure, f"the failure of activity {act.activity_type!r}")
                         or self._oversized(request.last_heartbeat_details,
                                            f"the heartbeat details of activity {act.activity_type!r}"))
            if oversized is not None:
                self._fail_activity_oversized(builder, act, oversized, request.identity)
                return True
            if request.HasField("last_heartbeat_details"):
                act.heartbeat_details.CopyFrom(request.last_heartbeat_details)
            timeouts.fail_activity(builder, act, request.failure, request.identity)
            return True

        await self._transact(self._token_key(token), fail, missing_ok=False)

    async def respond_activity_task_canceled(self, request_bytes: bytes) -> None:
        """The attempt ended by honouring a cancel request: ACTIVITY_TASK_CANCELED (no retry)."""
        await self._started
        request = RR.RespondActivityTaskCanceledRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)

        def cancel(builder: StateBuilder) -> bool:
            act = self._check_activity(builder, token)
            if self._oversized(request.details, "cancellation details") is not None:
                logger.warning("activity %s: its cancellation details are over the payload limit; dropped",
                               act.activity_type)
                request.ClearField("details")
            builder.finish_activity(
                act,
                history_pb2.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
                history_pb2.ActivityTaskCanceledEventAttributes(
                    details=request.details,
                    latest_cancel_requested_event_id=act.cancel_requested_event_id,
                    identity=request.identity,
                ),
            )
            return True

        await self._transact(self._token_key(token), cancel, missing_ok=False)

    async def record_activity_heartbeat(self, request_bytes: bytes) -> bytes:
        await self._started
        request = RR.RecordActivityTaskHeartbeatRequest.FromString(request_bytes)
        token = internal_pb2.TaskToken.FromString(request.task_token)
        cancel_requested = False

        def heartbeat(builder: StateBuilder) -> bool:
            nonlocal cancel_requested
            act = self._check_activity(builder, token)
            oversized = self._oversized(request.details, f"the heartbeat details of activity {act.activity_type!r}")
            if oversized is not None:  # as in Temporal: the attempt fails, and the worker is told to stop it
                self._fail_activity_oversized(builder, act, oversized, request.identity)
                cancel_requested = True
                return True
            act.heartbeat_details.CopyFrom(request.details)
            act.last_heartbeat_time.FromDatetime(builder.now)
            cancel_requested = act.cancel_requested
            return True

        await self._transact(self._token_key(token), heartbeat, missing_ok=False)
        return RR.RecordActivityTaskHeartbeatResponse(cancel_requested=cancel_requested).SerializeToString()

    # -- queries (read only: nothing is recorded) -------------------------------------------------
    async def query_workflow(self, request_bytes: bytes) -> bytes:
        """Have a worker answer a query from the run's state; the serialized QueryWorkflowResponse."""
        await self._started
        request = RR.QueryWorkflowRequest.FromString(request_bytes)
        if not request.query_type:
            raise ValueError("query_workflow: query_type is required")
        self._check_payload(request.query_args, f"the arguments of query {request.query_type!r}")
        key = await self._resolve(request.namespace, request.workflow_id, request.run_id)
        timeout = query_timeout(request)
        deadline = time.monotonic() + timeout
        info = (await self._load(key)).state.execution_info
        while info.status == RUNNING and not info.previous_started_event_id and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # the workflow object exists once its first workflow task completed
            info = (await self._load(key)).state.execution_info
        query_id, pending = self._queries.add(key, request.query_type, request.query_args)
        task = internal_pb2.MatchingTask(namespace=key[0], workflow_id=key[1], run_id=key[2],
                                         task_queue_type=RR.TASK_QUEUE_TYPE_WORKFLOW, task_queue=info.task_queue,
                                         query_id=query_id)
        task.create_time.FromDatetime(_now())
        try:
            if info.status == RUNNING and info.sticky_task_queue:  # the worker that caches the run answers best
                sticky = internal_pb2.MatchingTask()
                sticky.CopyFrom(task)
                sticky.task_queue = info.sticky_task_queue
                self._spawn(self._add_task(sticky))
                self._spawn(self._query_fallback(task))
            else:
                self._spawn(self._add_task(task))
            remaining = max(deadline - time.monotonic(), 0.0)
            result, failure = await asyncio.wait_for(asyncio.shield(pending.future), remaining)
        except TimeoutError:
            message = timeout_message(request, key[2], info.task_queue, timeout, pending.started)
            raise WorkflowQueryFailedError(message) from None
        finally:
            self._queries.drop(query_id)
        if failure is not None:
            raise WorkflowQueryFailedError(failure.message)
        return RR.QueryWorkflowResponse(query_result=result).SerializeToString()

    async def _query_fallback(self, task: internal_pb2.MatchingTask) -> None:
        """A query task its sticky worker did not take soon goes to the normal task queue too."""
        await asyncio.sleep(_QUERY_STICKY_FALLBACK_S)
        pending = self._queries.get(task.query_id)
        if pending is not None and not pending.started:
            await self._add_task(task)

    async def _query_task_started(self, key: Key, task: internal_pb2.MatchingTask) -> bytes | None:
        """A worker took a query task: the query and the run's history; None when the query is gone."""
        pending = self._queries.start(task.query_id)
        if pending is None:
            return None
        try:
            info = (await self._load(key)).state.execution_info
        except WorkflowNotFoundError:
            self._queries.drop(task.query_id)
            return None
        events = await self._store.read_history(self._index, *key)
        response = RR.PollWorkflowTaskQueueResponse(
            workflow_type=info.workflow_type,
            previous_started_event_id=info.previous_started_event_id,
            task_queue=info.task_queue,
            namespace=key[0],
        )
        response.workflow_execution.workflow_id = key[1]
        response.workflow_execution.run_id = key[2]
        response.query.query_id = task.query_id
        response.query.query_type = pending.query_type
        response.query.query_args.CopyFrom(pending.args)
        return response.SerializeToString() + _wire.length_delimited(7, _wire.history_bytes(events))

    async def respond_query_task_completed(self, request_bytes: bytes) -> None:
        """A worker's answer to a query; ignored when the query already timed out."""
        request = RR.RespondQueryTaskCompletedRequest.FromString(request_bytes)
        failure = request.failure if request.HasField("failure") else None
        result = request.query_result if failure is None else None
        oversized = self._oversized(result, "the query result")
        if oversized is not None:
            failure, result = message_pb2.Failure(message=oversized, source="rayflow-service"), None
        self._queries.resolve(request.query_id, result, failure)

    # -- updates (see updates.py) -------------------------------------------------------------------
    async def update_workflow(self, request_bytes: bytes) -> bytes:
        """Run an update on a run; the serialized UpdateWorkflowExecutionResponse (failure when it failed)."""
        await self._started
        request = RR.UpdateWorkflowExecutionRequest.FromString(request_bytes)
        self._check_payload(request.input, f"the input of update {request.name!r}")
        return (await updates.update_workflow(self, request)).SerializeToString()

    # -- signals and cancel requests ------------------------------------------------------------
    async def signal_workflow(self, request_bytes: bytes) -> str:
        """Add a signal to a running run (the current one for an empty run id); returns its run id."""
        await self._started
        request = RR.SignalWorkflowExecutionRequest.FromString(request_bytes)
        if not request.signal_name:
            raise ValueError("signal_workflow: signal_name is required")
        self._check_payload(request.input, f"the input of signal {request.signal_name!r}")

        def add(builder: StateBuilder) -> None:
            children.remember_signal_request(builder.state, request.request_id)
            builder.signal(request.signal_name, request.input, request.identity)

        # A non-empty request id already recorded (a resend, e.g. a parent's after a crash) is not recorded again.
        return await self._add_input(request.namespace, request.workflow_id, request.run_id, "signalled", add,
                                     dedupe_id=request.request_id)

    async def request_cancel_workflow(self, request_bytes: bytes) -> str:
        """Ask a running run to cancel (its code sees asyncio.CancelledError); returns its run id."""
        await self._started
        request = RR.RequestCancelWorkflowExecutionRequest.FromString(request_bytes)
        return await self._add_input(
            request.namespace, request.workflow_id, request.run_id, "cancelled",
            lambda builder: builder.request_cancel(request.reason, request.identity),
        )

    async def _add_input(self, namespace: str, workflow_id: str, run_id: str, what: str,
                         add: Callable[[StateBuilder], None], dedupe_id: str = "") -> str:
        key = await self._resolve(namespace, workflow_id, run_id)
        continued = []

        def mutate(builder: StateBuilder) -> object:
            if dedupe_id and dedupe_id in builder.state.signal_request_ids:
                return UNCHANGED  # recorded already
            if not run_id and builder.info.status == RR.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
                continued.append(True)  # the run continued as new since it was resolved: the input goes to its successor
                return False
            if not builder.is_open:
                raise WorkflowNotFoundError(
                    f"workflow {key[1]!r} run {key[2]!r} is already closed "
                    f"({id_policy.status_name(builder.info.status)}): only a running workflow can be {what}"
                )
            add(builder)
            return True

        if await self._transact(key, mutate) is None:
            if continued:
                return await self._add_input(namespace, workflow_id, run_id, what, add, dedupe_id)
            raise WorkflowNotFoundError(f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}")
        return key[2]

    # -- child workflows (see children.py) -----------------------------------------------------------
    async def record_child_completed(self, namespace: str, workflow_id: str, run_id: str, initiated_event_id: int,
                                     child_run_id: str, close_event_bytes: bytes) -> None:
        """A child of this shard's run closed: record CHILD_WORKFLOW_EXECUTION_<outcome> (idempotent)."""
        await self._started
        close_event = history_pb2.HistoryEvent.FromString(close_event_bytes)
        await self._transact((namespace, workflow_id, run_id), lambda builder: children.record_closed(
            builder, initiated_event_id, child_run_id, close_event))

    def _child_work(self, key: Key, state: internal_pb2.MutableState,
                    close_event: history_pb2.HistoryEvent | None = None) -> None:
        """After a commit (or on start): start unstarted children, notify the parent of a close, and apply
        the parent close policy to the open children of a closed run."""
        for child in children.unstarted(state):
            self._spawn_child_work(("start", key, child.initiated_event_id), self._start_child(key, child))
        for pending in children.unsent_signals(state):
            self._spawn_child_work(("signal", key, pending.initiated_event_id), self._send_signal(key, pending))
        if close_event is not None and children.needs_parent_notice(state):
            self._spawn_child_work(("notify", key), self._notify_parent(key, state, close_event))
        if close_event is not None:
            for child in children.needs_close_policy(state):
                self._spawn_child_work(("close", key, child.initiated_event_id), self._close_child(key, child))

    def _spawn_child_work(self, ident: tuple, coro: Any) -> None:
        if ident in self._child_work_inflight:
            coro.close()
            return
        self._child_work_inflight.add(ident)

        async def run() -> None:
            try:
                delay = 0.2
                while True:
                    try:
                        await coro_factory()
                        return
                    except Exception:
                        logger.warning("child workflow step %s failed; retrying", ident[0], exc_info=True)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)
            finally:
                self._child_work_inflight.discard(ident)

        first = [coro]

        def coro_factory() -> Any:  # the first attempt runs the given coroutine, retries rebuild it
            return first.pop() if first else self._rebuild_child_work(ident)

        self._spawn(run())

    def _rebuild_child_work(self, ident: tuple) -> Any:
        async def step() -> None:
            key = ident[1]
            execution = await self._load(key)
            state = execution.state
            if ident[0] == "start":
                child = state.children.get(ident[2])
                if child is not None and not child.run_id and state.execution_info.status == RUNNING:
                    await self._start_child(key, child)
            elif ident[0] == "signal":
                pending = state.external_signals.get(ident[2])
                if pending is not None and state.execution_info.status == RUNNING:
                    await self._send_signal(key, pending)
            elif ident[0] == "notify":
                if children.needs_parent_notice(state):
                    info = state.execution_info
                    events = await self._store.read_history(self._index, *key, first_event_id=info.close_event_id,
                                                            last_event_id=info.close_event_id)
                    await self._notify_parent(key, state, history_pb2.HistoryEvent.FromString(events[0]))
            elif ident[0] == "close":
                child = state.children.get(ident[2])
                if child is not None and not child.close_policy_applied:
                    await self._close_child(key, child)
        return step()

    async def _start_child(self, key: Key, child: internal_pb2.ChildInfo) -> None:
        from rayflow.exceptions import WorkflowAlreadyStartedError

        request = RR.StartWorkflowExecutionRequest()
        request.CopyFrom(child.request)
        initiated = child.initiated_event_id
        try:
            response = await self._history.start_workflow(request)
        except WorkflowAlreadyStartedError:
            await self._transact(key, lambda builder: children.record_start_failed(builder, initiated))
            return
        await self._transact(key, lambda builder: children.record_started(builder, initiated, response.run_id))

    async def _send_signal(self, key: Key, pending: internal_pb2.ExternalSignalInfo) -> None:
        """Deliver a signal this run initiated (idempotent by its request id) and record the outcome."""
        initiated = pending.initiated_event_id
        try:
            await self._history.signal_workflow(RR.SignalWorkflowExecutionRequest(
                namespace=pending.namespace, workflow_id=pending.workflow_id, run_id=pending.run_id,
                signal_name=pending.signal_name, input=pending.input, identity=f"workflow {key[1]}",
                request_id=pending.request_id,
            ))
        except WorkflowNotFoundError:
            await self._transact(key, lambda builder: children.record_signal_sent(builder, initiated, False))
            return
        await self._transact(key, lambda builder: children.record_signal_sent(builder, initiated, True))

    async def _notify_parent(self, key: Key, state: internal_pb2.MutableState,
                             close_event: history_pb2.HistoryEvent) -> None:
        info = state.execution_info
        parent = self._history.shard_for(info.parent_namespace, info.parent_workflow_id)
        await call(parent.record_child_completed.remote(
            info.parent_namespace, info.parent_workflow_id, info.parent_run_id, info.parent_initiated_event_id,
            key[2], close_event.SerializeToString()), "record child completed")

        def notified(builder: StateBuilder) -> bool:
            if builder.info.parent_notified:
                return False
            builder.info.parent_notified = True
            return True

        await self._transact(key, notified)

    async def _close_child(self, key: Key, child: internal_pb2.ChildInfo) -> None:
        """The parent closed: terminate the child or ask it to cancel (its close policy)."""
        try:
            if child.parent_close_policy == children.REQUEST_CANCEL:
                await self._history.request_cancel_workflow(RR.RequestCancelWorkflowExecutionRequest(
                    namespace=child.namespace, workflow_id=child.workflow_id, run_id=child.run_id,
                    reason="parent closed", identity="rayflow-history"))
            else:
                await self._history.terminate_workflow(RR.TerminateWorkflowExecutionRequest(
                    namespace=child.namespace, workflow_id=child.workflow_id, run_id=child.run_id,
                    reason="parent closed", identity="rayflow-history"))
        except WorkflowNotFoundError:
            pass  # the child closed already
        initiated = child.initiated_event_id

        def applied(builder: StateBuilder) -> bool:
            entry = builder.state.children.get(initiated)
            if entry is None or entry.close_policy_applied:
                return False
            entry.close_policy_applied = True  # clears the run's needs_attention in the same write
            return True

        await self._transact(key, applied)

    # -- checks -------------------------------------------------------------------------------
    # -- payload limits (see payload_limits.py) ------------------------------------------------------
    def _check_payload(self, payloads: Any, what: str) -> None:
        """Reject a client request carrying a payload over the limit (PayloadError; nothing is recorded)."""
        payload_limits.check_payloads(payloads, self._config.max_payload_size, what)

    def _oversized(self, payloads: Any, what: str) -> str | None:
        """The error text when ``payloads`` is over the limit, else None."""
        return payload_limits.oversized_message(payloads, self._config.max_payload_size, what)

    @staticmethod
    def _fail_activity_oversized(builder: StateBuilder, act: internal_pb2.ActivityInfo, message: str,
                                 identity: str) -> None:
        builder.finish_activity(
            act,
            history_pb2.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            history_pb2.ActivityTaskFailedEventAttributes(
                failure=payload_limits.oversized_failure(message), identity=identity,
                retry_state=message_pb2.RETRY_STATE_NON_RETRYABLE_FAILURE,
            ),
        )

    @staticmethod
    def _token_key(token: internal_pb2.TaskToken) -> Key:
        return token.namespace, token.workflow_id, token.run_id

    @staticmethod
    def _check_workflow_task(builder: StateBuilder, token: internal_pb2.TaskToken) -> None:
        wft = builder.state.workflow_task
        if (not builder.is_open or wft.scheduled_event_id != token.scheduled_event_id
                or wft.started_event_id != token.started_event_id or not wft.started_event_id):
            raise TaskNotFoundError(
                f"workflow task {token.scheduled_event_id} of {token.workflow_id!r} is no longer running "
                f"(it timed out, was retried, or the workflow closed)"
            )

    @staticmethod
    def _check_activity(builder: StateBuilder, token: internal_pb2.TaskToken) -> internal_pb2.ActivityInfo:
        act = builder.state.activities.get(token.scheduled_event_id)
        if not builder.is_open or act is None or act.attempt != token.attempt or not act.HasField("started_time"):
            raise TaskNotFoundError(
                f"activity {token.activity_id!r} attempt {token.attempt} of {token.workflow_id!r} is no longer "
                f"running (it timed out, was retried, or the workflow closed)"
            )
        return act

    # -- state access and writes --------------------------------------------------------------
    class _LockContext:
        def __init__(self, shard: HistoryShard, ns: str, wf_id: str) -> None:
            self._shard, self._key = shard, (ns, wf_id)

        async def __aenter__(self) -> None:
            entry = self._shard._locks.get(self._key)
            if entry is None:
                entry = self._shard._locks[self._key] = _Lock()
            entry.users += 1
            await entry.lock.acquire()

        async def __aexit__(self, *exc: object) -> None:
            entry = self._shard._locks[self._key]
            entry.lock.release()
            entry.users -= 1
            if entry.users == 0:
                del self._shard._locks[self._key]

    def _locked(self, namespace: str, workflow_id: str) -> HistoryShard._LockContext:
        return HistoryShard._LockContext(self, namespace, workflow_id)

    async def _current_run(self, namespace: str, workflow_id: str) -> str:
        run_id = self._current.get((namespace, workflow_id))
        if run_id is None:
            current = await self._store.get_current_execution(self._index, namespace, workflow_id)
            run_id = current.run_id if current is not None else ""
        return run_id

    async def _resolve(self, namespace: str, workflow_id: str, run_id: str) -> Key:
        run_id = run_id or await self._current_run(namespace, workflow_id)
        if not run_id:
            raise WorkflowNotFoundError(
                f"workflow {workflow_id!r} not found in namespace {namespace!r}: no execution with this id was started"
            )
        return namespace, workflow_id, run_id

    async def _load(self, key: Key) -> _Execution:
        execution = self._open.get(key)
        if execution is not None:
            return execution
        record = await self._store.get_execution(self._index, *key)
        if record is None:
            raise WorkflowNotFoundError(
                f"workflow {key[1]!r} run {key[2]!r} not found in namespace {key[0]!r}"
            )
        execution = _Execution(internal_pb2.MutableState.FromString(record.state))
        if execution.state.execution_info.status == RUNNING:
            self._open[key] = execution
        return execution

    async def _transact(self, key: Key, mutate: Callable[[StateBuilder], object], *, missing_ok: bool = True
                        ) -> internal_pb2.MutableState | None:
        """Apply ``mutate`` under the execution's lock and write what it changed.

        ``mutate`` returns True when it changed the state (it is written), ``UNCHANGED`` when it only
        read it, False when there is nothing to do. Returns the new state, or None for False.
        """
        async with self._locked(key[0], key[1]):
            try:
                execution = await self._load(key)
            except WorkflowNotFoundError:
                if missing_ok:
                    return None
                raise TaskNotFoundError(f"workflow {key[1]!r} run {key[2]!r} does not exist") from None
            builder = StateBuilder(execution.state, _now())
            outcome = mutate(builder)
            if not outcome:
                return None
            if outcome is not UNCHANGED:
                await self._commit(key, builder)
            return builder.state

    async def _commit(self, key: Key, builder: StateBuilder, *, create: bool = False) -> None:
        changes = [(key, builder, create)]
        if builder.successor is not None:  # continue-as-new: the closed run and its successor, atomically
            changes.append(((key[0], key[1], builder.successor.info.run_id), builder.successor, True))
        await self._commit_all(changes)

    async def _commit_all(self, changes: list[tuple[Key, StateBuilder, bool]]) -> None:
        """Write the ``(key, builder, create)`` changes in one atomic store write, in order."""
        writes = []
        for key, builder, create in changes:
            info = builder.info
            writes.append(ExecutionWrite(
                namespace=key[0], workflow_id=key[1], run_id=key[2],
                state=builder.state.SerializeToString(),
                status=info.status,
                next_event_id=info.next_event_id,
                new_events=[(event.event_id, event.SerializeToString()) for event in builder.new_events],
                create=create,
                workflow_type=info.workflow_type,
                task_queue=info.task_queue,
                start_time=info.start_time.ToDatetime().timestamp(),
                close_time=info.close_time.ToDatetime().timestamp() if info.HasField("close_time") else 0.0,
                request_id=info.request_id,
                needs_attention=info.status != RUNNING and children.needs_attention(builder.state),
            ))
        try:
            await self._store.write(self._index, self._range_id, writes)
        except ShardOwnershipLostError:
            # Another owner acquired the shard since this actor did: its memory is stale and every later
            # write would fail too. Exit so that Ray restarts it (max_restarts=-1): the new incarnation
            # acquires the shard again, reloads from the store, and Ray re-runs the in-flight calls on it
            # (max_task_retries=-1; handlers are idempotent). A zombie twin that Ray already replaced just ends.
            logger.error("history shard %d lost ownership (range %d): exiting to be restarted",
                         self._index, self._range_id)
            os._exit(1)
        except UnknownWriteOutcome:
            # The store went away while a commit was in flight and stayed away: whether it was written is
            # unknown, so this actor's memory may be behind the store. Restart and reload, as above.
            logger.error("history shard %d: a write's outcome is unknown (store unreachable): exiting to be "
                         "restarted", self._index)
            os._exit(1)
        for key, builder, _ in changes:
            self._committed(key, builder)

    def _committed(self, key: Key, builder: StateBuilder) -> None:
        """After the commit: the in-memory view, the tasks, the timers and the close waiters follow."""
        info = builder.info
        self._updates.committed(key, builder.state, builder.new_events, info.status != RUNNING)
        if info.status == RUNNING:
            execution = self._open.get(key)
            if execution is None:
                execution = self._open[key] = _Execution(builder.state)
            execution.state = builder.state
            self._current[key[:2]] = key[2]
            for task in builder.tasks:
                self._dispatch(key, execution, task)
            self._register_timers(key, builder.state)
            self._child_work(key, builder.state)
        else:
            self._open.pop(key, None)
            self._current[key[:2]] = key[2]
            close_event = next((e for e in builder.new_events if e.event_id == info.close_event_id), None)
            if close_event is None:  # a later write to a closed run (e.g. its parent was notified)
                return
            self._child_work(key, builder.state, close_event)
            data = close_event.SerializeToString()
            for waiter in self._close_waiters.pop(key, []):
                if not waiter.done():
                    waiter.set_result(data)

    # -- dispatch and timers ------------------------------------------------------------------
    def _dispatch(self, key: Key, execution: _Execution, task: internal_pb2.MatchingTask) -> None:
        execution.dispatched_at[(task.task_queue_type, task.scheduled_event_id, task.attempt)] = time.monotonic()
        self._spawn(self._add_task(task))

    async def _add_task(self, task: internal_pb2.MatchingTask) -> None:
        try:
            await self._matching.add_task(task)
        except Exception:  # the redispatch loop sends it again
            logger.warning("dispatch of %s to matching failed; will retry", task.workflow_id, exc_info=True)

    async def _redispatch_loop(self) -> None:
        """Dispatch again tasks that were not started long after dispatch (lost by a crashed Matching)."""
        while True:
            await asyncio.sleep(_REDISPATCH_AFTER_S / 2)
            now, mono = _now(), time.monotonic()
            for key, execution in list(self._open.items()):
                for task in pending_tasks(execution.state, now):
                    ident = (task.task_queue_type, task.scheduled_event_id, task.attempt)
                    if mono - execution.dispatched_at.get(ident, 0.0) >= _REDISPATCH_AFTER_S:
                        self._dispatch(key, execution, task)

    def _register_timers(self, key: Key, state: internal_pb2.MutableState) -> None:
        for when, timer in timeouts.deadlines(state, self._sticky_timeout):
            self._timers.add(when.timestamp(), (*key, *timer))

    async def _on_timer(self, timer_key: tuple) -> None:
        key, timer = timer_key[:3], timer_key[3:]
        if key not in self._open:
            return
        await self._transact(key, lambda builder: timeouts.fire(builder, timer, self._sticky_timeout))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
