"""History shard state, without Ray: the execution cache mirrors the store exactly (one owner of the current
run), a closed parent still gets its close policy to a child whose start was in flight, and a workflow task that
failed for signals arriving meanwhile is not counted as an attempt (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

from rayflow.persistence import ExecutionWrite, open_store
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2, message_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history import children
from rayflow.service.history.execution_cache import ExecutionCache
from rayflow.service.history.mutable_state import StateBuilder

NS = "default"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _state(run_id: str, status: int) -> internal_pb2.MutableState:
    state = internal_pb2.MutableState()
    state.execution_info.namespace, state.execution_info.workflow_id = NS, "wf"
    state.execution_info.run_id, state.execution_info.status = run_id, status
    state.execution_info.next_event_id = 2
    return state


def _write(state: internal_pb2.MutableState, *, create: bool) -> ExecutionWrite:
    info = state.execution_info
    return ExecutionWrite(namespace=NS, workflow_id="wf", run_id=info.run_id, state=state.SerializeToString(),
                          status=info.status, next_event_id=info.next_event_id, create=create, start_time=1.0)


async def test_a_write_to_an_old_run_does_not_move_the_current_run(tmp_path):
    store = open_store(tmp_path)
    try:
        range_id = await store.acquire_shard(0)
        cache = ExecutionCache(store, 0)
        run1_closed = _state("run-1", RR.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
        run2 = _state("run-2", RR.WORKFLOW_EXECUTION_STATUS_RUNNING)
        await store.write(0, range_id, [_write(_state("run-1", RR.WORKFLOW_EXECUTION_STATUS_RUNNING), create=True)])
        cache.committed((NS, "wf", "run-1"), _state("run-1", RR.WORKFLOW_EXECUTION_STATUS_RUNNING), created=True)
        # continue-as-new: run 1 closes and run 2 starts in one write
        await store.write(0, range_id, [_write(run1_closed, create=False), _write(run2, create=True)])
        cache.committed((NS, "wf", "run-1"), run1_closed, created=False)
        cache.committed((NS, "wf", "run-2"), run2, created=True)
        assert await cache.current_run(NS, "wf") == "run-2"
        # a later write to the closed run 1 (its close policy applied)
        await store.write(0, range_id, [_write(run1_closed, create=False)])
        cache.committed((NS, "wf", "run-1"), run1_closed, created=False)
        assert await cache.current_run(NS, "wf") == "run-2"
        assert (await store.get_current_execution(0, NS, "wf")).run_id == "run-2"
        # run 2 closes: the cache lets go of the workflow id, the store still answers for it
        closed2 = _state("run-2", RR.WORKFLOW_EXECUTION_STATUS_COMPLETED)
        await store.write(0, range_id, [_write(closed2, create=False)])
        cache.committed((NS, "wf", "run-2"), closed2, created=False)
        assert cache.stats()["current_runs"] == 0 and cache.stats()["open_executions"] == 0
        assert await cache.current_run(NS, "wf") == "run-2"
    finally:
        await store.close()


def test_a_child_started_after_its_parent_closed_still_gets_the_close_policy():
    state = _state("parent-run", RR.WORKFLOW_EXECUTION_STATUS_TERMINATED)
    child = state.children[5]
    child.initiated_event_id, child.workflow_id = 5, "child"
    child.parent_close_policy = children.TERMINATE
    builder = StateBuilder(state, NOW)
    assert children.record_started(builder, 5, "child-run") is True
    assert builder.new_events == []  # the parent's history is closed
    assert [c.run_id for c in children.needs_close_policy(builder.state)] == ["child-run"]
    assert children.needs_attention(builder.state)
    abandoned = StateBuilder(_state("p2", RR.WORKFLOW_EXECUTION_STATUS_TERMINATED), NOW)
    abandoned.state.children[5].parent_close_policy = children.ABANDON
    assert children.record_started(abandoned, 5, "child-run") is False


def test_a_task_failed_for_unhandled_signals_is_not_counted_as_an_attempt():
    builder = StateBuilder(_state("run", RR.WORKFLOW_EXECUTION_STATUS_RUNNING), NOW)
    builder.schedule_workflow_task()
    for _ in range(5):
        builder.start_workflow_task("worker", "req")
        builder.fail_workflow_task(history_pb2.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                                   message_pb2.Failure(message="signals arrived"), "worker", timed_out=False)
        wft = builder.state.workflow_task
        assert wft.attempt == 1 and wft.dispatch_time == wft.scheduled_time  # no backoff either
    builder.start_workflow_task("worker", "req")
    builder.fail_workflow_task(history_pb2.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
                               message_pb2.Failure(message="bug"), "worker", timed_out=False)
    assert builder.state.workflow_task.attempt == 2  # a failure of the code itself counts
