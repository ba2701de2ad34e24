"""Client of the history shards: the only place that maps a workflow id to its shard."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence

import ray

from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2
from rayflow.service._batcher import CallBatcher
from rayflow.service._ray_calls import call, get_named_actor
from rayflow.service.config import ServiceConfig
from rayflow.service.history import listing
from rayflow.service.history.close_watcher import CloseWatcher


def shard_of(namespace: str, workflow_id: str, num_shards: int) -> int:
    """The shard owning (namespace, workflow_id): a process-stable hash modulo the shard count."""
    return zlib.crc32(f"{namespace}/{workflow_id}".encode()) % num_shards


class HistoryClient:
    """Routes each call to the shard actor that owns the execution."""

    def __init__(self, config: ServiceConfig, handles: Sequence[ray.actor.ActorHandle] | None = None) -> None:
        self.config = config
        self._handles: list[ray.actor.ActorHandle | None] = list(handles) if handles else [None] * config.num_shards
        self._close_watcher: CloseWatcher | None = None
        self._batchers: dict[int, CallBatcher] = {}

    def shard(self, index: int) -> ray.actor.ActorHandle:
        handle = self._handles[index]
        if handle is None:
            handle = get_named_actor(self.config.history_actor_name(index), self.config.ray_namespace)
            self._handles[index] = handle
        return handle

    def shard_for(self, namespace: str, workflow_id: str) -> ray.actor.ActorHandle:
        return self.shard(shard_of(namespace, workflow_id, self.config.num_shards))

    def _index_of_token(self, task_token: bytes) -> int:
        token = internal_pb2.TaskToken.FromString(task_token)
        return shard_of(token.namespace, token.workflow_id, self.config.num_shards)

    def _batcher(self, index: int) -> CallBatcher:
        batcher = self._batchers.get(index)
        if batcher is None:
            shard = self.shard(index)

            async def send(items: list) -> list:
                return await call(shard.batch.remote(items), f"call history shard {index}")

            batcher = self._batchers[index] = CallBatcher(send)
        return batcher

    async def _batched(self, index: int, method: str, *args: object) -> object:
        """Call ``method`` of shard ``index`` in the next batch of calls to that shard (see _batcher.py)."""
        return await self._batcher(index).call((method, args))

    def _index(self, namespace: str, workflow_id: str) -> int:
        return shard_of(namespace, workflow_id, self.config.num_shards)

    # -- clients ------------------------------------------------------------------------------
    async def start_workflow(
        self, request: request_response_pb2.StartWorkflowExecutionRequest
    ) -> request_response_pb2.StartWorkflowExecutionResponse:
        data = await self._batched(self._index(request.namespace, request.workflow_id), "start_workflow",
                                   request.SerializeToString())
        return request_response_pb2.StartWorkflowExecutionResponse.FromString(data)

    async def describe(
        self, namespace: str, workflow_id: str, run_id: str
    ) -> request_response_pb2.DescribeWorkflowExecutionResponse:
        shard = self.shard_for(namespace, workflow_id)
        data = await call(shard.describe.remote(namespace, workflow_id, run_id), "describe workflow")
        return request_response_pb2.DescribeWorkflowExecutionResponse.FromString(data)

    async def get_history(
        self, namespace: str, workflow_id: str, run_id: str, first_event_id: int = 1, last_event_id: int | None = None
    ) -> tuple[str, list[bytes]]:
        """(run id, serialized events ``first_event_id..last_event_id``) of a run; an empty run id means the
        current run, no ``last_event_id`` the end of the history."""
        shard = self.shard_for(namespace, workflow_id)
        return await call(
            shard.get_history.remote(namespace, workflow_id, run_id, first_event_id, last_event_id), "fetch history"
        )

    async def terminate_workflow(self, request: request_response_pb2.TerminateWorkflowExecutionRequest) -> str:
        """Terminate the run (the current one for an empty run id); returns its run id."""
        shard = self.shard_for(request.namespace, request.workflow_id)
        return await call(shard.terminate_workflow.remote(request.SerializeToString()), "terminate workflow")

    async def list_executions(
        self, request: request_response_pb2.ListWorkflowExecutionsRequest
    ) -> request_response_pb2.ListWorkflowExecutionsResponse:
        """One page of the namespace's executions over all shards, newest first (see ``listing``)."""
        page_size = request.page_size
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        ask = request_response_pb2.ListWorkflowExecutionsRequest()
        ask.CopyFrom(request)
        ask.page_size = page_size + 1  # one more than a page tells whether another page follows
        data = ask.SerializeToString()
        pages = await asyncio.gather(*(
            call(self.shard(index).list_executions.remote(data), "list workflows")
            for index in range(self.config.num_shards)
        ))
        return listing.merge(pages, page_size)

    async def count_executions(self, request: request_response_pb2.ListWorkflowExecutionsRequest) -> int:
        """How many executions of the namespace match the request's filters, over all shards."""
        data = request.SerializeToString()
        counts = await asyncio.gather(*(
            call(self.shard(index).count_executions.remote(data), "count workflows")
            for index in range(self.config.num_shards)
        ))
        return sum(counts)

    async def wait_for_close(self, namespace: str, workflow_id: str, run_id: str) -> bytes:
        """The run's serialized closing event, once it closed (all of this client's waits on a shard share one
        long poll: close_watcher.py)."""
        if self._close_watcher is None:
            self._close_watcher = CloseWatcher(
                lambda ns, wf: shard_of(ns, wf, self.config.num_shards), self.shard
            )
        return await self._close_watcher.wait(namespace, workflow_id, run_id)

    async def signal_workflow(self, request: request_response_pb2.SignalWorkflowExecutionRequest) -> str:
        """Signal a running run (the current one for an empty run id); returns its run id."""
        return await self._batched(self._index(request.namespace, request.workflow_id), "signal_workflow",
                                   request.SerializeToString())

    async def request_cancel_workflow(self, request: request_response_pb2.RequestCancelWorkflowExecutionRequest) -> str:
        """Ask a running run (the current one for an empty run id) to cancel; returns its run id."""
        shard = self.shard_for(request.namespace, request.workflow_id)
        return await call(shard.request_cancel_workflow.remote(request.SerializeToString()), "cancel workflow")

    # -- namespaces ---------------------------------------------------------------------------
    async def namespace_operation(self, namespace: str, operation: str, args: dict) -> dict:
        """A namespace operation (``rayflow.service.namespaces``), run by shard 0; after a change every other shard
        is told to read the setting again (best effort: each reads it again within a minute anyway)."""
        from rayflow.service.namespaces import UPDATES

        result = await call(self.shard(0).namespace_operation.remote(operation, namespace, dict(args)),
                            f"namespace {operation}")
        if operation in UPDATES and self.config.num_shards > 1:
            await asyncio.gather(*(
                call(self.shard(index).namespace_changed.remote(namespace), "namespace changed")
                for index in range(1, self.config.num_shards)
            ), return_exceptions=True)
        return result

    # -- queries ------------------------------------------------------------------------------
    async def query_workflow(
        self, request: request_response_pb2.QueryWorkflowRequest
    ) -> request_response_pb2.QueryWorkflowResponse:
        shard = self.shard_for(request.namespace, request.workflow_id)
        data = await call(shard.query_workflow.remote(request.SerializeToString()), "query workflow")
        return request_response_pb2.QueryWorkflowResponse.FromString(data)

    async def update_workflow(
        self, request: request_response_pb2.UpdateWorkflowExecutionRequest
    ) -> request_response_pb2.UpdateWorkflowExecutionResponse:
        shard = self.shard_for(request.namespace, request.workflow_id)
        data = await call(shard.update_workflow.remote(request.SerializeToString()), "update workflow")
        return request_response_pb2.UpdateWorkflowExecutionResponse.FromString(data)

    async def respond_query_task_completed(self, request: request_response_pb2.RespondQueryTaskCompletedRequest) -> None:
        shard = self.shard_for(request.namespace, request.workflow_id)
        await call(shard.respond_query_task_completed.remote(request.SerializeToString()), "answer a query")

    # -- matching -----------------------------------------------------------------------------
    async def record_tasks_started(self, tasks: Sequence[internal_pb2.MatchingTask], identity: str,
                                   request_ids: Sequence[str]) -> list[bytes | None | BaseException]:
        """Record dispatched tasks as started, one call per shard: each task's serialized poll response, None
        for a stale task (drop it), or its error."""
        by_shard: dict[int, list[int]] = {}
        for i, task in enumerate(tasks):
            by_shard.setdefault(self._index(task.namespace, task.workflow_id), []).append(i)

        async def one_shard(index: int, positions: list[int]) -> list:
            items = [("record_task_started", (tasks[i].SerializeToString(), identity, request_ids[i]))
                     for i in positions]
            return await self._batcher(index).call_many(items)

        answers: list[bytes | None | BaseException] = [None] * len(tasks)
        groups = list(by_shard.items())
        results = await asyncio.gather(*(one_shard(index, positions) for index, positions in groups))
        for (_, positions), shard_answers in zip(groups, results, strict=True):
            for i, answer in zip(positions, shard_answers, strict=True):
                answers[i] = answer
        return answers

    # -- workers ------------------------------------------------------------------------------
    async def respond_workflow_task_completed(
        self, request: request_response_pb2.RespondWorkflowTaskCompletedRequest
    ) -> request_response_pb2.RespondWorkflowTaskCompletedResponse:
        data = await self._batched(
            self._index_of_token(request.task_token), "respond_workflow_task_completed", request.SerializeToString()
        )
        return request_response_pb2.RespondWorkflowTaskCompletedResponse.FromString(data)

    async def respond_workflow_task_failed(self, request: request_response_pb2.RespondWorkflowTaskFailedRequest) -> None:
        await self._batched(
            self._index_of_token(request.task_token), "respond_workflow_task_failed", request.SerializeToString()
        )

    async def respond_activity_task_completed(
        self, request: request_response_pb2.RespondActivityTaskCompletedRequest
    ) -> request_response_pb2.RespondActivityTaskCompletedResponse:
        data = await self._batched(
            self._index_of_token(request.task_token), "respond_activity_task_completed", request.SerializeToString()
        )
        return request_response_pb2.RespondActivityTaskCompletedResponse.FromString(data)

    async def respond_activity_task_failed(self, request: request_response_pb2.RespondActivityTaskFailedRequest) -> None:
        await self._batched(
            self._index_of_token(request.task_token), "respond_activity_task_failed", request.SerializeToString()
        )

    async def respond_activity_task_canceled(
        self, request: request_response_pb2.RespondActivityTaskCanceledRequest
    ) -> None:
        await self._batched(
            self._index_of_token(request.task_token), "respond_activity_task_canceled", request.SerializeToString()
        )

    async def record_activity_heartbeat(
        self, request: request_response_pb2.RecordActivityTaskHeartbeatRequest
    ) -> request_response_pb2.RecordActivityTaskHeartbeatResponse:
        data = await self._batched(
            self._index_of_token(request.task_token), "record_activity_heartbeat", request.SerializeToString()
        )
        return request_response_pb2.RecordActivityTaskHeartbeatResponse.FromString(data)
