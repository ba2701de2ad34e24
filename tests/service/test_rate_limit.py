"""The task queue's global activities-per-second limit: token buckets, the split over partitions, the latest
setting winning, its persistence across Matching restarts, and end to end across two pools."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import ray

from rayflow import activity, workflow
from rayflow.common import EventType
from rayflow.persistence import open_store
from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service.bootstrap import create_matching_actors
from rayflow.service.config import ServiceConfig
from rayflow.service.matching.actor import MatchingEngine, RateLimitSetting, rate_limit_key
from rayflow.service.matching.client import MatchingClient
from rayflow.service.matching.partition import PartitionKey, Poller, TaskQueuePartition, TokenBucket
from rayflow.worker import Worker

ACTIVITY = request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY
WORKFLOW = request_response_pb2.TASK_QUEUE_TYPE_WORKFLOW
NS = "default"


def make_task(n: int, queue: str = "q", queue_type: int = ACTIVITY) -> internal_pb2.MatchingTask:
    return internal_pb2.MatchingTask(
        namespace=NS, workflow_id=f"wf-{n}", run_id="run", scheduled_event_id=n, attempt=1,
        task_queue_type=queue_type, task_queue=queue,
    )


def poller(name: str = "p", rate: float | None = None, set_at: float = 0.0) -> dict:
    data = {"identity": f"{name}@host", "poller_id": name, "labels": [], "accept_unlabelled": True}
    if rate is not None:
        data.update(task_queue_rate_limit=rate, task_queue_rate_limit_set_at=set_at)
    return data


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the token bucket ----------------------------------------------------------------------------


def test_token_bucket_starts_full_and_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.25, clock=clock)
    assert bucket.burst == 1.0  # a small burst: one token, not a second's worth
    assert bucket.try_take()
    assert not bucket.try_take()
    assert abs(bucket.wait_s() - 0.8) < 1e-9
    clock.now += 0.7
    assert not bucket.try_take()
    clock.now += 0.1
    assert bucket.try_take()
    clock.now += 100  # tokens never pile up beyond the burst
    assert bucket.try_take() and not bucket.try_take()
    bucket.refund()
    assert bucket.try_take()


def test_token_bucket_burst_and_rate_change() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, clock=clock)
    assert bucket.burst == 100.0  # a tenth of a second of tokens
    assert sum(bucket.try_take() for _ in range(150)) == 100
    bucket.set_rate(10)
    assert bucket.burst == 1.0 and bucket.tokens <= 1.0
    clock.now += 0.1
    assert bucket.try_take() and not bucket.try_take()


# -- one partition -------------------------------------------------------------------------------


async def test_partition_hands_out_backlog_at_its_rate() -> None:
    part = TaskQueuePartition(PartitionKey(NS, "q", ACTIVITY, 0))
    part.set_rate_limit(10.0)
    for n in range(6):
        await part.add(make_task(n))
    who = Poller("p@host", "p")
    start = time.monotonic()
    got = [await part.poll(who, 5) for _ in range(6)]
    elapsed = time.monotonic() - start
    assert [t.workflow_id for t in got] == [f"wf-{n}" for n in range(6)]
    assert 0.45 <= elapsed < 2.0  # one at once, then one every 0.1 s
    assert part.describe()["dispatch_rate"] > 0


async def test_sync_match_waits_for_a_token() -> None:
    part = TaskQueuePartition(PartitionKey(NS, "q", ACTIVITY, 0))
    part.set_rate_limit(2.0)
    polls = [asyncio.ensure_future(part.poll(Poller(f"{i}@host", str(i)), 5)) for i in range(2)]
    await asyncio.sleep(0.05)
    start = time.monotonic()
    await part.add(make_task(1))
    await part.add(make_task(2))
    await asyncio.sleep(0.05)
    assert sum(p.done() for p in polls) == 1  # the second task stays in the backlog without a token
    assert part.backlog_count() == 1
    await asyncio.wait_for(asyncio.gather(*polls), 2)
    assert time.monotonic() - start >= 0.4


async def test_rate_limit_removed_or_raised_wakes_waiting_polls() -> None:
    part = TaskQueuePartition(PartitionKey(NS, "q", ACTIVITY, 0))
    part.set_rate_limit(0.01)  # a token every 100 s
    await part.add(make_task(1))
    await part.add(make_task(2))
    who = Poller("p@host", "p")
    assert (await part.poll(who, 1)).workflow_id == "wf-1"
    waiting = asyncio.ensure_future(part.poll(who, 10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    part.set_rate_limit(None)
    assert (await asyncio.wait_for(waiting, 1)).workflow_id == "wf-2"


# -- the engine: split over partitions, latest setting wins, persistence ------------------------


async def test_limit_is_split_over_the_partitions_of_the_queue() -> None:
    engine = MatchingEngine(ServiceConfig(num_matching=1, default_partitions=4), 0, "echo")
    assert await engine.poll(NS, "q", ACTIVITY, 1, poller("p", rate=20.0, set_at=1.0), 0) is None
    for partition in range(4):  # partitions created later get their share too
        await engine.add_task(make_task(100 + partition).SerializeToString(), partition)
    shares = {key.partition: part.rate_limit for key, part in engine._partitions.items()}
    assert shares == {0: 5.0, 1: 5.0, 2: 5.0, 3: 5.0}
    for n in range(16):
        await engine.add_task(make_task(n).SerializeToString(), n % 4)
    start = time.monotonic()
    polls = [engine.poll(NS, "q", ACTIVITY, p % 4, poller(f"p{p}"), 10) for p in range(20)]
    got = await asyncio.wait_for(asyncio.gather(*polls), 10)
    elapsed = time.monotonic() - start
    assert None not in got and len({internal_pb2.MatchingTask.FromString(d).workflow_id for d in got}) == 20
    # 5 tasks per partition at 5/s each, one token saved up per partition: at least 0.8 s, 20/s overall.
    assert 0.7 <= elapsed < 4.0, elapsed
    # The workflow queue of the same name is not limited.
    await engine.add_task(make_task(1, queue_type=WORKFLOW).SerializeToString(), 0)
    assert engine._partitions[PartitionKey(NS, "q", WORKFLOW, 0)].rate_limit is None


async def test_latest_setting_wins() -> None:
    engine = MatchingEngine(ServiceConfig(num_matching=1, default_partitions=2), 0, "echo")
    await engine.poll(NS, "q", ACTIVITY, 0, poller("a", rate=4.0, set_at=100.0), 0.01)
    await engine.poll(NS, "q", ACTIVITY, 0, poller("old", rate=10.0, set_at=50.0), 0)  # an older pool polls on
    assert engine.rate_limit(NS, "q") == RateLimitSetting(4.0, 100.0)
    await engine.poll(NS, "q", ACTIVITY, 1, poller("new", rate=1.0, set_at=200.0), 0)
    assert engine.rate_limit(NS, "q") == RateLimitSetting(1.0, 200.0)
    assert {part.rate_limit for part in engine._partitions.values()} == {0.5}
    await engine.poll(NS, "q", ACTIVITY, 0, poller("plain"), 0.01)  # a pool without a limit changes nothing
    await engine.poll(NS, "q", WORKFLOW, 0, poller("wf", rate=99.0, set_at=300.0), 0)  # nor do workflow polls
    assert engine.rate_limit(NS, "q") == RateLimitSetting(1.0, 200.0)
    info = await engine.describe(NS, "q", ACTIVITY)
    assert [info[p]["rate_limit"] for p in (0, 1)] == [1.0, 1.0]
    assert [info[p]["partition_rate_limit"] for p in (0, 1)] == [0.5, 0.5]
    pollers = {p["poller_id"]: p for p in info[0]["pollers"]}
    assert pollers["a"]["rate_limit"] == 4.0 and pollers["plain"]["rate_limit"] is None


async def test_limit_is_kept_in_the_store_for_a_new_engine(tmp_path) -> None:
    config = ServiceConfig(num_matching=1, default_partitions=2, store=str(tmp_path))
    engine = MatchingEngine(config, 0, "echo", persist=True)
    await engine.poll(NS, "q", ACTIVITY, 0, poller("a", rate=3.0, set_at=100.0), 0)
    await engine.flush()
    store = open_store(tmp_path)
    try:
        stored = RateLimitSetting.from_bytes(await store.get_metadata(rate_limit_key(NS, "q")))
    finally:
        await store.close()
    assert stored == RateLimitSetting(3.0, 100.0)

    # A new engine (a restarted actor) enforces it before any poller says so again.
    again = MatchingEngine(config, 0, "echo", persist=True)
    for n in range(3):
        await again.add_task(make_task(n).SerializeToString(), 0)
    assert again._partitions[PartitionKey(NS, "q", ACTIVITY, 0)].rate_limit == 1.5
    start = time.monotonic()
    for _ in range(2):
        assert await again.poll(NS, "q", ACTIVITY, 0, poller("plain"), 5) is not None
    assert time.monotonic() - start >= 0.6  # the second waited for a token (1.5/s)
    info = await again.describe(NS, "q", ACTIVITY)
    assert info[1]["rate_limit"] == 3.0 and info[1]["partition_rate_limit"] == 1.5

    # An older setting does not overwrite it; a newer one does.
    await again.poll(NS, "q", ACTIVITY, 0, poller("old", rate=7.0, set_at=50.0), 0)
    await again.poll(NS, "q", ACTIVITY, 0, poller("new", rate=8.0, set_at=150.0), 0)
    await again.flush()
    third = MatchingEngine(config, 0, "echo", persist=True)
    assert (await third.describe(NS, "q", ACTIVITY))[0]["rate_limit"] == 8.0


async def test_restarted_matching_actor_enforces_the_stored_limit(ray_session, tmp_path) -> None:
    config = ServiceConfig(ray_namespace=f"rate-test-{uuid.uuid4().hex[:8]}", num_matching=1, default_partitions=4,
                           store=str(tmp_path))
    handles = create_matching_actors(config, record_started="echo", persist=True)
    client = MatchingClient(config)
    try:
        await client.poll(NS, "q", ACTIVITY, poller("a", rate=2.0, set_at=10.0), timeout_s=0)
        store = open_store(tmp_path)
        try:
            deadline = time.monotonic() + 10
            while await store.get_metadata(rate_limit_key(NS, "q")) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await store.close()
        ray.kill(handles[0], no_restart=False)  # Ray restarts it: a new process, a new engine
        deadline = time.monotonic() + 30
        while True:
            try:
                assert await client.handle(0).rate_limit.remote(NS, "q") == (2.0, 10.0)
                break
            except ray.exceptions.RayActorError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        info = await client.describe_task_queue(NS, "q")
        assert [p["partition_rate_limit"] for p in info["activity"]] == [0.5] * 4
        assert [p["rate_limit"] for p in info["workflow"]] == [None] * 4
    finally:
        for handle in handles:
            ray.kill(handle)


# -- end to end: one limit across two pools ------------------------------------------------------


@activity.defn
async def quick(n: int) -> int:
    return n


@workflow.defn
class FiftyQuick:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(await asyncio.gather(*(
            workflow.execute_activity(quick, n, start_to_close_timeout=timedelta(seconds=60)) for n in range(count)
        )))


async def test_queue_limit_holds_across_two_pools(env, task_queue):
    client = env.client
    async with (
        Worker(client, task_queue=task_queue, workflows=[FiftyQuick], activities=[quick],
               max_task_queue_activities_per_second=5),
        Worker(client, task_queue=task_queue, activities=[quick], max_task_queue_activities_per_second=5),
    ):
        handle = await client.start_workflow(FiftyQuick.run, 50, id="fifty", task_queue=task_queue)
        assert await asyncio.wait_for(handle.result(), 60) == list(range(50))
        described = await client.describe_task_queue(task_queue)
    events = (await handle.fetch_history()).events
    started = sorted(e.event_time.timestamp() for e in events if e.event_type == EventType.ACTIVITY_TASK_STARTED)
    assert len(started) == 50
    # 5/s over 4 partitions (1.25/s each, one token saved up each): 50 starts take at least ~9 s.
    assert started[-1] - started[0] >= 8.5, started
    assert described.activity.rate_limit == 5.0
    assert described.activity.dispatch_rate > 0
