"""Worker: a pool of WorkerReplica actors serving one task queue, pinned to Ray resources."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import ray

from rayflow import activity, constants, workflow
from rayflow.worker.replica import ReplicaSpec, WorkerReplica

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
        sticky_queue_schedule_to_start_timeout: after this, a task waiting on a replica's sticky queue
            goes back to the normal queue (default 10 s).
        graceful_shutdown_timeout: how long ``shutdown()`` waits for running tasks (default 10 s).
        placement_timeout: how long to wait for Ray to place the replicas before failing (default 60 s).
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
        sticky_queue_schedule_to_start_timeout: timedelta = constants.DEFAULT_STICKY_SCHEDULE_TO_START_TIMEOUT,
        graceful_shutdown_timeout: timedelta = timedelta(seconds=constants.DEFAULT_GRACEFUL_SHUTDOWN_S),
        placement_timeout: timedelta = timedelta(seconds=constants.DEFAULT_PLACEMENT_TIMEOUT_S),
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
        _check_definitions(workflows, activities)
        _ship_user_code_by_value([*workflows, *activities])
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
            sticky_schedule_to_start_timeout=sticky_queue_schedule_to_start_timeout,
            data_converter=client.data_converter,
        )
        self._actors: list[Any] = []
        self._identities: list[str] = []
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

    async def start(self) -> None:
        """Create the replicas and start polling; fails if Ray cannot place them in time."""
        if self._started:
            return
        self._started = True
        options = {"max_concurrency": 100_000, **self._ray_actor_options}
        for index in range(self._replicas):
            spec = ReplicaSpec(**{**self._spec.__dict__, "index": index})
            self._actors.append(_ReplicaActor.options(**options).remote(spec))
        try:
            infos = await asyncio.wait_for(
                asyncio.gather(*(actor.start.remote() for actor in self._actors)), timeout=self._placement_s
            )
        except TimeoutError:
            await self._kill()
            raise RuntimeError(
                f"Worker on task queue {self.task_queue!r}: Ray could not place {self._replicas} replica(s) with "
                f"options {self._ray_actor_options} within {self._placement_s:.0f} s; no node has the requested "
                f"resources or labels. Check `ray status` or lower the request."
            ) from None
        self._identities = [info["identity"] for info in infos]

    async def run(self) -> None:
        """Start, then serve until ``shutdown()`` is called."""
        await self.start()
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop polling, let running tasks finish (up to the graceful timeout), then remove the replicas."""
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
