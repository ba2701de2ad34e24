import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rayflow.proto.rayflow.v1 import history_pb2 as _history_pb2
from rayflow.proto.rayflow.v1 import message_pb2 as _message_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as _request_response_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskToken(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "scheduled_event_id", "started_event_id", "attempt", "activity_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    started_event_id: int
    attempt: int
    activity_id: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., scheduled_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., activity_id: _Optional[str] = ...) -> None: ...

class MatchingTask(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "scheduled_event_id", "attempt", "task_queue_type", "task_queue", "create_time", "resource_label", "query_id", "history", "history_last_event_id", "version_directive", "normal_task_queue")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LABEL_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LAST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_DIRECTIVE_FIELD_NUMBER: _ClassVar[int]
    NORMAL_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    scheduled_event_id: int
    attempt: int
    task_queue_type: _request_response_pb2.TaskQueueType
    task_queue: str
    create_time: _timestamp_pb2.Timestamp
    resource_label: str
    query_id: str
    history: bytes
    history_last_event_id: int
    version_directive: str
    normal_task_queue: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., scheduled_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., task_queue_type: _Optional[_Union[_request_response_pb2.TaskQueueType, str]] = ..., task_queue: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resource_label: _Optional[str] = ..., query_id: _Optional[str] = ..., history: _Optional[bytes] = ..., history_last_event_id: _Optional[int] = ..., version_directive: _Optional[str] = ..., normal_task_queue: _Optional[str] = ...) -> None: ...

