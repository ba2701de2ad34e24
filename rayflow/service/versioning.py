"""The worker-versioning API of the service, one entry for the in-Ray connection and the gRPC frontend.

``run(operation, namespace, args, history, matching)`` takes and returns JSON-able values (the frontend
sends them as JSON): version sets and deployments are Matching's (actor 0 writes them), reachability and
drainage also count workflows in the history shards' listings (by their BuildIds entries).
"""

from __future__ import annotations

from typing import Any

from rayflow.exceptions import VersioningError
from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.history.client import HistoryClient
from rayflow.service.matching.client import MatchingClient
from rayflow.service.matching.version_sets import VersionSets

# Temporal's TaskReachability values.
NEW_WORKFLOWS, EXISTING_WORKFLOWS, OPEN_WORKFLOWS, CLOSED_WORKFLOWS = 1, 2, 3, 4

OPERATIONS = (
    "update_build_id_compatibility",
    "get_build_id_compatibility",
    "get_task_reachability",
    "set_current_version",
    "set_ramping_version",
    "describe_deployment",
    "list_deployments",
)


async def run(operation: str, namespace: str, args: dict[str, Any], history: HistoryClient,
              matching: MatchingClient) -> Any:
    """One versioning operation (``OPERATIONS``); raises ``VersioningError`` when it is not allowed."""
    args = {**args, "namespace": namespace}
    if operation == "update_build_id_compatibility":
        return await matching.versioning("update_build_ids", args)
    if operation == "get_build_id_compatibility":
        return await matching.versioning("get_build_ids", args)
    if operation == "get_task_reachability":
        return await _reachability(namespace, args, history, matching)
    if operation == "set_current_version":
        return await matching.versioning("set_current", args)
    if operation == "set_ramping_version":
        return await matching.versioning("set_ramping", args)
    if operation == "describe_deployment":
        return await _describe_deployment(namespace, args, history, matching)
    if operation == "list_deployments":
        return await matching.versioning("list_deployments", args)
    raise VersioningError(f"unknown worker versioning operation {operation!r}; one of {', '.join(OPERATIONS)}")


async def _count(history: HistoryClient, namespace: str, task_queue: str, build_id: str, *, running: bool) -> int:
    request = RR.ListWorkflowExecutionsRequest(namespace=namespace, task_queue=task_queue, build_id=build_id)
    if running:
        request.status = RR.WORKFLOW_EXECUTION_STATUS_RUNNING
    return await history.count_executions(request)


async def _reachability(namespace: str, args: dict[str, Any], history: HistoryClient,
                        matching: MatchingClient) -> dict[str, dict[str, list[int]]]:
    """Temporal's GetWorkerTaskReachability for build-id version sets.

    For each build id and task queue: NEW_WORKFLOWS when the build id is in the queue's overall-default set;
    OPEN_WORKFLOWS / CLOSED_WORKFLOWS when open / closed workflows of that queue last ran on a build id of its
    set (EXISTING_WORKFLOWS: either). A build id that is not the default of its set gets none of these: its
    set's default takes every task of the set. ``reachability_type`` limits the answer to that kind (and
    NEW_WORKFLOWS)."""
    build_ids = [str(b) for b in args.get("build_ids") or ()]
    if not build_ids:
        raise VersioningError("get_worker_task_reachability: give at least one build id")
    queues = [str(q) for q in args.get("task_queues") or ()]
    if not queues:
        raise VersioningError("get_worker_task_reachability: give the task queues to look at (task_queues=[...])")
    kind = int(args.get("reachability_type") or 0)
    result: dict[str, dict[str, list[int]]] = {b: {} for b in build_ids}
    for queue in queues:
        sets = VersionSets.from_dict(await matching.versioning("get_build_ids", {"namespace": namespace,
                                                                                "task_queue": queue}))
        for build_id in build_ids:
            result[build_id][queue] = await _queue_reachability(namespace, queue, build_id, sets, kind, history)
    return result


async def _queue_reachability(namespace: str, queue: str, build_id: str, sets: VersionSets, kind: int,
                              history: HistoryClient) -> list[int]:
    index = sets.set_index(build_id)
    if index is None or sets.sets[index][-1] != build_id:
        return []
    found = [NEW_WORKFLOWS] if index == len(sets.sets) - 1 else []
    if kind == NEW_WORKFLOWS:
        return found
    entries = [f"versioned:{member}" for member in sets.sets[index]]
    open_count = total = 0
    for entry in entries:
        open_count += await _count(history, namespace, queue, entry, running=True)
        total += await _count(history, namespace, queue, entry, running=False)
    has_open, has_closed = open_count > 0, total > open_count
    if kind in (0, EXISTING_WORKFLOWS) and (has_open or has_closed):
        found.append(EXISTING_WORKFLOWS)
    if kind in (0, EXISTING_WORKFLOWS, OPEN_WORKFLOWS) and has_open:
        found.append(OPEN_WORKFLOWS)
    if kind in (0, EXISTING_WORKFLOWS, CLOSED_WORKFLOWS) and has_closed:
        found.append(CLOSED_WORKFLOWS)
    return found


async def _describe_deployment(namespace: str, args: dict[str, Any], history: HistoryClient,
                               matching: MatchingClient) -> dict[str, Any]:
    """The deployment with the drainage of its deactivated versions checked now: DRAINING while open workflows
    are pinned to it, else DRAINED (recorded by Matching, with when it last changed)."""
    deployment = await matching.versioning("describe_deployment", args)
    drainage = {}
    for build_id, version in deployment["versions"].items():
        if build_id in (deployment["current_build_id"], deployment["ramping_build_id"]):
            continue
        if not version.get("first_activation_time"):
            continue
        entry = f"pinned:{deployment['name']}.{build_id}"
        drainage[build_id] = "DRAINING" if await _count(history, namespace, "", entry, running=True) else "DRAINED"
    if drainage:
        deployment = await matching.versioning("record_drainage", {**args, "drainage": drainage})
    return deployment
