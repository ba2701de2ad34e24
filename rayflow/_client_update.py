"""Workflow updates as the client sees them: ``WorkflowUpdateStage`` and ``WorkflowUpdateHandle`` (internal;
re-exported by ``rayflow.client``)."""

from __future__ import annotations

import enum
from typing import Any

from rayflow.exceptions import WorkflowUpdateFailedError
from rayflow.proto.rayflow.v1 import request_response_pb2

__all__ = ["WorkflowUpdateHandle", "WorkflowUpdateStage"]


class WorkflowUpdateStage(enum.IntEnum):
    """How far an update must get before ``start_update`` returns (Temporal's ``WorkflowUpdateStage``)."""

    ADMITTED = 1
    ACCEPTED = 2
    COMPLETED = 3


class WorkflowUpdateHandle:
    """An update sent to a workflow: ``await result()`` for its handler's result."""

    def __init__(self, workflow_handle: Any, request: Any, run_id: str) -> None:  # a client.WorkflowHandle
        self._workflow_handle = workflow_handle
        self._request = request
        self.workflow_run_id = run_id
        self._outcome: Any = None

    @property
    def id(self) -> str:
        """The update id."""
        return self._request.update_id

    @property
    def workflow_id(self) -> str:
        return self._workflow_handle.id

    async def _take(self, response: Any) -> None:
        if response.HasField("failure"):
            converter = self._workflow_handle._client.data_converter
            error = WorkflowUpdateFailedError(
                f"update {self._request.name!r} (id {self.id}) failed: {response.failure.message}")
            error.__cause__ = await converter.decode_failure(response.failure)
            self._outcome = error
            raise error
        if response.stage >= WorkflowUpdateStage.COMPLETED:
            values = await self._workflow_handle._client.data_converter.decode(response.result)
            self._outcome = (values[0] if values else None,)

    async def result(self) -> Any:
        """Wait for the update to complete; its result.

        Raises:
            WorkflowUpdateFailedError: the handler raised (the error is the ``__cause__``).
        """
        if self._outcome is None:
            request = request_response_pb2.UpdateWorkflowExecutionRequest()
            request.CopyFrom(self._request)
            request.wait_for_stage = int(WorkflowUpdateStage.COMPLETED)
            request.run_id = self.workflow_run_id or request.run_id
            response = await self._workflow_handle._client._service.update_workflow(request)
            try:
                await self._take(response)
            except WorkflowUpdateFailedError:
                pass
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome[0]