class ExecutionInfo(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "workflow_type", "task_queue", "status", "start_time", "close_time", "execution_timeout", "run_timeout", "task_timeout", "execution_expiration_time", "run_expiration_time", "first_execution_run_id", "request_id", "next_event_id", "previous_started_event_id", "sticky_task_queue", "sticky_schedule_to_start_timeout", "close_event_id", "memo", "parent_namespace", "parent_workflow_id", "parent_run_id", "parent_initiated_event_id", "parent_notified", "version_directive", "build_ids", "build_id", "deployment_version", "versioning_behavior", "versioning_override")
    class MemoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _message_pb2.Payload
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_message_pb2.Payload, _Mapping]] = ...) -> None: ...
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TASK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_EXPIRATION_TIME_FIELD_NUMBER: _ClassVar[int]
    FIRST_EXECUTION_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STICKY_TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    STICKY_SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    PARENT_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PARENT_WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_NOTIFIED_FIELD_NUMBER: _ClassVar[int]
    VERSION_DIRECTIVE_FIELD_NUMBER: _ClassVar[int]
    BUILD_IDS_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: _request_response_pb2.WorkflowExecutionStatus
    start_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    execution_timeout: _duration_pb2.Duration
    run_timeout: _duration_pb2.Duration
    task_timeout: _duration_pb2.Duration
    execution_expiration_time: _timestamp_pb2.Timestamp
    run_expiration_time: _timestamp_pb2.Timestamp
    first_execution_run_id: str
    request_id: str
    next_event_id: int
    previous_started_event_id: int
    sticky_task_queue: str
    sticky_schedule_to_start_timeout: _duration_pb2.Duration
    close_event_id: int
    memo: _containers.MessageMap[str, _message_pb2.Payload]
    parent_namespace: str
    parent_workflow_id: str
    parent_run_id: str
    parent_initiated_event_id: int
    parent_notified: bool
    version_directive: str
    build_ids: _containers.RepeatedScalarFieldContainer[str]
    build_id: str
    deployment_version: str
    versioning_behavior: int
    versioning_override: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., status: _Optional[_Union[_request_response_pb2.WorkflowExecutionStatus, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., execution_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., run_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., task_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., execution_expiration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_expiration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_execution_run_id: _Optional[str] = ..., request_id: _Optional[str] = ..., next_event_id: _Optional[int] = ..., previous_started_event_id: _Optional[int] = ..., sticky_task_queue: _Optional[str] = ..., sticky_schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., close_event_id: _Optional[int] = ..., memo: _Optional[_Mapping[str, _message_pb2.Payload]] = ..., parent_namespace: _Optional[str] = ..., parent_workflow_id: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., parent_initiated_event_id: _Optional[int] = ..., parent_notified: _Optional[bool] = ..., version_directive: _Optional[str] = ..., build_ids: _Optional[_Iterable[str]] = ..., build_id: _Optional[str] = ..., deployment_version: _Optional[str] = ..., versioning_behavior: _Optional[int] = ..., versioning_override: _Optional[str] = ...) -> None: ...

class WorkflowTaskInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "started_event_id", "attempt", "scheduled_time", "started_time", "request_id", "task_queue", "identity", "last_failure", "dispatch_time")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_TIME_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    started_event_id: int
    attempt: int
    scheduled_time: _timestamp_pb2.Timestamp
    started_time: _timestamp_pb2.Timestamp
    request_id: str
    task_queue: str
    identity: str
    last_failure: _message_pb2.Failure
    dispatch_time: _timestamp_pb2.Timestamp
    def __init__(self, scheduled_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., attempt: _Optional[int] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., task_queue: _Optional[str] = ..., identity: _Optional[str] = ..., last_failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., dispatch_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ActivityInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "activity_id", "activity_type", "task_queue", "resource_label", "input", "schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout", "heartbeat_timeout", "retry_policy", "attempt", "scheduled_time", "current_attempt_scheduled_time", "started_time", "started_identity", "request_id", "heartbeat_details", "last_heartbeat_time", "last_failure", "cancel_requested", "cancel_requested_event_id", "version_directive", "header")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LABEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    START_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ATTEMPT_SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_DIRECTIVE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    activity_id: str
    activity_type: str
    task_queue: str
    resource_label: str
    input: _message_pb2.Payloads
    schedule_to_close_timeout: _duration_pb2.Duration
    schedule_to_start_timeout: _duration_pb2.Duration
    start_to_close_timeout: _duration_pb2.Duration
    heartbeat_timeout: _duration_pb2.Duration
    retry_policy: _message_pb2.RetryPolicy
    attempt: int
    scheduled_time: _timestamp_pb2.Timestamp
    current_attempt_scheduled_time: _timestamp_pb2.Timestamp
    started_time: _timestamp_pb2.Timestamp
    started_identity: str
    request_id: str
    heartbeat_details: _message_pb2.Payloads
    last_heartbeat_time: _timestamp_pb2.Timestamp
    last_failure: _message_pb2.Failure
    cancel_requested: bool
    cancel_requested_event_id: int
    version_directive: str
    header: _message_pb2.Header
    def __init__(self, scheduled_event_id: _Optional[int] = ..., activity_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., resource_label: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., schedule_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., start_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_policy: _Optional[_Union[_message_pb2.RetryPolicy, _Mapping]] = ..., attempt: _Optional[int] = ..., scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_attempt_scheduled_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_identity: _Optional[str] = ..., request_id: _Optional[str] = ..., heartbeat_details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ..., cancel_requested: _Optional[bool] = ..., cancel_requested_event_id: _Optional[int] = ..., version_directive: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class TimerInfo(_message.Message):
    __slots__ = ("timer_id", "started_event_id", "expiry_time")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_TIME_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    started_event_id: int
    expiry_time: _timestamp_pb2.Timestamp
    def __init__(self, timer_id: _Optional[str] = ..., started_event_id: _Optional[int] = ..., expiry_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MutableState(_message.Message):
    __slots__ = ("execution_info", "workflow_task", "activities", "timers", "buffered_events", "children", "updates", "external_signals", "signal_request_ids")
    class ActivitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: ActivityInfo
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[ActivityInfo, _Mapping]] = ...) -> None: ...
    class TimersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TimerInfo
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TimerInfo, _Mapping]] = ...) -> None: ...
    class ChildrenEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: ChildInfo
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[ChildInfo, _Mapping]] = ...) -> None: ...
    class UpdatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: UpdateInfo
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[UpdateInfo, _Mapping]] = ...) -> None: ...
    class ExternalSignalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: ExternalSignalInfo
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[ExternalSignalInfo, _Mapping]] = ...) -> None: ...
    EXECUTION_INFO_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TASK_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    TIMERS_FIELD_NUMBER: _ClassVar[int]
    BUFFERED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_SIGNALS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    execution_info: ExecutionInfo
    workflow_task: WorkflowTaskInfo
    activities: _containers.MessageMap[int, ActivityInfo]
    timers: _containers.MessageMap[str, TimerInfo]
    buffered_events: _containers.RepeatedCompositeFieldContainer[_history_pb2.HistoryEvent]
    children: _containers.MessageMap[int, ChildInfo]
    updates: _containers.MessageMap[str, UpdateInfo]
    external_signals: _containers.MessageMap[int, ExternalSignalInfo]
    signal_request_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, execution_info: _Optional[_Union[ExecutionInfo, _Mapping]] = ..., workflow_task: _Optional[_Union[WorkflowTaskInfo, _Mapping]] = ..., activities: _Optional[_Mapping[int, ActivityInfo]] = ..., timers: _Optional[_Mapping[str, TimerInfo]] = ..., buffered_events: _Optional[_Iterable[_Union[_history_pb2.HistoryEvent, _Mapping]]] = ..., children: _Optional[_Mapping[int, ChildInfo]] = ..., updates: _Optional[_Mapping[str, UpdateInfo]] = ..., external_signals: _Optional[_Mapping[int, ExternalSignalInfo]] = ..., signal_request_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateInfo(_message.Message):
    __slots__ = ("update_id", "accepted_event_id", "completed_event_id", "result", "failure")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    accepted_event_id: int
    completed_event_id: int
    result: _message_pb2.Payloads
    failure: _message_pb2.Failure
    def __init__(self, update_id: _Optional[str] = ..., accepted_event_id: _Optional[int] = ..., completed_event_id: _Optional[int] = ..., result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class ChildInfo(_message.Message):
    __slots__ = ("initiated_event_id", "namespace", "workflow_id", "workflow_type", "run_id", "started_event_id", "parent_close_policy", "request", "close_policy_applied")
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_CLOSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POLICY_APPLIED_FIELD_NUMBER: _ClassVar[int]
    initiated_event_id: int
    namespace: str
    workflow_id: str
    workflow_type: str
    run_id: str
    started_event_id: int
    parent_close_policy: int
    request: _request_response_pb2.StartWorkflowExecutionRequest
    close_policy_applied: bool
    def __init__(self, initiated_event_id: _Optional[int] = ..., namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., run_id: _Optional[str] = ..., started_event_id: _Optional[int] = ..., parent_close_policy: _Optional[int] = ..., request: _Optional[_Union[_request_response_pb2.StartWorkflowExecutionRequest, _Mapping]] = ..., close_policy_applied: _Optional[bool] = ...) -> None: ...

class ExternalSignalInfo(_message.Message):
    __slots__ = ("initiated_event_id", "namespace", "workflow_id", "run_id", "signal_name", "input", "control", "request_id", "header")
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    initiated_event_id: int
    namespace: str
    workflow_id: str
    run_id: str
    signal_name: str
    input: _message_pb2.Payloads
    control: str
    request_id: str
    header: _message_pb2.Header
    def __init__(self, initiated_event_id: _Optional[int] = ..., namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., signal_name: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., control: _Optional[str] = ..., request_id: _Optional[str] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...
