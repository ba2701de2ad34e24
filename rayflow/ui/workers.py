"""What a run's history says about who ran it (internal): worker identities, their task queues, children.

History events carry the identity of the worker that started each workflow and activity task; the pollers
that DescribeTaskQueue reports (identity, node, labels, GPUs, build id) tell where that worker runs now.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from rayflow.ui.encode import camel

_STARTED = {
    "workflow_task_started_event_attributes": "workflow",
    "activity_task_started_event_attributes": "activity",
}


def task_queues(workflow_queue: str, events: list[Message]) -> list[str]:
    """The run's task queue and every queue its activities were scheduled on."""
    queues = [workflow_queue] if workflow_queue else []
    for event in events:
        if event.WhichOneof("attributes") == "activity_task_scheduled_event_attributes":
            queue = event.activity_task_scheduled_event_attributes.task_queue
            if queue and queue not in queues:
                queues.append(queue)
    return queues


def workers_of(events: list[Message], pollers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per worker identity in the history: the tasks it started (workflow / activity, how many,
    first and last event ids) and, when it still polls, its node, labels, GPUs and build id."""
    by_identity: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind not in _STARTED:
            continue
        identity = getattr(event, kind).identity
        if not identity:
            continue
        entry = by_identity.setdefault(identity, {
            "identity": identity, "workflow_tasks": 0, "activity_tasks": 0,
            "first_event_id": event.event_id, "last_event_id": event.event_id,
        })
        entry[f"{_STARTED[kind]}_tasks"] += 1
        entry["last_event_id"] = event.event_id
    seen: dict[str, dict[str, Any]] = {}
    for poller in pollers:
        known = seen.get(poller["identity"])
        if known is None or poller.get("last_access_time", 0) > known.get("last_access_time", 0):
            seen[poller["identity"]] = poller
    for entry in by_identity.values():
        poller = seen.get(entry["identity"])
        entry["polling"] = poller is not None
        if poller is not None:
            entry.update(
                node_id=poller.get("node_id", ""), node_ip=poller.get("node_ip", ""),
                actor_id=poller.get("actor_id", ""), build_id=poller.get("build_id", ""),
                gpus=list(poller.get("gpus") or []),
            )
    # Labels come from activity polls only: merge those of every poller of the identity.
    for poller in pollers:
        entry = by_identity.get(poller["identity"])
        if entry is not None:
            entry["labels"] = sorted(set(entry.get("labels", [])) | set(poller.get("labels") or []))
    return sorted(by_identity.values(), key=lambda e: e["first_event_id"])


def children(events: list[Message]) -> list[dict[str, Any]]:
    """The child workflows the run started: id, type, run id once started, and how it ended (event type)."""
    by_initiated: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind == "start_child_workflow_execution_initiated_event_attributes":
            a = event.start_child_workflow_execution_initiated_event_attributes
            by_initiated[event.event_id] = {"workflow_id": a.workflow_id, "workflow_type": a.workflow_type,
                                            "namespace": a.namespace, "run_id": "", "state": "Initiated"}
        elif kind and kind.startswith(("child_workflow_execution_", "start_child_workflow_execution_failed")):
            a = getattr(event, kind)
            child = by_initiated.get(a.initiated_event_id)
            if child is None:
                continue
            if "workflow_execution" in a.DESCRIPTOR.fields_by_name and a.HasField("workflow_execution"):
                child["run_id"] = a.workflow_execution.run_id or child["run_id"]
            child["state"] = camel(kind.removesuffix("_event_attributes").removeprefix("child_workflow_execution_"))
    return list(by_initiated.values())
