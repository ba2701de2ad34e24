import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from rayflow.proto.rayflow.v1 import message_pb2 as _message_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_TYPE_UNSPECIFIED: _ClassVar[CommandType]
    COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: _ClassVar[CommandType]
    COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: _ClassVar[CommandType]
    COMMAND_TYPE_START_TIMER: _ClassVar[CommandType]
    COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_CANCEL_TIMER: _ClassVar[CommandType]
    COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_RECORD_MARKER: _ClassVar[CommandType]
    COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: _ClassVar[CommandType]
    COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE: _ClassVar[CommandType]
    COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE: _ClassVar[CommandType]
COMMAND_TYPE_UNSPECIFIED: CommandType
COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: CommandType
COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: CommandType
COMMAND_TYPE_START_TIMER: CommandType
COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_CANCEL_TIMER: CommandType
COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_RECORD_MARKER: CommandType
COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: CommandType
COMMAND_TYPE_ACCEPT_WORKFLOW_UPDATE: CommandType
COMMAND_TYPE_COMPLETE_WORKFLOW_UPDATE: CommandType

class ScheduleActivityTaskCommandAttributes(_message.Message):
    __slots__ = ("activity_id", "activity_type", "task_queue", "input", "schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout", "heartbeat_timeout", "retry_policy", "resource_label", "versioning_intent", "header")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TO_START_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    START_TO_CLOSE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_INTENT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    activity_type: str
    task_queue: str
    input: _message_pb2.Payloads
    schedule_to_close_timeout: _duration_pb2.Duration
    schedule_to_start_timeout: _duration_pb2.Duration
    start_to_close_timeout: _duration_pb2.Duration
    heartbeat_timeout: _duration_pb2.Duration
    retry_policy: _message_pb2.RetryPolicy
    resource_label: str
    versioning_intent: int
    header: _message_pb2.Header
    def __init__(self, activity_id: _Optional[str] = ..., activity_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., schedule_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., schedule_to_start_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., start_to_close_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_policy: _Optional[_Union[_message_pb2.RetryPolicy, _Mapping]] = ..., resource_label: _Optional[str] = ..., versioning_intent: _Optional[int] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class RequestCancelActivityTaskCommandAttributes(_message.Message):
    __slots__ = ("scheduled_event_id",)
    SCHEDULED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    scheduled_event_id: int
    def __init__(self, scheduled_event_id: _Optional[int] = ...) -> None: ...

class StartTimerCommandAttributes(_message.Message):
    __slots__ = ("timer_id", "start_to_fire_timeout")
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    START_TO_FIRE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    start_to_fire_timeout: _duration_pb2.Duration
    def __init__(self, timer_id: _Optional[str] = ..., start_to_fire_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CancelTimerCommandAttributes(_message.Message):
    __slots__ = ("timer_id",)
    TIMER_ID_FIELD_NUMBER: _ClassVar[int]
    timer_id: str
    def __init__(self, timer_id: _Optional[str] = ...) -> None: ...

class CompleteWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _message_pb2.Payloads
    def __init__(self, result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ...) -> None: ...

class FailWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("failure",)
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    failure: _message_pb2.Failure
    def __init__(self, failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class CancelWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("details",)
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    details: _message_pb2.Payloads
    def __init__(self, details: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ...) -> None: ...

class RecordMarkerCommandAttributes(_message.Message):
    __slots__ = ("marker_name", "details", "failure")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _message_pb2.Payloads
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ...) -> None: ...
    MARKER_NAME_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    marker_name: str
    details: _containers.MessageMap[str, _message_pb2.Payloads]
    failure: _message_pb2.Failure
    def __init__(self, marker_name: _Optional[str] = ..., details: _Optional[_Mapping[str, _message_pb2.Payloads]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("command_type", "schedule_activity_task_command_attributes", "start_timer_command_attributes", "complete_workflow_execution_command_attributes", "fail_workflow_execution_command_attributes", "request_cancel_activity_task_command_attributes", "cancel_timer_command_attributes", "record_marker_command_attributes", "cancel_workflow_execution_command_attributes", "continue_as_new_workflow_execution_command_attributes", "start_child_workflow_execution_command_attributes", "accept_workflow_update_command_attributes", "complete_workflow_update_command_attributes", "signal_external_workflow_execution_command_attributes")
    COMMAND_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ACTIVITY_TASK_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    START_TIMER_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    FAIL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_CANCEL_ACTIVITY_TASK_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIMER_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    RECORD_MARKER_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CANCEL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_AS_NEW_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    START_CHILD_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_WORKFLOW_UPDATE_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_WORKFLOW_UPDATE_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_COMMAND_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    command_type: CommandType
    schedule_activity_task_command_attributes: ScheduleActivityTaskCommandAttributes
    start_timer_command_attributes: StartTimerCommandAttributes
    complete_workflow_execution_command_attributes: CompleteWorkflowExecutionCommandAttributes
    fail_workflow_execution_command_attributes: FailWorkflowExecutionCommandAttributes
    request_cancel_activity_task_command_attributes: RequestCancelActivityTaskCommandAttributes
    cancel_timer_command_attributes: CancelTimerCommandAttributes
    record_marker_command_attributes: RecordMarkerCommandAttributes
    cancel_workflow_execution_command_attributes: CancelWorkflowExecutionCommandAttributes
    continue_as_new_workflow_execution_command_attributes: ContinueAsNewWorkflowExecutionCommandAttributes
    start_child_workflow_execution_command_attributes: StartChildWorkflowExecutionCommandAttributes
    accept_workflow_update_command_attributes: AcceptWorkflowUpdateCommandAttributes
    complete_workflow_update_command_attributes: CompleteWorkflowUpdateCommandAttributes
    signal_external_workflow_execution_command_attributes: SignalExternalWorkflowExecutionCommandAttributes
    def __init__(self, command_type: _Optional[_Union[CommandType, str]] = ..., schedule_activity_task_command_attributes: _Optional[_Union[ScheduleActivityTaskCommandAttributes, _Mapping]] = ..., start_timer_command_attributes: _Optional[_Union[StartTimerCommandAttributes, _Mapping]] = ..., complete_workflow_execution_command_attributes: _Optional[_Union[CompleteWorkflowExecutionCommandAttributes, _Mapping]] = ..., fail_workflow_execution_command_attributes: _Optional[_Union[FailWorkflowExecutionCommandAttributes, _Mapping]] = ..., request_cancel_activity_task_command_attributes: _Optional[_Union[RequestCancelActivityTaskCommandAttributes, _Mapping]] = ..., cancel_timer_command_attributes: _Optional[_Union[CancelTimerCommandAttributes, _Mapping]] = ..., record_marker_command_attributes: _Optional[_Union[RecordMarkerCommandAttributes, _Mapping]] = ..., cancel_workflow_execution_command_attributes: _Optional[_Union[CancelWorkflowExecutionCommandAttributes, _Mapping]] = ..., continue_as_new_workflow_execution_command_attributes: _Optional[_Union[ContinueAsNewWorkflowExecutionCommandAttributes, _Mapping]] = ..., start_child_workflow_execution_command_attributes: _Optional[_Union[StartChildWorkflowExecutionCommandAttributes, _Mapping]] = ..., accept_workflow_update_command_attributes: _Optional[_Union[AcceptWorkflowUpdateCommandAttributes, _Mapping]] = ..., complete_workflow_update_command_attributes: _Optional[_Union[CompleteWorkflowUpdateCommandAttributes, _Mapping]] = ..., signal_external_workflow_execution_command_attributes: _Optional[_Union[SignalExternalWorkflowExecutionCommandAttributes, _Mapping]] = ...) -> None: ...

class ContinueAsNewWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("workflow_type", "task_queue", "input", "workflow_run_timeout", "workflow_task_timeout", "memo", "inherit_memo", "versioning_intent", "header")
    class MemoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _message_pb2.Payload
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_message_pb2.Payload, _Mapping]] = ...) -> None: ...
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TASK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    INHERIT_MEMO_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_INTENT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    workflow_type: str
    task_queue: str
    input: _message_pb2.Payloads
    workflow_run_timeout: _duration_pb2.Duration
    workflow_task_timeout: _duration_pb2.Duration
    memo: _containers.MessageMap[str, _message_pb2.Payload]
    inherit_memo: bool
    versioning_intent: int
    header: _message_pb2.Header
    def __init__(self, workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., workflow_run_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., workflow_task_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., memo: _Optional[_Mapping[str, _message_pb2.Payload]] = ..., inherit_memo: _Optional[bool] = ..., versioning_intent: _Optional[int] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class StartChildWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("namespace", "workflow_id", "workflow_type", "task_queue", "input", "workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout", "parent_close_policy", "retry_policy", "versioning_intent", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_EXECUTION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUN_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_TASK_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PARENT_CLOSE_POLICY_FIELD_NUMBER: _ClassVar[int]
    RETRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_INTENT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    input: _message_pb2.Payloads
    workflow_execution_timeout: _duration_pb2.Duration
    workflow_run_timeout: _duration_pb2.Duration
    workflow_task_timeout: _duration_pb2.Duration
    parent_close_policy: int
    retry_policy: _message_pb2.RetryPolicy
    versioning_intent: int
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., workflow_type: _Optional[str] = ..., task_queue: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., workflow_execution_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., workflow_run_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., workflow_task_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., parent_close_policy: _Optional[int] = ..., retry_policy: _Optional[_Union[_message_pb2.RetryPolicy, _Mapping]] = ..., versioning_intent: _Optional[int] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...

class AcceptWorkflowUpdateCommandAttributes(_message.Message):
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

class CompleteWorkflowUpdateCommandAttributes(_message.Message):
    __slots__ = ("update_id", "result", "failure")
    UPDATE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    update_id: str
    result: _message_pb2.Payloads
    failure: _message_pb2.Failure
    def __init__(self, update_id: _Optional[str] = ..., result: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., failure: _Optional[_Union[_message_pb2.Failure, _Mapping]] = ...) -> None: ...

class SignalExternalWorkflowExecutionCommandAttributes(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "signal_name", "input", "control", "child_workflow_only", "header")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    CHILD_WORKFLOW_ONLY_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    signal_name: str
    input: _message_pb2.Payloads
    control: str
    child_workflow_only: bool
    header: _message_pb2.Header
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., signal_name: _Optional[str] = ..., input: _Optional[_Union[_message_pb2.Payloads, _Mapping]] = ..., control: _Optional[str] = ..., child_workflow_only: _Optional[bool] = ..., header: _Optional[_Union[_message_pb2.Header, _Mapping]] = ...) -> None: ...
