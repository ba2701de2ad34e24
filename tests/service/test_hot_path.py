"""The hot path carries many workflows' work per hop (issue 12): a poll answers every ready task at once, each
recorded as started by its shard, and a new run's first workflow task carries its history with it."""

from __future__ import annotations

import asyncio
import uuid

from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import _wire
from rayflow.service.history.mutable_state import HISTORY_WITH_TASK_MAX_BYTES, with_history
from rayflow.service.matching.client import MatchingClient
from tests.client.test_hello import Greeting

WORKFLOW = RR.TASK_QUEUE_TYPE_WORKFLOW


async def _backlog(matching: MatchingClient, task_queue: str) -> int:
    described = await matching.describe_task_queue("default", task_queue)
    return sum(partition["backlog"] for partition in described["workflow"])


async def test_one_poll_takes_every_ready_workflow_task_with_its_history(env, task_queue: str) -> None:
    """Five runs wait in the queue; one poll for up to eight answers all five, each started in its shard with
    the poller's identity, and each with the run's whole history as the store has it."""
    client = env.client
    ids = [f"hot-{uuid.uuid4().hex[:6]}-{i}" for i in range(5)]
    for workflow_id in ids:
        await client.start_workflow(Greeting.run, workflow_id, id=workflow_id, task_queue=task_queue)
    matching = MatchingClient(client.service_config)
    for _ in range(100):  # the shards dispatch after their commits
        if await _backlog(matching, task_queue) == len(ids):
            break
        await asyncio.sleep(0.05)
    poller = {"identity": "tester@host", "poller_id": uuid.uuid4().hex, "labels": [], "accept_unlabelled": True}
    answers = await matching.poll_many("default", task_queue, WORKFLOW, poller, timeout_s=5, max_tasks=8)

    tasks = [RR.PollWorkflowTaskQueueResponse.FromString(data) for data in answers]
    assert sorted(task.workflow_execution.workflow_id for task in tasks) == sorted(ids)
    for task in tasks:
        stored = await client.get_workflow_handle(task.workflow_execution.workflow_id).fetch_history()
        assert [e.SerializeToString() for e in task.history.events] == [
            e.SerializeToString() for e in stored.raw.events]
        kinds = [e.event_type for e in task.history.events]
        assert kinds == [history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
                         history_pb2.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                         history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED]
        assert task.history.events[-1].workflow_task_started_event_attributes.identity == "tester@host"
        assert task.started_event_id == 3
    assert await _backlog(matching, task_queue) == 0


def _events(*kinds: int, payload: bytes = b"") -> list[history_pb2.HistoryEvent]:
    events = []
    for i, kind in enumerate(kinds, start=1):
        event = history_pb2.HistoryEvent(event_id=i, event_type=kind)
        if payload and kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            event.workflow_execution_started_event_attributes.input.payloads.add(data=payload)
        events.append(event)
    return events


def _task(queue_type: int = WORKFLOW) -> internal_pb2.MatchingTask:
    return internal_pb2.MatchingTask(namespace="default", workflow_id="wf", run_id="r", scheduled_event_id=2,
                                     attempt=1, task_queue_type=queue_type, task_queue="q")


def test_only_a_new_runs_small_history_rides_with_its_task() -> None:
    first = _events(history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, history_pb2.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
    task = with_history(_task(), first)
    assert task.history == _wire.history_bytes(e.SerializeToString() for e in first)
    assert task.history_last_event_id == 2
    assert history_pb2.History.FromString(task.history).events == first

    later = first[1:]  # events written to a run that already had history: the task cannot carry all of it
    assert not with_history(_task(), later).history
    assert not with_history(_task(RR.TASK_QUEUE_TYPE_ACTIVITY), first).history
    big = _events(history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, history_pb2.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                  payload=b"x" * HISTORY_WITH_TASK_MAX_BYTES)
    assert not with_history(_task(), big).history
