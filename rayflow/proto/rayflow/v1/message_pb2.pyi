import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TimeoutType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIMEOUT_TYPE_UNSPECIFIED: _ClassVar[TimeoutType]
    TIMEOUT_TYPE_START_TO_CLOSE: _ClassVar[TimeoutType]
    TIMEOUT_TYPE_SCHEDULE_TO_START: _ClassVar[TimeoutType]
    TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: _ClassVar[TimeoutType]
    TIMEOUT_TYPE_HEARTBEAT: _ClassVar[TimeoutType]

class RetryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETRY_STATE_UNSPECIFIED: _ClassVar[RetryState]
    RETRY_STATE_IN_PROGRESS: _ClassVar[RetryState]
    RETRY_STATE_NON_RETRYABLE_FAILURE: _ClassVar[RetryState]
    RETRY_STATE_TIMEOUT: _ClassVar[RetryState]
    RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED: _ClassVar[RetryState]
    RETRY_STATE_RETRY_POLICY_NOT_SET: _ClassVar[RetryState]
    RETRY_STATE_INTERNAL_SERVER_ERROR: _ClassVar[RetryState]
    RETRY_STATE_CANCEL_REQUESTED: _ClassVar[RetryState]
TIMEOUT_TYPE_UNSPECIFIED: TimeoutType
TIMEOUT_TYPE_START_TO_CLOSE: TimeoutType
TIMEOUT_TYPE_SCHEDULE_TO_START: TimeoutType
TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: TimeoutType
TIMEOUT_TYPE_HEARTBEAT: TimeoutType
RETRY_STATE_UNSPECIFIED: RetryState
RETRY_STATE_IN_PROGRESS: RetryState
RETRY_STATE_NON_RETRYABLE_FAILURE: RetryState
RETRY_STATE_TIMEOUT: RetryState
RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED: RetryState
RETRY_STATE_RETRY_POLICY_NOT_SET: RetryState
RETRY_STATE_INTERNAL_SERVER_ERROR: RetryState
RETRY_STATE_CANCEL_REQUESTED: RetryState

class Payload(_message.Message):
    __slots__ = ("metadata", "data")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    metadata: _containers.ScalarMap[str, bytes]
    data: bytes
    def __init__(self, metadata: _Optional[_Mapping[str, bytes]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Payloads(_message.Message):
    __slots__ = ("payloads",)
    PAYLOADS_FIELD_NUMBER: _ClassVar[int]
    payloads: _containers.RepeatedCompositeFieldContainer[Payload]
    def __init__(self, payloads: _Optional[_Iterable[_Union[Payload, _Mapping]]] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("fields",)
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Payload
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Payload, _Mapping]] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.MessageMap[str, Payload]
    def __init__(self, fields: _Optional[_Mapping[str, Payload]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("initial_interval", "backoff_coefficient", "maximum_interval", "maximum_attempts", "non_retryable_error_types")
    INITIAL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NON_RETRYABLE_ERROR_TYPES_FIELD_NUMBER: _ClassVar[int]
    initial_interval: _duration_pb2.Duration
    backoff_coefficient: float
    maximum_interval: _duration_pb2.Duration
    maximum_attempts: int
    non_retryable_error_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, initial_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff_coefficient: _Optional[float] = ..., maximum_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., maximum_attempts: _Optional[int] = ..., non_retryable_error_types: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplicationFailureInfo(_message.Message):
    __slots__ = ("type", "non_retryable", "details", "next_retry_delay")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NON_RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    type: str
    non_retryable: bool
    details: Payloads
    next_retry_delay: _duration_pb2.Duration
    def __init__(self, type: _Optional[str] = ..., non_retryable: _Optional[bool] = ..., details: _Optional[_Union[Payloads, _Mapping]] = ..., next_retry_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TimeoutFailureInfo(_message.Message):
    __slots__ = ("timeout_type", "last_heartbeat_details")
    TIMEOUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_DETAILS_FIELD_NUMBER: _ClassVar[int]
    timeout_type: TimeoutType
    last_heartbeat_details: Payloads
    def __init__(self, timeout_type: _Optional[_Union[TimeoutType, str]] = ..., last_heartbeat_details: _Optional[_Union[Payloads, _Mapping]] = ...) -> None: ...

class CanceledFailureInfo(_message.Message):
    __slots__ = ("details",)
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    details: Payloads
    def __init__(self, details: _Optional[_Union[Payloads, _Mapping]] = ...) -> None: ...

class TerminatedFailureInfo(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerFailureInfo(_message.Message):
    __slots__ = ("non_retryable",)
    NON_RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    non_retryable: bool
    def __init__(self, non_retryable: _Optional[bool] = ...) -> None: ...

class ActivityFailureInfo(_message.Message):
    __slots__ = ("scheduled_event_id", "started_event_id", "identity", "activity_type", "activity_id", "retry_state")
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_STATE_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    started_event_id: int
    identity: str
    activity_type: str
    activity_id: str
    retry_state: RetryState
    def __init__(self, scheduled_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., identity: _Optional[str] = ..., activity_type: _Optional[str] = ..., activity_id: _Optional[str] = ..., retry_state: _Optional[_Union[RetryState, str]] = ...) -> None: ...

class ChildWorkflowExecutionFailureInfo(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "workflow_type", "initiated_event_id", "started_event_id", "retry_state")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    INITIATED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_STATE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    initiated_event_id: int
    started_event_id: int
    retry_state: RetryState
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., initiated_event_id: _Optional[int] = ..., started_event_id: _Optional[int] = ..., retry_state: _Optional[_Union[RetryState, str]] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("message", "source", "stack_trace", "cause", "application_failure_info", "timeout_failure_info", "canceled_failure_info", "terminated_failure_info", "server_failure_info", "activity_failure_info", "child_workflow_execution_failure_info")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STACK_TRACE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    CANCELED_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    SERVER_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    CHILD_WORKFLOW_EXECUTION_FAILURE_INFO_FIELD_NUMBER: _ClassVar[int]
    message: str
    source: str
    stack_trace: str
    cause: Failure
    application_failure_info: ApplicationFailureInfo
    timeout_failure_info: TimeoutFailureInfo
    canceled_failure_info: CanceledFailureInfo
    terminated_failure_info: TerminatedFailureInfo
    server_failure_info: ServerFailureInfo
    activity_failure_info: ActivityFailureInfo
    child_workflow_execution_failure_info: ChildWorkflowExecutionFailureInfo
    def __init__(self, message: _Optional[str] = ..., source: _Optional[str] = ..., stack_trace: _Optional[str] = ..., cause: _Optional[_Union[Failure, _Mapping]] = ..., application_failure_info: _Optional[_Union[ApplicationFailureInfo, _Mapping]] = ..., timeout_failure_info: _Optional[_Union[TimeoutFailureInfo, _Mapping]] = ..., canceled_failure_info: _Optional[_Union[CanceledFailureInfo, _Mapping]] = ..., terminated_failure_info: _Optional[_Union[TerminatedFailureInfo, _Mapping]] = ..., server_failure_info: _Optional[_Union[ServerFailureInfo, _Mapping]] = ..., activity_failure_info: _Optional[_Union[ActivityFailureInfo, _Mapping]] = ..., child_workflow_execution_failure_info: _Optional[_Union[ChildWorkflowExecutionFailureInfo, _Mapping]] = ...) -> None: ...

class WorkflowExecution(_message.Message):
    __slots__ = ("workflow_id", "run_id")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...
