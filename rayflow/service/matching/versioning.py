"""What a Matching actor knows of worker versioning, and where each task may go (internal).

Two kinds of records, kept in the store's cluster metadata: per task queue its build-id version sets and the
worker deployment it belongs to (``QueueVersioning``), and per worker deployment its versions and routing
(``Deployment``). Matching actor 0 is their one writer: every change goes to it, it writes the store, then
pushes the new record to the other Matching actors. Each actor reads a record from the store the first time it
needs it and again now and then (``refresh``), so a restarted or a missed actor routes as the others do.

Routing: a task's ``version_directive`` (set by its history shard) resolves, against the records of its
workflow's own queue, to a *target*: ``""`` (unversioned workers), ``"b:<build id>"`` (workers of that build id
with ``use_worker_versioning``) or ``"d:<deployment>.<build id>"`` (that worker deployment version). A poller
has one target (``Poller.target``), fixed by how its worker was built; a partition hands a task only to a poller of its target.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayflow.exceptions import VersioningError
from rayflow.service._ray_calls import call
from rayflow.service.config import ServiceConfig
from rayflow.service.matching.deployments import Deployment
from rayflow.service.matching.version_sets import VersioningLimits, VersionSets, apply_operation

if TYPE_CHECKING:
    from rayflow.persistence.store import Store
    from rayflow.proto.rayflow.v1.internal_pb2 import MatchingTask
    from rayflow.service.matching.client import MatchingClient
    from rayflow.service.matching.partition import Poller

logger = logging.getLogger(__name__)

OWNER = 0  # the Matching actor that writes versioning records
UNVERSIONED = ""


def queue_key(namespace: str, task_queue: str) -> str:
    return f"versioning/queue/{quote(namespace, safe='')}/{task_queue}"


def deployment_key(namespace: str, name: str) -> str:
    return f"versioning/deployment/{quote(namespace, safe='')}/{name}"


def deployments_key(namespace: str) -> str:
    return f"versioning/deployments/{quote(namespace, safe='')}"


@dataclass(frozen=True)
class QueueVersioning:
    """A task queue's version sets and the worker deployment it belongs to ("" none)."""

    sets: VersionSets = field(default_factory=VersionSets)
    deployment: str = ""
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"sets": self.sets.to_dict(), "deployment": self.deployment, "revision": self.revision}

    @staticmethod
    def from_dict(data: dict[str, Any] | None) -> QueueVersioning:
        if not data:
            return QueueVersioning()
        return QueueVersioning(VersionSets.from_dict(data.get("sets")), str(data.get("deployment", "")),
                               int(data.get("revision", 0)))


