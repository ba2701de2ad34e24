"""Replayer: a saved history replays clean against the same code, fails against reordered code, and
``workflow.patched`` lets the changed code replay the old history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rayflow import activity, workflow
from rayflow.client import WorkflowHistory
from rayflow.common import EventType
from rayflow.exceptions import NondeterminismError
from rayflow.proto.rayflow.v1 import history_pb2
from rayflow.worker import Replayer, ReplayResult, Worker

TIMEOUT = timedelta(seconds=5)


@activity.defn
async def first_step() -> str:
    return "first"


@activity.defn
async def second_step() -> str:
    return "second"


@workflow.defn(name="TwoActivities")
class V1:
    @workflow.run
    async def run(self) -> list[str]:
        a = await workflow.execute_activity(first_step, start_to_close_timeout=TIMEOUT)
        b = await workflow.execute_activity(second_step, start_to_close_timeout=TIMEOUT)
        return [a, b]


@workflow.defn(name="TwoActivities")
class V2Reordered:
    @workflow.run
    async def run(self) -> list[str]:
        b = await workflow.execute_activity(second_step, start_to_close_timeout=TIMEOUT)
        a = await workflow.execute_activity(first_step, start_to_close_timeout=TIMEOUT)
        return [a, b]


@workflow.defn(name="TwoActivities")
class V3Patched:
    @workflow.run
    async def run(self) -> list[str]:
        if workflow.patched("reorder"):
            b = await workflow.execute_activity(second_step, start_to_close_timeout=TIMEOUT)
            a = await workflow.execute_activity(first_step, start_to_close_timeout=TIMEOUT)
        else:
            a = await workflow.execute_activity(first_step, start_to_close_timeout=TIMEOUT)
            b = await workflow.execute_activity(second_step, start_to_close_timeout=TIMEOUT)
        return [a, b]


async def _run(env, task_queue: str, workflow_cls: type, workflow_id: str) -> WorkflowHistory:
    client = env.client
    async with Worker(client, task_queue=task_queue, workflows=[workflow_cls], activities=[first_step, second_step]):
        handle = await client.start_workflow(workflow_cls.run, id=workflow_id, task_queue=task_queue)
        assert await handle.result() == ["first", "second"]
    return await handle.fetch_history()


async def test_replayer_checks_code_changes_against_a_saved_history(env, task_queue):
    saved = (await _run(env, task_queue, V1, "replay-v1")).to_json()

    # The same code replays clean, from JSON and from the parsed history.
    result = await Replayer(workflows=[V1]).replay_workflow(saved)
    assert isinstance(result, ReplayResult) and result.failure is None
    assert (await Replayer(workflows=[V1]).replay_workflow(WorkflowHistory.from_json(saved))).failure is None

    # Reordered activities: nondeterminism naming both.
    with pytest.raises(NondeterminismError) as caught:
        await Replayer(workflows=[V2Reordered]).replay_workflow(saved)
    assert "first_step" in str(caught.value) and "second_step" in str(caught.value)
    result = await Replayer(workflows=[V2Reordered]).replay_workflow(saved, raise_on_failure=False)
    assert isinstance(result.failure, NondeterminismError)

    # Guarded by workflow.patched(), the change replays the old history on the old path.
    assert (await Replayer(workflows=[V3Patched]).replay_workflow(saved)).failure is None


async def test_patched_code_run_live_records_a_marker_and_replays(env, task_queue):
    history = await _run(env, task_queue, V3Patched, "replay-v3")
    types = [event.event_type for event in history.events]
    assert EventType.MARKER_RECORDED in types
    assert types.index(EventType.MARKER_RECORDED) < types.index(EventType.ACTIVITY_TASK_SCHEDULED)
    scheduled = [e.attributes["activity_type"] for e in history.events if e.event_type == EventType.ACTIVITY_TASK_SCHEDULED]
    assert scheduled == ["second_step", "first_step"]
    assert (await Replayer(workflows=[V3Patched]).replay_workflow(history.to_json())).failure is None
    assert (await Replayer(workflows=[V3Patched]).replay_workflow(history)).failure is None
    # The old code cannot replay the new history.
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[V1]).replay_workflow(history)


async def test_replayer_rejects_unknown_types():
    with pytest.raises(TypeError, match="@workflow.defn"):
        Replayer(workflows=[int])
    with pytest.raises(TypeError, match="WorkflowHistory"):
        await Replayer(workflows=[V1]).replay_workflow(42)  # type: ignore[arg-type]


async def test_replayer_takes_the_workers_failure_exception_types():
    """A run that a worker-level listed KeyError failed replays clean only with the same types; listed
    nondeterminism fails the workflow on a worker but is still reported by the Replayer."""
    from tests.replay.histories import HistoryBuilder, new_instance
    from tests.replay.test_workflow_exceptions import (
        RaisesKeyError,
        SchedulesAFailingOnNondeterminism,
        _history_scheduling,
    )

    history = HistoryBuilder("RaisesKeyError")
    history.workflow_task()
    failed = new_instance(RaisesKeyError, workflow_failure_exception_types=[KeyError]).apply(history.events)
    history.task_completed(failed.commands)
    assert history.events[-1].event_type == EventType.WORKFLOW_EXECUTION_FAILED
    raw = history_pb2.History(events=history.events)
    assert (await Replayer(workflows=[RaisesKeyError], workflow_failure_exception_types=[KeyError])
            .replay_workflow(raw)).failure is None
    unlisted = await Replayer(workflows=[RaisesKeyError]).replay_workflow(raw, raise_on_failure=False)
    assert isinstance(unlisted.failure, KeyError)

    nondeterministic = history_pb2.History(events=_history_scheduling("b").events)
    with pytest.raises(NondeterminismError, match="activity 'b'"):
        await Replayer(workflows=[SchedulesAFailingOnNondeterminism]).replay_workflow(nondeterministic)
    with pytest.raises(TypeError, match="workflow_failure_exception_types"):
        Replayer(workflows=[RaisesKeyError], workflow_failure_exception_types=[42])  # type: ignore[list-item]
