"""Starts the service actors, or finds the ones already running in the Ray namespace."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import ray

from rayflow.exceptions import ServiceUnavailableError
from rayflow.persistence import open_store
from rayflow.service._ray_calls import call
from rayflow.service.config import ServiceConfig
from rayflow.service.history.shard import HistoryShard
from rayflow.service.matching.client import create_matching_actors

_HistoryShardActor = ray.remote(HistoryShard)


def _history_actor_options(config: ServiceConfig, index: int) -> dict:
    return dict(
        name=config.history_actor_name(index),
        namespace=config.ray_namespace,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=-1,
        max_concurrency=10000,
        num_cpus=0,
    )


async def find_service(ray_namespace: str) -> ServiceConfig | None:
    """The config of the service running in ``ray_namespace``, or None if there is none."""
    try:
        shard0 = ray.get_actor(ServiceConfig().history_actor_name(0), namespace=ray_namespace)
    except ValueError:
        return None
    return await call(shard0.get_config.remote(), "find service")


async def ensure_service(config: ServiceConfig) -> ServiceConfig:
    """Start the service described by ``config`` unless it already runs; returns the running config.

    The data directory fixes the number of shards the first time it is used; later starts read it.
    """
    existing = await find_service(config.ray_namespace)
    if existing is not None:
        if os.path.abspath(existing.data_dir) != os.path.abspath(config.data_dir):
            raise ServiceUnavailableError(
                f"a rayflow service already runs in Ray namespace {config.ray_namespace!r} on data dir "
                f"{existing.data_dir!r}, not {config.data_dir!r}; connect without data_dir, or pick another "
                f"ray_namespace for a second service"
            )
        return existing
    store = open_store(config.data_dir, durability=config.durability)
    try:
        num_shards = await store.init_cluster(config.num_shards)
    finally:
        await store.close()
    config = dataclasses.replace(config, num_shards=num_shards)
    matching = create_matching_actors(config)
    shards = [
        _HistoryShardActor.options(**_history_actor_options(config, index)).remote(config, index)
        for index in range(config.num_shards)
    ]
    await asyncio.gather(*(call(s.ready.remote(), "start history shard") for s in shards))
    del matching
    # Another driver may have won the race to create the actors: use what actually runs.
    return await find_service(config.ray_namespace) or config


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
    inside ``ray job submit``), or else a new local Ray without the dashboard."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)
