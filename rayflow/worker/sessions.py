"""The replica's side of worker sessions (internal; see ``rayflow._session`` for the workflow side).

Every replica with activities runs the built-in session activities itself, before its ``ActivityRunner``
(they are not in the user's registry): creation opens a session if a slot is free and answers with the
replica's own activity task queue and identity; completion frees the slot. A workflow that closed without
completing its session (terminated, timed out) holds its slot until the replica is full; then the replica
asks the service which holders are still running and frees the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rayflow._session import SESSION_COMPLETE_ACTIVITY, SESSION_CREATE_ACTIVITY, SESSION_NO_SLOT_ERROR
from rayflow.converter import DataConverter
from rayflow.exceptions import ApplicationError, WorkflowNotFoundError
from rayflow.proto.rayflow.v1 import request_response_pb2

__all__ = ["BUILTIN_ACTIVITIES", "SESSION_COMPLETE_ACTIVITY", "SESSION_CREATE_ACTIVITY", "SessionHost"]

logger = logging.getLogger(__name__)

RR = request_response_pb2
#: ``describe(namespace, workflow_id, run_id)``: the service's description of a run.
Describe = Callable[[str, str, str], Awaitable[RR.DescribeWorkflowExecutionResponse]]
BUILTIN_ACTIVITIES = frozenset({SESSION_CREATE_ACTIVITY, SESSION_COMPLETE_ACTIVITY})


class SessionHost:
    """The open sessions of one replica.

    Args:
        max_sessions: sessions open at once at most.
        task_queue: the replica's own activity task queue (where the sessions' activities go).
        data_converter: decodes the built-in activities' arguments and encodes their results.
        describe: asks the service about a run (to free the slots of workflows that closed).
    """

    def __init__(
        self, max_sessions: int, task_queue: str, data_converter: DataConverter, describe: Describe | None = None
    ) -> None:
        self._max = max_sessions
        self._task_queue = task_queue
        self._converter = data_converter
        self._describe = describe
        self._open: dict[str, dict[str, str]] = {}  # session id -> the workflow holding it

    @property
    def open_sessions(self) -> int:
        return len(self._open)

    @staticmethod
    def handles(activity_type: str) -> bool:
        return activity_type in BUILTIN_ACTIVITIES

    async def run(
        self, task: RR.PollActivityTaskQueueResponse, identity: str
    ) -> RR.RespondActivityTaskCompletedRequest | RR.RespondActivityTaskFailedRequest:
        """Answer one attempt of a built-in session activity."""
        try:
            (request,) = self._converter.from_payloads(task.input)
            if task.activity_type == SESSION_CREATE_ACTIVITY:
                result = await self._create(request, identity, task)
            else:
                result = self._complete(request)
            return RR.RespondActivityTaskCompletedRequest(
                task_token=task.task_token, result=self._converter.to_payload(result), identity=identity
            )
        except Exception as error:
            return RR.RespondActivityTaskFailedRequest(
                task_token=task.task_token, failure=self._converter.to_failure(error), identity=identity
            )

    async def _create(
        self, request: dict[str, Any], identity: str, task: RR.PollActivityTaskQueueResponse
    ) -> dict[str, str]:
        session_id = str(request["session_id"])
        if session_id not in self._open and len(self._open) >= self._max:
            await self._free_closed(task.workflow_namespace)
        if session_id not in self._open and len(self._open) >= self._max:
            # Retryable: the attempt is retried soon, and another replica may take it.
            raise ApplicationError(
                f"no session slot on this replica ({identity}): {len(self._open)} of {self._max} sessions open "
                f"(Worker(max_concurrent_sessions=...))",
                type=SESSION_NO_SLOT_ERROR,
            )
        self._open[session_id] = {
            "workflow_id": str(request.get("workflow_id", task.workflow_execution.workflow_id)),
            "run_id": str(request.get("run_id", task.workflow_execution.run_id)),
        }
        logger.info("opened worker session %s for workflow %s (%d open)", session_id,
                    self._open[session_id]["workflow_id"], len(self._open))
        return {"session_id": session_id, "task_queue": self._task_queue, "identity": identity}

    async def _free_closed(self, namespace: str) -> None:
        """Free the slots of sessions whose workflow run is no longer running."""
        if self._describe is None:
            return
        for session_id, holder in list(self._open.items()):
            try:
                described = await self._describe(namespace, holder["workflow_id"], holder["run_id"])
            except WorkflowNotFoundError:
                pass
            except Exception:
                logger.warning("could not check the workflow of session %s", session_id, exc_info=True)
                continue
            else:
                if described.workflow_execution_info.status == RR.WORKFLOW_EXECUTION_STATUS_RUNNING:
                    continue
            if self._open.pop(session_id, None) is not None:
                logger.info("freed worker session %s: workflow %s closed without completing it", session_id,
                            holder["workflow_id"])

    def _complete(self, request: dict[str, Any]) -> None:
        if self._open.pop(str(request["session_id"]), None) is not None:
            logger.info("closed worker session %s (%d open)", request["session_id"], len(self._open))
