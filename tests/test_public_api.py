"""Pins the public names, so a change to the surface users import is a deliberate one."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PUBLIC = {
    "rayflow": ["activity", "workflow"],
    "rayflow.workflow": [
        "ActivityHandle", "ChildWorkflowHandle", "ContinueAsNewError", "Info", "NondeterminismError", "continue_as_new",
        "defn", "deprecate_patch", "execute_activity", "execute_child_workflow", "start_child_workflow",
        "get_definition", "info", "now", "patched", "random", "run", "Session", "session", "query", "set_signal_handler",
        "signal", "sleep", "start_activity",
        "time", "unsafe", "update", "uuid4", "wait_condition",
    ],
    "rayflow.activity": ["Info", "defn", "get_definition", "heartbeat", "in_activity", "info", "is_cancelled"],
    "rayflow.client": [
        "Client", "HistoryEvent", "PendingActivityInfo", "PollerInfo", "ServiceActorInfo", "ServiceDescription", "TaskQueueDescription",
        "TaskQueuePartitionInfo", "TaskQueueTypeDescription", "WorkflowExecution", "WorkflowExecutionDescription",
        "WorkflowHandle", "WorkflowHistory", "WorkflowUpdateHandle", "WorkflowUpdateStage", "TLSConfig",
        # worker versioning
        "BuildIdOp", "BuildIdOpAddNewDefault", "BuildIdOpAddNewCompatible", "BuildIdOpPromoteSetByBuildId",
        "BuildIdOpPromoteBuildIdWithinSet", "BuildIdOpMergeSets", "BuildIdVersionSet", "WorkerBuildIdVersionSets",
        "BuildIdReachability", "WorkerTaskReachability", "TaskReachability", "TaskReachabilityType",
        "WorkerDeploymentDescription", "WorkerDeploymentVersionSummary", "WorkerDeploymentVersionStatus",
        "VersionDrainageInfo",
        # namespaces
        "NamespaceDescription",
        # interceptors
        "Interceptor", "OutboundInterceptor", "StartWorkflowInput", "SignalWorkflowInput", "QueryWorkflowInput",
        "StartWorkflowUpdateInput", "CancelWorkflowInput", "TerminateWorkflowInput",
    ],
    "rayflow.worker": [
        "ReplayResult", "Replayer", "Worker", "WorkerDeploymentConfig",
        # interceptors
        "Interceptor", "ActivityInboundInterceptor", "ActivityOutboundInterceptor", "WorkflowInboundInterceptor",
        "WorkflowOutboundInterceptor", "WorkflowInterceptorClassInput", "ExecuteActivityInput", "ExecuteWorkflowInput",
        "HandleSignalInput", "HandleQueryInput", "HandleUpdateInput", "StartActivityInput", "StartChildWorkflowInput",
        "ContinueAsNewInput", "SignalChildWorkflowInput", "SignalExternalWorkflowInput",
    ],
    "rayflow.contrib.opentelemetry": ["TracingInterceptor", "TracingWorkflowInboundInterceptor",
                                      "default_text_map_propagator"],
    "rayflow.testing": ["WorkflowEnvironment"],
    "rayflow.common": [
        "ActivityCancellationType", "EventType", "ParentClosePolicy", "PendingActivityState", "RetryPolicy", "RetryState", "TimeoutType", "WorkflowExecutionStatus",
        "WorkflowIDConflictPolicy", "WorkflowIDReusePolicy",
        "VersioningIntent", "VersioningBehavior", "WorkerDeploymentVersion", "PinnedVersioningOverride",
        "AutoUpgradeVersioningOverride", "VersioningOverride",
    ],
    "rayflow.exceptions": [
        "ActivityError", "ApplicationError", "CancelledError", "ChildWorkflowError", "FailureError", "NondeterminismError", "PayloadError",
        "ConfigurationError", "RayflowError", "ServerError", "ServiceUnavailableError", "SessionFailedError", "TerminatedError",
        "TimeoutError",
        "RPCError", "VersioningError", "WorkerPlacementError", "WorkflowAlreadyStartedError", "WorkflowFailureError", "WorkflowNotFoundError",
        "WorkflowQueryFailedError", "WorkflowUpdateFailedError",
    ],
    "rayflow.converter": [
        "CompositePayloadCodec", "DataConverter", "DefaultPayloadConverter", "ENCODING_BINARY",
        "ENCODING_CLOUDPICKLE", "ENCODING_ENCRYPTED", "ENCODING_JSON", "ENCODING_NULL", "ENCODING_ZLIB",
        "EncryptionCodec", "PayloadCodec", "ZlibCompressionCodec",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_pinned(module_name):
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is listed in __all__ but missing"


def test_error_tree():
    from rayflow import exceptions as e

    for name in ("ApplicationError", "ActivityError", "CancelledError", "TerminatedError", "TimeoutError",
                 "ServerError", "SessionFailedError"):
        assert issubclass(getattr(e, name), e.FailureError)
    assert issubclass(e.FailureError, e.RayflowError)
    assert issubclass(e.WorkflowFailureError, e.RayflowError)
    assert importlib.import_module("rayflow.workflow").NondeterminismError is e.NondeterminismError


def test_authoring_api_imports_no_engine():
    """workflow.py and activity.py talk to an abstract runtime: importing them loads no Ray, store or service."""
    code = (
        "import sys; import rayflow.workflow, rayflow.activity; "
        "bad = [m for m in sys.modules if m == 'ray' or m.startswith(('rayflow.service', 'rayflow.persistence', "
        "'rayflow.worker', 'grpc'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_protos_are_current(tmp_path):
    """The committed *_pb2.py match what scripts/gen_proto.sh generates from the .proto files."""
    root = Path(__file__).resolve().parents[1]
    proto_root = root / "rayflow" / "proto"
    copy = tmp_path / "proto"
    (copy / "rayflow" / "v1").mkdir(parents=True)
    for source in (proto_root / "rayflow" / "v1").glob("*.proto"):
        (copy / "rayflow" / "v1" / source.name).write_text(source.read_text())
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{copy}", f"--python_out={copy}", f"--pyi_out={copy}",
         *[str(p) for p in (copy / "rayflow" / "v1").glob("*.proto")]],
        check=True,
    )
    for generated in sorted((copy / "rayflow" / "v1").glob("*_pb2.py*")):
        expected = generated.read_text().replace("from rayflow.v1 import", "from rayflow.proto.rayflow.v1 import")
        committed = (proto_root / "rayflow" / "v1" / generated.name).read_text()
        assert committed == expected, f"{generated.name} is stale: run scripts/gen_proto.sh"
