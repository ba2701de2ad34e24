import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rayflow.proto.rayflow.v1 import command_pb2 as _command_pb2
from rayflow.proto.rayflow.v1 import history_pb2 as _history_pb2
from rayflow.proto.rayflow.v1 import message_pb2 as _message_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkflowExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_EXECUTION_STATUS_UNSPECIFIED: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_RUNNING: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_COMPLETED: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_FAILED: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_CANCELED: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_TERMINATED: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: _ClassVar[WorkflowExecutionStatus]
    WORKFLOW_EXECUTION_STATUS_TIMED_OUT: _ClassVar[WorkflowExecutionStatus]

class PendingActivityState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PENDING_ACTIVITY_STATE_UNSPECIFIED: _ClassVar[PendingActivityState]
    PENDING_ACTIVITY_STATE_SCHEDULED: _ClassVar[PendingActivityState]
    PENDING_ACTIVITY_STATE_STARTED: _ClassVar[PendingActivityState]
    PENDING_ACTIVITY_STATE_CANCEL_REQUESTED: _ClassVar[PendingActivityState]

class TaskQueueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_QUEUE_TYPE_UNSPECIFIED: _ClassVar[TaskQueueType]
    TASK_QUEUE_TYPE_WORKFLOW: _ClassVar[TaskQueueType]
    TASK_QUEUE_TYPE_ACTIVITY: _ClassVar[TaskQueueType]

class WorkflowIdReusePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE: _ClassVar[WorkflowIdReusePolicy]
    WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING: _ClassVar[WorkflowIdReusePolicy]

class WorkflowIdConflictPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_FAIL: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING: _ClassVar[WorkflowIdConflictPolicy]
    WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING: _ClassVar[WorkflowIdConflictPolicy]
WORKFLOW_EXECUTION_STATUS_UNSPECIFIED: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_RUNNING: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_COMPLETED: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_FAILED: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_CANCELED: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_TERMINATED: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: WorkflowExecutionStatus
WORKFLOW_EXECUTION_STATUS_TIMED_OUT: WorkflowExecutionStatus
PENDING_ACTIVITY_STATE_UNSPECIFIED: PendingActivityState
PENDING_ACTIVITY_STATE_SCHEDULED: PendingActivityState
PENDING_ACTIVITY_STATE_STARTED: PendingActivityState
PENDING_ACTIVITY_STATE_CANCEL_REQUESTED: PendingActivityState
TASK_QUEUE_TYPE_UNSPECIFIED: TaskQueueType
TASK_QUEUE_TYPE_WORKFLOW: TaskQueueType
TASK_QUEUE_TYPE_ACTIVITY: TaskQueueType
WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE: WorkflowIdReusePolicy
WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING: WorkflowIdReusePolicy
WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_FAIL: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING: WorkflowIdConflictPolicy
WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING: WorkflowIdConflictPolicy

class StartWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "workflow_type", "task_queue", "input", "workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout", "identity", "request_id", "retry_policy", "workflow_id_reuse_policy", "workflow_id_conflict_policy", "start_signal_name", "start_signal_input", "parent_namespace", "parent_workflow_id", "parent_run_id", "parent_initiated_event_id", "versioning_override", "version_directive", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_EXECUTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TASK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_REUSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    START_SIGNAL_NAME_FIELD_NUMBER: _ClassVar[int]
    START_SIGNAL_INPUT_FIELD_NUMBER: _ClassVar[int]
    PARENT_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PARENT_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    VERSION_DIRECTIVE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    input: _message_pb2.Payloads
    workflow_execution_timeout: _duration_pb2.Duration
    workflow_run_timeout: _duration_pb2.Duration
    workflow_task_timeout: _duration_pb2.Duration
    identity: str
    request_id: str
    retry_policy: _message_pb2.RetryPolicy
    workflow_id_reuse_policy: WorkflowIdReusePolicy
    workflow_id_conflict_policy: WorkflowIdConflictPolicy
    start_signal_name: str
    start_signal_input: _message_pb2.Payloads
    parent_namespace: str
    parent_workflow_id: str
    parent_run_id: str
    parent_initiated_event_id: int
    versioning_override: str
    version_directive: str
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., workflow_execution_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., workflow_run_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., workflow_task_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., identity: _Optional[str] = ..., request_id: _Optional[str] = ..., retry_policy: _Optional[_Union[_message_pb2.RetryPolicy, _Mapping]] = ..., workflow_id_reuse_policy: _Optional[_Union[WorkflowIdReusePolicy, str]] = ..., workflow_id_conflict_policy: _Optional[_Union[WorkflowIdConflictPolicy, str]] = ..., start_signal_name: _Optional[str] = ..., start_signal_input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., parent_namespace: _Optional[str] = ..., parent_workflow_id: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., parent_initiated_event_id: _Optional[int] = ..., versioning_override: _Optional[str] = ..., version_directive: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class SignalWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "signal_name", "input", "identity", "request_id", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    signal_name: str
    input: _message_pb2.Payloads
    identity: str
    request_id: str
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., signal_name: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., identity: _Optional[str] = ..., request_id: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class RequestCancelWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "identity", "reason", "request_id", "first_execution_run_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    identity: str
    reason: str
    request_id: str
    first_execution_run_id: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., identity: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ...) -> None: ...

class TerminateWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "reason", "details", "identity", "request_id", "first_execution_run_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    reason: str
    details: _message_pb2.Payloads
    identity: str
    request_id: str
    first_execution_run_id: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., reason: _Optional[str] = ..., details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., identity: _Optional[str] = ..., request_id: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ...) -> None: ...

class ListWorkflowExecutionsRequest(_message.Message):
    __slots__ = ("namespace", "status", "workflow_type", "task_queue", "start_time_min", "start_time_max", "page_size", "next_page_token", "build_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_MIN_FIELD_NUMBER: _ClassVar[int]
    START_TIME_MAX_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    status: WorkflowExecutionStatus
    workflow_type: str
    task_queue: str
    start_time_min: _timestamp_pb2.Timestamp
    start_time_max: _timestamp_pb2.Timestamp
    page_size: int
    next_page_token: bytes
    build_id: str
    def __init__(self, namespace: _Optional[str] = ..., status: _Optional[_Union[WorkflowExecutionStatus, str]] = ..., workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., start_time_min: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time_max: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., next_page_token: _Optional[bytes] = ..., build_id: _Optional[str] = ...) -> None: ...

class ListWorkflowExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[WorkflowExecutionInfo]
    next_page_token: bytes
    def __init__(self, executions: _Optional[_Iterable[_Union[WorkflowExecutionInfo, _Mapping]]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class StartWorkflowExecutionResponse(_message.Message):
    __slots__ = ("run_id", "started")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    started: bool
    def __init__(self, run_id: _Optional[str] = ..., started: _Optional[bool] = ...) -> None: ...

class PendingActivityInfo(_message.Message):
    __slots__ = ("activity_id", "activity_type", "state", "heartbeat_details", "last_heartbeat_time", "last_started_time", "attempt", "maximum_attempts", "scheduled_time", "expiration_time", "last_failure", "last_worker_identity")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    LAST_WORKER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    activity_type: str
    state: PendingActivityState
    heartbeat_details: _message_pb2.Payloads
    last_heartbeat_time: _timestamp_pb2.Timestamp
    last_started_time: _timestamp_pb2.Timestamp
    attempt: int
    maximum_attempts: int
    scheduled_time: _timestamp_pb2.Timestamp
    expiration_time: _timestamp_pb2.Timestamp
    last_failure: _message_pb2.Failure
    last_worker_identity: str
    def __init__(self, activity_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., state: _Optional[_Union[PendingActivityState, str]] = ..., heartbeat_details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., maximum_attempts: _Optional[int] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expiration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., last_worker_identity: _Optional[str] = ...) -> None: ...

class PendingWorkflowTaskInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "started_event_id", "attempt", "scheduled_time", "started_time", "task_queue", "last_failure")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    started_event_id: int
    attempt: int
    scheduled_time: _timestamp_pb2.Timestamp
    started_time: _timestamp_pb2.Timestamp
    task_queue: str
    last_failure: _message_pb2.Failure
    def __init__(self, scheduled_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_queue: _Optional[str] = ..., last_failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class WorkflowExecutionInfo(_message.Message):
    __slots__ = ("execution", "workflow_type", "start_time", "close_time", "status", "history_length", "task_queue", "first_execution_run_id", "sticky_task_queue", "build_ids", "assigned_build_id", "worker_deployment_version", "versioning_behavior", "versioning_override", "parent_namespace", "parent_workflow_id", "parent_run_id", "expire_time")
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STICKY_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    BUILD_IDS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_DEPLOYMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    PARENT_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PARENT_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    execution: _message_pb2.WorkflowExecution
    workflow_type: str
    start_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    status: WorkflowExecutionStatus
    history_length: int
    task_queue: str
    first_execution_run_id: str
    sticky_task_queue: str
    build_ids: _containers.RepeatedScalarFieldContainer[str]
    assigned_build_id: str
    worker_deployment_version: str
    versioning_behavior: int
    versioning_override: str
    parent_namespace: str
    parent_workflow_id: str
    parent_run_id: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, execution: _Optional[_Union[_message_pb2.WorkflowExecution, _Mapping]] = ..., workflow_type: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[WorkflowExecutionStatus, str]] = ..., history_length: _Optional[int] = ..., task_queue: _Optional[str] = ..., first_execution_run_id: _Optional[str] = ..., sticky_task_queue: _Optional[str] = ..., build_ids: _Optional[_Iterable[str]] = ..., assigned_build_id: _Optional[str] = ..., worker_deployment_version: _Optional[str] = ..., versioning_behavior: _Optional[int] = ..., versioning_override: _Optional[str] = ..., parent_namespace: _Optional[str] = ..., parent_workflow_id: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DescribeWorkflowExecutionResponse(_message.Message):
    __slots__ = ("workflow_execution_info", "pending_activities", "pending_workflow_task")
    WORKFLOW_EXECUTION_INFO_FIELD_NUMBER: _ClassVar[int]
    PENDING_ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    PENDING_WORKFLOW_TASK_FIELD_NUMBER: _ClassVar[int]
    workflow_execution_info: WorkflowExecutionInfo
    pending_activities: _containers.RepeatedCompositeFieldContainer[PendingActivityInfo]
    pending_workflow_task: PendingWorkflowTaskInfo
    def __init__(self, workflow_execution_info: _Optional[_Union[WorkflowExecutionInfo, _Mapping]] = ..., pending_activities: _Optional[_Iterable[_Union[PendingActivityInfo, _Mapping]]] = ..., pending_workflow_task: _Optional[_Union[PendingWorkflowTaskInfo, _Mapping]] = ...) -> None: ...

class PollWorkflowTaskQueueResponse(_message.Message):
    __slots__ = ("task_token", "workflow_execution", "workflow_type", "previous_started_event_id", "started_event_id", "attempt", "history", "scheduled_time", "started_time", "task_queue", "namespace", "query", "updates")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    workflow_execution: _message_pb2.WorkflowExecution
    workflow_type: str
    previous_started_event_id: int
    started_event_id: int
    attempt: int
    history: _history_pb2.History
    scheduled_time: _timestamp_pb2.Timestamp
    started_time: _timestamp_pb2.Timestamp
    task_queue: str
    namespace: str
    query: WorkflowQuery
    updates: _containers.RepeatedCompositeFieldContainer[WorkflowUpdateRequest]
    def __init__(self, task_token: _Optional[bytes] = ..., workflow_execution: _Optional[_Union[_message_pb2.WorkflowExecution, _Mapping]] = ..., workflow_type: _Optional[str] = ..., previous_started_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., history: _Optional[_Union[_history_pb2.History, _Mapping]] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_queue: _Optional[str] = ..., namespace: _Optional[str] = ..., query: _Optional[_Union[WorkflowQuery, _Mapping]] = ..., updates: _Optional[_Iterable[_Union[WorkflowUpdateRequest, _Mapping]]] = ...) -> None: ...

class WorkflowUpdateRequest(_message.Message):
    __slots__ = ("update_id", "name", "input", "header")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    name: str
    input: _message_pb2.Payloads
    header: _message_pb2.Header
    def __init__(self, update_id: _Optional[str] = ..., name: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class WorkflowUpdateRejection(_message.Message):
    __slots__ = ("update_id", "failure")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    failure: _message_pb2.Failure
    def __init__(self, update_id: _Optional[str] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class UpdateWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "update_id", "name", "input", "wait_for_stage", "identity", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_STAGE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    update_id: str
    name: str
    input: _message_pb2.Payloads
    wait_for_stage: int
    identity: str
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., update_id: _Optional[str] = ..., name: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., wait_for_stage: _Optional[int] = ..., identity: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class UpdateWorkflowExecutionResponse(_message.Message):
    __slots__ = ("update_id", "run_id", "stage", "result", "failure")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    run_id: str
    stage: int
    result: _message_pb2.Payloads
    failure: _message_pb2.Failure
    def __init__(self, update_id: _Optional[str] = ..., run_id: _Optional[str] = ..., stage: _Optional[int] = ..., result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class RespondWorkflowTaskCompletedRequest(_message.Message):
    __slots__ = ("task_token", "commands", "identity", "sticky_task_queue", "sticky_schedule_to_start_timeout", "eager_activity_slots", "eager_activity_types", "rejected_updates", "build_id", "use_versioning", "deployment_name", "versioning_behavior")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    STICKY_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    STICKY_SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EAGER_ACTIVITY_SLOTS_FIELD_NUMBER: _ClassVar[int]
    EAGER_ACTIVITY_TYPES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_UPDATES_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    USE_VERSIONING_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    commands: _containers.RepeatedCompositeFieldContainer[_command_pb2.Command]
    identity: str
    sticky_task_queue: str
    sticky_schedule_to_start_timeout: _duration_pb2.Duration
    eager_activity_slots: int
    eager_activity_types: _containers.RepeatedScalarFieldContainer[str]
    rejected_updates: _containers.RepeatedCompositeFieldContainer[WorkflowUpdateRejection]
    build_id: str
    use_versioning: bool
    deployment_name: str
    versioning_behavior: int
    def __init__(self, task_token: _Optional[bytes] = ..., commands: _Optional[_Iterable[_Union[_command_pb2.Command, _Mapping]]] = ..., identity: _Optional[str] = ..., sticky_task_queue: _Optional[str] = ..., sticky_schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., eager_activity_slots: _Optional[int] = ..., eager_activity_types: _Optional[_Iterable[str]] = ..., rejected_updates: _Optional[_Iterable[_Union[WorkflowUpdateRejection, _Mapping]]] = ..., build_id: _Optional[str] = ..., use_versioning: _Optional[bool] = ..., deployment_name: _Optional[str] = ..., versioning_behavior: _Optional[int] = ...) -> None: ...

class RespondWorkflowTaskCompletedResponse(_message.Message):
    __slots__ = ("activity_tasks",)
    ACTIVITY_TASKS_FIELD_NUMBER: _ClassVar[int]
    activity_tasks: _containers.RepeatedCompositeFieldContainer[PollActivityTaskQueueResponse]
    def __init__(self, activity_tasks: _Optional[_Iterable[_Union[PollActivityTaskQueueResponse, _Mapping]]] = ...) -> None: ...

class RespondWorkflowTaskFailedRequest(_message.Message):
    __slots__ = ("task_token", "cause", "failure", "identity")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    cause: _history_pb2.WorkflowTaskFailedCause
    failure: _message_pb2.Failure
    identity: str
    def __init__(self, task_token: _Optional[bytes] = ..., cause: _Optional[_Union[_history_pb2.WorkflowTaskFailedCause, str]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., identity: _Optional[str] = ...) -> None: ...

class PollActivityTaskQueueResponse(_message.Message):
    __slots__ = ("task_token", "workflow_namespace", "workflow_type", "workflow_execution", "activity_type", "activity_id", "input", "heartbeat_details", "scheduled_time", "current_attempt_scheduled_time", "started_time", "attempt", "schedule_to_close_timeout", "start_to_close_timeout", "heartbeat_timeout", "retry_policy", "task_queue", "header")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ATTEMPT_SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    START_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    workflow_namespace: str
    workflow_type: str
    workflow_execution: _message_pb2.WorkflowExecution
    activity_type: str
    activity_id: str
    input: _message_pb2.Payloads
    heartbeat_details: _message_pb2.Payloads
    scheduled_time: _timestamp_pb2.Timestamp
    current_attempt_scheduled_time: _timestamp_pb2.Timestamp
    started_time: _timestamp_pb2.Timestamp
    attempt: int
    schedule_to_close_timeout: _duration_pb2.Duration
    start_to_close_timeout: _duration_pb2.Duration
    heartbeat_timeout: _duration_pb2.Duration
    retry_policy: _message_pb2.RetryPolicy
    task_queue: str
    header: _message_pb2.Header
    def __init__(self, task_token: _Optional[bytes] = ..., workflow_namespace: _Optional[str] = ..., workflow_type: _Optional[str] = ..., workflow_execution: _Optional[_Union[_message_pb2.WorkflowExecution, _Mapping]] = ..., activity_type: _Optional[str] = ..., activity_id: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., heartbeat_details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_attempt_scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., schedule_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., start_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_policy: _Optional[_Union[_message_pb2.RetryPolicy, _Mapping]] = ..., task_queue: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class RespondActivityTaskCompletedRequest(_message.Message):
    __slots__ = ("task_token", "result", "identity", "worker_sticky_task_queue")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    WORKER_STICKY_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    result: _message_pb2.Payloads
    identity: str
    worker_sticky_task_queue: str
    def __init__(self, task_token: _Optional[bytes] = ..., result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., identity: _Optional[str] = ..., worker_sticky_task_queue: _Optional[str] = ...) -> None: ...

class RespondActivityTaskCompletedResponse(_message.Message):
    __slots__ = ("workflow_task",)
    WORKFLOW_TASK_FIELD_NUMBER: _ClassVar[int]
    workflow_task: PollWorkflowTaskQueueResponse
    def __init__(self, workflow_task: _Optional[_Union[PollWorkflowTaskQueueResponse, _Mapping]] = ...) -> None: ...

class RespondActivityTaskFailedRequest(_message.Message):
    __slots__ = ("task_token", "failure", "identity", "last_heartbeat_details")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    failure: _message_pb2.Failure
    identity: str
    last_heartbeat_details: _message_pb2.Payloads
    def __init__(self, task_token: _Optional[bytes] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., identity: _Optional[str] = ..., last_heartbeat_details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ...) -> None: ...

class RecordActivityTaskHeartbeatRequest(_message.Message):
    __slots__ = ("task_token", "details", "identity")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    details: _message_pb2.Payloads
    identity: str
    def __init__(self, task_token: _Optional[bytes] = ..., details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., identity: _Optional[str] = ...) -> None: ...

class RecordActivityTaskHeartbeatResponse(_message.Message):
    __slots__ = ("cancel_requested",)
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    cancel_requested: bool
    def __init__(self, cancel_requested: _Optional[bool] = ...) -> None: ...

class RespondActivityTaskCanceledRequest(_message.Message):
    __slots__ = ("task_token", "details", "identity")
    TASK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    task_token: bytes
    details: _message_pb2.Payloads
    identity: str
    def __init__(self, task_token: _Optional[bytes] = ..., details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., identity: _Optional[str] = ...) -> None: ...

class WorkflowQuery(_message.Message):
    __slots__ = ("query_id", "query_type", "query_args", "header")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_ARGS_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    query_type: str
    query_args: _message_pb2.Payloads
    header: _message_pb2.Header
    def __init__(self, query_id: _Optional[str] = ..., query_type: _Optional[str] = ..., query_args: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class QueryWorkflowRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "query_type", "query_args", "timeout_s", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUERY_ARGS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    query_type: str
    query_args: _message_pb2.Payloads
    timeout_s: float
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., query_type: _Optional[str] = ..., query_args: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., timeout_s: _Optional[float] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class QueryWorkflowResponse(_message.Message):
    __slots__ = ("query_result",)
    QUERY_RESULT_FIELD_NUMBER: _ClassVar[int]
    query_result: _message_pb2.Payloads
    def __init__(self, query_result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ...) -> None: ...

class RespondQueryTaskCompletedRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "query_id", "query_result", "failure", "identity")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    query_id: str
    query_result: _message_pb2.Payloads
    failure: _message_pb2.Failure
    identity: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., query_id: _Optional[str] = ..., query_result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., identity: _Optional[str] = ...) -> None: ...
