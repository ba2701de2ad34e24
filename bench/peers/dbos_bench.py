"""DBOS side of the comparison workloads (see bench/workloads.py for their definitions).

DBOS is a library: workflows run in this process, durably checkpointed to its system database: SQLite in a
temporary directory, or with ``--postgres URL`` a fresh database of its own on that PostgreSQL server (created by
DBOS, dropped after the run); DBOS's own defaults otherwise. Each run launches a fresh DBOS on a fresh database and
destroys it afterwards. Activities are ``@DBOS.step`` functions, child workflows are ``DBOS.start_workflow_async``
calls inside a workflow, and the W4 signal is ``DBOS.send_async`` / ``DBOS.recv_async``. W4 memory counts this
process.

Run under bench/.peers-venv (created by `bash bench/setup_peers.sh`):
  bench/.peers-venv/bin/python bench/peers/dbos_bench.py [--workload w1|w2|w3|w4|all] [--repeat N] [--quick]
                                                         [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from dbos import DBOS, DBOSConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

RELEASE_TOPIC = "release"
WAIT_SECONDS = 24 * 3600  # W4 workflows wait for their message (recv returns None only after this)


# --- workflow and step definitions (the same shape for every engine) ---


@DBOS.step()
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@DBOS.step()
async def step(i: int) -> int:
    return i + 1


@DBOS.workflow()
async def greeting(name: str) -> str:
    return await compose_greeting(name)


@DBOS.workflow()
async def sequence(steps: int) -> int:
    value = 0
    for _ in range(steps):
        value = await step(value)
    return value


@DBOS.workflow()
async def fan_out(children: int) -> int:
    handles = [await DBOS.start_workflow_async(greeting, f"c{i}") for i in range(children)]
    results = [await handle.get_result() for handle in handles]
    return len(results)


@DBOS.workflow()
async def waiter() -> str:
    message = await DBOS.recv_async(RELEASE_TOPIC, timeout_seconds=WAIT_SECONDS)
    assert message == "go", message
    return "released"


# --- harness ---


@contextlib.asynccontextmanager
async def environment(args: argparse.Namespace):
    """A fresh DBOS on a fresh system database: SQLite in a temporary directory, or with ``--postgres`` a new
    database on that server (DBOS creates it at launch; dropped afterwards)."""
    data_dir = tempfile.mkdtemp(prefix="dbos-bench-")
    database_url = f"sqlite:///{os.path.join(data_dir, 'dbos.sqlite')}"
    if args.postgres:
        database_url = _database_url(args.postgres, f"dbos_bench_{uuid.uuid4().hex[:10]}")
    config: DBOSConfig = {
        "name": "rayflow-bench",
        "system_database_url": database_url,
        "log_level": "WARNING",
    }
    try:
        DBOS(config=config)
        DBOS.launch()
        handles = [await DBOS.start_workflow_async(greeting, "warm") for _ in range(benchlib.WARMUP_WORKFLOWS)]
        for handle in handles:  # warm up (not measured)
            await handle.get_result()
        yield
    finally:
        DBOS.destroy(destroy_registry=False)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.postgres:
            _drop_database(database_url)


def _database_url(server_url: str, database: str) -> str:
    """``server_url`` (any database on the server, query dropped) pointing at ``database`` instead."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, "", ""))


def _drop_database(database_url: str) -> None:
    """Drop the run's database (from the server's ``postgres`` database; FORCE ends leftover sessions)."""
    import psycopg  # DBOS's PostgreSQL driver: in bench/.peers-venv with it

    database = urlsplit(database_url).path.lstrip("/")
    conninfo = _database_url(database_url.replace("postgresql+psycopg://", "postgresql://"), "postgres")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def w1(args: argparse.Namespace) -> dict:
    n = args.w1_workflows
    latencies: list[float] = []
    async with environment(args), benchlib.Progress("w1", n) as progress:

        async def one(i: int) -> None:
            start = time.perf_counter()
            handle = await DBOS.start_workflow_async(greeting, f"w{i}")
            result = await handle.get_result()
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
    async with environment(args), benchlib.Progress("w2", n) as progress:

        async def one(i: int) -> None:
            handle = await DBOS.start_workflow_async(sequence, k)
            assert await handle.get_result() == k
            progress.done += 1

        elapsed = await benchlib.timed_bounded(args.w2_concurrency, n, one)
    return {
        "activities_per_s": round(n * k / elapsed, 1),
        "workflows_per_s": round(n / elapsed, 1),
        "total_s": round(elapsed, 2),
    }


async def w3(args: argparse.Namespace) -> dict:
    m = args.w3_children
    async with environment(args):
        log_task = asyncio.create_task(benchlib.tick("w3", f"parent with {m} children running"))
        try:
            started = time.perf_counter()
            handle = await DBOS.start_workflow_async(fan_out, m)
            result = await handle.get_result()
            elapsed = time.perf_counter() - started
        finally:
            log_task.cancel()
        assert result == m, result
    return {"seconds": round(elapsed, 3), "children": m}


def _waiting_receivers() -> int | None:
    """How many workflows wait in recv (DBOS internals; None if this version keeps them elsewhere)."""
    try:
        from dbos._dbos import _get_dbos_instance

        return len(_get_dbos_instance()._sys_db.notifications_map._dict)
    except Exception:  # noqa: BLE001
        return None


async def w4(args: argparse.Namespace) -> dict:
    n = args.w4_count
    async with environment(args):
        handles: list = [None] * n

        async def start_all() -> None:
            async with benchlib.Progress("w4", n, "started") as progress:

                async def start(i: int) -> None:
                    handles[i] = await DBOS.start_workflow_async(waiter)
                    progress.done += 1

                await benchlib.bounded(args.w4_concurrency, n, start)

        async def all_waiting() -> bool:
            waiting = _waiting_receivers()
            return waiting is None or waiting >= n

        memory = await benchlib.w4_memory(n, lambda: [os.getpid()], start_all, ready=all_waiting)

        async with benchlib.Progress("w4", n, "drained") as progress:

            async def release(i: int) -> None:
                await DBOS.send_async(handles[i].get_workflow_id(), "go", RELEASE_TOPIC)
                assert await handles[i].get_result() == "released"
                progress.done += 1

            started = time.perf_counter()
            await benchlib.bounded(args.w4_concurrency, n, release)
            elapsed = time.perf_counter() - started
    return {**memory, "drain_workflows_per_s": round(n / elapsed, 1), "drain_s": round(elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchlib.add_workload_args(parser)
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="run on this PostgreSQL server: a fresh database per run, dropped after",
    )
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks (destroy DBOS)
    benchlib.run_all(
        "dbos", "postgresql" if args.postgres else "sqlite", args, {"w1": w1, "w2": w2, "w3": w3, "w4": w4}
    )


if __name__ == "__main__":
    main()
