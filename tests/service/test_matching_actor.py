"""Matching actors on a real Ray (2 actors, 4 partitions per queue), plus the poll loop in-process."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
import ray

from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service.bootstrap import create_matching_actors
from rayflow.service.config import ServiceConfig
from rayflow.service.matching.actor import MatchingEngine, RateLimitSetting
from rayflow.service.matching.client import MatchingClient
from rayflow.service.matching.partition import RATE_LIMIT_BURST_S

ACTIVITY = request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY
WORKFLOW = request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW
NS = "default"


def make_task(queue: str, n: int, label: str = "", queue_type: int = ACTIVITY) -> internal_pb2.MatchingTask:
    return internal_pb2.MatchingTask(
        namespace=NS,
        workflow_id=f"wf-{n}",
        run_id="run",
        scheduled_event_id=n,
        attempt=1,
        task_queue_type=queue_type,
        task_queue=queue,
        resource_label=label,
    )


def poller(name: str, labels: tuple[str, ...] = (), accept_unlabelled: bool = True) -> dict:
    return {
        "identity": f"{name}@host",
        "poller_id": name,
        "labels": list(labels),
        "accept_unlabelled": accept_unlabelled,
    }


def spread_queue(client: MatchingClient) -> tuple[str, dict[int, int]]:
    """A fresh queue name whose activity partitions sit on both actors, with children away from the root."""
    for i in itertools.count():
        name = f"q-{uuid.uuid4().hex[:8]}-{i}"
        where = {p: client.actor_index(NS, name, ACTIVITY, p) for p in range(4)}
        if len(set(where.values())) == 2 and sum(where[p] != where[0] for p in (1, 2, 3)) >= 2:
            return name, where
    raise AssertionError("unreachable")


@pytest.fixture
async def matching(ray_session: None) -> AsyncIterator[MatchingClient]:
    config = ServiceConfig(ray_namespace=f"matching-test-{uuid.uuid4().hex[:8]}", num_matching=2, default_partitions=4)
    handles = create_matching_actors(config, record_started="echo")
    try:
        yield MatchingClient(config)  # looks the actors up by name
    finally:
        for handle in handles:
            ray.kill(handle)


def direct(client: MatchingClient, queue: str, partition: int) -> ray.actor.ActorHandle:
    return client.actor_for(NS, queue, ACTIVITY, partition)


async def test_add_then_poll_through_the_client(matching: MatchingClient) -> None:
    queue, _ = spread_queue(matching)
    for n in range(20):
        await matching.add_task(make_task(queue, n))
    got = []
    for _ in range(20):
        data = await matching.poll(NS, queue, ACTIVITY, poller("p"), timeout_s=10)
        got.append(internal_pb2.MatchingTask.FromString(data).workflow_id)
    assert sorted(got) == sorted(f"wf-{n}" for n in range(20))
    assert await matching.poll(NS, queue, ACTIVITY, poller("p"), timeout_s=0.2) is None


async def test_waiting_pollers_get_tasks_added_to_any_partition(matching: MatchingClient) -> None:
    queue, where = spread_queue(matching)
    far = [p for p in (1, 2, 3) if where[p] != where[0]]
    polls = [
        asyncio.ensure_future(direct(matching, queue, p).poll_many.remote(NS, queue, ACTIVITY, p, poller(f"p{p}"), 10, 1))
        for p in range(4)
    ]
    await asyncio.sleep(0.5)
    for n, p in enumerate([far[0], 0, far[-1], 1]):
        await direct(matching, queue, p).add_task.remote(make_task(queue, n).SerializeToString(), p)
    got = [internal_pb2.MatchingTask.FromString(data).workflow_id for (data,) in await asyncio.gather(*polls)]
    assert sorted(got) == ["wf-0", "wf-1", "wf-2", "wf-3"]


async def test_backlog_on_a_far_child_reaches_a_later_poller(matching: MatchingClient) -> None:
    queue, where = spread_queue(matching)
    far = next(p for p in (1, 2, 3) if where[p] != where[0])
    other = next(p for p in (1, 2, 3) if p != far)
    for n, p in [(1, 0), (2, other)]:  # first the root pulls from the child, then a poll forwarded to it does
        await direct(matching, queue, far).add_task.remote(make_task(queue, n, "gpu").SerializeToString(), far)
        (data,) = await direct(matching, queue, p).poll_many.remote(NS, queue, ACTIVITY, p, poller("g", ("gpu",)), 5, 1)
        assert internal_pb2.MatchingTask.FromString(data).workflow_id == f"wf-{n}"


async def test_cancel_polls_wakes_waiting_polls(matching: MatchingClient) -> None:
    queue, _ = spread_queue(matching)
    polls = [asyncio.ensure_future(matching.poll(NS, queue, ACTIVITY, poller("bye"), timeout_s=30)) for _ in range(4)]
    other = asyncio.ensure_future(matching.poll(NS, queue, ACTIVITY, poller("stay"), timeout_s=30))
    await asyncio.sleep(0.5)
    await matching.cancel_polls("bye")
    assert await asyncio.wait_for(asyncio.gather(*polls), 5) == [None] * 4
    assert not other.done()
    await matching.add_task(make_task(queue, 1))
    assert internal_pb2.MatchingTask.FromString(await asyncio.wait_for(other, 10)).workflow_id == "wf-1"


async def test_describe_shows_backlog_and_pollers(matching: MatchingClient) -> None:
    queue, _ = spread_queue(matching)
    for p in range(4):
        task = make_task(queue, p, "gpu" if p % 2 else "")
        await direct(matching, queue, p).add_task.remote(task.SerializeToString(), p)
    await direct(matching, queue, 2).poll_many.remote(NS, queue, ACTIVITY, 2, poller("tpu", ("tpu",), False), 0.1, 1)
    info = await matching.describe_task_queue(NS, queue)
    assert [p["partition"] for p in info["activity"]] == [0, 1, 2, 3]
    assert [p["backlog"] for p in info["activity"]] == [1, 1, 1, 1]
    assert info["activity"][1]["backlog_by_label"] == {"gpu": 1}
    assert info["activity"][0]["backlog_age_s"] >= 0
    assert [s["poller_id"] for s in info["activity"][2]["pollers"]] == ["tpu"]
    assert info["activity"][2]["pollers"][0]["labels"] == ["tpu"]
    assert [p["backlog"] for p in info["workflow"]] == [0, 0, 0, 0]


# -- the poll → record-started loop, in-process (one actor: every partition is local) ------------


async def test_stale_task_is_dropped_and_polling_goes_on() -> None:
    calls: list[str] = []

    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        calls.append(task.workflow_id)
        return None if task.workflow_id == "wf-1" else task.SerializeToString()

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    await engine.add_task(make_task("q", 1).SerializeToString(), 2)
    await engine.add_task(make_task("q", 2).SerializeToString(), 3)
    data = await engine.poll(NS, "q", ACTIVITY, 1, poller("p"), 5)
    assert internal_pb2.MatchingTask.FromString(data).workflow_id == "wf-2"
    assert calls == ["wf-1", "wf-2"]


async def test_task_is_kept_when_recording_fails() -> None:
    failures = [RuntimeError("shard unavailable")] * 2

    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        if failures:
            raise failures.pop()
        return task.SerializeToString()

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    await engine.add_task(make_task("q", 1, queue_type=WORKFLOW).SerializeToString(), 0)
    data = await engine.poll(NS, "q", WORKFLOW, 0, poller("p"), 5)
    assert internal_pb2.MatchingTask.FromString(data).workflow_id == "wf-1"
    assert not failures
    info = await engine.describe(NS, "q", WORKFLOW)
    assert info[0]["backlog"] == 0


async def test_task_is_kept_when_recording_fails_until_the_poll_times_out() -> None:
    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        raise RuntimeError("shard unavailable")

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    await engine.add_task(make_task("q", 1).SerializeToString(), 0)
    assert await engine.poll(NS, "q", ACTIVITY, 0, poller("p"), 0.3) is None
    assert (await engine.describe(NS, "q", ACTIVITY))[0]["backlog"] == 1


async def test_a_start_retried_after_a_failure_keeps_its_request_id() -> None:
    """The shard commits the start, then the call fails (e.g. its answer is lost): the retry carries the same
    request id, so the shard answers again instead of taking the task for a stale one (issue 11)."""
    started: dict[str, str] = {}  # workflow id -> the request id its start was recorded with
    calls: list[str] = []

    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        calls.append(request_id)
        recorded = started.setdefault(task.workflow_id, request_id)
        if len(calls) == 1:
            raise RuntimeError("the answer was lost after the start committed")
        return task.SerializeToString() if recorded == request_id else None  # the shard's own rule

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    await engine.add_task(make_task("q", 1).SerializeToString(), 0)
    data = await engine.poll(NS, "q", ACTIVITY, 0, poller("p"), 5)
    assert data is not None and internal_pb2.MatchingTask.FromString(data).workflow_id == "wf-1"
    assert len(calls) == 2 and calls[0] == calls[1]


async def test_a_poll_takes_what_is_ready_in_one_hop() -> None:
    """A poll for up to N tasks answers the backlog's oldest N at once (issue 12: one call, many tasks), each
    recorded as started with its own request id; a stale one is dropped and the rest still answered."""
    recorded: list[tuple[str, str]] = []

    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        recorded.append((task.workflow_id, request_id))
        return None if task.workflow_id == "wf-2" else task.SerializeToString()

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    for n in range(1, 7):
        await engine.add_task(make_task("q", n, queue_type=WORKFLOW).SerializeToString(), 0)
    first = await engine.poll_many(NS, "q", WORKFLOW, 0, poller("p"), 5, 4)
    assert [internal_pb2.MatchingTask.FromString(d).workflow_id for d in first] == ["wf-1", "wf-3", "wf-4"]
    rest = await engine.poll_many(NS, "q", WORKFLOW, 0, poller("p"), 5, 10)
    assert [internal_pb2.MatchingTask.FromString(d).workflow_id for d in rest] == ["wf-5", "wf-6"]
    assert [wf for wf, _ in recorded] == [f"wf-{n}" for n in range(1, 7)]
    assert len({request_id for _, request_id in recorded}) == 6
    assert await engine.poll_many(NS, "q", WORKFLOW, 0, poller("p"), 0.1, 10) == []


async def test_a_many_task_poll_puts_back_what_it_could_not_start() -> None:
    """Of a batch, the tasks whose start failed go back to the queue once others were answered: nothing is
    lost and the next poll gets them."""
    fail = {"wf-2"}

    async def record_started(task: internal_pb2.MatchingTask, identity: str, request_id: str) -> bytes | None:
        if task.workflow_id in fail:
            raise RuntimeError("shard unavailable")
        return task.SerializeToString()

    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, record_started)
    for n in (1, 2, 3):
        await engine.add_task(make_task("q", n).SerializeToString(), 0)
    first = await engine.poll_many(NS, "q", ACTIVITY, 0, poller("p"), 5, 3)
    assert sorted(internal_pb2.MatchingTask.FromString(d).workflow_id for d in first) == ["wf-1", "wf-3"]
    assert (await engine.describe(NS, "q", ACTIVITY))[0]["backlog"] == 1
    fail.clear()
    again = await engine.poll_many(NS, "q", ACTIVITY, 0, poller("p"), 5, 3)
    assert [internal_pb2.MatchingTask.FromString(d).workflow_id for d in again] == ["wf-2"]


async def test_a_many_task_poll_respects_the_rate_limit() -> None:
    """Each task of a batch pays its token: a queue limited to 1 per second hands out its burst, not 5, at once."""
    engine = MatchingEngine(ServiceConfig(num_matching=1), 0, "echo", persist=False)
    engine.set_rate_limit(NS, "q", RateLimitSetting(1.0, 1.0), save=False)
    for n in range(1, 6):
        await engine.add_task(make_task("q", n).SerializeToString(), 0)
    burst = int(max(1.0, RATE_LIMIT_BURST_S))
    assert burst < 5
    first = await engine.poll_many(NS, "q", ACTIVITY, 0, poller("p"), 5, 5)
    assert len(first) == burst
    assert (await engine.describe(NS, "q", ACTIVITY))[0]["backlog"] == 5 - burst
