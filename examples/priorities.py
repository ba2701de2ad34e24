"""Priorities by task queue (Temporal's way): one queue per priority, a pool per priority.

High-priority work goes to "jobs-high", served by a larger pool; low-priority work to "jobs-low",
served by a small one, so a flood of low-priority jobs never delays the high-priority ones.
Run: python examples/priorities.py
"""

import asyncio
import time
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
def crunch(job: str) -> str:
    time.sleep(0.2)
    return f"{job} done"


@workflow.defn
class Job:
    @workflow.run
    async def run(self, job: str) -> str:
        # The activity runs on this workflow's own task queue, i.e. at this workflow's priority.
        return await workflow.execute_activity(crunch, job, start_to_close_timeout=timedelta(minutes=1))


async def main() -> None:
    client = await Client.connect()
    async with (
        Worker(client, task_queue="jobs-high", workflows=[Job], activities=[crunch], max_concurrent_activities=8),
        Worker(client, task_queue="jobs-low", workflows=[Job], activities=[crunch], max_concurrent_activities=1),
    ):
        started = time.monotonic()
        low = [await client.start_workflow(Job.run, f"low-{i}", id=f"low-{i}-{time.time_ns()}",
                                           task_queue="jobs-low") for i in range(10)]
        high = [await client.start_workflow(Job.run, f"high-{i}", id=f"high-{i}-{time.time_ns()}",
                                            task_queue="jobs-high") for i in range(10)]
        await asyncio.gather(*(h.result() for h in high))
        print(f"10 high-priority jobs done after {time.monotonic() - started:.1f} s, "
              f"while low-priority ones still queue")
        await asyncio.gather(*(h.result() for h in low))
        print(f"10 low-priority jobs done after {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
