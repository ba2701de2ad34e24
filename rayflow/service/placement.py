"""Where the service actors run: placement that matches the store (internal).

- SQLite: the data lives on one node's disk, so every service actor is pinned to that node (hard node
  affinity to ``ServiceConfig.home_node_id``, the node of the driver that first started the service). On a
  cluster of several nodes that node must be the head: worker nodes come and go.
- PostgreSQL: any node may run them and Ray moves them when a node dies; by default they keep off
  accelerator nodes (a label selector excluding every ``ray.io/accelerator-type``) with a fallback to any
  node, so a cluster made only of GPU nodes still runs them; ``service_label_selector`` pins them instead.
"""

from __future__ import annotations

import os
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from rayflow.exceptions import ConfigurationError
from rayflow.service.config import ServiceConfig

ACCELERATOR_LABEL = "ray.io/accelerator-type"
_HEAD_RESOURCE = "node:__internal_head__"


def alive_nodes() -> list[dict[str, Any]]:
    return [node for node in ray.nodes() if node.get("Alive")]


def is_head(node: dict[str, Any]) -> bool:
    return _HEAD_RESOURCE in node.get("Resources", {})


def accelerator_types(nodes: list[dict[str, Any]] | None = None) -> list[str]:
    """Every accelerator type Ray knows of, plus those the cluster's nodes carry now."""
    import ray.util.accelerators.accelerators as known

    types = {value for name, value in vars(known).items() if name.isupper() and isinstance(value, str)}
    for node in nodes if nodes is not None else alive_nodes():
        value = node.get("Labels", {}).get(ACCELERATOR_LABEL)
        if value:
            types.add(value)
    return sorted(types)


def home_node_for_sqlite(data_dir: str) -> str:
    """The node a new SQLite service is pinned to: this driver's, which holds ``data_dir``.

    Raises:
        ConfigurationError: the cluster has several nodes and this driver is not on the head node (a
            worker node's disk may go away with the node: the data would be lost or split).
    """
    node_id = ray.get_runtime_context().get_node_id()
    nodes = alive_nodes()
    here = next((node for node in nodes if node["NodeID"] == node_id), None)
    head = next((node for node in nodes if is_head(node)), None)
    if here is not None and head is not None and here is not head and (
            here.get("NodeManagerAddress") == head.get("NodeManagerAddress")):
        return head["NodeID"]  # several Ray nodes on one machine (a local cluster): the head shares this disk
    if len(nodes) > 1 and here is not None and not is_head(here):
        raise ConfigurationError(
            f"the SQLite store {data_dir} would live on worker node {node_id[:12]} of a {len(nodes)}-node Ray "
            f"cluster, whose disk may go away with the node; start the service from the head node (e.g. "
            f"`rayflow server start` there, or a `ray job submit` job), or use a PostgreSQL store "
            f"(RAYFLOW_STORE=postgresql://user:password@host:5432/db)"
        )
    return node_id


def check_label_selector(selector: dict[str, str]) -> None:
    """Fail now, not by waiting forever, when no alive node carries the labels the operator pinned to."""
    from ray._private.label_utils import validate_label_selector

    error = validate_label_selector(selector)
    if error:
        raise ConfigurationError(f"service_label_selector {selector!r} is not valid: {error}")
    plain = {key: value for key, value in selector.items() if not any(c in value for c in "!()")}
    for node in alive_nodes():
        labels = node.get("Labels", {})
        if all(labels.get(key) == value for key, value in plain.items()):
            return
    raise ConfigurationError(
        f"no alive Ray node has the labels {plain!r} of service_label_selector: the service actors could "
        f"never be placed; start a node with `ray start --labels=...` carrying them, or change the selector"
    )


def actor_location() -> dict[str, Any]:
    """Where the calling actor runs: ``node_id``, ``node_ip``, ``pid``, ``actor_id``."""
    context = ray.get_runtime_context()
    return {
        "node_id": context.get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "pid": os.getpid(),
        "actor_id": context.get_actor_id() or "",
    }


def service_actor_options(config: ServiceConfig) -> dict[str, Any]:
    """The Ray scheduling options of every service actor (history shards and Matching)."""
    if config.store_url.is_sqlite:
        if not config.home_node_id:  # actors built by hand (tests of one actor): no node to pin to
            return {}
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(config.home_node_id, soft=False)}
    if config.service_label_selector:
        return {"label_selector": dict(config.service_label_selector)}
    return {
        "label_selector": {ACCELERATOR_LABEL: f"!in({','.join(accelerator_types())})"},
        "fallback_strategy": [{"label_selector": {}}],
    }
