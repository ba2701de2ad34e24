"""Workloads and helpers of the crash tests: 50 two-activity workflows run through a crash, then every
outcome is checked (each result right, each workflow completed once, each activity run at least once)."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from rayflow import activity, workflow
from rayflow.common import RetryPolicy
from rayflow.worker import Worker

WAIT_S = 90.0  # upper bound for any wait below; never a timing assertion


@activity.defn
async def side_effect(path: str, workflow_id: str, name: str) -> str:
    """Appends ``workflow_id:name`` (one line per execution of the activity), then works a little."""
    with open(path, "a") as f:
        f.write(f"{workflow_id}:{name}\n")
    await asyncio.sleep(0.2)
    return f"{workflow_id}:{name}"


@workflow.defn
class TwoSteps:
    @workflow.run
    async def run(self, path: str) -> list[str]:
        wf_id = workflow.info().workflow_id
        results = []
        for name in ("a", "b"):
            results.append(
                await workflow.execute_activity(
                    side_effect,
                    args=[path, wf_id, name],
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
                )
            )
        return results


# -- helpers --------------------------------------------------------------------------------------
async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


async def event_types(handle) -> list[str]:
    return [e.event_type.name for e in (await handle.fetch_history()).events]


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def run_fifty_and_crash(env, task_queue: str, tmp_path: Path, crash: Callable[[], Awaitable[None]]) -> int:
    """Start 50 TwoSteps workflows, call ``crash`` once some have progressed, then check every outcome.

    Returns how many activity executions were duplicates (ran more than once).
    """
    client = env.client
    effects = tmp_path / "effects.txt"
    ids = [f"wf-{i:02d}" for i in range(50)]
    async with Worker(client, task_queue=task_queue, workflows=[TwoSteps], activities=[side_effect], replicas=2):
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    TwoSteps.run, str(effects), id=wf_id, task_queue=task_queue, task_timeout=timedelta(seconds=3)
                )
                for wf_id in ids
            )
        )

        async def progressed() -> bool:
            return len(read_lines(effects)) >= 20

        await wait_until(progressed, "20 activities ran")
        done_before = len(read_lines(effects))
        await crash()
        print(f"crash after {done_before}/100 activity executions")
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), WAIT_S)

    assert done_before < 100, "the crash came after all the work: start more work or crash earlier"
    assert results == [[f"{wf_id}:a", f"{wf_id}:b"] for wf_id in ids]
    for handle in handles:
        counts = collections.Counter(await event_types(handle))
        assert counts["WORKFLOW_EXECUTION_COMPLETED"] == 1, handle.id
        assert counts["ACTIVITY_TASK_SCHEDULED"] == 2, handle.id
        assert counts["ACTIVITY_TASK_COMPLETED"] == 2, handle.id
    ran = collections.Counter(read_lines(effects))
    expected = {f"{wf_id}:{name}" for wf_id in ids for name in ("a", "b")}
    assert set(ran) == expected  # every activity ran at least once, and nothing else ran
    return sum(count - 1 for count in ran.values())


