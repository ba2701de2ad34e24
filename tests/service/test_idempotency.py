"""Every mutating call is idempotent by its request id, as in Temporal (issue 11, finding 5): a retry of the same
request, also on a restarted shard or after the workflow continued as new, changes nothing more."""

from __future__ import annotations

import asyncio
import collections
import uuid

import ray

from rayflow import workflow
from rayflow.common import EventType
from rayflow.converter import DataConverter
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history.client import HistoryClient, shard_of
from rayflow.worker import Worker

WAIT_S = 60.0


@workflow.defn
class Inbox:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.next = False

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.signal
    def go_on(self) -> None:
        self.next = True

    @workflow.run
    async def run(self, continued: bool = False) -> list[str]:
        if not continued:
            await workflow.wait_condition(lambda: self.next)
            workflow.continue_as_new(True)
        await workflow.wait_condition(lambda: "done" in self.notes)
        return self.notes


async def counts(handle) -> collections.Counter:
    return collections.Counter(e.event_type for e in (await handle.fetch_history()).events)


def _encode(text: str):
    return DataConverter.default.to_payloads([text])


def signal_request(env, wf_id: str, name: str, text: str | None = None) -> RR.SignalWorkflowExecutionRequest:
    """A signal request with a request id of its own (sending it again is a retry)."""
    request = RR.SignalWorkflowExecutionRequest(namespace=env.client.namespace, workflow_id=wf_id, signal_name=name,
                                                identity="test", request_id=str(uuid.uuid4()))
    if text is not None:
        request.input.CopyFrom(_encode(text))
    return request


def kill_shard(env, wf_id: str) -> None:
    index = shard_of(env.client.namespace, wf_id, env.config.num_shards)
    ray.kill(ray.get_actor(env.config.history_actor_name(index), namespace=env.config.ray_namespace),
             no_restart=False)


async def test_signal_retried_on_a_restarted_shard_and_after_continue_as_new(env, task_queue):
    history = HistoryClient(env.config)
    wf_id = f"inbox-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[Inbox]):
        handle = await env.client.start_workflow(Inbox.run, id=wf_id, task_queue=task_queue)
        note = signal_request(env, wf_id, "note", "once")
        await history.signal_workflow(note)
        kill_shard(env, wf_id)  # the retry reaches a new incarnation, which knows the request id from the store
        await history.signal_workflow(note)
        assert (await counts(handle))[EventType.WORKFLOW_EXECUTION_SIGNALED] == 1
        await history.signal_workflow(signal_request(env, wf_id, "go_on"))
        current = env.client.get_workflow_handle(wf_id)

        async def continued() -> bool:
            return (await current.describe()).run_id != handle.run_id

        while not await continued():
            await asyncio.sleep(0.1)
        await history.signal_workflow(note)  # a retry after the run continued as new: no second delivery
        await history.signal_workflow(signal_request(env, wf_id, "note", "done"))
        assert await asyncio.wait_for(current.result(), WAIT_S) == ["done"]


async def test_signal_with_start_retried_signals_once(env, task_queue):
    history = HistoryClient(env.config)
    wf_id = f"sws-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[Inbox]):
        handle = await env.client.start_workflow(Inbox.run, id=wf_id, task_queue=task_queue)
        request = RR.StartWorkflowExecutionRequest(
            namespace=env.client.namespace, workflow_id=wf_id, workflow_type="Inbox", task_queue=task_queue,
            identity="test", request_id=str(uuid.uuid4()), start_signal_name="note", start_signal_input=_encode("x"),
        )
        first = await history.start_workflow(request)
        again = await history.start_workflow(request)
        assert first.run_id == again.run_id == handle.run_id and not first.started and not again.started
        assert (await counts(handle))[EventType.WORKFLOW_EXECUTION_SIGNALED] == 1
        await handle.terminate()


async def test_cancel_and_terminate_retried(env, task_queue):
    history = HistoryClient(env.config)
    wf_id = f"ct-{uuid.uuid4().hex[:6]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[Inbox]):
        handle = await env.client.start_workflow(Inbox.run, id=wf_id, task_queue=task_queue)
        cancel = RR.RequestCancelWorkflowExecutionRequest(namespace=env.client.namespace, workflow_id=wf_id,
                                                          identity="test", request_id=str(uuid.uuid4()))
        await history.request_cancel_workflow(cancel)
        await history.request_cancel_workflow(cancel)
        assert (await counts(handle))[EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED] == 1
        terminate = RR.TerminateWorkflowExecutionRequest(namespace=env.client.namespace, workflow_id=wf_id,
                                                         reason="enough", identity="test",
                                                         request_id=str(uuid.uuid4()))
        assert await history.terminate_workflow(terminate) == handle.run_id
        kill_shard(env, wf_id)
        assert await history.terminate_workflow(terminate) == handle.run_id  # a retry after it succeeded
        assert (await counts(handle))[EventType.WORKFLOW_EXECUTION_TERMINATED] == 1
