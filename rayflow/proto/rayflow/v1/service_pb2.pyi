from rayflow.proto.rayflow.v1 import history_pb2 as _history_pb2
from rayflow.proto.rayflow.v1 import request_response_pb2 as _request_response_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DescribeWorkflowExecutionRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetWorkflowExecutionResultRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "wait_timeout_seconds")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    wait_timeout_seconds: float
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., wait_timeout_seconds: _Optional[float] = ...) -> None: ...

class GetWorkflowExecutionResultResponse(_message.Message):
    __slots__ = ("closed", "close_event")
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    CLOSE_EVENT_FIELD_NUMBER: _ClassVar[int]
    closed: bool
    close_event: _history_pb2.HistoryEvent
    def __init__(self, closed: _Optional[bool] = ..., close_event: _Optional[_Union[_history_pb2.HistoryEvent, _Mapping]] = ...) -> None: ...

class GetWorkflowExecutionHistoryRequest(_message.Message):
    __slots__ = ("namespace", "workflow_id", "run_id", "first_event_id", "maximum_page_size", "next_page_token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    workflow_id: str
    run_id: str
    first_event_id: int
    maximum_page_size: int
    next_page_token: bytes
    def __init__(self, namespace: _Optional[str] = ..., workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., first_event_id: _Optional[int] = ..., maximum_page_size: _Optional[int] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class GetWorkflowExecutionHistoryResponse(_message.Message):
    __slots__ = ("run_id", "history", "next_page_token")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    history: _history_pb2.History
    next_page_token: bytes
    def __init__(self, run_id: _Optional[str] = ..., history: _Optional[_Union[_history_pb2.History, _Mapping]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class CountWorkflowExecutionsResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class RunIdResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class DescribeTaskQueueRequest(_message.Message):
    __slots__ = ("namespace", "task_queue")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TASK_QUEUE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    task_queue: str
    def __init__(self, namespace: _Optional[str] = ..., task_queue: _Optional[str] = ...) -> None: ...

class DescribeTaskQueueResponse(_message.Message):
    __slots__ = ("description_json",)
    DESCRIPTION_JSON_FIELD_NUMBER: _ClassVar[int]
    description_json: str
    def __init__(self, description_json: _Optional[str] = ...) -> None: ...

class GetClusterInfoRequest(_message.Message):
    __slots__ = ("include_service_actors",)
    INCLUDE_SERVICE_ACTORS_FIELD_NUMBER: _ClassVar[int]
    include_service_actors: bool
    def __init__(self, include_service_actors: _Optional[bool] = ...) -> None: ...

class GetClusterInfoResponse(_message.Message):
    __slots__ = ("server_version", "ray_namespace", "ray_address", "data_dir", "num_shards", "num_matching", "max_payload_size", "started_at", "api_key_required", "tls", "store", "service_actors", "payload_store")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    RAY_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    NUM_SHARDS_FIELD_NUMBER: _ClassVar[int]
    NUM_MATCHING_FIELD_NUMBER: _ClassVar[int]
    MAX_PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACTORS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_STORE_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    ray_namespace: str
    ray_address: str
    data_dir: str
    num_shards: int
    num_matching: int
    max_payload_size: int
    started_at: float
    api_key_required: bool
    tls: bool
    store: str
    service_actors: _containers.RepeatedCompositeFieldContainer[ServiceActor]
    payload_store: str
    def __init__(self, server_version: _Optional[str] = ..., ray_namespace: _Optional[str] = ..., ray_address: _Optional[str] = ..., data_dir: _Optional[str] = ..., num_shards: _Optional[int] = ..., num_matching: _Optional[int] = ..., max_payload_size: _Optional[int] = ..., started_at: _Optional[float] = ..., api_key_required: _Optional[bool] = ..., tls: _Optional[bool] = ..., store: _Optional[str] = ..., service_actors: _Optional[_Iterable[_Union[ServiceActor, _Mapping]]] = ..., payload_store: _Optional[str] = ...) -> None: ...

class ServiceActor(_message.Message):
    __slots__ = ("kind", "index", "name", "node_id", "node_ip", "pid", "actor_id", "accelerator_node", "state", "error")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IP_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_NODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: str
    index: int
    name: str
    node_id: str
    node_ip: str
    pid: int
    actor_id: str
    accelerator_node: bool
    state: str
    error: str
    def __init__(self, kind: _Optional[str] = ..., index: _Optional[int] = ..., name: _Optional[str] = ..., node_id: _Optional[str] = ..., node_ip: _Optional[str] = ..., pid: _Optional[int] = ..., actor_id: _Optional[str] = ..., accelerator_node: _Optional[bool] = ..., state: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class VersioningRequest(_message.Message):
    __slots__ = ("namespace", "operation", "arguments_json")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    operation: str
    arguments_json: str
    def __init__(self, namespace: _Optional[str] = ..., operation: _Optional[str] = ..., arguments_json: _Optional[str] = ...) -> None: ...

class VersioningResponse(_message.Message):
    __slots__ = ("result_json",)
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    def __init__(self, result_json: _Optional[str] = ...) -> None: ...

class NamespaceRequest(_message.Message):
    __slots__ = ("namespace", "operation", "arguments_json")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    operation: str
    arguments_json: str
    def __init__(self, namespace: _Optional[str] = ..., operation: _Optional[str] = ..., arguments_json: _Optional[str] = ...) -> None: ...

class NamespaceResponse(_message.Message):
    __slots__ = ("result_json",)
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    result_json: str
    def __init__(self, result_json: _Optional[str] = ...) -> None: ...
