"""Client: start workflows and follow them (Temporal's ``Client`` and ``WorkflowHandle``)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rayflow import constants, workflow
from rayflow._client_interceptors import (
    CancelWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    TerminateWorkflowInput,
    build_chain,
)
from rayflow._client_namespace import NamespaceClient, NamespaceDescription
from rayflow._client_update import WorkflowUpdateHandle, WorkflowUpdateStage
from rayflow._client_versioning import (
    BuildIdOp,
    BuildIdOpAddNewCompatible,
    BuildIdOpAddNewDefault,
    BuildIdOpMergeSets,
    BuildIdOpPromoteBuildIdWithinSet,
    BuildIdOpPromoteSetByBuildId,
    BuildIdReachability,
    BuildIdVersionSet,
    TaskReachability,
    TaskReachabilityType,
    VersionDrainageInfo,
    VersioningClient,
    WorkerBuildIdVersionSets,
    WorkerDeploymentDescription,
    WorkerDeploymentVersionStatus,
    WorkerDeploymentVersionSummary,
    WorkerTaskReachability,
)
from rayflow._descriptions import (
    PendingActivityInfo,
    PollerInfo,
    ServiceActorInfo,
    ServiceDescription,
    TaskQueueDescription,
    TaskQueuePartitionInfo,
    TaskQueueTypeDescription,
    WorkflowExecution,
    WorkflowExecutionDescription,
)
from rayflow._history_view import HistoryEvent, WorkflowHistory
from rayflow.common import (
    RetryPolicy,
    VersioningOverride,
    WorkflowExecutionStatus,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
    timestamp_to_proto,
)
from rayflow.converter import DataConverter
from rayflow.exceptions import (
    CancelledError,
    FailureError,
    TerminatedError,
    TimeoutError,
    WorkflowFailureError,
)
from rayflow.payload_store import PayloadStore
from rayflow.proto.rayflow.v1 import history_pb2, request_response_pb2
from rayflow.service.config import ServiceConfig
from rayflow.service.frontend.remote import TLSConfig

__all__ = [
    "Client",
    "WorkflowHandle",
    "WorkflowExecutionDescription",
    "WorkflowExecution",
    "PendingActivityInfo",
    "HistoryEvent",
    "WorkflowHistory",
    "TaskQueueDescription",
    "TaskQueueTypeDescription",
    "TaskQueuePartitionInfo",
    "PollerInfo",
    "ServiceActorInfo",
    "ServiceDescription",
    "WorkflowUpdateHandle",
    "WorkflowUpdateStage",
    "TLSConfig",
    "BuildIdOp",
    "BuildIdOpAddNewDefault",
    "BuildIdOpAddNewCompatible",
    "BuildIdOpPromoteSetByBuildId",
    "BuildIdOpPromoteBuildIdWithinSet",
    "BuildIdOpMergeSets",
    "BuildIdVersionSet",
    "WorkerBuildIdVersionSets",
    "BuildIdReachability",
    "WorkerTaskReachability",
    "TaskReachability",
    "TaskReachabilityType",
    "WorkerDeploymentDescription",
    "WorkerDeploymentVersionSummary",
    "WorkerDeploymentVersionStatus",
    "VersionDrainageInfo",
    "NamespaceDescription",
    "Interceptor",
    "OutboundInterceptor",
    "StartWorkflowInput",
    "SignalWorkflowInput",
    "QueryWorkflowInput",
    "StartWorkflowUpdateInput",
    "CancelWorkflowInput",
    "TerminateWorkflowInput",
]

_NO_ARG = object()


class Client(VersioningClient, NamespaceClient):
    """Starts and follows workflows. Create it with ``await Client.connect()``."""

    def __init__(self, config: ServiceConfig | None, *, namespace: str, data_converter: DataConverter,
                 identity: str, service: Any = None, interceptors: Sequence[Interceptor] = ()) -> None:
        if service is None:
            from rayflow.service.connection import RayServiceConnection

            service = RayServiceConnection(config)
        self._config = config
        self._namespace = namespace
        if data_converter.payload_store is None and config is not None and config.data_dir:
            # The embedded default: external payloads under the data directory.
            data_converter = data_converter.with_payload_store(os.path.join(config.data_dir, "payloads"))
        self._converter = data_converter
        self._identity = identity
        #: ``RayServiceConnection`` (in Ray) or ``GrpcServiceConnection`` (over the frontend): same methods.
        self._service = service
        self._interceptors = list(interceptors)
        self._outbound = build_chain(self, self._interceptors)  # every call goes through it

    @staticmethod
    async def connect(
        target: str | None = None,
        *,
        namespace: str = constants.DEFAULT_NAMESPACE,
        api_key: str | None = None,
        tls: bool | TLSConfig = False,
        rpc_metadata: Mapping[str, str] | None = None,
        data_converter: DataConverter | None = None,
        identity: str | None = None,
        ray_address: str | None = None,
        store: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        service_label_selector: Mapping[str, str] | None = None,
        ray_namespace: str = constants.DEFAULT_RAY_NAMESPACE,
        num_shards: int = constants.DEFAULT_NUM_SHARDS,
        num_matching: int = constants.DEFAULT_NUM_MATCHING,
        task_queue_partitions: dict[str, int] | None = None,
        default_partitions: int = constants.DEFAULT_TASK_QUEUE_PARTITIONS,
        durability: str = "normal",
        mutable_state_cache_size: int = constants.DEFAULT_MUTABLE_STATE_CACHE_SIZE,
        payload_store: PayloadStore | str | bool | None = None,
        external_payload_threshold: int | None = None,
        max_external_payload_size: int | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> Client:
        """Connect to rayflow: over gRPC to a frontend, or straight to the service actors in Ray.

        ``Client.connect("host:port")`` talks to a frontend (``rayflow server start``) and imports no Ray:
        the program needs no Ray connection (workers still run inside Ray). ``Client.connect()`` (no target)
        talks to the service in Ray, starting Ray and the service when they are not running: the embedded
        default for drivers, workers and ``ray job submit`` jobs.

        Args:
            target: ``host:port`` of a frontend; ``None`` for the service in Ray. For backward compatibility
                ``"auto"``, ``"local"`` and ``"ray://..."`` are taken as Ray addresses.
            namespace: rayflow namespace isolating workflow ids (default ``"default"``).
            api_key: frontend only: sent as ``authorization: Bearer <api_key>`` (default: ``RAYFLOW_API_KEY``).
            tls: frontend only: ``True`` (system roots) or a ``TLSConfig`` (CA, server name, client cert for mTLS).
            rpc_metadata: frontend only: gRPC metadata sent on every call.
            data_converter: converts (and, with a payload codec, encodes) arguments and results.
            identity: identity recorded on requests (default ``pid@hostname``).
            ray_address: in Ray: the Ray address (``"auto"``, ``"ray://host:10001"``, ``"host:port"``); default:
                the Ray already initialised in this process, else ``RAY_ADDRESS``, else a new local Ray.
            store: in Ray: where the service keeps its data, a URL: ``sqlite:///abs/dir`` (one node's disk; the
                service actors run on that node) or ``postgresql://user:pass@host:5432/db?schema=rayflow`` (a
                cluster: the actors may run on any node and move when one dies). Default: ``RAYFLOW_STORE``,
                else ``RAYFLOW_DATA_DIR``, else ``./.rayflow`` (resolved before Ray starts; inside a
                ``ray job submit`` job there is no default: the job attaches to the running service or is told
                what to set). A running service keeps its own store: naming another is a ``ConfigurationError``.
            data_dir: in Ray: the SQLite shorthand, ``store="sqlite://<abs path of data_dir>"``.
            service_label_selector: in Ray, PostgreSQL store: Ray node labels the service actors must run on
                (default: any node, off accelerator nodes while other nodes exist).
            ray_namespace: in Ray: Ray namespace of the service actors (default ``"rayflow"``).
            num_shards: history shards when the store is new (default: one per two CPU cores here, 1 to 4;
                fixed afterwards).
            num_matching: Matching actors (default 1).
            task_queue_partitions: partitions per task queue name (others get ``default_partitions``, 4).
            durability: ``"normal"`` or ``"fsync"`` (fsync on every commit).
            mutable_state_cache_size: open executions' states each history shard keeps in memory (default
                10,000; the others are read back from the store when next used).
            payload_store: where payloads over ``external_payload_threshold`` (after the codec) are kept, history
                holding a reference: a directory or an fsspec URL (``s3://bucket/prefix``...). Default:
                ``RAYFLOW_PAYLOAD_STORE``, else with a SQLite store ``<data dir>/payloads``, else none (payloads
                over the service's limit then fail); False: none. Workers built from this client use it too.
            external_payload_threshold: bytes above which a payload goes to the payload store (default 256 KiB).
            max_external_payload_size: the largest payload the payload store takes (default: no limit).
            interceptors: ``rayflow.client.Interceptor`` objects wrapping every call, the first outermost (e.g.
                ``rayflow.contrib.opentelemetry.TracingInterceptor()``); those that are also
                ``rayflow.worker.Interceptor`` apply to the workers built from this client too.

        Raises:
            ServiceUnavailableError: no frontend answers at ``target`` (the message says how to start one).
            RPCError: the frontend refused the connection (e.g. UNAUTHENTICATED: a missing or wrong API key).
            ConfigurationError: a store other than the running service's, SQLite data that would live under a
                Ray job's temporary directory or on a worker node, a label selector no node satisfies.
            StoreUnavailableError: the store cannot be reached (the message names it without its password).
        """
        converter = data_converter or DataConverter.default
        if payload_store is None and converter.payload_store is None:
            payload_store = os.environ.get(constants.PAYLOAD_STORE_ENV) or None
        if payload_store is not None or external_payload_threshold is not None or max_external_payload_size:
            converter = converter.with_payload_store(payload_store if payload_store is not None
                                                     else converter.payload_store,
                                                     external_payload_threshold, max_external_payload_size)
        identity = identity or f"{os.getpid()}@{socket.gethostname()}"
        if target is not None and not _is_ray_address(target):
            from rayflow.service.frontend.remote import GrpcServiceConnection

            service = GrpcServiceConnection(target, tls=tls, api_key=api_key or os.environ.get(constants.API_KEY_ENV),
                                            rpc_metadata=rpc_metadata)
            try:
                info = await service.get_cluster_info(timeout=10.0)
            except BaseException:
                await service.close()
                raise
            if converter.payload_store is None and info.payload_store:  # the frontend's (rayflow server start)
                converter = converter.with_payload_store(info.payload_store)
            return Client(None, namespace=namespace, data_converter=converter, identity=identity, service=service,
                          interceptors=interceptors)
        from rayflow.service import bootstrap
        from rayflow.service.store_setting import requested_store

        request = requested_store(store, data_dir)  # before Ray: a job's working directory goes away in ray.init
        bootstrap.connect_ray(ray_address or target)
        config = await bootstrap.attach_or_start(
            request,
            ray_namespace=ray_namespace,
            num_shards=num_shards,
            num_matching=num_matching,
            default_partitions=default_partitions,
            task_queue_partitions=dict(task_queue_partitions or {}),
            durability=durability,
            service_label_selector=dict(service_label_selector or {}),
            mutable_state_cache_size=mutable_state_cache_size,
        )
        return Client(config, namespace=namespace, data_converter=converter, identity=identity,
                      interceptors=interceptors)

    async def close(self) -> None:
        """Close the connection (the gRPC channel; nothing for the in-Ray client)."""
        await self._service.close()

    @property
    def target(self) -> str | None:
        """The frontend address of a client connected over gRPC; ``None`` in Ray."""
        return getattr(self._service, "target", None)

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def data_converter(self) -> DataConverter:
        return self._converter

    @property
    def interceptors(self) -> list[Interceptor]:
        """The interceptors given to ``connect`` (workers built from this client use the worker ones)."""
        return list(self._interceptors)

    @property
    def service_config(self) -> ServiceConfig:
        """The running service's configuration (in-Ray clients only: workers need it)."""
        if self._config is None:
            raise RuntimeError(
                f"this client is connected over gRPC to {self.target}: workers run inside Ray and need a client "
                f"connected there: Client.connect() or Client.connect(ray_address='auto') in the worker program"
            )
        return self._config

    async def start_workflow(
        self,
        workflow_run: Callable[..., Any] | str,
        arg: Any = _NO_ARG,
        *,
        args: Sequence[Any] = (),
        id: str,
        task_queue: str,
        execution_timeout: timedelta | None = None,
        run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        retry_policy: RetryPolicy | None = None,
        request_id: str | None = None,
        id_reuse_policy: WorkflowIDReusePolicy | None = None,
        id_conflict_policy: WorkflowIDConflictPolicy | None = None,
        start_signal: Callable[..., Any] | str | None = None,
        start_signal_args: Sequence[Any] = (),
        versioning_override: VersioningOverride | None = None,
    ) -> WorkflowHandle:
        """Start a workflow and return its handle.

        Args:
            workflow_run: the ``@workflow.run`` method (e.g. ``Greeting.run``) or the workflow type name.
            arg: the single argument; use ``args=[...]`` for several.
            id: workflow id, unique among running workflows of the namespace.
            task_queue: task queue whose workers run it.
            execution_timeout / run_timeout: end the run as TIMED_OUT after this long (default: none).
            task_timeout: workflow task start-to-close timeout (default 10 s).
            retry_policy: retry policy of the workflow (recorded; default: none).
            id_reuse_policy: may the id start a new run once its current run closed (default
                ``ALLOW_DUPLICATE``; see ``WorkflowIDReusePolicy``).
            id_conflict_policy: what to do while a run of the id is running (default ``FAIL``;
                ``USE_EXISTING`` returns a handle to it, ``TERMINATE_EXISTING`` terminates it and starts anew).
            start_signal: signal-with-start: this signal (a ``@workflow.signal`` method or a name) reaches the
                workflow with its start, before its code runs; if a run of the id is running it is only
                signalled (conflict policy ``USE_EXISTING`` unless one is given) and the handle is to it.
            start_signal_args: the arguments of ``start_signal``.
            versioning_override: worker deployments: ``PinnedVersioningOverride(version)`` runs the whole
                workflow on that version, ``AutoUpgradeVersioningOverride()`` always on the current one,
                whatever the workflow type's versioning behavior (default: none).

        Raises:
            WorkflowAlreadyStartedError: a workflow with this id is running (conflict policy ``FAIL``), or its
                closed run may not be followed by another (reuse policy); the message names the policy.
            PayloadError: an argument cannot be serialized (nothing is started).
        """
        if not id:
            raise ValueError("start_workflow: id is required")
        if not task_queue:
            raise ValueError("start_workflow: task_queue is required")
        if arg is not _NO_ARG and args:
            raise ValueError("start_workflow: pass one argument positionally or several as args=[...], not both")
        if start_signal_args and start_signal is None:
            raise ValueError("start_workflow: start_signal_args needs start_signal")
        return await self._outbound.start_workflow(StartWorkflowInput(
            workflow=_workflow_type(workflow_run), args=[arg] if arg is not _NO_ARG else list(args), id=id,
            task_queue=task_queue, execution_timeout=execution_timeout, run_timeout=run_timeout,
            task_timeout=task_timeout, retry_policy=retry_policy, request_id=request_id,
            id_reuse_policy=id_reuse_policy, id_conflict_policy=id_conflict_policy,
            start_signal=workflow._signal_name(start_signal) if start_signal is not None else None,
            start_signal_args=list(start_signal_args), versioning_override=versioning_override,
        ))

    async def execute_workflow(self, workflow_run: Callable[..., Any] | str, arg: Any = _NO_ARG, **kwargs: Any) -> Any:
        """Start a workflow and wait for its result (see ``start_workflow``)."""
        handle = await self.start_workflow(workflow_run, arg, **kwargs)
        return await handle.result()

    def get_workflow_handle(self, workflow_id: str, *, run_id: str | None = None,
                            first_execution_run_id: str | None = None) -> WorkflowHandle:
        """A handle to an existing workflow; without ``run_id`` it follows the latest run."""
        return WorkflowHandle(self, workflow_id, run_id=run_id, result_run_id=run_id,
                              first_execution_run_id=first_execution_run_id)

    def list_workflows(
        self,
        *,
        status: WorkflowExecutionStatus | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: datetime | None = None,
        start_time_max: datetime | None = None,
        build_id: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[WorkflowExecution]:
        """The namespace's workflow executions (every run), newest start first: ``async for wf in ...``.

        Every filter given must match; ``start_time_min <= start_time <= start_time_max``. Pages of
        ``page_size`` are fetched as the iteration goes (each page is an index range scan per shard, so
        listing stays fast however many executions the store holds).

        ``build_id``: only runs whose BuildIds (``WorkflowExecution.build_ids``, Temporal's search attribute)
        hold that entry exactly. A plain build id such as ``"2.0"`` means the entry ``"versioned:2.0"`` (runs
        a versioned worker of that build processed); a value that already has a prefix (``"versioned:..."``,
        ``"unversioned"``/``"unversioned:..."``, ``"pinned:..."``, ``"deployment:..."``) is used as is. This
        filter is not indexed: it scans the rows the other filters select, so pair it with them on big stores.
        """
        request = self._list_request(status, workflow_type, task_queue, start_time_min, start_time_max, build_id)
        if page_size < 1:
            raise ValueError(f"list_workflows: page_size must be >= 1, got {page_size}")
        request.page_size = page_size
        return self._list_pages(request)

    async def _list_pages(
        self, request: request_response_pb2.ListWorkflowExecutionsRequest
    ) -> AsyncIterator[WorkflowExecution]:
        while True:
            response = await self._service.list_executions(request)
            for info in response.executions:
                yield WorkflowExecution._from_proto(info)
            if not response.next_page_token:
                return
            request.next_page_token = response.next_page_token

    async def count_workflows(
        self,
        *,
        status: WorkflowExecutionStatus | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: datetime | None = None,
        start_time_max: datetime | None = None,
        build_id: str | None = None,
    ) -> int:
        """How many executions ``list_workflows`` with the same filters would yield (``build_id`` as there)."""
        request = self._list_request(status, workflow_type, task_queue, start_time_min, start_time_max, build_id)
        return await self._service.count_executions(request)

    def _list_request(self, status: WorkflowExecutionStatus | None, workflow_type: str | None,
                      task_queue: str | None, start_time_min: datetime | None, start_time_max: datetime | None,
                      build_id: str | None = None) -> request_response_pb2.ListWorkflowExecutionsRequest:
        request = request_response_pb2.ListWorkflowExecutionsRequest(
            namespace=self._namespace,
            status=WorkflowExecutionStatus(status) if status is not None else 0,
            workflow_type=workflow_type or "",
            task_queue=task_queue or "",
            build_id=_build_id_entry(build_id),
        )
        for name, value in (("start_time_min", start_time_min), ("start_time_max", start_time_max)):
            if value is not None:
                if not isinstance(value, datetime) or value.tzinfo is None:
                    raise ValueError(f"list_workflows: {name} must be a timezone-aware datetime, got {value!r}")
                getattr(request, name).CopyFrom(timestamp_to_proto(value))
        return request

    async def describe_service(self) -> ServiceDescription:
        """The service's layout, its store (password hidden) and the node id and IP of every history shard and
        Matching actor."""
        return ServiceDescription._from_dict(await self._service.describe_service())

    async def describe_task_queue(self, task_queue: str) -> TaskQueueDescription:
        """Pollers, backlog (count and age, per partition and label), dispatch rate and rate limit of the
        workflow and the activity queue named ``task_queue``."""
        raw = await self._service.describe_task_queue(self._namespace, task_queue)
        return TaskQueueDescription(
            name=task_queue,
            workflow=TaskQueueTypeDescription._from_partitions(raw["workflow"]),
            activity=TaskQueueTypeDescription._from_partitions(raw["activity"]),
        )


#: BuildIds entries start with one of these (Temporal's search attribute); a filter without one is a build id.
_BUILD_ID_PREFIXES = ("versioned:", "unversioned:", "pinned:", "deployment:")


def _build_id_entry(build_id: str | None) -> str:
    """The BuildIds entry a ``build_id`` filter means: ``"2.0"`` is ``"versioned:2.0"``; an entry is kept as is."""
    if not build_id:
        return ""
    if not isinstance(build_id, str):
        raise ValueError(f"list_workflows: build_id must be a string, got {build_id!r}")
    if build_id == "unversioned" or build_id.startswith(_BUILD_ID_PREFIXES):
        return build_id
    return f"versioned:{build_id}"


def _is_ray_address(target: str) -> bool:
    return target in ("auto", "local") or target.startswith("ray://")


def _workflow_type(workflow_run: Callable[..., Any] | str) -> str:
    if isinstance(workflow_run, str):
        if not workflow_run:
            raise ValueError("workflow type name must not be empty")
        return workflow_run
    try:
        definition = workflow.get_definition(workflow_run)
    except ValueError:
        definition = None
    if definition is None:
        raise TypeError(
            f"{workflow_run!r} is not a workflow run method; pass the @workflow.run method of a @workflow.defn class "
            f"(e.g. MyWorkflow.run) or the workflow type name"
        )
    return definition.name


class WorkflowHandle:
    """A workflow execution: its id, run ids, result, description and history."""

    def __init__(self, client: Client, id: str, *, run_id: str | None, result_run_id: str | None,
                 first_execution_run_id: str | None) -> None:
        self._client = client
        self.id = id
        self.run_id = run_id
        self.result_run_id = result_run_id
        self.first_execution_run_id = first_execution_run_id

    async def result(self) -> Any:
        """Wait for the run to close and return its result; a run that continued as new is followed to the
        run that ends the chain.

        Raises:
            WorkflowFailureError: the workflow failed, timed out, was cancelled or terminated; ``cause``
                says which (``ApplicationError``/``ActivityError``..., ``TimeoutError``, ``CancelledError``,
                ``TerminatedError``).
        """
        client = self._client
        run_id = self.result_run_id or ""
        while True:
            data = await client._service.wait_for_close(client.namespace, self.id, run_id)
            event = history_pb2.HistoryEvent.FromString(data)
            if event.event_type != history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                break
            # The run continued as new: the result is the chain's, so wait on the run it started.
            run_id = event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        converter = client.data_converter
        kind = event.event_type
        if kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            values = await converter.decode(event.workflow_execution_completed_event_attributes.result)
            return values[0] if values else None
        cause: FailureError
        if kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            cause = await converter.decode_failure(event.workflow_execution_failed_event_attributes.failure)
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            cause = TimeoutError("workflow execution timed out", type=None)
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            cause = TerminatedError(event.workflow_execution_terminated_event_attributes.reason or "terminated")
        elif kind == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            cause = CancelledError("workflow cancelled")
        else:
            raise RuntimeError(f"unexpected closing event {history_pb2.EventType.Name(kind)}")
        raise WorkflowFailureError(cause=cause)

    async def terminate(self, reason: str | None = None, *, details: Sequence[Any] = ()) -> None:
        """End the run at once as TERMINATED: no workflow code runs, its pending activities and timers are dropped.

        ``result()`` then raises ``WorkflowFailureError`` whose cause is ``TerminatedError(reason)``; the history
        ends with ``WORKFLOW_EXECUTION_TERMINATED`` (reason, details, identity).

        Raises:
            WorkflowNotFoundError: no such run, or it is already closed (the message says how it closed).
        """
        await self._client._outbound.terminate_workflow(
            TerminateWorkflowInput(id=self.id, run_id=self.run_id, reason=reason, args=list(details)))

    async def signal(self, signal: Callable[..., Any] | str, arg: Any = _NO_ARG, *, args: Sequence[Any] = ()) -> None:
        """Send a signal to the run: its ``@workflow.signal`` handler gets the arguments.

        Signals reach the workflow in the order they were sent, none is lost: one sent while the workflow
        is busy waits for its next workflow task.

        Args:
            signal: the ``@workflow.signal`` method (e.g. ``MyWorkflow.my_signal``) or the signal name.
            arg: the single argument; use ``args=[...]`` for several.

        Raises:
            WorkflowNotFoundError: no such run, or it is already closed (the message says how it closed).
            PayloadError: an argument cannot be serialized (nothing is sent).
        """
        if arg is not _NO_ARG and args:
            raise ValueError("signal: pass one argument positionally or several as args=[...], not both")
        await self._client._outbound.signal_workflow(SignalWorkflowInput(
            signal=workflow._signal_name(signal), args=[arg] if arg is not _NO_ARG else list(args), id=self.id,
            run_id=self.run_id))

    async def query(self, query: Callable[..., Any] | str, *args: Any,
                    rpc_timeout: timedelta = timedelta(seconds=10)) -> Any:
        """Ask the run a question: a worker calls its ``@workflow.query`` handler and returns the result.

        The answer comes from the workflow's state after its last completed workflow task (from the
        worker's cache, or by replaying the history); nothing is recorded and the state does not change.
        Closed runs can be queried too.

        Args:
            query: the ``@workflow.query`` method (e.g. ``MyWorkflow.my_query``) or the query name.
            args: the handler's arguments.
            rpc_timeout: how long to wait for a worker's answer.

        Raises:
            WorkflowQueryFailedError: no handler of that name, the handler raised, or no worker answered
                within ``rpc_timeout`` (e.g. no worker polls the workflow's task queue).
            WorkflowNotFoundError: no such workflow.
        """
        return await self._client._outbound.query_workflow(QueryWorkflowInput(
            id=self.id, run_id=self.run_id, query=workflow._query_name(query), args=list(args),
            rpc_timeout=rpc_timeout))

    async def execute_update(self, update: Callable[..., Any] | str, arg: Any = _NO_ARG, *,
                             args: Sequence[Any] = (), id: str | None = None) -> Any:
        """Run an update on the workflow and return its handler's result.

        Args:
            update: the ``@workflow.update`` method (e.g. ``MyWorkflow.my_update``) or the update name.
            arg: the single argument; use ``args=[...]`` for several.
            id: the update id (default: a new uuid); a second update with the same id runs once and gets
                the first one's outcome.

        Raises:
            WorkflowUpdateFailedError: the validator rejected the update or the handler raised (the
                error is its ``__cause__``); the workflow keeps running.
            WorkflowNotFoundError: no such workflow.
        """
        handle = await self.start_update(update, arg, args=args, id=id, wait_for_stage=WorkflowUpdateStage.COMPLETED)
        return await handle.result()

    async def start_update(self, update: Callable[..., Any] | str, arg: Any = _NO_ARG, *, args: Sequence[Any] = (),
                           id: str | None = None,
                           wait_for_stage: WorkflowUpdateStage | None = None) -> WorkflowUpdateHandle:
        """Send an update and return once it reached ``wait_for_stage`` (ACCEPTED: its validator passed).

        ``await handle.result()`` waits for the handler's result. Raises ``WorkflowUpdateFailedError``
        when the update was rejected.
        """
        if arg is not _NO_ARG and args:
            raise ValueError("update: pass one argument positionally or several as args=[...], not both")
        if wait_for_stage is None:
            wait_for_stage = WorkflowUpdateStage.ACCEPTED
        if wait_for_stage == WorkflowUpdateStage.ADMITTED:
            raise ValueError("start_update: wait_for_stage=ADMITTED is not supported; use ACCEPTED or COMPLETED")
        return await self._client._outbound.start_workflow_update(StartWorkflowUpdateInput(
            id=self.id, run_id=self.run_id, update_id=id, update=workflow._update_name(update),
            args=[arg] if arg is not _NO_ARG else list(args), wait_for_stage=WorkflowUpdateStage(wait_for_stage)))

    async def cancel(self) -> None:
        """Ask the run to cancel: its code gets ``asyncio.CancelledError`` at its current ``await``.

        The workflow may clean up (even run activities) and then ends CANCELED: ``result()`` raises
        ``WorkflowFailureError`` whose cause is ``CancelledError``. Code that swallows the cancellation
        goes on and may complete normally. Activities already running are not interrupted; their results
        are ignored.

        Raises:
            WorkflowNotFoundError: no such run, or it is already closed (the message says how it closed).
        """
        await self._client._outbound.cancel_workflow(CancelWorkflowInput(id=self.id, run_id=self.run_id))

    async def describe(self) -> WorkflowExecutionDescription:
        """Status, type, task queue, times, history length and pending activities of the run."""
        client = self._client
        response = await client._service.describe(client.namespace, self.id, self.run_id or "")
        await client.data_converter.decode_message(response)
        return WorkflowExecutionDescription._from_proto(response, client.data_converter)

    async def fetch_history(self) -> WorkflowHistory:
        """All events of the run, in order."""
        client = self._client
        run_id, raw = await client._service.get_history(client.namespace, self.id, self.run_id or "")
        history = history_pb2.History(events=[history_pb2.HistoryEvent.FromString(e) for e in raw])
        await client.data_converter.decode_message(history, resolve_external=False)  # references stay
        return WorkflowHistory(self.id, run_id, history, client.data_converter)
