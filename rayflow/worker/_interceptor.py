"""Worker interceptors (Temporal's ``temporalio.worker.Interceptor`` shape); re-exported by ``rayflow.worker``.

``Worker(interceptors=[...])`` (and the client's interceptors that are also worker interceptors) wrap:

- each activity attempt: ``intercept_activity`` returns an ``ActivityInboundInterceptor`` around the activity's
  call; its ``init`` gets the ``ActivityOutboundInterceptor`` behind ``activity.info()`` / ``activity.heartbeat()``;
- each workflow run: ``workflow_interceptor_class`` names a ``WorkflowInboundInterceptor`` class, instantiated
  once per run inside the replica (on the workflow's deterministic event loop) around the run method, signal,
  query and update handlers; its ``init`` gets the ``WorkflowOutboundInterceptor`` through which the workflow
  starts activities and children, signals children and continues as new.

Inputs carry ``headers`` (name -> ``Payload``): what a client or workflow interceptor sets on an outbound call
arrives on the inbound call it causes (workflow start, signal, query, update, activity, child). Workflow
interceptors run during replay as well: they must be deterministic (``workflow.unsafe.is_replaying()`` says
when code re-runs a recorded task, e.g. to skip side effects such as exporting spans again).

Interceptors are shipped to the replicas with cloudpickle: keep them small and picklable; look up
process-bound resources (tracers, meters, clients) where they run, not where they were built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn

from rayflow.common import ActivityCancellationType, RetryPolicy
from rayflow.proto.rayflow.v1 import message_pb2

__all__ = [
    "ActivityInboundInterceptor",
    "ActivityOutboundInterceptor",
    "ContinueAsNewInput",
    "ExecuteActivityInput",
    "ExecuteWorkflowInput",
    "HandleQueryInput",
    "HandleSignalInput",
    "HandleUpdateInput",
    "Interceptor",
    "SignalChildWorkflowInput",
    "SignalExternalWorkflowInput",
    "StartActivityInput",
    "StartChildWorkflowInput",
    "WorkflowInboundInterceptor",
    "WorkflowInterceptorClassInput",
    "WorkflowOutboundInterceptor",
]

Payload = message_pb2.Payload
Headers = Mapping[str, Payload]


# -- activities ------------------------------------------------------------------------------------------------

@dataclass
class ExecuteActivityInput:
    """One activity attempt: ``fn(*args)``; ``executor`` runs a sync ``fn`` (None for async ones)."""

    fn: Callable[..., Any]
    args: Sequence[Any]
    executor: Any
    headers: Headers = field(default_factory=dict)


class ActivityOutboundInterceptor:
    """Calls from activity code to the worker: ``activity.info()`` and ``activity.heartbeat()``."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:  # noqa: A002 - Temporal's name
        self.next = next

    def info(self) -> Any:
        """The running attempt's ``activity.Info``."""
        return self.next.info()

    def heartbeat(self, *details: Any) -> None:
        self.next.heartbeat(*details)


class ActivityInboundInterceptor:
    """Calls from the worker into an activity attempt."""

    def __init__(self, next: ActivityInboundInterceptor) -> None:  # noqa: A002
        self.next = next

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        """Called once per attempt before ``execute_activity``; wrap ``outbound`` and pass it on."""
        self.next.init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002
        """Run the attempt; its result (or raise its error)."""
        return await self.next.execute_activity(input)


# -- workflows: inbound ------------------------------------------------------------------------------------------

@dataclass
class ExecuteWorkflowInput:
    """The run: ``run_fn(*args)`` (the ``@workflow.run`` method, bound to the workflow object)."""

    type: type
    run_fn: Callable[..., Awaitable[Any]]
    args: Sequence[Any]
    headers: Headers = field(default_factory=dict)


@dataclass
class HandleSignalInput:
    signal: str
    args: Sequence[Any]
    headers: Headers = field(default_factory=dict)


@dataclass
class HandleQueryInput:
    id: str
    query: str
    args: Sequence[Any]
    headers: Headers = field(default_factory=dict)


@dataclass
class HandleUpdateInput:
    id: str
    update: str
    args: Sequence[Any]
    headers: Headers = field(default_factory=dict)


@dataclass
class WorkflowInterceptorClassInput:
    """What ``Interceptor.workflow_interceptor_class`` is told (nothing yet; kept for Temporal's shape)."""


