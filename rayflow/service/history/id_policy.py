"""Workflow id reuse and conflict policies (Temporal's): what a start does when its workflow id was used.

The shard calls ``decide`` under the workflow id's lock with the current run (if any). The conflict
policy applies while that run is running; the reuse policy once it is closed. A start whose request id
is the one that started the current run is a retry of that start: it answers with that run, whatever
the policies say (idempotent starts).
"""

from __future__ import annotations

from dataclasses import dataclass

from rayflow.exceptions import WorkflowAlreadyStartedError
from rayflow.proto.rayflow.v1 import internal_pb2, request_response_pb2

RR = request_response_pb2

REUSE_UNSPECIFIED = RR.WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED
ALLOW_DUPLICATE = RR.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
ALLOW_DUPLICATE_FAILED_ONLY = RR.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
REJECT_DUPLICATE = RR.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
TERMINATE_IF_RUNNING = RR.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING

CONFLICT_UNSPECIFIED = RR.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED
FAIL = RR.WORKFLOW_ID_CONFLICT_POLICY_FAIL
USE_EXISTING = RR.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
TERMINATE_EXISTING = RR.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING

# Closing statuses after which ALLOW_DUPLICATE_FAILED_ONLY lets the id run again.
_UNSUCCESSFUL = frozenset({
    RR.WORKFLOW_EXECUTION_STATUS_FAILED,
    RR.WORKFLOW_EXECUTION_STATUS_CANCELED,
    RR.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    RR.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
})


def reuse_name(policy: int) -> str:
    return RR.WorkflowIdReusePolicy.Name(policy).removeprefix("WORKFLOW_ID_REUSE_POLICY_")


def status_name(status: int) -> str:
    return RR.WorkflowExecutionStatus.Name(status).removeprefix("WORKFLOW_EXECUTION_STATUS_")


def validate(reuse: int, conflict: int) -> None:
    """Raise ``ValueError`` for values that are not policies, or a combination Temporal rejects."""
    if reuse not in RR.WorkflowIdReusePolicy.values():
        raise ValueError(f"id_reuse_policy {reuse!r} is not a WorkflowIDReusePolicy")
    if conflict not in RR.WorkflowIdConflictPolicy.values():
        raise ValueError(f"id_conflict_policy {conflict!r} is not a WorkflowIDConflictPolicy")
    if reuse == TERMINATE_IF_RUNNING and conflict != CONFLICT_UNSPECIFIED:
        raise ValueError(
            "id_reuse_policy TERMINATE_IF_RUNNING cannot be combined with an id_conflict_policy (it already says "
            "what to do with a running run); use id_conflict_policy=TERMINATE_EXISTING alone instead"
        )


@dataclass(frozen=True)
class Decision:
    """What the start does: answer with an existing run, or start one (terminating the running one first)."""

    existing_run_id: str = ""
    terminate_reason: str = ""


def decide(request: RR.StartWorkflowExecutionRequest, current: internal_pb2.ExecutionInfo | None) -> Decision:
    """Apply the request's policies to the workflow id's current run (None: the id never ran).

    Raises:
        WorkflowAlreadyStartedError: the conflict policy is FAIL and a run is running, or the reuse policy
            forbids a new run after the closed one (the message names the policy).
        ValueError: the policies are invalid or contradict each other.
    """
    reuse, conflict = request.workflow_id_reuse_policy, request.workflow_id_conflict_policy
    validate(reuse, conflict)
    reason = f"terminated by id conflict policy TERMINATE_EXISTING: a new run of {request.workflow_id!r} started"
    if reuse == TERMINATE_IF_RUNNING:
        reuse, conflict = ALLOW_DUPLICATE, TERMINATE_EXISTING
        reason = f"terminated by id reuse policy TERMINATE_IF_RUNNING: a new run of {request.workflow_id!r} started"
    reuse = reuse or ALLOW_DUPLICATE
    conflict = conflict or FAIL
    if current is None:
        return Decision()
    if request.request_id and current.request_id == request.request_id:
        return Decision(existing_run_id=current.run_id)  # a retry of the start that made this run
    wf_id = request.workflow_id
    if current.status == RR.WORKFLOW_EXECUTION_STATUS_RUNNING:
        if conflict == USE_EXISTING:
            return Decision(existing_run_id=current.run_id)
        if conflict == TERMINATE_EXISTING:
            return Decision(terminate_reason=reason)
        raise WorkflowAlreadyStartedError(
            wf_id, current.workflow_type, current.run_id,
            message=f"Workflow execution already started: workflow id {wf_id!r} is running (run id "
                    f"{current.run_id}) and the id conflict policy is FAIL; wait for it to close, use another id, "
                    f"get a handle to it with client.get_workflow_handle({wf_id!r}), or start with "
                    f"id_conflict_policy=USE_EXISTING or TERMINATE_EXISTING",
        )
    if reuse == ALLOW_DUPLICATE or (reuse == ALLOW_DUPLICATE_FAILED_ONLY and current.status in _UNSUCCESSFUL):
        return Decision()
    rule = ("allows a new run only after one that failed, was canceled, terminated or timed out"
            if reuse == ALLOW_DUPLICATE_FAILED_ONLY else "never allows a new run of an id that was used")
    raise WorkflowAlreadyStartedError(
        wf_id, current.workflow_type, current.run_id,
        message=f"Workflow execution already finished: workflow id {wf_id!r} was used by run {current.run_id}, "
                f"which closed as {status_name(current.status)}, and the id reuse policy {reuse_name(reuse)} {rule}; "
                f"use another id or another id_reuse_policy",
    )
