"""Shared test fixtures: one Ray for the whole session, a fresh rayflow service per test."""

from __future__ import annotations

import os
import uuid

import pytest
import ray

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray per pytest session (no dashboard: faster, fewer processes)."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture
async def env(ray_session):
    """A service of its own (own Ray namespace and temporary data dir), torn down after the test."""
    from rayflow.testing import WorkflowEnvironment

    environment = await WorkflowEnvironment.start_local()
    yield environment
    await environment.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    return f"tq-{uuid.uuid4().hex[:10]}"
