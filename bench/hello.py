"""Benchmark: N hello workflows (one activity each) with C in flight, on the embedded default.

Prints workflows/s (first start -> last result) and p50/p99 start-to-result latency measured in the
client. Usage: python bench/hello.py [--workflows 2000] [--concurrency 100] [--replicas 1] [--fsync]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=30))


async def run(args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="rayflow-bench-")
    client = await Client.connect(
        data_dir=data_dir,
        ray_namespace=f"rayflow-bench-{uuid.uuid4().hex[:8]}",
        durability="fsync" if args.fsync else "normal",
        num_shards=args.shards,
    )
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(args.concurrency)
    prefix = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        async with semaphore:
            start = time.perf_counter()
            result = await client.execute_workflow(Greeting.run, f"w{i}", id=f"{prefix}-{i}", task_queue="bench")
            latencies.append(time.perf_counter() - start)
            assert result == f"Hello, w{i}!"

    async with Worker(
        client, task_queue="bench", workflows=[Greeting], activities=[compose_greeting], replicas=args.replicas
    ):
        await asyncio.gather(*(one(-i - 1) for i in range(min(20, args.workflows))))  # warm up
        latencies.clear()
        started = time.perf_counter()
        done = 0

        async def progress() -> None:
            while True:
                await asyncio.sleep(2)
                print(f"  ... {len(latencies)}/{args.workflows} done", flush=True)

        reporter = asyncio.create_task(progress())
        await asyncio.gather(*(one(i) for i in range(args.workflows)))
        reporter.cancel()
        elapsed = time.perf_counter() - started
        done = len(latencies)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    mode = "fsync" if args.fsync else "normal"
    print(
        f"hello  N={done} C={args.concurrency} replicas={args.replicas} durability={mode}: "
        f"{done / elapsed:.1f} workflows/s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, total {elapsed:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--shards", type=int, default=4, help="history shards of the new service")
    parser.add_argument("--fsync", action="store_true", help="fsync every commit (synchronous=FULL)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
