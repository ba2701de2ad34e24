"""Shared test fixtures: one Ray for the whole session, a fresh rayflow service per test."""

from __future__ import annotations

import os
import uuid

import pytest
import ray

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ray's processes report their metrics every second, not every 10 s: tests/telemetry waits for values to move.
os.environ.setdefault("RAY_metrics_report_interval_ms", "1000")


#: Labels of the fake GPU node every test session has (CI has no GPU: Ray's resources fake one).
GPU_NODE_LABELS = {"ray.io/accelerator-type": "A100", "rayflow.io/pool": "gpu"}


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray cluster per pytest session: a CPU head node and a fake GPU node (2 GPUs, A100 label).

    No dashboard (faster, fewer processes); the head picks a free port (Redis holds Ray's default 6379).
    """
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    gpu_node = cluster.add_node(num_cpus=1, num_gpus=2, labels=GPU_NODE_LABELS)
    ray.init(address=cluster.address)
    cluster.gpu_node = gpu_node
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module that sets ``STORE_BACKENDS = ["sqlite", "postgresql"]`` runs its ``env`` / ``store_url``
    tests once per store backend."""
    backends = getattr(metafunc.module, "STORE_BACKENDS", None)
    if backends and "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", backends, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` unless the module's ``STORE_BACKENDS`` parametrizes it."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def store_url(store_backend: str, request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh store of the backend: a SQLite directory under tmp_path, or a PostgreSQL schema of its own."""
    if store_backend == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite://{tmp_path / 'data'}"


@pytest.fixture
async def env(ray_session, store_backend: str, request: pytest.FixtureRequest):
    """A service of its own (own Ray namespace; a temporary data dir, or with ``STORE_BACKENDS`` a fresh
    store of each backend), torn down after the test."""
    from rayflow.testing import WorkflowEnvironment

    store = request.getfixturevalue("postgres_url") if store_backend == "postgresql" else None
    environment = await WorkflowEnvironment.start_local(store=store)
    yield environment
    await environment.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    return f"tq-{uuid.uuid4().hex[:10]}"


def _fresh_postgres_schema():
    """A PostgreSQL store URL on a schema of its own (``?schema=rf_test_<hex>``), dropped afterwards.

    The server is ``RAYFLOW_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``). When it
    does not answer within 3 s the test is skipped, or fails if ``RAYFLOW_REQUIRE_POSTGRES=1``. Afterwards
    the connections of stores left open on the schema are terminated before it is dropped.
    """
    required = os.environ.get("RAYFLOW_REQUIRE_POSTGRES") == "1"
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        (pytest.fail if required else pytest.skip)(
            f"PostgreSQL tests need psycopg: pip install 'rayflow[postgres]' ({error})"
        )
    from rayflow.persistence.url import redact
    from tests import postgres

    server = postgres.server_url()
    reason = postgres.unreachable_reason(server, timeout=3.0)
    if reason is not None:
        (pytest.fail if required else pytest.skip)(f"PostgreSQL not reachable at {redact(server)}: {reason}")
    url = postgres.with_schema(server, f"rf_test_{uuid.uuid4().hex[:12]}")
    yield url
    postgres.terminate_backends(url)
    postgres.drop_schema(url)


@pytest.fixture
def postgres_url():
    """A PostgreSQL store of the test's own (see ``_fresh_postgres_schema``)."""
    yield from _fresh_postgres_schema()


@pytest.fixture(scope="module")
def module_postgres_url():
    """A PostgreSQL store shared by the tests of one module (see ``_fresh_postgres_schema``)."""
    yield from _fresh_postgres_schema()
