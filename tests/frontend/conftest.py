"""A service with workers in the test's Ray, and a `rayflow server start` subprocess in front of it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray

from rayflow.worker import Worker
from tests.frontend.workflows import Approval, Fails, Greeting, compose_greeting

REPO = Path(__file__).resolve().parents[2]
TASK_QUEUE = "frontend-tests"


@dataclass
class Frontend:
    address: str
    env: object
    process: asyncio.subprocess.Process
    data_dir: str


async def run_cli(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run `rayflow ARGS` as a subprocess (the installed console script); (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).with_name("rayflow"),
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k not in ("RAYFLOW_API_KEY", "RAYFLOW_ADDRESS")},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def start_server_process(*args: str, env: dict[str, str] | None = None) -> tuple[asyncio.subprocess.Process, str]:
    """`rayflow server start ARGS --port 0` (in ``env``, default this process's); the process and its address."""
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).with_name("rayflow"),
        "server",
        "start",
        "--port",
        "0",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    lines = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        lines.append(line)
        if not line:
            raise AssertionError("rayflow server start exited:\n" + "".join(lines[-30:]))
        match = re.search(r"listening on (\S+:\d+)", line)
        if match:
            return process, match.group(1)


@pytest.fixture(scope="module")
async def service(ray_session):
    """A service of the module's own with a worker pool for the test workflows."""
    from rayflow.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local()
    worker = Worker(
        env.client, task_queue=TASK_QUEUE, workflows=[Greeting, Approval, Fails], activities=[compose_greeting]
    )
    await worker.start()
    try:
        yield env
    finally:
        await worker.shutdown()
        await env.shutdown()


@pytest.fixture(scope="module")
async def frontend(service):
    """The module's service served by a `rayflow server start` subprocess."""
    env = service
    process, address = await start_server_process(
        "--ray-address",
        ray.get_runtime_context().gcs_address,
        "--ray-namespace",
        env.config.ray_namespace,
        "--data-dir",
        env.config.data_dir,
    )
    drain = asyncio.ensure_future(process.stdout.read())  # keep the pipe from filling up
    try:
        yield Frontend(address=address, env=env, process=process, data_dir=env.config.data_dir)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        drain.cancel()
