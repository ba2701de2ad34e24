"""Replayer: replay a recorded history against the current workflow code (Temporal's ``Replayer``).

Use it in tests before deploying a change to a workflow's code: fetch the histories of runs made by the
old code (``WorkflowHandle.fetch_history()``, saved with ``to_json()``) and replay them against the new
code. A change that would make those runs nondeterministic raises ``NondeterminismError``; guard it
with ``workflow.patched()``. Replay runs no activities and talks to no service.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from rayflow import _definition, workflow
from rayflow.converter import DataConverter
from rayflow.proto.rayflow.v1 import history_pb2
from rayflow.worker.replay import WorkflowInstance

if TYPE_CHECKING:
    from rayflow.client import WorkflowHistory

__all__ = ["ReplayResult", "Replayer"]

_NAMESPACE = "default"


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of one replay.

    Attributes:
        history: the replayed history.
        failure: why the replay failed (``NondeterminismError``, or the error that failed a workflow
            task), or ``None`` when the code replays the history clean. A workflow that failed in
            history and fails the same way on replay is a clean replay.
    """

    history: history_pb2.History
    failure: Exception | None = None


class Replayer:
    """Replays workflow histories against the given workflow classes.

    Args:
        workflows: the ``@workflow.defn`` classes; a history is replayed against the one whose name is the
            history's workflow type.
        data_converter: how the code's arguments and results are encoded (the worker's converter).
        workflow_failure_exception_types: the worker's ``workflow_failure_exception_types``, so that a workflow
            those types failed replays as it ran (default none).
        interceptors: ``rayflow.worker.Interceptor`` objects whose workflow interceptor classes wrap each replayed
            run, as on the worker (default none). Every task replays (``workflow.unsafe.is_replaying()``).
    """

    def __init__(
        self,
        *,
        workflows: Sequence[type],
        data_converter: DataConverter = DataConverter.default,
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        interceptors: Sequence[Any] = (),
    ) -> None:
        self._interceptors = list(interceptors)  # rayflow.worker.Interceptor: their workflow classes wrap each replay
        self._failure_types = _definition.exception_types(
            workflow_failure_exception_types, "Replayer(workflow_failure_exception_types=...)"
        )
        self._definitions: dict[str, Any] = {}
        for cls in workflows:
            try:
                definition = workflow.get_definition(cls) if isinstance(cls, type) else None
            except ValueError:
                definition = None
            if definition is None:
                raise TypeError(f"Replayer: {cls!r} is not a workflow; decorate its class with @workflow.defn")
            if definition.name in self._definitions:
                raise ValueError(f"Replayer: two workflows are named {definition.name!r}")
            self._definitions[definition.name] = definition
        self._converter = data_converter

    async def replay_workflow(
        self, history: WorkflowHistory | str | history_pb2.History, *, raise_on_failure: bool = True
    ) -> ReplayResult:
        """Replay one run's history task by task, as a worker would, against the current code.

        Args:
            history: a ``WorkflowHistory`` (``WorkflowHandle.fetch_history()``), its ``to_json()`` text, or
                the ``History`` proto.
            raise_on_failure: raise the failure instead of returning it in the result.

        Raises:
            NondeterminismError: the code issues other commands than history recorded (when
                ``raise_on_failure``).
            ValueError: the history is empty or does not start with WORKFLOW_EXECUTION_STARTED.
        """
        raw, workflow_id, run_id = _parse(history)
        events = list(raw.events)
        if not events or events[0].event_type != history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            raise ValueError("Replayer: a history starts with a WORKFLOW_EXECUTION_STARTED event")
        started = events[0].workflow_execution_started_event_attributes
        run_id = run_id or started.original_execution_run_id or started.first_execution_run_id or "replay-run"
        failure = self._replay(events, workflow_id=workflow_id or "replay-workflow", run_id=run_id)
        if failure is not None and raise_on_failure:
            raise failure
        return ReplayResult(history=raw, failure=failure)

    def _replay(self, events: list[history_pb2.HistoryEvent], *, workflow_id: str, run_id: str) -> Exception | None:
        started = events[0].workflow_execution_started_event_attributes
        definition = self._definitions.get(started.workflow_type)
        if definition is None:
            return ValueError(
                f"Replayer: workflow type {started.workflow_type!r} is not among the replayer's workflows "
                f"(registered: {', '.join(sorted(self._definitions)) or 'none'})"
            )
        # A workflow task still running when the history was taken has no answer to compare: leave it out.
        if events[-1].event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            events = events[:-1]
        instance = WorkflowInstance(
            definition,
            namespace=_NAMESPACE,
            workflow_id=workflow_id,
            run_id=run_id,
            workflow_type=started.workflow_type,
            task_queue=started.task_queue,
            data_converter=self._converter,
            workflow_failure_exception_types=self._failure_types,
            interceptors=self._interceptors,
        )
        try:
            # Every workflow task that completed in history re-runs in replay mode, and its commands are
            # matched one by one against the command events recorded after its WORKFLOW_TASK_COMPLETED.
            result = instance.apply(events)
            # An error that failed the workflow only because its type is listed (e.g. NondeterminismError)
            # is still a failure to replay this history.
            failure = result.task_failure or result.workflow_failure
            if failure is not None:
                return _as_exception(failure)
            # The last task replayed may have issued commands history has no events for.
            unmatched = instance._unmatched  # noqa: SLF001 - the replay core's own package
            if unmatched:
                from rayflow.worker.replay import commands

                return instance._nondeterminism(  # noqa: SLF001
                    f"the workflow code issued {commands.describe_command(unmatched[0].command)} but history "
                    f"has no event for it after event {events[-1].event_id}"
                )
            return None
        finally:
            instance.close()


def _parse(history: Any) -> tuple[history_pb2.History, str, str]:
    if isinstance(history, history_pb2.History):
        return history, "", ""
    if isinstance(history, str):
        body = json.loads(history)
        workflow_id = body.pop("workflow_id", "")
        run_id = body.pop("run_id", "")
        return json_format.ParseDict(body, history_pb2.History()), workflow_id, run_id
    raw = getattr(history, "raw", None)
    if isinstance(raw, history_pb2.History):  # a rayflow.client.WorkflowHistory
        return raw, getattr(history, "workflow_id", ""), getattr(history, "run_id", "")
    raise TypeError(
        f"Replayer.replay_workflow(): expected a WorkflowHistory, its JSON text or a History proto, "
        f"got {type(history).__name__}"
    )


def _as_exception(error: BaseException) -> Exception:
    if isinstance(error, Exception):
        return error
    wrapped = RuntimeError(f"workflow task failed with {error!r}")
    wrapped.__cause__ = error
    return wrapped
