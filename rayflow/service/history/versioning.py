"""Where an execution's tasks may run, by worker versioning (internal, no I/O).

The shard decides a *directive* for each task it dispatches (``MatchingTask.version_directive``) and Matching
resolves it against the task queue's version sets or worker deployment when it hands the task out:

- ``""``: unversioned workers only (the run's last workflow task completed on one, e.g. it was open before the
  queue got its first version);
- ``"default"``: the queue's default build id, or its deployment's current (or ramping) version; unversioned
  workers when the queue has neither. New runs start here, and auto-upgrade runs stay here;
- ``"compat:<build id>"``: the default of the compatible set holding that build id (the run's last workflow
  task completed on it);
- ``"pinned:<deployment>.<build id>"``: that worker deployment version (a pinned run, or a pinned override).
"""

from __future__ import annotations

from rayflow.common import VersioningBehavior, VersioningIntent
from rayflow.proto.rayflow.v1 import history_pb2, internal_pb2, request_response_pb2

DEFAULT = "default"
AUTO_UPGRADE = "auto_upgrade"
#: On a start request (a child's, a continue-as-new's): the parent or previous run was unversioned.
UNVERSIONED = "unversioned"


def start_directive(request: request_response_pb2.StartWorkflowExecutionRequest) -> str:
    """Where a new run's first workflow task goes."""
    override = request.versioning_override
    if override.startswith("pinned:"):
        return override
    if override == AUTO_UPGRADE:
        return DEFAULT
    if request.version_directive == UNVERSIONED:
        return ""
    return request.version_directive or DEFAULT


def check_override(override: str) -> None:
    if override and override != AUTO_UPGRADE and not (override.startswith("pinned:") and "." in override):
        raise ValueError(f"versioning_override must be '', {AUTO_UPGRADE!r} or 'pinned:<deployment>.<build id>', "
                         f"got {override!r}")


def record_completion(info: internal_pb2.ExecutionInfo, request: request_response_pb2.RespondWorkflowTaskCompletedRequest,
                      attrs: history_pb2.WorkflowTaskCompletedEventAttributes) -> None:
    """A workflow task completed: record who ran it (event, BuildIds) and where the run's next tasks go."""
    build_id = request.build_id
    attrs.binary_checksum = build_id
    attrs.build_id = build_id
    attrs.use_versioning = request.use_versioning
    override = info.versioning_override
    if request.use_versioning and request.deployment_name:
        version = f"{request.deployment_name}.{build_id}"
        behavior = request.versioning_behavior
        if override.startswith("pinned:"):
            behavior = VersioningBehavior.PINNED
        elif override == AUTO_UPGRADE:
            behavior = VersioningBehavior.AUTO_UPGRADE
        attrs.worker_deployment_version = version
        attrs.versioning_behavior = behavior
        info.build_id = build_id
        info.deployment_version = version
        info.versioning_behavior = behavior
        _add_build_id(info, f"deployment:{version}")
        if behavior == VersioningBehavior.PINNED:
            _add_build_id(info, f"pinned:{override.removeprefix('pinned:') if override else version}")
            info.version_directive = override or f"pinned:{version}"
        else:
            info.version_directive = DEFAULT
        return
    if override:  # an override outlives workers that do not use deployments
        info.version_directive = start_directive(request_response_pb2.StartWorkflowExecutionRequest(
            versioning_override=override))
    if request.use_versioning and build_id:
        info.build_id = build_id
        _add_build_id(info, f"versioned:{build_id}")
        if not override:
            info.version_directive = f"compat:{build_id}"
        return
    info.build_id = ""
    _add_build_id(info, "unversioned")
    if not override:
        info.version_directive = ""


def _add_build_id(info: internal_pb2.ExecutionInfo, entry: str) -> None:
    if entry not in info.build_ids:
        info.build_ids.append(entry)


def follow_on_directive(info: internal_pb2.ExecutionInfo, task_queue: str, intent: int) -> str:
    """Where an activity, child workflow or continue-as-new that this run starts goes: with its run's build id
    on the same queue (COMPATIBLE), else the target queue's default."""
    if intent == VersioningIntent.DEFAULT or (task_queue and task_queue != info.task_queue):
        return DEFAULT
    return info.version_directive


def start_request_directive(info: internal_pb2.ExecutionInfo, task_queue: str, intent: int) -> str:
    """``follow_on_directive`` as a start request carries it (unversioned spelled out)."""
    return follow_on_directive(info, task_queue, intent) or UNVERSIONED


def stamp(task: internal_pb2.MatchingTask, directive: str, normal_task_queue: str) -> internal_pb2.MatchingTask:
    if directive:
        task.version_directive = directive
        task.normal_task_queue = normal_task_queue
    return task
