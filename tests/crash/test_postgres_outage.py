"""PostgreSQL connections of the service killed mid-run (``pg_terminate_backend``, what a server restart or a
failover does to them): nothing acknowledged is lost, the service reconnects by itself, and callers in flight
get their answer or a retryable error, never a wrong one."""

from __future__ import annotations

import asyncio
import collections
import uuid

from rayflow.exceptions import ServiceUnavailableError
from rayflow.testing import WorkflowEnvironment
from rayflow.worker import Worker
from tests import postgres
from tests.crash.workloads import WAIT_S, TwoSteps, event_types, run_fifty_and_crash, side_effect


async def terminate_repeatedly(url: str, times: int, pause_s: float) -> list[int]:
    """Kill every connection of the store ``times`` times, ``pause_s`` apart; how many each time."""
    killed = []
    for _ in range(times):
        killed.append(await asyncio.to_thread(postgres.terminate_backends, url))
        await asyncio.sleep(pause_s)
    return killed


async def test_connections_killed_with_fifty_workflows_in_flight(ray_session, postgres_url, tmp_path, task_queue):
    env = await WorkflowEnvironment.start_local(store=postgres_url)
    try:
        before = set(postgres.backends(postgres_url))

        async def crash() -> None:
            killed = await terminate_repeatedly(postgres_url, times=3, pause_s=0.5)
            assert killed[0] > 0, "the service had no connections to kill"

        duplicates = await run_fifty_and_crash(env, task_queue, tmp_path, crash)
        # Every write the service was told succeeded is in the store, and none was lost or redone: a write
        # cut off is retried (read back first when its COMMIT may have landed), so no completion was dropped
        # and no activity had to run again.
        assert duplicates == 0
        after = set(postgres.backends(postgres_url))
        assert after and not after & before, "the service did not reconnect on its own"
    finally:
        await env.shutdown()


async def test_starts_and_signals_during_the_outage_get_answers_or_retryable_errors(
    ray_session, postgres_url, tmp_path, task_queue
):
    env = await WorkflowEnvironment.start_local(store=postgres_url)
    client = env.client
    effects = tmp_path / "effects.txt"
    ids = [f"start-{i:02d}" for i in range(40)]
    request_ids = {wf_id: str(uuid.uuid4()) for wf_id in ids}
    try:
        async with Worker(client, task_queue=task_queue, workflows=[TwoSteps], activities=[side_effect]):

            async def start(wf_id: str):
                return await client.start_workflow(
                    TwoSteps.run, str(effects), id=wf_id, task_queue=task_queue, request_id=request_ids[wf_id]
                )

            outage = asyncio.ensure_future(terminate_repeatedly(postgres_url, times=4, pause_s=0.1))
            outcomes = await asyncio.gather(*(start(wf_id) for wf_id in ids), return_exceptions=True)
            await outage
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            assert all(isinstance(e, ServiceUnavailableError) for e in errors), errors
            # A start that got an error is retried with its request id: it is the same workflow, never two.
            handles = [await start(wf_id) for wf_id in ids]
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), WAIT_S)
        assert results == [[f"{wf_id}:a", f"{wf_id}:b"] for wf_id in ids]
        for handle in handles:
            counts = collections.Counter(await event_types(handle))
            assert counts["WORKFLOW_EXECUTION_STARTED"] == 1 and counts["WORKFLOW_EXECUTION_COMPLETED"] == 1
        assert await client.count_workflows() == len(ids)  # no start ran twice
    finally:
        await env.shutdown()
