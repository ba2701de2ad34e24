"""The ``WorkflowService`` method table, read from the proto descriptor (one place for server and client)."""

from __future__ import annotations

from google.protobuf.message import Message

from rayflow.proto.rayflow.v1 import history_pb2, request_response_pb2, service_pb2

SERVICE_NAME = "rayflow.v1.WorkflowService"
METHODS = service_pb2.DESCRIPTOR.services_by_name["WorkflowService"].methods


def message_class(full_name: str) -> type[Message]:
    """The generated class of a ``rayflow.v1`` message, by its full proto name."""
    short = full_name.rsplit(".", 1)[-1]
    for module in (service_pb2, request_response_pb2, history_pb2):
        if hasattr(module, short):
            return getattr(module, short)
    raise LookupError(f"no generated class for {full_name}")
