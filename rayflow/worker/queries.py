"""A worker replica's answers to query tasks (internal).

A query is answered from the cached instance of the run when it has applied exactly the workflow
tasks the service completed, else by replaying the history on a fresh instance that is then dropped.
Either way nothing is issued or recorded, and the cached instance is only read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from rayflow.converter import DataConverter
from rayflow.exceptions import WorkflowQueryFailedError
from rayflow.proto.rayflow.v1 import history_pb2, message_pb2, request_response_pb2
from rayflow.worker.replay import WorkflowInstance
from rayflow.worker.replay.queries import query_history
from rayflow.worker.workflow_cache import WorkflowCache

logger = logging.getLogger(__name__)

RR = request_response_pb2

_STALE = object()  # the cached instance is not at the last completed workflow task


def _cached_answer(instance: WorkflowInstance, previous_started_event_id: int, name: str, args: list[Any],
                   headers: dict[str, Any]) -> Any:
    if (instance._loop_closed or instance._task_failure is not None
            or instance.last_started_event_id != previous_started_event_id):
        return _STALE
    return instance.query(name, args, headers)


def _replayed_answer(definition: Any, task: Any, events: list[history_pb2.HistoryEvent], converter: DataConverter,
                     failure_types: Sequence[type[BaseException]], name: str, args: list[Any],
                     interceptors: Sequence[Any] = ()) -> Any:
    instance = WorkflowInstance(
        definition,
        namespace=task.namespace,
        workflow_id=task.workflow_execution.workflow_id,
        run_id=task.workflow_execution.run_id,
        workflow_type=task.workflow_type,
        task_queue=task.task_queue,
        data_converter=converter,
        workflow_failure_exception_types=failure_types,
        interceptors=interceptors,
    )
    try:
        events = query_history(events)
        if events:
            result = instance.apply(events)
            failure = result.task_failure or result.workflow_failure  # the state after it is not to be trusted
            if failure is not None:
                raise WorkflowQueryFailedError(
                    f"query {name!r}: replaying the history of workflow {task.workflow_execution.workflow_id!r} "
                    f"failed: {failure}"
                )
        return instance.query(name, args, dict(task.query.header.fields))
    finally:
        instance.close()


async def answer_query(task: RR.PollWorkflowTaskQueueResponse, *, cache: WorkflowCache, executor: Executor,
                       workflows: dict[str, Any], converter: DataConverter, identity: str,
                       failure_types: Sequence[type[BaseException]] = (),
                       interceptors: Sequence[Any] = ()) -> RR.RespondQueryTaskCompletedRequest:
    """The answer to the query task (its result, or the failure the client gets).

    The codec runs here, at the worker's edge: the task (query arguments, history) is decoded before
    the answer is computed, and the answer is encoded before it is returned.
    """
    query = task.query
    response = RR.RespondQueryTaskCompletedRequest(
        namespace=task.namespace, workflow_id=task.workflow_execution.workflow_id, query_id=query.query_id,
        identity=identity,
    )
    loop = asyncio.get_running_loop()
    try:
        await converter.decode_message(task)
        args = converter.from_payloads(query.query_args)
        answer: Any = _STALE
        # Leased: an eviction meanwhile closes the instance only after the query read it.
        with cache.lease(task.workflow_execution.run_id) as lease:
            if lease.instance is not None:  # on the workflow thread: never while a workflow task runs on it
                answer = await loop.run_in_executor(
                    executor, _cached_answer, lease.instance, task.previous_started_event_id, query.query_type, args,
                    dict(query.header.fields),
                )
        if answer is _STALE:
            definition = workflows.get(task.workflow_type)
            if definition is None:
                raise WorkflowQueryFailedError(
                    f"query {query.query_type!r}: workflow type {task.workflow_type!r} is not registered on this "
                    f"worker (registered: {', '.join(sorted(workflows)) or 'none'})"
                )
            answer = await loop.run_in_executor(
                executor, _replayed_answer, definition, task, list(task.history.events), converter, failure_types,
                query.query_type, args, interceptors,
            )
        response.query_result.CopyFrom(converter.to_payloads([answer]))
        await converter.encode_message(response)
    except Exception as err:
        logger.info("query %r of %s failed: %s", query.query_type, task.workflow_execution.workflow_id, err)
        response.ClearField("query_result")
        response.failure.CopyFrom(message_pb2.Failure(message=str(err)))
    return response