class VersioningRegistry:
    """One Matching actor's copy of the versioning records, and (on actor 0) the writer of them.

    Args:
        config: the service layout (and the versioning limits).
        index: this Matching actor's index.
        client: reaches the other Matching actors.
        store: gives the store (None: keep records in memory only, for tests of matching alone).
        on_change: called after a record changed here (the engine re-routes its backlog).
    """

    def __init__(self, config: ServiceConfig, index: int, client: MatchingClient,
                 store: Callable[[], Store | None], on_change: Callable[[], None]) -> None:
        self._config = config
        self._index = index
        self._client = client
        self._store = store
        self._on_change = on_change
        self.limits = VersioningLimits(config.max_build_ids_per_queue, config.max_version_sets_per_queue,
                                       config.max_build_id_length)
        self._queues: dict[tuple[str, str], QueueVersioning] = {}
        self._deployments: dict[tuple[str, str], Deployment] = {}
        self._loading: dict[tuple[str, str, str], asyncio.Future[None] | None] = {}  # None: loaded
        self._registered: set[tuple[str, ...]] = set()
        self._write_lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    # -- reading ---------------------------------------------------------------------------------
    def queue(self, namespace: str, task_queue: str) -> QueueVersioning:
        return self._queues.get((namespace, task_queue)) or QueueVersioning()

    def deployment(self, namespace: str, name: str) -> Deployment | None:
        return self._deployments.get((namespace, name))

    async def ready(self, namespace: str, task_queue: str) -> None:
        """Load the queue's record (and its deployment's) the first time this actor needs them."""
        await self._load("queue", namespace, task_queue)
        name = self.queue(namespace, task_queue).deployment
        if name:
            await self._load("deployment", namespace, name)

    async def _load(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        if key not in self._loading:
            self._loading[key] = asyncio.ensure_future(self._read(kind, namespace, name))
        loading = self._loading[key]
        if loading is not None:
            await asyncio.shield(loading)

    async def _read(self, kind: str, namespace: str, name: str) -> None:
        store = self._store()
        try:
            if store is not None:
                data = await store.get_metadata(queue_key(namespace, name) if kind == "queue"
                                                else deployment_key(namespace, name))
                self._apply(kind, namespace, name, json.loads(data) if data else None)
            self._loading[(kind, namespace, name)] = None
        except Exception:
            logger.warning("matching: reading the versioning of %s %s/%s failed; will retry", kind, namespace,
                           name, exc_info=True)
            del self._loading[(kind, namespace, name)]

    def _apply(self, kind: str, namespace: str, name: str, data: dict[str, Any] | None) -> bool:
        """Take a record read or pushed, if newer than the one held; True if it changed."""
        if data is None:
            return False
        if kind == "queue":
            new_queue = QueueVersioning.from_dict(data)
            old_queue = self._queues.get((namespace, name))
            if old_queue is not None and old_queue.revision >= new_queue.revision:
                return False
            self._queues[(namespace, name)] = new_queue
        else:
            new = Deployment.from_dict(data)
            old = self._deployments.get((namespace, name))
            if old is not None and old.revision >= new.revision:
                return False
            self._deployments[(namespace, name)] = new
        return True

    def pushed(self, kind: str, namespace: str, name: str, data: dict[str, Any]) -> None:
        """Actor 0 changed a record: take it and re-route."""
        if self._apply(kind, namespace, name, data):
            self._loading[(kind, namespace, name)] = None
            self._on_change()

    def refresh(self) -> None:
        """Read every record held again (in the background): catches a push this actor missed."""
        if self._store() is None or self._index == OWNER:
            return
        for kind, namespace, name in [key for key, loading in self._loading.items() if loading is None]:
            self._spawn(self._refresh_one(kind, namespace, name))

    async def _refresh_one(self, kind: str, namespace: str, name: str) -> None:
        store = self._store()
        try:
            data = await store.get_metadata(queue_key(namespace, name) if kind == "queue"  # type: ignore[union-attr]
                                            else deployment_key(namespace, name))
        except Exception:
            return
        if self._apply(kind, namespace, name, json.loads(data) if data else None):
            self._on_change()

    # -- routing ---------------------------------------------------------------------------------
    def resolve(self, task: MatchingTask) -> str:
        """The target of a task (see the module doc); records not loaded yet count as empty."""
        directive = task.version_directive
        if not directive:
            return UNVERSIONED
        if directive.startswith("pinned:"):
            return "d:" + directive.removeprefix("pinned:")
        queue = self.queue(task.namespace, task.normal_task_queue or task.task_queue)
        if directive == "default" and queue.deployment:
            deployment = self.deployment(task.namespace, queue.deployment)
            build_id = deployment.target_build_id(task.workflow_id) if deployment is not None else ""
            return f"d:{queue.deployment}.{build_id}" if build_id else UNVERSIONED
        if directive == "default":
            default = queue.sets.default_build_id()
            return f"b:{default}" if default else UNVERSIONED
        if directive.startswith("compat:"):
            build_id = directive.removeprefix("compat:")
            return f"b:{queue.sets.set_default(build_id) or build_id}"
        return UNVERSIONED

    def why_idle(self, namespace: str, task_queue: str, poller: Poller) -> str:
        """Why a poller of this queue gets no new tasks ("" when it may): for ``describe_task_queue``."""
        queue = self.queue(namespace, task_queue)
        target = poller.target
        if target == UNVERSIONED:
            if queue.sets.sets:
                return (f"unversioned worker on a versioned queue: it gets only tasks of workflows that started "
                        f"before the queue's first version (new ones go to build id "
                        f"{queue.sets.default_build_id()!r})")
            return ""
        if target.startswith("d:"):
            deployment = self.deployment(namespace, poller.deployment_name)
            status = deployment.status(poller.build_id) if deployment is not None else "INACTIVE"
            if status in ("CURRENT", "RAMPING"):
                return ""
            return (f"version {poller.deployment_name}.{poller.build_id} is {status}: it gets only tasks of "
                    f"workflows pinned to it (set_worker_deployment_current_version makes it current)")
        if not queue.sets.sets:
            return (f"versioned worker (build id {poller.build_id!r}) on a queue without versions: it gets no "
                    f"tasks until update_worker_build_id_compatibility adds its build id")
        default = queue.sets.set_default(poller.build_id)
        if default is None:
            return (f"build id {poller.build_id!r} is not in this queue's version sets: it gets no tasks "
                    f"(add it with update_worker_build_id_compatibility)")
        if default != poller.build_id:
            return (f"build id {poller.build_id!r} is not the default of its compatible set: its set's tasks go "
                    f"to {default!r}")
        return ""

    def learn(self, namespace: str, task_queue: str, task_queue_type: int, poller: Poller) -> None:
        """A deployment version's poll registers the version (with this queue) once."""
        if not (poller.use_versioning and poller.deployment_name) or task_queue.startswith("/"):
            return
        key = (namespace, poller.deployment_name, poller.build_id, task_queue, str(task_queue_type))
        if key in self._registered:
            return
        self._registered.add(key)
        self._spawn(self._register(key))

    async def _register(self, key: tuple[str, ...]) -> None:
        namespace, name, build_id, task_queue, queue_type = key
        try:
            await self.operate("register_version", {"namespace": namespace, "deployment_name": name,
                                                    "build_id": build_id, "task_queue": task_queue,
                                                    "task_queue_type": int(queue_type)})
        except Exception:
            logger.warning("matching: registering version %s.%s failed; the next poll retries", name, build_id,
                           exc_info=True)
            self._registered.discard(key)

    # -- changes (actor 0) -----------------------------------------------------------------------
    async def operate(self, operation: str, args: dict[str, Any]) -> Any:
        """Run a versioning operation on actor 0 (from here, or by an actor call to it)."""
        if self._index != OWNER:
            return await call(self._client.handle(OWNER).versioning.remote(operation, args),
                              f"worker versioning: {operation}")
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise VersioningError(f"unknown worker versioning operation {operation!r}")
        namespace = str(args.get("namespace") or "default")
        async with self._write_lock:
            return await handler(namespace, args)

    async def _op_get_build_ids(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        await self.ready(namespace, _required(args, "task_queue"))
        return self.queue(namespace, args["task_queue"]).sets.to_dict()

    async def _op_update_build_ids(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        task_queue = _required(args, "task_queue")
        await self.ready(namespace, task_queue)
        queue = self.queue(namespace, task_queue)
        if queue.deployment:
            raise VersioningError(
                f"task queue {task_queue!r} belongs to worker deployment {queue.deployment!r}; its routing is set "
                f"with set_worker_deployment_current_version, not build-id version sets"
            )
        sets = apply_operation(queue.sets, dict(args.get("operation") or {}), self.limits)
        if sets is not queue.sets:
            await self._save_queue(namespace, task_queue, replace(queue, sets=sets, revision=queue.revision + 1))
        return sets.to_dict()

    async def _op_register_version(self, namespace: str, args: dict[str, Any]) -> None:
        name, task_queue = _required(args, "deployment_name"), _required(args, "task_queue")
        await self.ready(namespace, task_queue)
        deployment = await self._deployment(namespace, name)
        if deployment is None:
            await self._add_to_index(namespace, name)
            deployment = Deployment(name)
        updated = deployment.register(_required(args, "build_id"), task_queue, int(args.get("task_queue_type", 0)))
        if updated is not deployment:
            await self._save_deployment(namespace, updated)
        queue = self.queue(namespace, task_queue)
        if queue.deployment != name:
            if queue.deployment:
                logger.warning("matching: task queue %s moves from deployment %s to %s", task_queue,
                               queue.deployment, name)
            await self._save_queue(namespace, task_queue, replace(queue, deployment=name, revision=queue.revision + 1))

    async def _op_set_current(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        deployment = await self._existing(namespace, _required(args, "deployment_name"))
        previous = deployment.current_build_id
        updated = deployment.set_current(str(args.get("build_id") or ""))
        if updated is not deployment:
            await self._save_deployment(namespace, updated)
        return {"previous_build_id": previous, "deployment": updated.to_dict()}

    async def _op_set_ramping(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        deployment = await self._existing(namespace, _required(args, "deployment_name"))
        previous = (deployment.ramping_build_id, deployment.ramping_percentage)
        updated = deployment.set_ramping(str(args.get("build_id") or ""), float(args.get("percentage") or 0.0))
        if updated is not deployment:
            await self._save_deployment(namespace, updated)
        return {"previous_build_id": previous[0], "previous_percentage": previous[1], "deployment": updated.to_dict()}

    async def _op_record_drainage(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        deployment = await self._existing(namespace, _required(args, "deployment_name"))
        updated = deployment
        for build_id, drainage in dict(args.get("drainage") or {}).items():
            if deployment.status(build_id) in ("DRAINING", "DRAINED"):
                updated = updated.with_drainage(build_id, drainage)
        if updated is not deployment:
            await self._save_deployment(namespace, updated)
        return updated.to_dict()

    async def _op_describe_deployment(self, namespace: str, args: dict[str, Any]) -> dict[str, Any]:
        return (await self._existing(namespace, _required(args, "deployment_name"))).to_dict()

    async def _op_list_deployments(self, namespace: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        names = await self._index_names(namespace)
        found = [await self._deployment(namespace, name) for name in names]
        return [d.to_dict() for d in found if d is not None]

    async def _existing(self, namespace: str, name: str) -> Deployment:
        deployment = await self._deployment(namespace, name)
        if deployment is None:
            raise VersioningError(
                f"no worker deployment {name!r} in namespace {namespace!r}: it exists once a worker with "
                f"WorkerDeploymentConfig(version=WorkerDeploymentVersion({name!r}, ...)) has polled"
            )
        return deployment

    async def _deployment(self, namespace: str, name: str) -> Deployment | None:
        await self._load("deployment", namespace, name)
        return self.deployment(namespace, name)

    async def _index_names(self, namespace: str) -> list[str]:
        store = self._store()
        if store is None:
            return sorted(name for ns, name in self._deployments if ns == namespace)
        data = await store.get_metadata(deployments_key(namespace))
        return list(json.loads(data)) if data else []

    async def _add_to_index(self, namespace: str, name: str) -> None:
        names = await self._index_names(namespace)
        store = self._store()
        if name not in names and store is not None:
            await store.put_metadata(deployments_key(namespace), json.dumps(sorted({*names, name})).encode())

    async def _save_queue(self, namespace: str, task_queue: str, queue: QueueVersioning) -> None:
        store = self._store()
        if store is not None:
            await store.put_metadata(queue_key(namespace, task_queue), json.dumps(queue.to_dict()).encode())
        self._queues[(namespace, task_queue)] = queue
        self._loading[("queue", namespace, task_queue)] = None
        self._on_change()
        await self._push("queue", namespace, task_queue, queue.to_dict())

    async def _save_deployment(self, namespace: str, deployment: Deployment) -> None:
        store = self._store()
        if store is not None:
            await store.put_metadata(deployment_key(namespace, deployment.name), deployment.to_bytes())
        self._deployments[(namespace, deployment.name)] = deployment
        self._loading[("deployment", namespace, deployment.name)] = None
        self._on_change()
        await self._push("deployment", namespace, deployment.name, deployment.to_dict())

    async def _push(self, kind: str, namespace: str, name: str, data: dict[str, Any]) -> None:
        others = [i for i in range(self._config.num_matching) if i != self._index]
        results = await asyncio.gather(
            *(call(self._client.handle(i).versioning_pushed.remote(kind, namespace, name, data),
                   "push a versioning change") for i in others),
            return_exceptions=True,
        )
        for i, result in zip(others, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("matching: pushing a versioning change to Matching actor %d failed (it reads it "
                               "again within a minute): %s", i, result)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _required(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not value:
        raise VersioningError(f"{name} is required")
    return str(value)
