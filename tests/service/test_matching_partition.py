"""TaskQueuePartition alone: pure asyncio, no Ray; partitions of one queue forward in-process."""

from __future__ import annotations

import asyncio

import pytest

from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service.matching.partition import LocalForwarder, PartitionKey, Poller, TaskQueuePartition

ACTIVITY = request_response_pb2.TASK_QUEUE_TYPE_ACTIVITY


def make_task(n: int, label: str = "", attempt: int = 1) -> internal_pb2.MatchingTask:
    return internal_pb2.MatchingTask(
        namespace="default",
        workflow_id=f"wf-{n}",
        run_id="run",
        scheduled_event_id=n,
        attempt=attempt,
        task_queue_type=ACTIVITY,
        task_queue="q",
        resource_label=label,
    )


def poller(name: str = "p", labels: tuple[str, ...] = (), accept_unlabelled: bool = True) -> Poller:
    return Poller(
        identity=f"{name}@host", poller_id=name, labels=frozenset(labels), accept_unlabelled=accept_unlabelled
    )


class Queue:
    """The partitions of one queue, forwarding between each other through a LocalForwarder."""

    def __init__(self, partitions: int) -> None:
        self.parts: dict[PartitionKey, TaskQueuePartition] = {}
        forwarder = LocalForwarder(self._lookup) if partitions > 1 else None
        for i in range(partitions):
            key = PartitionKey("default", "q", ACTIVITY, i)
            self.parts[key] = TaskQueuePartition(key, forwarder)

    def _lookup(self, key: PartitionKey) -> TaskQueuePartition:
        return self.parts[key]

    def __getitem__(self, partition: int) -> TaskQueuePartition:
        return self.parts[PartitionKey("default", "q", ACTIVITY, partition)]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_sync_match_beats_backlog() -> None:
    part = Queue(1)[0]
    await part.add(make_task(1))  # no poller: backlog
    waiting = asyncio.create_task(part.poll(poller("a", accept_unlabelled=False, labels=("gpu",)), 5))
    await settle()
    await part.add(make_task(2, "gpu"))  # goes straight to the waiting poller
    assert (await waiting).workflow_id == "wf-2"
    assert [t.workflow_id for t in part.backlog_tasks()] == ["wf-1"]


async def test_fifo_on_one_partition() -> None:
    part = Queue(1)[0]
    for n in range(5):
        await part.add(make_task(n, "gpu" if n % 2 else ""))
    got = [(await part.poll(poller(labels=("gpu",)), 1)).workflow_id for _ in range(5)]
    assert got == [f"wf-{n}" for n in range(5)]


async def test_waiting_pollers_are_served_in_order() -> None:
    part = Queue(1)[0]
    first = asyncio.create_task(part.poll(poller("a"), 5))
    await settle()
    second = asyncio.create_task(part.poll(poller("b"), 5))
    await settle()
    await part.add(make_task(1))
    await part.add(make_task(2))
    assert ((await first).workflow_id, (await second).workflow_id) == ("wf-1", "wf-2")


async def test_labelled_task_only_to_a_poller_with_the_label() -> None:
    part = Queue(1)[0]
    cpu = asyncio.create_task(part.poll(poller("cpu"), 0.2))
    await settle()
    await part.add(make_task(1, "gpu:A100"))
    assert await cpu is None
    assert part.describe()["backlog_by_label"] == {"gpu:A100": 1}
    assert await part.poll(poller("gpu", labels=("gpu",)), 0.05) is None  # "gpu" is not "gpu:A100"
    a100 = await part.poll(poller("a100", labels=("gpu:A100",)), 1)
    assert a100.workflow_id == "wf-1" and part.backlog_count() == 0


async def test_poller_skips_backlog_tasks_it_cannot_take() -> None:
    part = Queue(1)[0]
    await part.add(make_task(1, "gpu"))
    await part.add(make_task(2))
    assert (await part.poll(poller("cpu"), 1)).workflow_id == "wf-2"
    assert [t.workflow_id for t in part.backlog_tasks()] == ["wf-1"]


async def test_poller_refusing_unlabelled_tasks_ignores_them() -> None:
    part = Queue(1)[0]
    await part.add(make_task(1))
    gpu_only = poller("gpu", labels=("gpu",), accept_unlabelled=False)
    assert await part.poll(gpu_only, 0.05) is None
    waiting = asyncio.create_task(part.poll(gpu_only, 5))
    await settle()
    await part.add(make_task(2))
    await part.add(make_task(3, "gpu"))
    assert (await waiting).workflow_id == "wf-3"
    assert [t.workflow_id for t in part.backlog_tasks()] == ["wf-1", "wf-2"]


