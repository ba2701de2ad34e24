"""Starts the service actors, or finds the ones already running in the Ray namespace (internal)."""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
from pathlib import Path
from typing import Any

import ray

from rayflow.exceptions import ConfigurationError, ServiceUnavailableError
from rayflow.persistence import open_store
from rayflow.service import placement
from rayflow.service._ray_calls import call
from rayflow.service.config import ServiceConfig
from rayflow.service.history.shard import HistoryShard
from rayflow.service.matching.actor import MatchingActor
from rayflow.service.store_setting import StoreRequest

_HistoryShardActor = ray.remote(HistoryShard)

#: How long a new service's actors may take to be placed and to open the store before start-up fails.
SERVICE_START_TIMEOUT_S = 120.0
# Where Ray keeps the token of a cluster with token authentication (ray.init() writes it).
_RAY_TOKEN_FILE = Path("~/.ray/auth_token")


def _service_actor_options(config: ServiceConfig, name: str) -> dict[str, Any]:
    return dict(
        name=name,
        namespace=config.ray_namespace,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=-1,
        max_concurrency=config.actor_max_concurrency,
        num_cpus=0,
        **placement.service_actor_options(config),
    )


def create_matching_actors(config: ServiceConfig, **actor_kwargs: Any) -> list[ray.actor.ActorHandle]:
    """Create (or find) the detached, named Matching actors of the service.

    ``actor_kwargs`` go to ``MatchingActor``'s constructor (e.g. ``record_started="echo"`` in tests).
    """
    return [
        MatchingActor.options(**_service_actor_options(config, config.matching_actor_name(i))).remote(
            config, i, **actor_kwargs
        )
        for i in range(config.num_matching)
    ]


def create_history_actors(config: ServiceConfig) -> list[ray.actor.ActorHandle]:
    """Create (or find) the detached, named history shard actors of the service."""
    return [
        _HistoryShardActor.options(**_service_actor_options(config, config.history_actor_name(i))).remote(config, i)
        for i in range(config.num_shards)
    ]


async def find_service(ray_namespace: str) -> ServiceConfig | None:
    """The config of the service running in ``ray_namespace``, or None if there is none."""
    try:
        shard0 = ray.get_actor(ServiceConfig().history_actor_name(0), namespace=ray_namespace)
    except ValueError:
        return None
    return await call(shard0.get_config.remote(), "find service")


def check_same_store(existing: ServiceConfig, requested: ServiceConfig) -> None:
    """A running service keeps its store: asking it for another one is an error naming both (no secrets)."""
    if not existing.store_url.same_store(requested.store_url):
        raise ConfigurationError(
            f"a rayflow service already runs in Ray namespace {existing.ray_namespace!r} on store "
            f"{existing.store_url.redacted}, not {requested.store_url.redacted}; connect without store/data_dir "
            f"(and without RAYFLOW_STORE / RAYFLOW_DATA_DIR) to use it, or pick another ray_namespace for a "
            f"second service"
        )


async def ensure_service(config: ServiceConfig, *, explicit_store: bool = True) -> ServiceConfig:
    """Start the service described by ``config`` unless it already runs; returns the running config.

    The store fixes the number of shards the first time it is used; later starts read it. With
    ``explicit_store`` a running service on another store is an error; without, it is used as it is.

    Raises:
        ConfigurationError: a running service on another store; a SQLite store on a worker node of a
            multi-node cluster; a ``service_label_selector`` no node satisfies.
        StoreUnavailableError: the store cannot be reached (the message says which, without secrets).
        ServiceUnavailableError: the actors were not ready within ``SERVICE_START_TIMEOUT_S``.
    """
    existing = await find_service(config.ray_namespace)
    if existing is not None:
        if explicit_store:
            check_same_store(existing, config)
        return existing
    if config.store_url.is_sqlite:
        config = dataclasses.replace(config, home_node_id=placement.home_node_for_sqlite(config.store_url.path))
    elif config.service_label_selector:
        placement.check_label_selector(dict(config.service_label_selector))
    store = open_store(config.store, durability=config.durability)
    try:
        num_shards = await store.init_cluster(config.num_shards)
    finally:
        await store.close()
    config = dataclasses.replace(config, num_shards=num_shards)
    actors = [*create_matching_actors(config), *create_history_actors(config)]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(call(actor.ready.remote(), "start the service") for actor in actors)),
            SERVICE_START_TIMEOUT_S,
        )
    except TimeoutError:
        raise ServiceUnavailableError(
            f"the rayflow service actors were not ready {SERVICE_START_TIMEOUT_S:.0f} s after they were created "
            f"(store {config.store_url.redacted}): Ray could not place them (see `ray status`) or they cannot "
            f"open the store (see the HistoryShard logs in the Ray session's log directory)"
        ) from None
    # Another driver may have won the race to create the actors: use what actually runs.
    return await find_service(config.ray_namespace) or config


