"""Worker: a pool of WorkerReplica actors serving one task queue, pinned to Ray resources."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import ray

from rayflow import activity, constants, workflow
from rayflow._definition import exception_types
from rayflow.exceptions import WorkerPlacementError
from rayflow.worker._interceptor import worker_interceptors
from rayflow.worker.labels import placement_problems, pool_labels
from rayflow.worker.replica import ReplicaSpec, WorkerReplica
from rayflow.worker.versioning import RetireWatch, WorkerDeploymentConfig, version_options

if TYPE_CHECKING:
    from rayflow.client import Client

logger = logging.getLogger(__name__)

_ReplicaActor = ray.remote(WorkerReplica)


class Worker:
    """Runs workflows and activities of one task queue in ``replicas`` Ray actors.

    Args:
        client: the connected ``Client`` (gives the service and the data converter).
        task_queue: the task queue to poll.
        workflows: classes decorated with ``@workflow.defn``.
        activities: functions decorated with ``@activity.defn`` (sync ones run in a thread pool).
        replicas: number of ``WorkerReplica`` actors (default 1).
        ray_actor_options: Ray options of each replica (``num_cpus``, ``num_gpus``, ``resources``,
            ``accelerator_type``, ``label_selector``, ``runtime_env``, ...).
        identity: worker identity, or a template using ``{pid}``, ``{hostname}``, ``{replica}``,
            ``{node_id}``, ``{node_ip}``, ``{actor_id}``; default ``pid@hostname`` of each replica.
        max_concurrent_activities: activity slots per replica (default 100).
        max_concurrent_workflow_tasks: workflow task slots per replica (default 100).
        max_cached_workflows: running workflows kept per replica (default 1000; 0 = replay every task).
        max_concurrent_sessions: worker sessions (``workflow.session()``) open at once per replica
            (default 1000); a full replica leaves new sessions to the others.
        sticky_queue_schedule_to_start_timeout: after this, a task waiting on a replica's sticky queue
            goes back to the normal queue (default 10 s).
        graceful_shutdown_timeout: how long ``shutdown()`` waits for running tasks (default 10 s).
        placement_timeout: how long to wait for Ray to place the replicas before failing with a
            ``WorkerPlacementError`` that names the missing resource or label (default 60 s).
        labels: labels this pool advertises besides those implied by its Ray options (``gpu`` when
            ``num_gpus > 0``, ``gpu:<type>`` for an accelerator type, each custom resource name);
            ``{"k": "v"}`` is advertised as ``k`` and ``k:v``. An activity with a ``resource_label`` runs
            only on a pool advertising that label.
        accept_unlabelled: whether this pool also runs activities that need no label (default True; False
            keeps expensive replicas, e.g. GPU ones, for the work that needs them).
        max_activities_per_second: activities each replica starts per second at most, even with free slots
            (default: no limit).
        max_task_queue_activities_per_second: activities the whole task queue starts per second at most,
            across all pools on it, enforced by Matching: tasks beyond it wait in the queue's backlog. The
            last value set (by any pool) wins and is kept by the service (default: leave it as it is).
            Replicas with a limit do not start activities eagerly.
        workflow_failure_exception_types: exception types that fail the workflow (an update handler's: the
            update) instead of only the workflow task, for every workflow of this worker, besides those of
            ``@workflow.defn(failure_exception_types=...)``; subclasses count (default none: as in Temporal,
            only a ``FailureError`` such as ``ApplicationError`` fails the workflow, any other exception is a
            bug that fails the workflow task, retried until fixed code is deployed). Listing
            ``NondeterminismError`` (or ``Exception``) makes nondeterminism fail the workflow too.
        build_id: this worker's build id, recorded on each workflow task it completes (Temporal's
            ``binary_checksum``); with ``use_worker_versioning=True`` it also routes: the pool gets only the
            tasks that the task queue's version sets send to this build id (see
            ``client.update_worker_build_id_compatibility``).
        use_worker_versioning: poll as a versioned worker (default False).
        deployment_config: instead of build ids, be one version of a worker deployment
            (``WorkerDeploymentConfig(version=WorkerDeploymentVersion(name, build_id))``).
        retire_when_drained: once this pool's version was reachable and no longer is (not the default or
            current version, no open workflow that can still run on it), stop polling, finish the tasks that
            run, and remove the replicas, freeing their resources; ``run()`` then returns and ``retired`` is
            True. Needs ``use_worker_versioning`` or a ``deployment_config``.
        retire_check_interval: how often a ``retire_when_drained`` pool checks (default 5 s).
        interceptors: ``rayflow.worker.Interceptor`` objects around this worker's activities and workflows, after
            those of ``client`` that are worker interceptors too (e.g. ``TracingInterceptor``, given once to
            ``Client.connect``). They are pickled to the replicas: workflow interceptors run on the workflows'
            deterministic loops, in replay too.
        replica_setup: a picklable function called with no arguments once in each replica's process when it
            starts, before any task runs: e.g. to install that process's OpenTelemetry tracer provider and
            exporter (``opentelemetry.trace.set_tracer_provider``), which tracing interceptors there look up.

    A replica that dies is replaced by a new one with the same index; the tasks it was running are
    retried by the service after their timeouts.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        workflows: Sequence[type] = (),
        activities: Sequence[Callable[..., Any]] = (),
        replicas: int = 1,
        ray_actor_options: dict[str, Any] | None = None,
        identity: str | None = None,
        max_concurrent_activities: int = 100,
        max_concurrent_workflow_tasks: int = 100,
        max_cached_workflows: int = 1000,
        max_concurrent_sessions: int = 1000,
        sticky_queue_schedule_to_start_timeout: timedelta = constants.DEFAULT_STICKY_SCHEDULE_TO_START_TIMEOUT,
        graceful_shutdown_timeout: timedelta = timedelta(seconds=constants.DEFAULT_GRACEFUL_SHUTDOWN_S),
        placement_timeout: timedelta = timedelta(seconds=constants.DEFAULT_PLACEMENT_TIMEOUT_S),
        labels: dict[str, str] | None = None,
        accept_unlabelled: bool = True,
        max_activities_per_second: float | None = None,
        max_task_queue_activities_per_second: float | None = None,
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        build_id: str | None = None,
        use_worker_versioning: bool = False,
        deployment_config: WorkerDeploymentConfig | None = None,
        retire_when_drained: bool = False,
        retire_check_interval: timedelta = timedelta(seconds=5),
        interceptors: Sequence[Any] = (),
        replica_setup: Callable[[], Any] | None = None,
    ) -> None:
        if not task_queue:
            raise ValueError("Worker: task_queue is required")
        if not workflows and not activities:
            raise ValueError("Worker: give at least one workflow class or activity function")
        if replicas < 1:
            raise ValueError(f"Worker: replicas must be >= 1, got {replicas}")
        if max_concurrent_activities < 1 or max_concurrent_workflow_tasks < 1:
            raise ValueError("Worker: max_concurrent_activities and max_concurrent_workflow_tasks must be >= 1")
        if max_cached_workflows < 0:
            raise ValueError("Worker: max_cached_workflows must be >= 0")
        if max_concurrent_sessions < 1:
            raise ValueError(f"Worker: max_concurrent_sessions must be >= 1, got {max_concurrent_sessions}")
        if max_activities_per_second is not None and not max_activities_per_second > 0:
            raise ValueError(f"Worker: max_activities_per_second must be > 0, got {max_activities_per_second}")
        if max_task_queue_activities_per_second is not None and not max_task_queue_activities_per_second > 0:
            raise ValueError(
                f"Worker: max_task_queue_activities_per_second must be > 0, got {max_task_queue_activities_per_second}"
            )
        failure_types = exception_types(workflow_failure_exception_types, "Worker(workflow_failure_exception_types=...)")
        advertised = pool_labels(ray_actor_options, labels)
        _check_definitions(workflows, activities)
        versions = version_options(workflows, build_id, use_worker_versioning, deployment_config)
        if retire_when_drained and not versions.use_versioning:
            raise ValueError("Worker: retire_when_drained needs a versioned worker (use_worker_versioning=True with "
                             "a build_id, or a deployment_config)")
        all_interceptors = worker_interceptors(client.interceptors, interceptors)
        if replica_setup is not None and not callable(replica_setup):
            raise TypeError(f"Worker: replica_setup must be a function, got {replica_setup!r}")
        _ship_user_code_by_value([*workflows, *activities, *failure_types, *map(type, all_interceptors),
                                  *([replica_setup] if replica_setup is not None else [])])
        self._client = client
        self._replicas = replicas
        self._ray_actor_options = dict(ray_actor_options or {})
        self._graceful_s = graceful_shutdown_timeout.total_seconds()
        self._placement_s = placement_timeout.total_seconds()
        self._spec = ReplicaSpec(
            config=client.service_config,
            namespace=client.namespace,
            task_queue=task_queue,
            workflows=list(workflows),
            activities=list(activities),
            identity=identity,
            max_concurrent_activities=max_concurrent_activities,
            max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
            max_cached_workflows=max_cached_workflows,
            max_concurrent_sessions=max_concurrent_sessions,
            sticky_schedule_to_start_timeout=sticky_queue_schedule_to_start_timeout,
            data_converter=client.data_converter,
            labels=advertised,
            accept_unlabelled=accept_unlabelled,
            max_activities_per_second=max_activities_per_second,
            max_task_queue_activities_per_second=max_task_queue_activities_per_second,
            task_queue_rate_limit_set_at=time.time(),
            workflow_failure_exception_types=failure_types,
            versions=versions,
            interceptors=all_interceptors,
            replica_setup=replica_setup,
        )
        self._retire_watch = (RetireWatch(client, task_queue, versions, retire_check_interval.total_seconds(),
                                          self._retire) if retire_when_drained else None)
        self._retire_task: asyncio.Task[None] | None = None
        self.retired = False
        self._actors: list[Any] = []
        self._identities: list[str] = []
        self._infos: list[dict[str, Any]] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        self._started = False

    @property
    def task_queue(self) -> str:
        return self._spec.task_queue

    @property
    def replica_handles(self) -> list[Any]:
        """The replica actors (for tests and operations, e.g. to kill one)."""
        return list(self._actors)

    @property
    def identities(self) -> list[str]:
        return list(self._identities)

    @property
    def labels(self) -> list[str]:
        """The labels this pool advertises on its activity polls."""
        return list(self._spec.labels)

    @property
    def replica_infos(self) -> list[dict[str, Any]]:
        """Per replica: ``index``, ``identity``, ``pid``, ``node_id``, ``node_ip``, ``actor_id``."""
        return [dict(info) for info in self._infos]

    async def start(self) -> None:
        """Create the replicas and start polling; fails if Ray cannot place them in time."""
        if self._started:
            return
        self._started = True
        self._actors = [self._create_replica(index) for index in range(self._replicas)]
        starts = [asyncio.ensure_future(actor.start.remote()) for actor in self._actors]
        done, pending = await asyncio.wait(starts, timeout=self._placement_s)
        if pending:
            for future in pending:
                future.cancel()
            await self._kill()
            raise WorkerPlacementError(self._placement_message(self._replicas - len(pending))) from None
        try:
            infos = [future.result() for future in starts]
        except BaseException:
            await self._kill()
            raise
        self._infos = infos
        self._identities = [info["identity"] for info in infos]
        self._watchers = [
            asyncio.ensure_future(self._watch(index, actor)) for index, actor in enumerate(self._actors)
        ]
        if self._retire_watch is not None:
            self._retire_task = asyncio.ensure_future(self._retire_watch.run())

    async def _retire(self) -> None:
        """The version is drained: shut the pool down (finishing what runs) and say so."""
        self._retire_task = None  # shutdown() must not cancel the task that runs it
        await self.shutdown()
        self.retired = True  # once its replicas are gone

    def _create_replica(self, index: int) -> Any:
        options = {"max_concurrency": 100_000, **self._ray_actor_options}
        spec = ReplicaSpec(**{**self._spec.__dict__, "index": index})
        return _ReplicaActor.options(**options).remote(spec)

    def _placement_message(self, placed: int) -> str:
        try:
            problems = placement_problems(self._ray_actor_options, ray.nodes(), self._replicas)
        except Exception as err:  # never hide the timeout behind a failed diagnosis
            problems = [f"(could not read the cluster's nodes: {err})"]
        reason = "; ".join(problems) or (
            "the nodes that could hold them have no free capacity now (other actors hold their resources); "
            f"available: {ray.available_resources()}"
        )
        return (
            f"Worker on task queue {self.task_queue!r}: Ray placed {placed} of {self._replicas} replica(s) with "
            f"options {self._ray_actor_options} within {self._placement_s:g} s: {reason}. Check `ray status`, "
            f"add such a node, lower the request or raise placement_timeout."
        )

    async def _watch(self, index: int, actor: Any) -> None:
        """Replace replica ``index`` when it dies (unless the worker is shutting down)."""
        while not self._stopping:
            try:
                await actor.wait_until_dead.remote()
            except asyncio.CancelledError:
                raise
            except ray.exceptions.ActorUnavailableError:
                # Ray is restarting it (max_restarts in ray_actor_options): its state is gone, start it again.
                await asyncio.sleep(0.5)
                try:
                    await actor.start.remote()
                except Exception:
                    logger.info("replica %d of %s did not restart; will check again", index, self.task_queue)
                continue
            except Exception as err:
                if self._stopping:
                    return
                logger.warning("replica %d of task queue %s died (%s); replacing it", index, self.task_queue,
                               type(err).__name__)
                actor = await self._replace(index)
                if actor is None:
                    return
                continue
            return  # wait_until_dead never returns normally

    async def _replace(self, index: int) -> Any:
        """A new, started replica in slot ``index``; retried until it starts or the worker stops."""
        delay = 1.0
        while not self._stopping:
            actor = self._create_replica(index)
            if self._actors[index:index + 1]:
                self._actors[index] = actor
            try:
                info = await asyncio.wait_for(actor.start.remote(), timeout=self._placement_s)
            except asyncio.CancelledError:
                ray.kill(actor, no_restart=True)
                raise
            except Exception as err:
                logger.warning("replacement of replica %d of %s failed to start: %s; retrying in %.0f s",
                               index, self.task_queue, str(err) or type(err).__name__, delay)
                ray.kill(actor, no_restart=True)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 30.0)
                continue
            if self._stopping:
                ray.kill(actor, no_restart=True)
                return None
            if index < len(self._infos):
                self._infos[index] = info
                self._identities[index] = info["identity"]
            return actor
        return None

    async def run(self) -> None:
        """Start, then serve until ``shutdown()`` is called."""
        await self.start()
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop polling, let running tasks finish (up to the graceful timeout), then remove the replicas."""
        self._stopping = True
        if self._retire_task is not None:
            self._retire_task.cancel()
            self._retire_task = None
        for watcher in self._watchers:
            watcher.cancel()
        self._watchers = []
        if not self._actors:
            self._stopped.set()
            return
        results = await asyncio.gather(
            *(actor.stop.remote(self._graceful_s) for actor in self._actors), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ray.exceptions.RayActorError):
                logger.warning("replica stop failed: %s", result)
        await self._kill()
        self._stopped.set()

    async def _kill(self) -> None:
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


def _check_definitions(workflows: Sequence[type], activities: Sequence[Callable[..., Any]]) -> None:
    names: set[str] = set()
    for cls in workflows:
        try:
            definition = workflow.get_definition(cls) if isinstance(cls, type) else None
        except ValueError:
            definition = None
        if definition is None:
            raise TypeError(f"Worker: {cls!r} is not a workflow class; decorate it with @workflow.defn")
        if definition.name in names:
            raise ValueError(f"Worker: two workflows are named {definition.name!r}")
        names.add(definition.name)
    names = set()
    for fn in activities:
        definition = activity.get_definition(fn)
        if definition is None:
            raise TypeError(f"Worker: {fn!r} is not an activity; decorate it with @activity.defn")
        if definition.name in names:
            raise ValueError(f"Worker: two activities are named {definition.name!r}")
        names.add(definition.name)


def _ship_user_code_by_value(objects: Sequence[Any]) -> None:
    """Pickle the user's own modules by value, so replicas (other processes, maybe other nodes) need not
    import them: scripts and test files are rarely on the workers' ``sys.path``. Installed packages stay
    by reference."""
    import cloudpickle
    from ray import cloudpickle as ray_cloudpickle

    installed = {os.path.realpath(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                                                sysconfig.get_paths()["stdlib"])}
    for obj in objects:
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        path = getattr(module, "__file__", None)
        if module is None or module.__name__ == "__main__" or path is None:
            continue  # __main__ is pickled by value anyway
        real = os.path.realpath(path)
        if any(real.startswith(prefix + os.sep) for prefix in installed) or module.__name__.startswith("rayflow."):
            continue
        for pickler in (cloudpickle, ray_cloudpickle):
            pickler.register_pickle_by_value(module)