class WorkflowInboundInterceptor:
    """Calls from the worker into a workflow run. One instance per run, on its deterministic event loop.

    ``handle_query`` and ``handle_update_validator`` must not await (queries and validators only read state).
    """

    def __init__(self, next: WorkflowInboundInterceptor) -> None:  # noqa: A002
        self.next = next

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        """Called once per run before anything else; wrap ``outbound`` and pass it on."""
        self.next.init(outbound)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:  # noqa: A002
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:  # noqa: A002
        await self.next.handle_signal(input)

    async def handle_query(self, input: HandleQueryInput) -> Any:  # noqa: A002
        return await self.next.handle_query(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:  # noqa: A002
        self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:  # noqa: A002
        return await self.next.handle_update_handler(input)


# -- workflows: outbound -----------------------------------------------------------------------------------------

@dataclass
class StartActivityInput:
    """``workflow.start_activity`` / ``execute_activity`` (``activity`` is the activity type name)."""

    activity: str
    args: Sequence[Any]
    activity_id: str | None
    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    cancellation_type: ActivityCancellationType
    resource_label: str | None = None
    versioning_intent: int = 0
    headers: Headers = field(default_factory=dict)


@dataclass
class StartChildWorkflowInput:
    """``workflow.start_child_workflow`` (``workflow`` is the child's type name)."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str | None
    parent_close_policy: int
    execution_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    versioning_intent: int = 0
    headers: Headers = field(default_factory=dict)


@dataclass
class ContinueAsNewInput:
    """``workflow.continue_as_new`` (``None`` fields are inherited from the closing run)."""

    workflow: str | None
    args: Sequence[Any]
    task_queue: str | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    memo: Mapping[str, Any] | None
    versioning_intent: int = 0
    headers: Headers = field(default_factory=dict)


@dataclass
class SignalChildWorkflowInput:
    """``ChildWorkflowHandle.signal``."""

    signal: str
    args: Sequence[Any]
    child_workflow_id: str
    headers: Headers = field(default_factory=dict)


@dataclass
class SignalExternalWorkflowInput:
    """A signal to another workflow (Temporal's shape; rayflow's workflow API signals children only)."""

    signal: str
    args: Sequence[Any]
    namespace: str
    workflow_id: str
    workflow_run_id: str | None
    headers: Headers = field(default_factory=dict)


class WorkflowOutboundInterceptor:
    """Calls from workflow code to the worker."""

    def __init__(self, next: WorkflowOutboundInterceptor) -> None:  # noqa: A002
        self.next = next

    def info(self) -> Any:
        """The run's ``workflow.Info``."""
        return self.next.info()

    def start_activity(self, input: StartActivityInput) -> Any:  # noqa: A002
        """Schedule the activity; its ``ActivityHandle``."""
        return self.next.start_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:  # noqa: A002
        """Start the child; its ``ChildWorkflowHandle`` once started."""
        return await self.next.start_child_workflow(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:  # noqa: A002
        await self.next.signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:  # noqa: A002
        await self.next.signal_external_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:  # noqa: A002
        """End the run and start a new one (raises)."""
        self.next.continue_as_new(input)


class Interceptor:
    """A worker interceptor; the defaults intercept nothing.

    Give it to ``Worker(interceptors=[...])``, or to ``Client.connect(interceptors=[...])`` when the class is also
    a ``rayflow.client.Interceptor`` (then every worker built from that client uses it).
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:  # noqa: A002
        """Wrap the chain of each activity attempt (default: unchanged)."""
        return next

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput  # noqa: A002
    ) -> type[WorkflowInboundInterceptor] | None:
        """The inbound interceptor class to put around each workflow run (default None: none)."""
        return None


def worker_interceptors(client_interceptors: Sequence[Any], own: Sequence[Any]) -> list[Interceptor]:
    """The interceptors of a worker: its client's that are worker interceptors too, then its own (as temporalio)."""
    result = [i for i in client_interceptors if isinstance(i, Interceptor)]
    for interceptor in own:
        if not isinstance(interceptor, Interceptor):
            raise TypeError(
                f"Worker(interceptors=...): {interceptor!r} is not a rayflow.worker.Interceptor; subclass it"
            )
        if interceptor not in result:
            result.append(interceptor)
    return result
