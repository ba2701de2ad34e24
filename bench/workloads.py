"""rayflow side of the comparison workloads (bench/compare.py runs the same ones on Temporal and DBOS).

  W1 hello     N workflows x 1 activity, C in flight: workflows/s (first start -> last result), p50/p99 latency
  W2 sequence  N workflows x K sequential activities, C in flight: activities/s
  W3 fan-out   one parent starting M child workflows (1 activity each), waiting for all: seconds to the result
  W4 at rest   N workflows each blocked on a signal: RSS of the Ray worker processes per waiting workflow, then
               signal all (C in flight, signal -> result each): drain workflows/s

Every run gets a fresh service (new Ray namespace, temporary data directory) and worker on the local Ray this
script starts; the service is stopped after each run and Ray at exit. Prints one JSON line per run on stdout,
progress on stderr.

W1 also reports the CPU each process used while it ran (driver, each history shard, Matching, each replica,
raylet, GCS, others) in % of one core; with ``--count-calls`` also the actor calls per W1 workflow, per actor and
method, read from the counters of ``rayflow.service.call_counts`` (``RAYFLOW_COUNT_CALLS=1``, which slows the
actors down a little: a diagnostic run, not one for the throughput figures).

Usage: python bench/workloads.py [--workload w1|w2|w3|w4|all] [--repeat N] [--quick] [--fsync] [--w4-count 5000]
                                 [--postgres URL] [--replicas R] [--count-calls]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta

# Before rayflow is imported: the actor classes are decorated (or not) at import, here and in the Ray workers,
# which inherit this process's environment through the local Ray that main() starts.
if "--count-calls" in sys.argv:
    os.environ["RAYFLOW_COUNT_CALLS"] = "1"

import ray  # noqa: E402

from rayflow import activity, workflow  # noqa: E402
from rayflow.client import Client  # noqa: E402
from rayflow.service import bootstrap  # noqa: E402
from rayflow.worker import Worker  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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


# --- harness ---


@contextlib.asynccontextmanager
async def environment(args: argparse.Namespace):
    """A fresh service and worker; yields the client and the worker, then stops both and removes the data (the
    SQLite directory, or with ``--postgres URL`` a schema of its own on that server)."""
    data_dir = tempfile.mkdtemp(prefix="rayflow-bench-")
    store = f"sqlite://{data_dir}"
    if args.postgres:
        store = f"{args.postgres.split('?')[0]}?schema=bench_{uuid.uuid4().hex[:10]}"
    client = None
    try:
        client = await Client.connect(
            store=store,
            ray_namespace=f"rayflow-bench-{uuid.uuid4().hex[:8]}",
            durability="fsync" if args.fsync else "normal",
            **({"num_shards": args.shards} if args.shards else {}),
        )
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[Greeting, Sequence, FanOut, Waiter],
            activities=[compose_greeting, step],
            replicas=args.replicas,
        ) as worker:
            prefix = uuid.uuid4().hex[:8]
            await asyncio.gather(
                *(  # warm up (not measured)
                    client.execute_workflow(Greeting.run, "warm", id=f"warm-{prefix}-{i}", task_queue=TASK_QUEUE)
                    for i in range(benchlib.WARMUP_WORKFLOWS)
                )
            )
            yield client, worker
    finally:
        if client is not None:
            await bootstrap.stop_service(client.service_config)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.postgres:
            _drop_schema(store)
        await asyncio.sleep(1.0)  # let the killed actors' processes exit before the next run measures RSS


def _drop_schema(store: str) -> None:
    import psycopg

    from rayflow.persistence.url import parse_store_url

    url = parse_store_url(store)
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{url.schema}" CASCADE')


async def w1(args: argparse.Namespace) -> dict:
    n = args.w1_workflows
    latencies: list[float] = []
    async with environment(args) as (client, worker), benchlib.Progress("w1", n) as progress:
        prefix = uuid.uuid4().hex[:8]

        async def one(i: int) -> None:
            start = time.perf_counter()
            result = await client.execute_workflow(Greeting.run, f"w{i}", id=f"w1-{prefix}-{i}", task_queue=TASK_QUEUE)
            latencies.append(time.perf_counter() - start)
            assert result == f"Hello, w{i}!", result
            progress.done += 1

        actors = await service_actors(client, worker)
        roles = {pid: role for role, (pid, _) in actors.items()}
        roles[os.getpid()] = "driver"
        counts_before = await call_counts(actors) if args.count_calls else {}
        cpu_before = benchlib.cpu_by_pid(cpu_pids(args, roles))
        elapsed = await benchlib.timed_bounded(args.w1_concurrency, n, one)
        cpu_after = benchlib.cpu_by_pid(cpu_pids(args, roles))
        extra: dict = {
            "cpu_pct": benchlib.cpu_split(
                cpu_before, cpu_after, elapsed, lambda pid: roles.get(pid) or benchlib.process_role(pid)
            )
        }
        if args.count_calls:
            extra["calls_per_workflow"] = calls_per_workflow(counts_before, await call_counts(actors), n)
    report_w1(extra, elapsed)
    return {
        "workflows_per_s": round(n / elapsed, 1),
        **benchlib.latency_figures(latencies),
        "total_s": round(elapsed, 2),
        **extra,
    }


def cpu_pids(args: argparse.Namespace, roles: dict[int, str]) -> set[int]:
    """The processes of the CPU split: this one and those below it (Ray), and with --postgres the local
    PostgreSQL server's (all its sessions, other clients' too: added to ``roles`` as one role)."""
    pids = benchlib.descendants(os.getpid())
    if args.postgres:
        for pid in benchlib.postgres_server_pids():
            roles.setdefault(pid, "postgres server (all sessions)")
            pids.add(pid)
    return pids


async def service_actors(client: Client, worker: Worker) -> dict[str, tuple[int, object]]:
    """``role -> (pid, handle)`` of every history shard (``shard-<i>``), Matching actor (``matching-<i>``) and
    worker replica (``replica-<i>``)."""
    config = client.service_config
    shards = [
        ray.get_actor(config.history_actor_name(i), namespace=config.ray_namespace) for i in range(config.num_shards)
    ]
    matching = [
        ray.get_actor(config.matching_actor_name(i), namespace=config.ray_namespace) for i in range(config.num_matching)
    ]
    actors = {}
    for i, shard in enumerate(shards):
        actors[f"shard-{i}"] = (await shard.pid.remote(), shard)
    for i, actor in enumerate(matching):
        actors[f"matching-{i}"] = ((await actor.location.remote())["pid"], actor)
    for info, replica in zip(worker.replica_infos, worker.replica_handles, strict=True):
        actors[f"replica-{info['index']}"] = (info["pid"], replica)
    return actors


async def call_counts(actors: dict[str, tuple[int, object]]) -> dict[str, dict[str, int]]:
    """Each actor's ``call_counts()`` (``rayflow.service.call_counts``), by role."""
    roles = list(actors)
    answers = await asyncio.gather(*(actors[role][1].call_counts.remote() for role in roles))  # type: ignore[attr-defined]
    return dict(zip(roles, answers, strict=True))


