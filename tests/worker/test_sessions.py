"""Routing to one process: ``activity.info().replica_task_queue`` and worker sessions (``workflow.session()``)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from rayflow import activity, workflow
from rayflow.common import EventType
from rayflow.exceptions import SessionFailedError
from rayflow.worker import Worker

SHORT = timedelta(seconds=10)


@activity.defn
async def whoami(step: str) -> dict:
    info = activity.info()
    return {"step": step, "task_queue": info.task_queue, "replica_task_queue": info.replica_task_queue,
            "pid": os.getpid()}


@activity.defn
def hold_until(directory: str, name: str, count: int) -> int:
    """Mark this activity as running, then wait until ``count`` activities are running at once."""
    Path(directory, name).write_text(str(os.getpid()))
    deadline = time.monotonic() + 20
    while len(list(Path(directory).iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(list(Path(directory).iterdir()))


@activity.defn
def write_pid_and_sleep(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


@workflow.defn
class ThreeInASession:
    @workflow.run
    async def run(self) -> dict:
        async with workflow.session() as s:
            steps = [await s.execute_activity(whoami, step, start_to_close_timeout=SHORT) for step in "abc"]
            return {"id": s.id, "task_queue": s.task_queue, "identity": s.identity, "steps": steps}


@workflow.defn
class SameHost:
    @workflow.run
    async def run(self) -> list[dict]:
        download = await workflow.execute_activity(whoami, "download", start_to_close_timeout=SHORT)
        here = download["replica_task_queue"]
        process = await workflow.execute_activity(whoami, "process", task_queue=here, start_to_close_timeout=SHORT)
        upload = await workflow.execute_activity(whoami, "upload", task_queue=here, start_to_close_timeout=SHORT)
        return [download, process, upload]


@workflow.defn
class HoldASession:
    @workflow.run
    async def run(self, directory: str, name: str) -> str:
        async with workflow.session() as s:
            await s.execute_activity(hold_until, args=[directory, name, 2], start_to_close_timeout=timedelta(seconds=30))
            return s.identity


@workflow.defn
class Failover:
    @workflow.run
    async def run(self, pid_file: str) -> dict:
        failure = {}
        async with workflow.session(failure_timeout=timedelta(seconds=2)) as first:
            try:
                await first.execute_activity(write_pid_and_sleep, pid_file, start_to_close_timeout=timedelta(seconds=2))
            except SessionFailedError as err:
                failure = {"message": str(err), "cause": type(err.cause).__name__, "session_id": err.session_id,
                           "identity": err.identity}
        async with workflow.session(failure_timeout=timedelta(seconds=2)) as second:
            after = await second.execute_activity(whoami, "after", start_to_close_timeout=SHORT)
        return {"first": first.identity, "first_id": first.id, "failure": failure, "second": second.identity,
                "after": after}


@workflow.defn
class NoReplicaHasTheLabel:
    @workflow.run
    async def run(self) -> str:
        try:
            async with workflow.session(resource_label="tpu", creation_timeout=timedelta(seconds=1)):
                return "opened"
        except SessionFailedError as err:
            return f"{type(err.cause).__name__}: {err}"


def _activity_identities(events) -> dict[str, list[str]]:
    """Activity type -> identities of the replicas that started its attempts, in order."""
    scheduled = {e.event_id: e.attributes["activity_type"] for e in events
                 if e.event_type == EventType.ACTIVITY_TASK_SCHEDULED}
    out: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e.event_type == EventType.ACTIVITY_TASK_STARTED:
            out[scheduled[int(e.attributes["scheduled_event_id"])]].append(e.attributes["identity"])
    return dict(out)


async def test_session_runs_every_activity_on_one_replica(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[ThreeInASession], activities=[whoami],
                      replicas=2, identity="r{replica}") as worker:
        handle = await env.client.start_workflow(ThreeInASession.run, id="three", task_queue=task_queue)
        result = await handle.result()
    assert result["identity"] in worker.identities
    assert result["task_queue"].startswith("__replica__/") and result["id"]
    assert [s["step"] for s in result["steps"]] == ["a", "b", "c"]
    assert {s["task_queue"] for s in result["steps"]} == {result["task_queue"]}  # scheduled there (Temporal's meaning)
    assert {s["replica_task_queue"] for s in result["steps"]} == {result["task_queue"]}
    assert len({s["pid"] for s in result["steps"]}) == 1
    started = _activity_identities((await handle.fetch_history()).events)
    assert started["whoami"] == [result["identity"]] * 3
    # The built-in creation and completion ran on the same replica, not through the user's registry.
    assert started["__rayflow_session_create__"] == [result["identity"]]
    assert started["__rayflow_session_complete__"] == [result["identity"]]


async def test_replica_task_queue_sends_later_activities_to_the_same_process(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[SameHost], activities=[whoami], replicas=2,
                      identity="r{replica}"):
        handle = await env.client.start_workflow(SameHost.run, id="same-host", task_queue=task_queue)
        download, process, upload = await handle.result()
    assert download["task_queue"] == task_queue
    assert download["replica_task_queue"].startswith("__replica__/")
    assert process["task_queue"] == upload["task_queue"] == download["replica_task_queue"]
    assert download["pid"] == process["pid"] == upload["pid"]
    started = _activity_identities((await handle.fetch_history()).events)
    assert len(started["whoami"]) == 3 and len(set(started["whoami"])) == 1, started


async def test_max_concurrent_sessions_spreads_sessions_over_replicas(env, task_queue, tmp_path):
    async with Worker(env.client, task_queue=task_queue, workflows=[HoldASession], activities=[hold_until],
                      replicas=2, identity="r{replica}", max_concurrent_sessions=1) as worker:
        handles = [
            await env.client.start_workflow(HoldASession.run, args=[str(tmp_path), name], id=f"hold-{name}",
                                            task_queue=task_queue)
            for name in ("a", "b")
        ]
        identities = await asyncio.gather(*(h.result() for h in handles))
    # Both sessions were open at once (each activity waited for the other), so each took one replica.
    assert sorted(identities) == sorted(worker.identities) == ["r0", "r1"]
    for handle, identity in zip(handles, identities, strict=True):
        started = _activity_identities((await handle.fetch_history()).events)
        assert started["hold_until"] == [identity]


async def test_killed_replica_fails_the_session_and_a_new_one_completes(env, task_queue, tmp_path):
    pid_file = tmp_path / "pid"
    async with (
        Worker(env.client, task_queue=task_queue, workflows=[Failover], max_cached_workflows=0),  # replay each task
        Worker(env.client, task_queue=task_queue, activities=[write_pid_and_sleep, whoami], replicas=2,
               identity="r{replica}-{pid}"),
    ):
        handle = await env.client.start_workflow(Failover.run, str(pid_file), id="failover", task_queue=task_queue)
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the session's activity never started")
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        result = await asyncio.wait_for(handle.result(), timeout=60)
    failure = result["failure"]
    assert failure["cause"] == "ActivityError"
    assert failure["session_id"] == result["first_id"] and failure["identity"] == result["first"]
    assert result["first_id"] in failure["message"] and result["first"] in failure["message"]
    assert "write_pid_and_sleep" in failure["message"]
    assert result["second"] != result["first"]
    assert result["after"]["pid"] != int(pid_file.read_text())
    events = (await handle.fetch_history()).events
    assert _activity_identities(events)["whoami"] == [result["second"]]
    # The attempt on the dead replica's queue was never taken: it timed out schedule-to-start.
    timed_out = [e.attributes["failure"]["message"] for e in events if e.event_type == EventType.ACTIVITY_TASK_TIMED_OUT]
    assert timed_out == ["activity ScheduleToStart timeout"]


async def test_session_creation_times_out_with_session_failed_error(env, task_queue):
    async with Worker(env.client, task_queue=task_queue, workflows=[NoReplicaHasTheLabel], activities=[whoami]):
        message = await env.client.execute_workflow(NoReplicaHasTheLabel.run, id="no-tpu", task_queue=task_queue)
    assert message.startswith("ActivityError: could not create a worker session within 0:00:01")
    assert "resource label 'tpu'" in message


async def test_session_outside_a_workflow_and_bad_options():
    with pytest.raises(RuntimeError, match="workflow code"):
        workflow.session()
    with pytest.raises(ValueError, match="max_concurrent_sessions"):
        Worker(object(), task_queue="q", activities=[whoami], max_concurrent_sessions=0)  # type: ignore[arg-type]
