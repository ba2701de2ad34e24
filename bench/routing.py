"""Benchmark: short activities through one task queue with 1, 2 and 4 replicas, and via a labelled sub-queue.

A workflow pool (workflows only) fans out activities; an activity pool of R replicas runs them, so every
activity goes through Matching. Prints activities/s and the ratio to one replica.
Usage: python bench/routing.py [--workflows 20] [--activities 50] [--replicas 1 2 4]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
async def noop(i: int) -> int:
    return i


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, count: int, label: str | None) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=60), resource_label=label)
                for i in range(count)
            )
        )
        return sum(results)


async def measure(client: Client, replicas: int, label: str | None, args: argparse.Namespace) -> float:
    queue = f"routing-{uuid.uuid4().hex[:6]}"
    pool_labels = {"fast": "yes"} if label else None
    async with (
        Worker(client, task_queue=queue, workflows=[FanOut]),
        Worker(client, task_queue=queue, activities=[noop], replicas=replicas, labels=pool_labels),
    ):
        started = time.perf_counter()
        handles = [
            await client.start_workflow(FanOut.run, args=[args.activities, label], id=f"{queue}-{i}", task_queue=queue)
            for i in range(args.workflows)
        ]
        for handle in handles:
            assert await handle.result() == sum(range(args.activities))
        return args.workflows * args.activities / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    client = await Client.connect(
        data_dir=tempfile.mkdtemp(prefix="rayflow-bench-"), ray_namespace=f"rayflow-bench-{uuid.uuid4().hex[:8]}"
    )
    base = None
    for replicas in args.replicas:
        rate = await measure(client, replicas, None, args)
        base = base or rate
        print(f"routing  replicas={replicas}: {rate:.0f} activities/s  (x{rate / base:.2f} vs 1 replica)", flush=True)
    rate = await measure(client, args.replicas[0], "fast", args)
    print(
        f"routing  labelled sub-queue (resource_label='fast'), replicas={args.replicas[0]}: {rate:.0f} activities/s"
        f"  (x{rate / base:.2f} vs unlabelled)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--activities", type=int, default=50)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