def calls_per_workflow(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], n: int) -> dict:
    """Calls per workflow between two ``call_counts`` readings, per actor kind (the shards summed) and method:
    ``{"shard": {"batch": 2.01, "batch>start_workflow": 1.0, ...}, ..., "total": 7.5}``. ``total`` counts the
    calls that crossed Ray (plain keys), not the items that batches carried (``outer>inner`` keys)."""
    kinds: dict[str, Counter] = {}
    for role, counts in after.items():
        kind = role.rsplit("-", 1)[0]
        delta = kinds.setdefault(kind, Counter())
        for method, count in counts.items():
            delta[method] += count - before.get(role, {}).get(method, 0)
    result: dict = {}
    total = 0
    for kind, delta in kinds.items():
        result[kind] = {method: round(count / n, 2) for method, count in sorted(delta.items()) if count}
        calls = sum(count for method, count in delta.items() if ">" not in method)
        result[kind]["(calls)"] = round(calls / n, 2)
        total += calls
    result["total"] = round(total / n, 2)
    return result


def report_w1(extra: dict, elapsed: float) -> None:
    """The CPU split and (with --count-calls) the calls per workflow, readably on stderr."""
    cpu = extra["cpu_pct"]
    benchlib.log(f"w1 CPU over {elapsed:.1f} s, % of one core: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    per_wf = extra.get("calls_per_workflow")
    if per_wf is None:
        return
    benchlib.log("w1 actor calls per workflow (a>b: b carried in a batch call a, not counted in the total):")
    for kind, methods in per_wf.items():
        if kind == "total":
            continue
        benchlib.log(
            f"  {kind:<9} {methods['(calls)']:>6.2f}  "
            + ", ".join(f"{m} {v}" for m, v in methods.items() if m != "(calls)")
        )
    benchlib.log(f"  {'total':<9} {per_wf['total']:>6.2f}")


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
    async with environment(args) as (client, _):
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
            lengths = await asyncio.gather(*(client.get_workflow_handle(ids[i]).describe() for i in sample))
            return all(d.history_length >= 4 for d in lengths)

        memory = await benchlib.w4_memory(n, benchlib.ray_worker_pids, start_all, ready=all_waiting)

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
    parser.add_argument("--fsync", action="store_true", help="durability='fsync' (fsync every commit)")
    parser.add_argument("--replicas", type=int, default=1, help="worker replicas (default 1)")
    parser.add_argument("--shards", type=int, default=0, help="history shards (default: the embedded default)")
    parser.add_argument(
        "--count-calls",
        action="store_true",
        help="count the actor calls per W1 workflow (RAYFLOW_COUNT_CALLS=1; a diagnostic run)",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="run on the PostgreSQL store of this server (a fresh schema per run, dropped after)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks when compare.py stops us
    try:
        # Always a fresh local Ray: a bare ray.init() would join the cluster named in /tmp/ray/ray_current_cluster
        # (left by `ray start` or ray.cluster_utils, possibly dead). Client.connect uses this initialised Ray.
        ray.init(address="local", include_dashboard=False)
        store = "postgresql" if args.postgres else "sqlite"
        benchlib.run_all(
            "rayflow", f"{store}, {'fsync' if args.fsync else 'normal'}", args, {"w1": w1, "w2": w2, "w3": w3, "w4": w4}
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":
    main()
