"""WorkerReplica: one Ray actor of a worker pool (internal).

A replica long-polls its task queue only while it has free slots, replays workflow tasks on a
dedicated thread (deterministic event loop, never the actor's loop), keeps running workflows in an
LRU cache served by its own sticky queue, and runs activities with heartbeats. It is stateless:
killing it or evicting a workflow loses nothing, the service re-dispatches after timeouts.
The data converter's payload codec runs here, at the edge: every task is decoded once as it arrives
(replay and activities see decoded payloads only) and every answer is encoded just before it leaves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import ray

from rayflow import workflow
from rayflow.converter import DataConverter
from rayflow.exceptions import ApplicationError
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2, request_response_pb2
from rayflow.service import logs
from rayflow.service.call_counts import counted
from rayflow.service.config import ServiceConfig, replica_queue_name, sticky_queue_name
from rayflow.service.errors import TaskNotFoundError
from rayflow.service.history.client import HistoryClient
from rayflow.service.matching.client import MatchingClient
from rayflow.worker.activity_runner import ActivityRunner
from rayflow.worker.queries import answer_query
from rayflow.worker.replay import WorkflowInstance
from rayflow.worker.sessions import SESSION_CREATE_ACTIVITY, SessionHost
from rayflow.worker.telemetry import ACTIVITY_POLLER, STICKY_POLLER, WORKFLOW_POLLER, ReplicaMetrics, pool_name
from rayflow.worker.versioning import VersionOptions
from rayflow.worker.workflow_cache import Lease, WorkflowCache

logger = logging.getLogger(__name__)

RR = request_response_pb2
_WORKFLOW_POLLERS = 2
_ACTIVITY_POLLERS = 4
#: Tasks one poll asks for at most (as many as there are free slots, up to this).
_MAX_TASKS_PER_POLL = 32


@dataclass
class ReplicaSpec:
    """Everything a replica needs, sent (cloudpickled) from the Worker in the driver."""

    config: ServiceConfig
    namespace: str
    task_queue: str
    workflows: list[type] = field(default_factory=list)
    activities: list[Any] = field(default_factory=list)
    identity: str | None = None
    index: int = 0
    max_concurrent_activities: int = 100
    max_concurrent_workflow_tasks: int = 100
    max_cached_workflows: int = 1000
    max_concurrent_sessions: int = 1000
    sticky_schedule_to_start_timeout: timedelta = timedelta(seconds=10)
    data_converter: DataConverter = field(default_factory=lambda: DataConverter.default)
    #: Labels advertised on activity polls (``rayflow.worker.labels.pool_labels``).
    labels: list[str] = field(default_factory=list)
    #: Whether activity polls take tasks that need no label.
    accept_unlabelled: bool = True
    #: Activities this replica starts per second at most (None: no limit).
    max_activities_per_second: float | None = None
    #: Activities per second of the whole task queue, enforced by Matching (None: leave it as it is).
    max_task_queue_activities_per_second: float | None = None
    #: When that limit was set (epoch seconds): Matching keeps the latest setting of all pools.
    task_queue_rate_limit_set_at: float = 0.0
    #: Exception types that fail the workflow instead of the workflow task (``Worker(workflow_failure_exception_types)``).
    workflow_failure_exception_types: tuple[type[BaseException], ...] = ()
    #: Worker versioning: build id, whether it routes, deployment name (``rayflow.worker.versioning``).
    versions: VersionOptions = field(default_factory=VersionOptions)
    #: ``rayflow.worker.Interceptor`` objects (the client's that are worker interceptors, then the worker's own).
    interceptors: list[Any] = field(default_factory=list)
    #: ``Worker(replica_setup=...)``: called once in the replica's process before anything else.
    replica_setup: Any = None


def _where() -> dict[str, str]:
    """The Ray node id, node IP, actor id and GPU ids of this process (recorded with every poll)."""
    context = ray.get_runtime_context()
    return {
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "actor_id": context.get_actor_id() or "",
        "gpus": [str(gpu) for gpu in context.get_accelerator_ids().get("GPU", [])],
    }


def _free(slots: asyncio.Semaphore) -> int:
    """Slots free now (asyncio keeps the count in ``_value``; stable since Python 3.4)."""
    return max(0, slots._value)  # noqa: SLF001


def _release(slots: asyncio.Semaphore, count: int) -> None:
    for _ in range(count):
        slots.release()


def _identity(template: str | None, index: int) -> str:
    values = {"pid": os.getpid(), "hostname": socket.gethostname(), "replica": index, **_where()}
    if template is None:
        return f"{values['pid']}@{values['hostname']}"
    return template.format(**values) if "{" in template else template


class _StartRate:
    """Token bucket of burst 1 for activity starts: a poll goes out no sooner than ``1 / rate`` after the
    previous poll that returned a task (the task was recorded started before the poll returned)."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if self._interval:
            delay = self._next - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)

    def started(self) -> None:
        if self._interval:
            self._next = asyncio.get_running_loop().time() + self._interval


