"""Resource labels of a worker pool, and why Ray cannot place one (internal; pure functions, no Ray calls).

A label is a string ``key`` or ``key:value``. A pool advertises the labels implied by its Ray options
(``gpu`` when ``num_gpus > 0``, ``gpu:<type>`` for an accelerator type, each custom resource name) plus the
ones its user gives (``{"k": "v"}`` is advertised as ``k`` and ``k:v``). Matching gives a labelled activity
task only to a poller advertising that label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: The node label Ray sets on accelerator nodes (and that users set on fake ones).
ACCELERATOR_LABEL = "ray.io/accelerator-type"
#: Prefix of the Ray resource that ``accelerator_type=X`` asks for.
ACCELERATOR_RESOURCE_PREFIX = "accelerator_type:"
#: Ray's own per-node resources, never worth naming as labels.
_INTERNAL_RESOURCES = ("node:", "accelerator_type:")


def pool_labels(ray_actor_options: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> list[str]:
    """The labels a pool with these Ray options and user labels advertises (sorted, no duplicates).

    Raises:
        TypeError: ``labels`` is not a mapping of strings to strings.
        ValueError: a label key is empty or contains ``:``.
    """
    options = dict(ray_actor_options or {})
    found: set[str] = set()
    num_gpus = options.get("num_gpus") or 0
    if num_gpus > 0:
        found.add("gpu")
    accelerator = options.get("accelerator_type")
    if accelerator:
        found.add(f"gpu:{accelerator}")
    selector = options.get("label_selector") or {}
    selected = selector.get(ACCELERATOR_LABEL)
    if isinstance(selected, str) and selected and _is_plain(selected):
        found.add(f"gpu:{selected}")
    for name, amount in (options.get("resources") or {}).items():
        if amount and amount > 0 and not name.startswith(_INTERNAL_RESOURCES):
            found.add(name)
    if labels is not None:
        if not isinstance(labels, Mapping):
            raise TypeError(f"Worker: labels must be a dict of str to str, got {type(labels).__name__}")
        for key, value in labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"Worker: labels must be a dict of str to str, got {key!r}: {value!r}")
            if not key or ":" in key:
                raise ValueError(f"Worker: label key {key!r} must be non-empty and must not contain ':'")
            found.add(key)
            if value:
                found.add(f"{key}:{value}")
    return sorted(found)


# -- why a pool cannot be placed -------------------------------------------------------------------
def _is_plain(value: str) -> bool:
    return not value.startswith("!") and not value.startswith("in(")


def _selector_matches(expression: str, value: str | None) -> bool | None:
    """Whether a node label value satisfies a Ray label-selector expression; None if not understood."""
    expression = expression.strip()
    negate = expression.startswith("!")
    body = expression[1:].strip() if negate else expression
    if body.startswith("in(") and body.endswith(")"):
        options = {part.strip() for part in body[3:-1].split(",") if part.strip()}
        inside = value is not None and value in options
    elif "(" in body or ")" in body:
        return None
    else:
        inside = value is not None and value == body
    return not inside if negate else inside


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _implicit_cpu(options: Mapping[str, Any]) -> bool:
    """Ray holds 1 CPU for an actor that names GPUs or custom resources but not ``num_cpus``."""
    return options.get("num_cpus") is None and ("num_gpus" in options or "resources" in options)


def _requirements(options: Mapping[str, Any], *, implicit: bool = True) -> dict[str, float]:
    """Ray resources one replica asks for: those given, plus the CPU Ray holds by default (``implicit``)."""
    needed: dict[str, float] = {}
    if options.get("num_cpus"):
        needed["CPU"] = float(options["num_cpus"])
    elif implicit and _implicit_cpu(options):
        needed["CPU"] = 1.0
    if options.get("num_gpus"):
        needed["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        needed["memory"] = float(options["memory"])
    for name, amount in (options.get("resources") or {}).items():
        if amount:
            needed[name] = float(amount)
    if options.get("accelerator_type"):
        needed[ACCELERATOR_RESOURCE_PREFIX + str(options["accelerator_type"])] = 0.001
    return needed


def _fits(node: Mapping[str, Any], needed: Mapping[str, float], selector: Mapping[str, str]) -> int:
    """How many replicas fit on this node by its total resources (0 when its labels do not match)."""
    labels = node.get("Labels") or {}
    for key, expression in selector.items():
        if _selector_matches(str(expression), labels.get(key)) is False:
            return 0
    resources = node.get("Resources") or {}
    count = math.inf
    for name, amount in needed.items():
        have = float(resources.get(name, 0.0))
        count = min(count, math.floor(have / amount + 1e-9) if amount > 0 else math.inf)
    return 1_000_000 if count == math.inf else int(count)


def _label_values(nodes: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return sorted({str((n.get("Labels") or {})[key]) for n in nodes if key in (n.get("Labels") or {})})


def placement_problems(
    ray_actor_options: Mapping[str, Any] | None, nodes: Sequence[Mapping[str, Any]], replicas: int = 1
) -> list[str]:
    """Why ``replicas`` actors with these options cannot be placed on these nodes (``ray.nodes()``).

    Each line names what is missing: a resource no node has or not enough of, a label no node has, or a
    combination no single node offers. Empty when the nodes could hold every replica (they are busy).
    """
    options = dict(ray_actor_options or {})
    alive = [n for n in nodes if n.get("Alive", n.get("alive", True))]
    if not alive:
        return ["no node of the Ray cluster is alive"]
    needed = _requirements(options)
    selector = {str(k): str(v) for k, v in (options.get("label_selector") or {}).items()}
    problems: list[str] = []
    for name, amount in needed.items():
        if name.startswith(ACCELERATOR_RESOURCE_PREFIX):
            accelerator = name[len(ACCELERATOR_RESOURCE_PREFIX):]
            if not any(name in (n.get("Resources") or {}) for n in alive):
                have = sorted(
                    {r[len(ACCELERATOR_RESOURCE_PREFIX):] for n in alive for r in (n.get("Resources") or {})
                     if r.startswith(ACCELERATOR_RESOURCE_PREFIX)}
                )
                labelled = _label_values(alive, ACCELERATOR_LABEL)
                hint = (f"; nodes labelled {ACCELERATOR_LABEL}: {', '.join(labelled)} (select those with "
                        f"label_selector={{{ACCELERATOR_LABEL!r}: ...}})") if labelled else ""
                problems.append(
                    f"no node has accelerator type {accelerator} (Ray resource {name!r}; nodes have: "
                    f"{', '.join(have) or 'no accelerator type resources'}{hint})"
                )
            continue
        largest = max(float((n.get("Resources") or {}).get(name, 0.0)) for n in alive)
        shown = "GPU" if name == "GPU" else ("CPU" if name == "CPU" else f"resource {name!r}")
        if largest <= 0:
            problems.append(f"needs {shown} {_number(amount)} per replica but no node has {shown}")
        elif largest + 1e-9 < amount:
            problems.append(
                f"needs {shown} {_number(amount)} per replica but the largest node has {_number(largest)}"
            )
    for key, expression in selector.items():
        results = [_selector_matches(expression, (n.get("Labels") or {}).get(key)) for n in alive]
        if any(r is None for r in results):
            continue  # an expression we do not understand: named below if nothing else explains it
        if not any(results):
            values = _label_values(alive, key)
            have = ", ".join(f"{key}={v}" for v in values) if values else f"no node has label {key}"
            what = f"label {key}={expression}" if _is_plain(expression) else f"a label matching {key}={expression}"
            problems.append(f"no node has {what} (nodes have: {have})")
    if problems:
        return problems
    fitting = {str(n.get("NodeID", "?")): _fits(n, needed, selector) for n in alive}
    fitting = {node: count for node, count in fitting.items() if count > 0}
    asked = ", ".join(
        [f"{'GPU' if k == 'GPU' else k} {_number(v)}" for k, v in needed.items()]
        + [f"label {k}={v}" for k, v in selector.items()]
    )
    if not fitting:
        return [f"no single node has everything one replica needs ({asked})"]
    capacity = sum(fitting.values())
    if capacity < replicas:
        hint = ""
        if _implicit_cpu(options):
            explicit = _requirements(options, implicit=False)
            if sum(_fits(n, explicit, selector) for n in alive) >= replicas:
                hint = (" (Ray holds 1 CPU per replica when ray_actor_options names GPUs or resources but not "
                        "num_cpus; set num_cpus, e.g. 0, to pack more replicas per node)")
        return [
            f"{replicas} replicas need {replicas}x ({asked}) but the nodes that fit hold only {capacity} "
            f"(nodes: {', '.join(node[:12] for node in fitting)}){hint}"
        ]
    return []
