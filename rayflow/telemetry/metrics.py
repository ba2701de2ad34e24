"""The metrics rayflow records, under Temporal's names, and a cheap per-process facade over ``ray.util.metrics``.

Every process of the engine (worker replicas, HistoryShard and Matching actors, the frontend) records into Ray's
metrics (``ray.util.metrics``); Ray's metrics agent on each node aggregates them for Prometheus (with a ``ray_``
prefix and per-process labels), and :mod:`rayflow.telemetry.prometheus` serves them back under Temporal's own names
on ``/metrics`` of ``rayflow server start``.

Names, labels and units follow Temporal: the worker-side ones are the SDK's (Core-based SDKs, such as Python's:
histograms in milliseconds), the service-side ones the server's (timers in seconds, as its Prometheus reporter
emits them). Gauges say how their per-process values combine (``sum`` or ``max``) when summed across processes.

Cost: one ``inc``/``observe``/``set`` through Ray is ~3.5 us of CPU (measured on Ray 2.60; an actor call is
~300-500 us), so per-task recording is kept to a handful of calls and gauges are set on change or on a timer.
Where Ray is not initialized (a plain client, unit tests) every call is a no-op of a few hundred nanoseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"

#: Boundaries of the millisecond latency histograms (the SDK's): 1 ms to 10 min.
MS_BUCKETS: tuple[float, ...] = (
    1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000,
)
#: Boundaries of the seconds latency histograms (the server's): 0.5 ms to 60 s.
SECONDS_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)

# Label sets, as Temporal names them.
_WF = ("namespace", "task_queue", "workflow_type")
_ACT = ("namespace", "task_queue", "workflow_type", "activity_type")
_TQ = ("namespace", "task_queue")


@dataclass(frozen=True)
class MetricDef:
    """One metric: its Prometheus name (no ``ray_`` prefix, no ``_total``), type, labels and unit.

    Attributes:
        name: the name under which ``/metrics`` serves it (Temporal's).
        kind: ``counter``, ``gauge`` or ``histogram``.
        description: the HELP text.
        labels: the label names every recording gives.
        unit: ``ms``, ``seconds`` or ``""``.
        boundaries: histogram bucket boundaries, in ``unit``.
        aggregate: how a gauge's values of several processes combine: ``sum`` or ``max``.
    """

    name: str
    kind: str
    description: str
    labels: tuple[str, ...]
    unit: str = ""
    boundaries: tuple[float, ...] = ()
    aggregate: str = "sum"


def _counter(name: str, description: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(name, COUNTER, description, labels)


def _gauge(name: str, description: str, labels: tuple[str, ...], aggregate: str = "sum", unit: str = "") -> MetricDef:
    return MetricDef(name, GAUGE, description, labels, unit=unit, aggregate=aggregate)


def _ms(name: str, description: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(name, HISTOGRAM, description + " (milliseconds)", labels, unit="ms", boundaries=MS_BUCKETS)


def _seconds(name: str, description: str, labels: tuple[str, ...]) -> MetricDef:
    return MetricDef(name, HISTOGRAM, description + " (seconds)", labels, unit="seconds", boundaries=SECONDS_BUCKETS)


# --- worker side: Temporal SDK names --------------------------------------------------------------------------
WORKFLOW_COMPLETED = _counter("temporal_workflow_completed", "Workflows completed successfully", _WF)
WORKFLOW_FAILED = _counter("temporal_workflow_failed", "Workflows that failed (an error or a timeout)", _WF)
WORKFLOW_CANCELED = _counter("temporal_workflow_canceled", "Workflows that completed as canceled", _WF)
WORKFLOW_ENDTOEND_LATENCY = _ms(
    "temporal_workflow_endtoend_latency", "From the workflow's start to its close, as the closing worker saw it", _WF
)
WORKFLOW_TASK_SCHEDULE_TO_START_LATENCY = _ms(
    "temporal_workflow_task_schedule_to_start_latency",
    "From a workflow task's scheduling to its start on a worker",
    _TQ,
)
WORKFLOW_TASK_EXECUTION_LATENCY = _ms(
    "temporal_workflow_task_execution_latency", "Time a worker took to run a workflow task", _WF
)
WORKFLOW_TASK_EXECUTION_FAILED = _counter(
    "temporal_workflow_task_execution_failed",
    "Workflow tasks that failed (an error in workflow code, nondeterminism, an unknown type)",
    (*_WF, "failure_reason"),
)
ACTIVITY_EXECUTION_LATENCY = _ms(
    "temporal_activity_execution_latency", "Time an activity attempt ran on a worker", _ACT
)
ACTIVITY_SCHEDULE_TO_START_LATENCY = _ms(
    "temporal_activity_schedule_to_start_latency",
    "From an activity attempt's scheduling to its start on a worker",
    _ACT,
)
ACTIVITY_EXECUTION_FAILED = _counter(
    "temporal_activity_execution_failed", "Activity attempts that raised (each retry counts)", _ACT
)
STICKY_CACHE_HIT = _counter(
    "temporal_sticky_cache_hit", "Workflow tasks whose workflow was in the worker's cache", _TQ
)
STICKY_CACHE_MISS = _counter(
    "temporal_sticky_cache_miss", "Workflow tasks whose workflow had to be rebuilt from its history", _TQ
)
STICKY_CACHE_SIZE = _gauge("temporal_sticky_cache_size", "Workflows held in the workers' caches", _TQ)
NUM_POLLERS = _gauge(
    "temporal_num_pollers",
    "Pollers polling (poller_type: workflow_task, sticky_workflow_task, activity_task)",
    (*_TQ, "poller_type"),
)
WORKER_TASK_SLOTS_AVAILABLE = _gauge(
    "temporal_worker_task_slots_available",
    "Free task slots of the workers (worker_type: WorkflowWorker, ActivityWorker)",
    (*_TQ, "worker_type"),
)

# --- service side: Temporal server names ----------------------------------------------------------------------
# The server's own label names: ``taskqueue`` (one word), ``task_type`` (Workflow, Activity), ``partition``.
_PARTITION = ("namespace", "taskqueue", "task_type", "partition")
_OPERATION = ("service_name", "operation")
APPROXIMATE_BACKLOG_COUNT = _gauge(
    "approximate_backlog_count", "Tasks waiting in a task queue's backlog (task_type: Workflow, Activity)", _PARTITION
)
APPROXIMATE_BACKLOG_AGE_SECONDS = _gauge(
    "approximate_backlog_age_seconds", "Age of the oldest task in a task queue's backlog", _PARTITION,
    aggregate="max", unit="seconds",
)
POLL_SUCCESS = _counter("poll_success", "Polls that returned tasks", _PARTITION)
POLL_SUCCESS_SYNC = _counter(
    "poll_success_sync", "Polls answered by a task handed over at once (sync match, no backlog)", _PARTITION
)
POLL_TIMEOUTS = _counter("poll_timeouts", "Polls that expired without a task", _PARTITION)
SERVICE_REQUESTS = _counter("service_requests", "Requests the service received", _OPERATION)
SERVICE_ERRORS = _counter("service_errors", "Requests the service answered with an error", _OPERATION)
SERVICE_LATENCY = _seconds("service_latency", "Time the service took to answer a request", _OPERATION)
PERSISTENCE_LATENCY = _seconds("persistence_latency", "Time a store call took", ("operation",))

# --- Ray's own -------------------------------------------------------------------------------------------------
POOL_REPLICAS = _gauge("rayflow_pool_replicas", "Worker replicas (Ray actors) running per pool", ("task_queue", "pool"))
POOL_GPUS = _gauge("rayflow_pool_gpus", "GPUs held by a pool's replicas", ("task_queue", "pool"))
BACKLOG_BY_LABEL = _gauge(
    "rayflow_backlog_by_label",
    "Backlog of tasks that require a resource label ('' for tasks any poller may take)",
    ("task_queue", "task_type", "resource_label"),
)

#: Every metric rayflow defines, by name.
DEFINITIONS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        WORKFLOW_COMPLETED, WORKFLOW_FAILED, WORKFLOW_CANCELED, WORKFLOW_ENDTOEND_LATENCY,
        WORKFLOW_TASK_SCHEDULE_TO_START_LATENCY, WORKFLOW_TASK_EXECUTION_LATENCY, WORKFLOW_TASK_EXECUTION_FAILED,
        ACTIVITY_EXECUTION_LATENCY, ACTIVITY_SCHEDULE_TO_START_LATENCY, ACTIVITY_EXECUTION_FAILED,
        STICKY_CACHE_HIT, STICKY_CACHE_MISS, STICKY_CACHE_SIZE, NUM_POLLERS, WORKER_TASK_SLOTS_AVAILABLE,
        APPROXIMATE_BACKLOG_COUNT, APPROXIMATE_BACKLOG_AGE_SECONDS, POLL_SUCCESS, POLL_SUCCESS_SYNC, POLL_TIMEOUTS,
        SERVICE_REQUESTS, SERVICE_ERRORS, SERVICE_LATENCY, PERSISTENCE_LATENCY,
        POOL_REPLICAS, POOL_GPUS, BACKLOG_BY_LABEL,
    )
}


class _Noop:
    """Stands in for a Ray metric where Ray is not initialized."""

    def inc(self, value: float = 1.0, tags: Mapping[str, str] | None = None) -> None:
        pass

    def observe(self, value: float, tags: Mapping[str, str] | None = None) -> None:
        pass

    def set(self, value: float, tags: Mapping[str, str] | None = None) -> None:
        pass


_NOOP = _Noop()


class Metrics:
    """Ray metric handles for one process, created on first use of each metric.

    Ray keeps one registry per process, so this is the process's view of it: ``Metrics.of_process()`` returns
    the one instance (a cache of handles, holding no engine state). Tags missing from a call are an error in
    Ray; callers pass every label of the definition.
    """

    _process: Metrics | None = None

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}

    @classmethod
    def of_process(cls) -> Metrics:
        """The handles of this process (created on first call)."""
        if cls._process is None:
            cls._process = cls()
        return cls._process

    def _handle(self, metric: MetricDef) -> Any:
        handle = self._handles.get(metric.name)
        if handle is not None:
            return handle
        import ray

        if not ray.is_initialized():
            return _NOOP  # not cached: Ray may start later in this process
        from ray.util import metrics as ray_metrics

        if metric.kind == COUNTER:
            handle = ray_metrics.Counter(metric.name, description=metric.description, tag_keys=metric.labels)
        elif metric.kind == GAUGE:
            handle = ray_metrics.Gauge(metric.name, description=metric.description, tag_keys=metric.labels)
        else:
            handle = ray_metrics.Histogram(
                metric.name, description=metric.description, boundaries=list(metric.boundaries),
                tag_keys=metric.labels,
            )
        self._handles[metric.name] = handle
        return handle

    def inc(self, metric: MetricDef, tags: Mapping[str, str], value: float = 1.0) -> None:
        """Add ``value`` to a counter."""
        if value:
            self._handle(metric).inc(value, tags)

    def observe(self, metric: MetricDef, value: float, tags: Mapping[str, str]) -> None:
        """Record one value of a histogram (in the metric's unit)."""
        self._handle(metric).observe(value, tags)

    def observe_many(self, metric: MetricDef, values: Sequence[float], tags: Mapping[str, str]) -> None:
        """Record several values of a histogram under the same tags."""
        handle = self._handle(metric)
        for value in values:
            handle.observe(value, tags)

    def set(self, metric: MetricDef, value: float, tags: Mapping[str, str]) -> None:
        """Set a gauge."""
        self._handle(metric).set(value, tags)


def process_metrics() -> Metrics:
    """Shorthand for :meth:`Metrics.of_process`."""
    return Metrics.of_process()


def gauge_period_s() -> float:
    """How often gauges are set again: half of Ray's metrics report interval (at least 1 s, as Ray floors it).

    Ray exports a gauge only while it is set within its last two report intervals (a dead process's gauges age
    out this way), so a gauge that does not change must still be set again on a timer.
    """
    try:
        import ray

        interval_ms = ray._config.metrics_report_interval_ms()  # noqa: SLF001 - Ray's own setting
    except Exception:
        interval_ms = 10_000
    return max(interval_ms, 1000) / 2000


Sample = Iterable[tuple[MetricDef, Mapping[str, str], float]]


class GaugeSampler:
    """Sets gauges (and adds counts) from ``sample()`` every :func:`gauge_period_s` on the running event loop.

    The values are read on the loop of the object that owns them (no locks, no per-task gauge calls); a series
    ``sample`` stops yielding disappears from Prometheus after two report intervals.
    """

    def __init__(self, sample: Callable[[], Sample], metrics: Metrics | None = None) -> None:
        self._sample = sample
        self._metrics = metrics or process_metrics()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling (idempotent); needs a running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def sample_now(self) -> None:
        """Set every gauge once now (a counter ``sample`` yields is increased by its value: counts gathered
        since the last sample)."""
        try:
            for metric, tags, value in self._sample():
                if metric.kind == COUNTER:
                    self._metrics.inc(metric, tags, value)
                else:
                    self._metrics.set(metric, value, tags)
        except Exception:  # a metric must never break what it measures
            logger.debug("gauge sampling failed", exc_info=True)

    async def _run(self) -> None:
        period = gauge_period_s()
        while True:
            self.sample_now()
            await asyncio.sleep(period)


class ServiceMetrics:
    """``service_requests``, ``service_errors`` and ``service_latency`` of one service process, by operation.

    The latency goes to Ray per request (one call, ~3.5 us); the counts are added up here and handed to Ray
    on the sampler's timer, so a request costs one Ray call, not three. Nothing is recorded where Ray is not
    initialized.

    Args:
        service_name: Temporal's ``service_name`` label: ``frontend``, ``history`` or ``matching``.
    """

    def __init__(self, service_name: str) -> None:
        self._service = service_name
        self._tags: dict[str, dict[str, str]] = {}
        self._counts: dict[str, list[int]] = {}  # operation -> [requests, errors] since the last sample
        self._sampler: GaugeSampler | None = None
        self._enabled: bool | None = None

    def record(self, operation: str, started: float, *, error: bool = False) -> None:
        """One request of ``operation`` that began at ``time.perf_counter()`` value ``started``."""
        if self._enabled is None:
            self._start()
        if not self._enabled:
            return
        tags = self._tags.get(operation)
        if tags is None:
            tags = self._tags[operation] = {"service_name": self._service, "operation": operation}
            self._counts[operation] = [0, 0]
        process_metrics().observe(SERVICE_LATENCY, time.perf_counter() - started, tags)
        counts = self._counts[operation]
        counts[0] += 1
        if error:
            counts[1] += 1

    def _start(self) -> None:
        import ray

        self._enabled = ray.is_initialized()
        if self._enabled:
            self._sampler = GaugeSampler(self._drain)
            self._sampler.start()

    def _drain(self) -> Sample:
        for operation, counts in self._counts.items():
            requests, errors = counts
            counts[0] = counts[1] = 0
            tags = self._tags[operation]
            if requests:
                yield SERVICE_REQUESTS, tags, requests
            if errors:
                yield SERVICE_ERRORS, tags, errors

    def stop(self) -> None:
        """Hand the counts gathered so far to Ray and stop the timer."""
        if self._sampler is not None:
            self._sampler.sample_now()
            self._sampler.stop()


class PersistenceLatency:
    """``persistence_latency`` by store operation (one Ray call per store call, ~3.5 us next to a query)."""

    def __init__(self) -> None:
        self._tags: dict[str, dict[str, str]] = {}

    def record(self, operation: str, started: float) -> None:
        """A store call of ``operation`` that began at ``time.perf_counter()`` value ``started`` succeeded."""
        tags = self._tags.get(operation)
        if tags is None:
            tags = self._tags[operation] = {"operation": operation}
        process_metrics().observe(PERSISTENCE_LATENCY, time.perf_counter() - started, tags)