@counted
class WorkerReplica:
    """Ray actor: polls, replays workflows, runs activities (created by ``rayflow.worker.Worker``)."""

    def __init__(self, spec: ReplicaSpec) -> None:
        logs.configure("replica", spec.config.log_level)
        if spec.replica_setup is not None:  # e.g. the process's OpenTelemetry tracer provider
            spec.replica_setup()
        self._spec = spec
        self._converter = spec.data_converter
        self._history = HistoryClient(spec.config)
        self._matching = MatchingClient(spec.config)
        self._workflows = {workflow.get_definition(cls).name: workflow.get_definition(cls) for cls in spec.workflows}
        self._replica_id = uuid.uuid4().hex
        # Activities sent to this replica alone (sessions, activity.info().replica_task_queue) have slots of
        # their own: an idle long poll of the pool's queue holding every slot must not keep them waiting.
        self._replica_queue = replica_queue_name(self._replica_id) if spec.activities else ""
        self._replica_slots = asyncio.Semaphore(spec.max_concurrent_activities)
        self._runner = ActivityRunner(
            spec.activities,
            data_converter=self._converter,
            max_workers=spec.max_concurrent_activities * 2,  # the pool's queue and the replica's own
            heartbeat=self._heartbeat,
            replica_task_queue=self._replica_queue,
            interceptors=spec.interceptors,
        )
        self._sessions = SessionHost(
            spec.max_concurrent_sessions, self._replica_queue, self._converter, self._history.describe
        )
        self._identity = _identity(spec.identity, spec.index)
        self._where = _where()
        self._activity_rate = _StartRate(spec.max_activities_per_second)
        self._sticky_queue = (
            sticky_queue_name(self._replica_id) if self._workflows and spec.max_cached_workflows > 0 else ""
        )
        self._cache = WorkflowCache(spec.max_cached_workflows)
        self._workflow_thread = ThreadPoolExecutor(1, thread_name_prefix="rayflow-workflow")
        self._workflow_slots = asyncio.Semaphore(spec.max_concurrent_workflow_tasks)
        self._activity_slots = asyncio.Semaphore(spec.max_concurrent_activities)
        self._stopping = False
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._metrics = ReplicaMetrics(spec.namespace, spec.task_queue, pool=pool_name(spec.labels),
                                       gpus=len(self._where.get("gpus", [])))

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> dict[str, Any]:
        if not self._loops:
            tq = self._spec.task_queue
            self._metrics.start_sampling(lambda: (_free(self._workflow_slots), _free(self._activity_slots)),
                                         self._cache.__len__)
            if self._workflows:
                for _ in range(_WORKFLOW_POLLERS):
                    self._poll(tq, RR.TASK_QUEUE_TYPE_WORKFLOW, self._workflow_slots, self._workflow_task)
                if self._sticky_queue:
                    self._poll(self._sticky_queue, RR.TASK_QUEUE_TYPE_WORKFLOW, self._workflow_slots,
                               self._workflow_task)
            if self._runner.activity_names:
                # A rate-limited replica polls one at a time, so no two waiting polls start tasks together.
                pollers = 1 if self._spec.max_activities_per_second else _ACTIVITY_POLLERS
                for _ in range(min(pollers, self._spec.max_concurrent_activities)):
                    self._poll(tq, RR.TASK_QUEUE_TYPE_ACTIVITY, self._activity_slots, self._activity_task)
                self._poll(self._replica_queue, RR.TASK_QUEUE_TYPE_ACTIVITY, self._replica_slots, self._activity_task)
        return {"identity": self._identity, "pid": os.getpid(), "index": self._spec.index, **self._where}

    async def stop(self, graceful_timeout_s: float) -> None:
        """Stop polling, wait up to ``graceful_timeout_s`` for running tasks, then drop the rest."""
        self._stopping = True
        self._metrics.stop()
        for loop in self._loops:
            loop.cancel()
        try:
            await self._matching.cancel_polls(self._replica_id)
        except Exception:
            logger.warning("could not cancel polls of replica %s", self._replica_id, exc_info=True)
        if self._running:
            await asyncio.wait(list(self._running), timeout=graceful_timeout_s)
        # Tasks still running keep their instances (leased) until they answer; the rest are closed now.
        self._cache.close()

    async def pid(self) -> int:
        return os.getpid()

    async def wait_until_dead(self) -> None:
        """Never returns: Matching awaits it to learn that this replica died, then drops its polls."""
        await asyncio.Event().wait()

    # -- polling ------------------------------------------------------------------------------
    def _poll(self, queue: str, queue_type: int, slots: asyncio.Semaphore, handle: Any) -> None:
        self._loops.append(asyncio.get_running_loop().create_task(self._poll_loop(queue, queue_type, slots, handle)))

    async def _poll_loop(self, queue: str, queue_type: int, slots: asyncio.Semaphore, handle: Any) -> None:
        poller = {"identity": self._identity, "poller_id": self._replica_id, "labels": [], "accept_unlabelled": True,
                  "watch": ray.get_runtime_context().current_actor, **self._where}
        if queue != self._replica_queue:  # the replica's own queue takes every task sent to it
            poller.update(self._spec.versions.poller_fields())
        rate = self._activity_rate if queue_type == RR.TASK_QUEUE_TYPE_ACTIVITY else None
        if queue_type == RR.TASK_QUEUE_TYPE_ACTIVITY:
            poller["labels"] = list(self._spec.labels)
            # A queue only this replica polls (not the pool's task queue) takes all of its tasks.
            poller["accept_unlabelled"] = self._spec.accept_unlabelled or queue != self._spec.task_queue
            if self._spec.max_task_queue_activities_per_second is not None:  # queue-wide, enforced by Matching
                poller["task_queue_rate_limit"] = self._spec.max_task_queue_activities_per_second
                poller["task_queue_rate_limit_set_at"] = self._spec.task_queue_rate_limit_set_at
        # Activity polls hold the slots they may fill (a replica of one slot never takes two activities);
        # workflow polls do not (the sticky poll must find a slot while a normal one waits), and a task that
        # finds every slot taken waits for one (workflow tasks are short).
        hold = queue_type == RR.TASK_QUEUE_TYPE_ACTIVITY
        poller_type = (ACTIVITY_POLLER if hold else STICKY_POLLER if queue == self._sticky_queue else WORKFLOW_POLLER)
        while not self._stopping:
            await slots.acquire()
            held = 1
            try:
                if rate is not None:
                    await rate.wait()
                elif hold:
                    while held < _MAX_TASKS_PER_POLL and not slots.locked():
                        await slots.acquire()  # free: taken at once
                        held += 1
                # Held slots bound an activity poll; a workflow poll asks for the slots free now as well.
                ask = held if hold or rate is not None else held + min(_MAX_TASKS_PER_POLL - 1, _free(slots))
                with self._metrics.polling(poller_type):
                    tasks = await self._matching.poll_many(self._spec.namespace, queue, queue_type, poller,
                                                           max_tasks=ask)
            except asyncio.CancelledError:
                _release(slots, held)
                raise
            except Exception:
                _release(slots, held)
                logger.warning("poll of %s failed; retrying", queue, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if not tasks:
                _release(slots, held)
                continue
            if rate is not None:
                rate.started()
            _release(slots, max(0, held - len(tasks)))
            for i, data in enumerate(tasks):
                self._spawn_task(handle, data, slots, has_slot=i < held)

    def _spawn_task(self, handle: Any, data: bytes, slots: asyncio.Semaphore, *, has_slot: bool = True) -> None:
        task = asyncio.get_running_loop().create_task(self._run_task(handle, data, slots, has_slot))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run_task(self, handle: Any, data: bytes, slots: asyncio.Semaphore, has_slot: bool) -> None:
        if not has_slot:
            await slots.acquire()
        try:
            await handle(data)
        except TaskNotFoundError as err:
            logger.info("task result dropped: %s", err)
        except Exception:
            logger.exception("task handling failed; the service will retry it after its timeout")
        finally:
            slots.release()

    # -- workflow tasks -----------------------------------------------------------------------
    def _versioning_behavior(self, workflow_type: str) -> int:
        definition = self._workflows.get(workflow_type)
        own = definition.versioning_behavior if definition is not None else 0
        return own or self._spec.versions.default_versioning_behavior

    async def _workflow_task(self, data: bytes) -> None:
        task = RR.PollWorkflowTaskQueueResponse.FromString(data)
        if task.HasField("query"):  # read only: answered from the cache or a throwaway replay
            await self._history.respond_query_task_completed(await answer_query(
                task, cache=self._cache, executor=self._workflow_thread, workflows=self._workflows,
                converter=self._converter, identity=self._identity,
                failure_types=self._spec.workflow_failure_exception_types, interceptors=self._spec.interceptors,
            ))
            return
        # The lease pins the run's cached instance for this task: evicting it meanwhile (another task caching
        # its workflow, stop()) closes it only after this task answered, with every command it issued.
        with self._cache.lease(task.workflow_execution.run_id) as lease:
            await self._run_workflow_task(task, lease)

    async def _run_workflow_task(self, task: RR.PollWorkflowTaskQueueResponse, lease: Lease) -> None:
        started = self._metrics.workflow_task_started(task)
        try:  # the payload codec runs at the worker's edge: replay sees decoded payloads only
            await self._converter.decode_message(task)
        except Exception as err:  # e.g. encrypted with a key this worker lacks: another worker may have it
            logger.warning("workflow task of %s: its payloads cannot be decoded: %s",
                           task.workflow_execution.workflow_id, err)
            lease.evict()
            await self._fail_workflow_task(task, err, history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR)
            return
        events = list(task.history.events)
        loop = asyncio.get_running_loop()
        result = None
        instance = lease.instance
        if instance is not None or task.previous_started_event_id:  # a run new to every cache is no miss
            self._metrics.sticky_cache(hit=instance is not None)
        if instance is not None:
            try:
                result = await loop.run_in_executor(self._workflow_thread, instance.apply, events, list(task.updates))
            except Exception as err:  # the cached state does not continue this history: replay from scratch
                logger.info("replaying %s from its full history: %s", task.workflow_execution.workflow_id, err)
                lease.evict()
                instance = None
        if instance is None:
            if not events or events[0].event_id != 1:
                history = await self._full_history(task)
                try:  # fetched from the store: still encoded
                    await self._converter.decode_message(history)
                except Exception as err:  # e.g. encrypted with a key this worker lacks
                    await self._fail_workflow_task(task, err, history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR)
                    return
                events = list(history.events)
            definition = self._workflows.get(task.workflow_type)
            if definition is None:
                await self._fail_workflow_task(
                    task,
                    ApplicationError(
                        f"Workflow type {task.workflow_type!r} is not registered on this worker "
                        f"(registered: {', '.join(sorted(self._workflows)) or 'none'}); add its class to "
                        f"Worker(workflows=[...]) on task queue {task.task_queue!r}",
                        type="NotFoundError",
                    ),
                    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
                )
                return
            instance = self._new_instance(definition, task)
            lease.adopt(instance)  # closed when the task ends unless kept
            try:
                result = await loop.run_in_executor(self._workflow_thread, instance.apply, events, list(task.updates))
            except Exception as err:  # a bug in the replay machinery itself: fail the task, replay later
                await self._fail_workflow_task(
                    task, err, history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
                )
                return
        if result.task_failure is not None:
            lease.evict()
            await self._fail_workflow_task(task, result.task_failure, result.task_failure_cause)
            return
        versions = self._spec.versions
        request = RR.RespondWorkflowTaskCompletedRequest(
            task_token=task.task_token, commands=result.commands, identity=self._identity,
            build_id=versions.build_id, use_versioning=versions.use_versioning,
            deployment_name=versions.deployment_name,
            versioning_behavior=self._versioning_behavior(task.workflow_type),
        )
        for update_id, failure in result.rejected_updates:  # validator rejections: nothing is recorded
            request.rejected_updates.add(update_id=update_id, failure=failure)
        try:
            await self._converter.encode_message(request)
        except Exception as err:
            lease.evict()
            await self._fail_workflow_task(task, err, history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR)
            return
        if self._sticky_queue and not instance.is_completed and lease.keep():
            request.sticky_task_queue = self._sticky_queue
            request.sticky_schedule_to_start_timeout.FromTimedelta(self._spec.sticky_schedule_to_start_timeout)
        else:
            lease.evict()
        reserved = await self._reserve_eager_slots(request, task.task_queue)
        try:
            response = await self._history.respond_workflow_task_completed(request)
        except BaseException:
            lease.evict()
            for _ in range(reserved):
                self._activity_slots.release()
            raise
        self._metrics.workflow_task_done(task.workflow_type, started, request.commands,
                                         instance.workflow_info().start_time)
        for activity_task in response.activity_tasks[:reserved]:
            self._spawn_task(self._activity_task, activity_task.SerializeToString(), self._activity_slots)
        for _ in range(reserved - len(response.activity_tasks)):
            self._activity_slots.release()

    def _new_instance(self, definition: Any, task: RR.PollWorkflowTaskQueueResponse) -> WorkflowInstance:
        return WorkflowInstance(
            definition,
            namespace=task.namespace,
            workflow_id=task.workflow_execution.workflow_id,
            run_id=task.workflow_execution.run_id,
            workflow_type=task.workflow_type,
            task_queue=task.task_queue,
            data_converter=self._converter,
            workflow_failure_exception_types=self._spec.workflow_failure_exception_types,
            interceptors=self._spec.interceptors,
        )

    async def _reserve_eager_slots(self, request: RR.RespondWorkflowTaskCompletedRequest, task_queue: str) -> int:
        """Take free activity slots for activities this replica can run itself (eager execution)."""
        names = set(self._runner.activity_names)
        if self._replica_queue:
            names.add(SESSION_CREATE_ACTIVITY)  # built in, run by self._sessions
        if (not self._spec.accept_unlabelled or self._spec.max_activities_per_second
                or self._spec.max_task_queue_activities_per_second):
            return 0  # eager starts would bypass the pool's routing or its (or the queue's) rate limit
        wanted = sum(
            1 for c in request.commands
            if c.HasField("schedule_activity_task_command_attributes")
            and c.schedule_activity_task_command_attributes.activity_type in names
            and c.schedule_activity_task_command_attributes.task_queue in ("", task_queue)
            and not c.schedule_activity_task_command_attributes.resource_label
        )
        reserved = 0
        while reserved < wanted and not self._activity_slots.locked() and not self._stopping:
            await self._activity_slots.acquire()  # returns at once: a slot is free
            reserved += 1
        if reserved:
            request.eager_activity_slots = reserved
            request.eager_activity_types.extend(sorted(names))
        return reserved

    async def _full_history(self, task: RR.PollWorkflowTaskQueueResponse) -> history_pb2.History:
        """The history up to this task's started event (a sticky task whose workflow is not cached here),
        as stored (payloads still encoded)."""
        _, raw = await self._history.get_history(
            task.namespace, task.workflow_execution.workflow_id, task.workflow_execution.run_id,
            last_event_id=task.started_event_id,
        )
        return history_pb2.History(events=[history_pb2.HistoryEvent.FromString(event) for event in raw])

    async def _fail_workflow_task(self, task: Any, error: BaseException, cause: int) -> None:
        self._metrics.workflow_task_failed(task.workflow_type, cause)
        try:
            failure = await self._converter.encode_failure(error)
        except Exception:  # the codec itself fails: the failure goes without its details
            failure = message_pb2.Failure(message=str(error), source="rayflow-python")
        await self._history.respond_workflow_task_failed(
            RR.RespondWorkflowTaskFailedRequest(
                task_token=task.task_token, cause=cause, failure=failure, identity=self._identity
            )
        )

    # -- activity tasks -----------------------------------------------------------------------
    async def _activity_task(self, data: bytes) -> None:
        task = RR.PollActivityTaskQueueResponse.FromString(data)
        started = self._metrics.activity_started(task)
        try:  # the payload codec runs at the worker's edge: the activity sees decoded payloads only
            await self._converter.decode_message(task)
        except Exception as err:  # retryable: a worker that can decode it (e.g. has the key) may take the retry
            logger.warning("activity %s: its payloads cannot be decoded: %s", task.activity_type, err)
            response: Any = self._payload_failure(task, err)
        else:
            if self._sessions.handles(task.activity_type):  # built-in session activities, not the user's registry
                response = await self._sessions.run(task, self._identity)
            else:
                response = await self._runner.run(task, self._identity)
            try:
                await self._converter.encode_message(response)
            except Exception as err:
                logger.warning("activity %s: its answer cannot be encoded: %s", task.activity_type, err)
                response = self._payload_failure(task, err)
        self._metrics.activity_done(task, started, failed=isinstance(response, RR.RespondActivityTaskFailedRequest))
        if isinstance(response, RR.RespondActivityTaskCanceledRequest):
            await self._history.respond_activity_task_canceled(response)
            return
        if not isinstance(response, RR.RespondActivityTaskCompletedRequest):
            await self._history.respond_activity_task_failed(response)
            return
        # Offer to take the workflow task this completion schedules, if it is bound for our sticky queue.
        reserved = bool(self._sticky_queue) and not self._stopping and not self._workflow_slots.locked()
        if reserved:
            await self._workflow_slots.acquire()  # returns at once: a slot is free
            response.worker_sticky_task_queue = self._sticky_queue
        try:
            result = await self._history.respond_activity_task_completed(response)
        except BaseException:
            if reserved:
                self._workflow_slots.release()
            raise
        if reserved and result.HasField("workflow_task"):
            self._spawn_task(self._workflow_task, result.workflow_task.SerializeToString(), self._workflow_slots)
        elif reserved:
            self._workflow_slots.release()

    def _payload_failure(self, task: RR.PollActivityTaskQueueResponse,
                         error: BaseException) -> RR.RespondActivityTaskFailedRequest:
        """A retryable attempt failure for payloads this replica cannot decode or encode (another may)."""
        return RR.RespondActivityTaskFailedRequest(
            task_token=task.task_token, identity=self._identity,
            failure=self._converter.to_failure(
                ApplicationError(f"activity {task.activity_type!r}: {error}", type="PayloadError")
            ),
        )

    async def _heartbeat(self, task_token: bytes, details: message_pb2.Payloads) -> bool:
        request = RR.RecordActivityTaskHeartbeatRequest(task_token=task_token, details=details, identity=self._identity)
        await self._converter.encode_message(request)
        try:
            response = await self._history.record_activity_heartbeat(request)
        except TaskNotFoundError:
            # As in Temporal: the attempt is no longer wanted (the workflow closed, or it timed out): cancel it.
            return True
        return response.cancel_requested
