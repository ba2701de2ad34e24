"""Test helpers: a fresh rayflow service per test environment."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

from rayflow import constants
from rayflow.client import Client
from rayflow.converter import DataConverter
from rayflow.persistence.url import parse_store_url
from rayflow.service import bootstrap
from rayflow.service.config import ServiceConfig

__all__ = ["WorkflowEnvironment"]


class WorkflowEnvironment:
    """A service of its own (own Ray namespace, own data directory) and a client connected to it."""

    def __init__(self, client: Client, *, owns_data_dir: bool) -> None:
        self.client = client
        self._owns_data_dir = owns_data_dir

    @property
    def config(self) -> ServiceConfig:
        return self.client.service_config

    @staticmethod
    async def start_local(
        *,
        data_dir: str | os.PathLike[str] | None = None,
        store: str | None = None,
        namespace: str = constants.DEFAULT_NAMESPACE,
        ray_namespace: str | None = None,
        num_shards: int = 2,
        num_matching: int = 1,
        default_partitions: int = constants.DEFAULT_TASK_QUEUE_PARTITIONS,
        task_queue_partitions: dict[str, int] | None = None,
        data_converter: DataConverter | None = None,
        actor_max_concurrency: int = constants.DEFAULT_ACTOR_MAX_CONCURRENCY,
        retention_sweep_interval_s: float = constants.DEFAULT_RETENTION_SWEEP_INTERVAL_S,
    ) -> WorkflowEnvironment:
        """Start a service on the Ray of this process (starting a local Ray if none).

        Args:
            data_dir: data directory (default: a new temporary one, removed by ``shutdown()``).
            store: a store URL instead (e.g. ``postgresql://...?schema=test_x``); left as it is by ``shutdown()``.
            ray_namespace: Ray namespace of its actors (default: a new unique one).
            num_shards: history shards (default 2, to keep tests light); num_matching: Matching actors (1).
            retention_sweep_interval_s: how often the shards delete closed runs past their namespace's retention
                (a test of retention sets it small, and the retention with ``client.update_namespace_retention``).
        """
        if store is not None and data_dir is not None:
            raise ValueError("pass store= or data_dir=, not both")
        owns = data_dir is None and store is None
        if store is None:
            store = os.path.abspath(tempfile.mkdtemp(prefix="rayflow-test-") if owns else os.fspath(data_dir))
        bootstrap.connect_ray(None)
        config = ServiceConfig(
            ray_namespace=ray_namespace or f"rayflow-test-{uuid.uuid4().hex[:12]}",
            store=parse_store_url(store).url,
            num_shards=num_shards,
            num_matching=num_matching,
            default_partitions=default_partitions,
            task_queue_partitions=dict(task_queue_partitions or {}),
            actor_max_concurrency=actor_max_concurrency,
            retention_sweep_interval_s=retention_sweep_interval_s,
        )
        config = await bootstrap.ensure_service(config)
        client = Client(config, namespace=namespace, data_converter=data_converter or DataConverter.default,
                        identity=f"{os.getpid()}@test")
        return WorkflowEnvironment(client, owns_data_dir=owns)

    async def shutdown(self) -> None:
        """Kill the service actors; remove the data directory if this environment made it."""
        await bootstrap.stop_service(self.config)
        if self._owns_data_dir and self.config.data_dir:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)


