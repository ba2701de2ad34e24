"""What a WorkerReplica records, under the Temporal SDK's metric names (internal).

Per task a handful of Ray metric calls (~3.5 us each; the task itself costs two actor hops of ~0.3-0.5 ms);
the gauges (slots, pollers, cache size, pool size) are read every few seconds by a sampler on the replica's
loop, never per task. Tag dicts are built once per workflow/activity type and reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rayflow.proto.rayflow.v1 import command_pb2, history_pb2
from rayflow.telemetry import metrics as m

#: Temporal's poller_type values.
WORKFLOW_POLLER = "workflow_task"
STICKY_POLLER = "sticky_workflow_task"
ACTIVITY_POLLER = "activity_task"

_CLOSE_COUNTERS = {
    command_pb2.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: m.WORKFLOW_COMPLETED,
    command_pb2.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: m.WORKFLOW_FAILED,
    command_pb2.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: m.WORKFLOW_CANCELED,
}
_FAILURE_REASONS = {
    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR: "NonDeterminismError",
    history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR: "PayloadError",
}


def _ms_between(start: Any, end: Any) -> float | None:
    """Milliseconds from one protobuf Timestamp to another (None when either is unset)."""
    if not start.seconds and not start.nanos:
        return None
    end_ns = end.ToNanoseconds() if (end.seconds or end.nanos) else time.time_ns()
    return max(0.0, (end_ns - start.ToNanoseconds()) / 1e6)


def pool_name(labels: Sequence[str]) -> str:
    """The ``pool`` label of a pool: its advertised resource labels, or ``default`` without any."""
    return ",".join(labels) or "default"


class ReplicaMetrics:
    """The metrics of one replica: per-task recordings and a gauge sampler over its slots, polls and cache."""

    def __init__(self, namespace: str, task_queue: str, *, pool: str, gpus: int) -> None:
        self._m = m.process_metrics()
        self._namespace = namespace
        self._task_queue = task_queue
        self._tq = {"namespace": namespace, "task_queue": task_queue}
        self._pool = {"task_queue": task_queue, "pool": pool}
        self._gpus = gpus
        self._by_type: dict[str, dict[str, str]] = {}
        self._by_activity: dict[tuple[str, str], dict[str, str]] = {}
        self.polls = {WORKFLOW_POLLER: 0, STICKY_POLLER: 0, ACTIVITY_POLLER: 0}
        self._sampler: m.GaugeSampler | None = None

    def _wf(self, workflow_type: str) -> dict[str, str]:
        tags = self._by_type.get(workflow_type)
        if tags is None:
            tags = self._by_type[workflow_type] = {**self._tq, "workflow_type": workflow_type}
        return tags

    def _act(self, workflow_type: str, activity_type: str) -> dict[str, str]:
        key = (workflow_type, activity_type)
        tags = self._by_activity.get(key)
        if tags is None:
            tags = self._by_activity[key] = {**self._wf(workflow_type), "activity_type": activity_type}
        return tags

    # -- gauges ----------------------------------------------------------------------------------
    def start_sampling(self, free_slots: Callable[[], tuple[int, int]], cache_size: Callable[[], int]) -> None:
        """Sample slots (``free_slots()``: workflow, activity), polls, cache size and the pool on a timer."""

        def sample() -> m.Sample:
            workflow_free, activity_free = free_slots()
            yield m.WORKER_TASK_SLOTS_AVAILABLE, {**self._tq, "worker_type": "WorkflowWorker"}, workflow_free
            yield m.WORKER_TASK_SLOTS_AVAILABLE, {**self._tq, "worker_type": "ActivityWorker"}, activity_free
            for poller_type, count in self.polls.items():
                yield m.NUM_POLLERS, {**self._tq, "poller_type": poller_type}, count
            yield m.STICKY_CACHE_SIZE, self._tq, cache_size()
            yield m.POOL_REPLICAS, self._pool, 1
            yield m.POOL_GPUS, self._pool, self._gpus

        self._sampler = m.GaugeSampler(sample, self._m)
        self._sampler.start()

    def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()

    @contextmanager
    def polling(self, poller_type: str) -> Iterator[None]:
        """Counts an outstanding poll (read by the sampler: no Ray call here)."""
        self.polls[poller_type] += 1
        try:
            yield
        finally:
            self.polls[poller_type] -= 1

    # -- workflow tasks --------------------------------------------------------------------------
    def workflow_task_started(self, task: Any) -> float:
        """Record the task's schedule-to-start latency; returns the start (for :meth:`workflow_task_done`)."""
        latency = _ms_between(task.scheduled_time, task.started_time)
        if latency is not None:
            self._m.observe(m.WORKFLOW_TASK_SCHEDULE_TO_START_LATENCY, latency, self._tq)
        return time.perf_counter()

    def sticky_cache(self, *, hit: bool) -> None:
        self._m.inc(m.STICKY_CACHE_HIT if hit else m.STICKY_CACHE_MISS, self._tq)

    def workflow_task_done(
        self, workflow_type: str, started: float, commands: Sequence[Any], start_time: Any | None
    ) -> None:
        """After the completion was accepted: execution latency, and the run's close (with end-to-end latency)
        when its commands close it."""
        tags = self._wf(workflow_type)
        self._m.observe(m.WORKFLOW_TASK_EXECUTION_LATENCY, (time.perf_counter() - started) * 1e3, tags)
        for command in reversed(commands):  # a closing command is the last one
            counter = _CLOSE_COUNTERS.get(command.command_type)
            if counter is not None:
                self._m.inc(counter, tags)
                if start_time is not None:
                    latency = max(0.0, (time.time() - start_time.timestamp()) * 1e3)
                    self._m.observe(m.WORKFLOW_ENDTOEND_LATENCY, latency, tags)
                break

    def workflow_task_failed(self, workflow_type: str, cause: int) -> None:
        reason = _FAILURE_REASONS.get(cause, "WorkflowError")
        self._m.inc(m.WORKFLOW_TASK_EXECUTION_FAILED, {**self._wf(workflow_type), "failure_reason": reason})

    # -- activity tasks --------------------------------------------------------------------------
    def activity_started(self, task: Any) -> float:
        """Record the attempt's schedule-to-start latency; returns the start (for :meth:`activity_done`)."""
        latency = _ms_between(task.current_attempt_scheduled_time, task.started_time)
        if latency is not None:
            self._m.observe(
                m.ACTIVITY_SCHEDULE_TO_START_LATENCY, latency, self._act(task.workflow_type, task.activity_type)
            )
        return time.perf_counter()

    def activity_done(self, task: Any, started: float, *, failed: bool) -> None:
        tags = self._act(task.workflow_type, task.activity_type)
        self._m.observe(m.ACTIVITY_EXECUTION_LATENCY, (time.perf_counter() - started) * 1e3, tags)
        if failed:
            self._m.inc(m.ACTIVITY_EXECUTION_FAILED, tags)