async def test_duplicate_add_is_ignored() -> None:
    part = Queue(1)[0]
    await part.add(make_task(1))
    await part.add(make_task(1))
    await part.add(make_task(1, attempt=2))  # another attempt is another task
    assert part.backlog_count() == 2


async def test_poll_times_out_with_none() -> None:
    part = Queue(1)[0]
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await part.poll(poller(), 0.1) is None
    assert 0.09 <= loop.time() - start < 1
    assert part.waiting_polls() == 0


async def test_cancel_wakes_the_poll() -> None:
    queue = Queue(4)
    waiting = [asyncio.create_task(queue[i].poll(poller("p"), 30)) for i in (0, 2)]
    other = asyncio.create_task(queue[0].poll(poller("other"), 30))
    await settle()
    queue[0].cancel("p")  # the poll on partition 2 was forwarded to the root
    assert await asyncio.wait_for(asyncio.gather(*waiting), 1) == [None, None]
    assert not other.done()
    await queue[1].add(make_task(1))
    assert (await other).workflow_id == "wf-1"


async def test_task_added_to_a_child_reaches_a_poller_on_another_child() -> None:
    queue = Queue(4)
    waiting = asyncio.create_task(queue[1].poll(poller(), 5))
    await settle()
    await queue[3].add(make_task(1))  # offered to the root, where the poll from partition 1 waits
    assert (await waiting).workflow_id == "wf-1"
    assert all(queue[i].backlog_count() == 0 for i in range(4))


async def test_backlogged_child_task_reaches_a_later_root_poller() -> None:
    queue = Queue(4)
    await queue[2].add(make_task(1))
    assert queue[2].backlog_count() == 1
    assert (await queue[0].poll(poller(), 1)).workflow_id == "wf-1"
    assert queue[2].backlog_count() == 0


async def test_backlogged_child_task_reaches_a_later_poller_on_another_child() -> None:
    queue = Queue(4)
    await queue[2].add(make_task(1, "gpu"))
    assert (await queue[3].poll(poller(labels=("gpu",)), 1)).workflow_id == "wf-1"


async def test_root_waiter_is_woken_by_child_backlog() -> None:
    queue = Queue(4)
    gpu = asyncio.create_task(queue[0].poll(poller("gpu", labels=("gpu",)), 5))
    await settle()
    # The root declines (its waiter has no "cpu" label), so the task waits in partition 1.
    await queue[1].add(make_task(1, "cpu"))
    assert queue[1].backlog_count() == 1
    cpu = asyncio.create_task(queue[2].poll(poller("cpu", labels=("cpu",)), 5))
    assert (await cpu).workflow_id == "wf-1"
    await queue[3].add(make_task(2, "gpu"))
    assert (await gpu).workflow_id == "wf-2"


async def test_cancelled_waiter_loses_nothing() -> None:
    part = Queue(1)[0]
    doomed = asyncio.create_task(part.poll(poller("a"), 5))
    survivor = asyncio.create_task(part.poll(poller("b"), 5))
    await settle()
    await part.add(make_task(1))  # handed to the first waiter...
    doomed.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert (await survivor).workflow_id == "wf-1"


async def test_waiter_cancelled_before_the_add_is_skipped() -> None:
    queue = Queue(4)
    doomed = asyncio.create_task(queue[2].poll(poller("a"), 5))
    await settle()
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await queue[1].add(make_task(1))
    assert (await queue[3].poll(poller("b"), 1)).workflow_id == "wf-1"


async def test_put_back_goes_to_the_front() -> None:
    part = Queue(1)[0]
    for n in range(3):
        await part.add(make_task(n))
    first = await part.poll(poller(), 1)
    part.put_back(first)
    assert [t.workflow_id for t in part.backlog_tasks()] == ["wf-0", "wf-1", "wf-2"]


async def test_describe_reports_backlog_and_pollers() -> None:
    part = Queue(1)[0]
    await part.add(make_task(1, "gpu"))
    await part.add(make_task(2))
    await part.poll(poller("p1", labels=("tpu",), accept_unlabelled=False), 0.01)
    info = part.describe()
    assert info["partition"] == 0 and info["backlog"] == 2
    assert info["backlog_by_label"] == {"gpu": 1, "": 1}
    assert info["backlog_age_s"] >= 0
    (seen,) = info["pollers"]
    assert (seen["identity"], seen["poller_id"], seen["labels"]) == ("p1@host", "p1", ["tpu"])
    assert seen["last_access_time"] > 0