async def attach_or_start(request: StoreRequest, **settings: Any) -> ServiceConfig:
    """The service of ``settings["ray_namespace"]``: attached to when running, else started on the store asked
    for; ``settings`` are the other ``ServiceConfig`` fields (used only when the service starts)."""
    existing = await find_service(settings.get("ray_namespace", ServiceConfig.ray_namespace))
    if existing is not None and request.url is None:
        return existing
    config = ServiceConfig(store=request.require().url, **settings)
    return await ensure_service(config, explicit_store=request.explicit)


async def describe_service(config: ServiceConfig) -> list[dict[str, Any]]:
    """Where each service actor runs: ``kind`` (history/matching), ``index``, ``name``, ``node_id``,
    ``node_ip``, ``pid``, ``actor_id``, ``accelerator_node``; ``state`` is ``"unavailable"`` with an ``error``
    for an actor that does not answer within a few seconds (e.g. being moved after a node died)."""
    nodes = {node["NodeID"]: node for node in placement.alive_nodes()}
    actors = [("history", i, config.history_actor_name(i)) for i in range(config.num_shards)]
    actors += [("matching", i, config.matching_actor_name(i)) for i in range(config.num_matching)]

    async def one(kind: str, index: int, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": kind, "index": index, "name": name}
        try:
            handle = ray.get_actor(name, namespace=config.ray_namespace)
            entry.update(await asyncio.wait_for(call(handle.location.remote(), "locate"), 5.0))
            node = nodes.get(entry["node_id"], {})
            entry["accelerator_node"] = bool(node.get("Labels", {}).get(placement.ACCELERATOR_LABEL)) or bool(
                node.get("Resources", {}).get("GPU")
            )
            entry["state"] = "running"
        except (ValueError, TimeoutError, ServiceUnavailableError) as err:
            entry.update(state="unavailable", error=str(err) or type(err).__name__)
        return entry

    return list(await asyncio.gather(*(one(*actor) for actor in actors)))


async def stop_service(config: ServiceConfig) -> None:
    """Kill the service actors (their data stays in the store)."""
    names = [config.history_actor_name(i) for i in range(config.num_shards)]
    names += [config.matching_actor_name(i) for i in range(config.num_matching)]
    for name in names:
        try:
            ray.kill(ray.get_actor(name, namespace=config.ray_namespace), no_restart=True)
        except ValueError:
            pass


def connect_ray(address: str | None = None) -> None:
    """Attach to Ray: the one already initialised in this process, ``address``, ``RAY_ADDRESS`` (also set
    inside ``ray job submit``), or else a new local Ray without the dashboard.

    Attaching to a cluster with token authentication (the default of a Ray that ``ray.init()`` started, e.g.
    by ``rayflow server start``) needs token mode on the client: when a token is at hand (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``) and ``RAY_AUTH_MODE`` is not set, token mode is used,
    as Ray's own CLI does; a cluster without authentication accepts such a client too.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        _token_mode_if_token_available()
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)
        # atexit runs hooks last registered first: this one runs before Ray's own (registered at `import ray`).
        atexit.unregister(_stop_ray_monitor_at_exit)
        atexit.register(_stop_ray_monitor_at_exit)


def _stop_ray_monitor_at_exit() -> None:
    """At the exit of a program that started its own Ray: kill the Ray node's autoscaler monitor first.

    Ray's exit hook stops the GCS, then sends the monitor SIGTERM and gives it 1 s: the monitor's handler
    reports its termination to the GCS that is already gone and hangs until the second is up, so every short
    script waited ~1 s more at exit (bench/cold_start.py). The monitor holds nothing (the node is going
    away with it). Ray offers no option for this: the node's processes are read from Ray's internals, and
    with a Ray without them (or a node this process did not start) nothing happens.
    """
    try:
        node = getattr(ray._private.worker, "_global_node", None)
        if node is None or not ray.is_initialized():
            return
        monitor_type = getattr(ray._private.ray_constants, "PROCESS_TYPE_MONITOR", "monitor")
        for info in list(getattr(node, "all_processes", {}).get(monitor_type, [])):
            process = info.process
            if process.poll() is None:
                process.kill()
                process.wait(timeout=1.0)
    except Exception:  # e.g. subprocess.TimeoutExpired; never fail an exit: Ray's own hook still stops the node
        pass


def _token_mode_if_token_available() -> None:
    if "RAY_AUTH_MODE" in os.environ or not ray_token_available():
        return
    try:  # Ray reads the mode once per process: its helper sets it and reloads its config
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def ray_token_available() -> bool:
    """Whether a Ray authentication token is at hand (then clients attach in token mode)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path).expanduser().is_file() if path else _RAY_TOKEN_FILE.expanduser().is_file()
