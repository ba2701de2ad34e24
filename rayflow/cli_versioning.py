"""The worker-versioning verbs of the ``rayflow`` CLI (as the ``temporal`` CLI names them); ``rayflow.cli``
registers them and runs them with its frontend client.

    rayflow task-queue update-build-ids add-new-default --task-queue Q --build-id B
    rayflow task-queue update-build-ids add-new-compatible --task-queue Q --build-id B
        --existing-compatible-build-id E [--set-as-default]
    rayflow task-queue update-build-ids promote-set|promote-id-in-set --task-queue Q --build-id B
    rayflow task-queue update-build-ids merge-sets --task-queue Q --primary-build-id P --secondary-build-id S
    rayflow task-queue get-build-ids --task-queue Q
    rayflow task-queue get-build-id-reachability --build-id B... --task-queue Q... [--reachability-type T]
    rayflow worker deployment list|describe --name N
    rayflow worker deployment set-current-version --deployment-name N (--build-id B | --unversioned)
    rayflow worker deployment set-ramping-version --deployment-name N (--build-id B --percentage P | --delete)

A refused operation (``VersioningError``) reaches ``rayflow.cli.main``, which prints its message and exits 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rayflow._client_versioning import (
    BuildIdOpAddNewCompatible,
    BuildIdOpAddNewDefault,
    BuildIdOpMergeSets,
    BuildIdOpPromoteBuildIdWithinSet,
    BuildIdOpPromoteSetByBuildId,
    TaskReachabilityType,
    WorkerDeploymentDescription,
)
from rayflow.service.config import STICKY_QUEUE_PREFIX

EXIT_OK = 0
_REACHABILITY_TYPES = {
    "new": TaskReachabilityType.NEW_WORKFLOWS,
    "existing": TaskReachabilityType.EXISTING_WORKFLOWS,
    "open": TaskReachabilityType.OPEN_WORKFLOWS,
    "closed": TaskReachabilityType.CLOSED_WORKFLOWS,
}


# -- argument parsing ---------------------------------------------------------------------------
def add_task_queue_commands(task_queue: Any, common: argparse.ArgumentParser) -> None:
    """``update-build-ids ...``, ``get-build-ids`` and ``get-build-id-reachability`` under ``task-queue``."""
    update = task_queue.add_parser("update-build-ids", help="change a task queue's build-id version sets")
    ops = update.add_subparsers(dest="op", required=True)
    for name, text in (
        ("add-new-default", "add a build id in a new set that becomes the default"),
        ("add-new-compatible", "add a build id to an existing build id's set, as that set's default"),
        ("promote-set", "make the set holding a build id the default set"),
        ("promote-id-in-set", "make a build id the default of its set"),
        ("merge-sets", "merge the secondary build id's set into the primary's"),
    ):
        sub = ops.add_parser(name, parents=[common], help=text)
        _task_queue_flag(sub)
        if name == "merge-sets":
            sub.add_argument("--primary-build-id", required=True, help="build id of the set that stays")
            sub.add_argument("--secondary-build-id", required=True, help="build id of the set merged into it")
            continue
        sub.add_argument("--build-id", required=True, help="build id")
        if name == "add-new-compatible":
            sub.add_argument("--existing-compatible-build-id", required=True, help="a build id of the set to join")
            sub.add_argument("--set-as-default", action="store_true", help="also make that set the default set")
    sub = task_queue.add_parser("get-build-ids", parents=[common], help="a task queue's version sets, oldest first")
    _task_queue_flag(sub)
    sub = task_queue.add_parser(
        "get-build-id-reachability", parents=[common], help="whether tasks may still reach build ids"
    )
    sub.add_argument("--build-id", action="append", required=True, help="build id (repeat for several)")
    sub.add_argument("--task-queue", "-t", action="append", required=True, help="task queue (repeat for several)")
    sub.add_argument("--reachability-type", choices=tuple(_REACHABILITY_TYPES), help="only this kind")


def add_worker_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``worker deployment ...`` group."""
    worker = commands.add_parser("worker", help="workers: worker deployments").add_subparsers(
        dest="command", required=True
    )
    deployment = worker.add_parser("deployment", help="worker deployments and their versions")
    ops = deployment.add_subparsers(dest="op", required=True)
    ops.add_parser("list", parents=[common], help="the namespace's worker deployments")
    sub = ops.add_parser("describe", parents=[common], help="a deployment's versions and routing")
    sub.add_argument("--name", "-d", required=True, help="deployment name")
    sub = ops.add_parser("set-current-version", parents=[common], help="route new workflows to a version")
    sub.add_argument("--deployment-name", "-d", required=True, help="deployment name")
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument("--build-id", help="build id of the version to make current")
    which.add_argument("--unversioned", action="store_true", help="make unversioned workers current")
    sub = ops.add_parser("set-ramping-version", parents=[common], help="send a share of new workflows to a version")
    sub.add_argument("--deployment-name", "-d", required=True, help="deployment name")
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument("--build-id", help="build id of the version to ramp")
    which.add_argument("--delete", action="store_true", help="stop ramping")
    sub.add_argument("--percentage", type=float, help="share of new workflows, 0-100 (with --build-id)")


def _task_queue_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task-queue", "-t", required=True, help="task queue name")


def handles(args: argparse.Namespace) -> bool:
    """Whether ``args`` is one of this module's commands."""
    if args.group == "task-queue":
        return args.command in ("update-build-ids", "get-build-ids", "get-build-id-reachability")
    return args.group == "worker"


async def run(args: argparse.Namespace, client: Any) -> int:
    """Run the command with a connected ``Client``."""
    if args.group == "worker":
        return await _DEPLOYMENT_COMMANDS[args.op](args, client)
    if args.command == "update-build-ids":
        return await _update_build_ids(args, client)
    if args.command == "get-build-ids":
        return await _get_build_ids(args, client)
    return await _get_reachability(args, client)


# -- output -------------------------------------------------------------------------------------
def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else ""


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [list(header)] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _emit(args: argparse.Namespace, data: Any, line: str) -> None:
    if args.output == "json":
        _json(data)
    else:
        print(line)


# -- task queue build ids -----------------------------------------------------------------------
async def _update_build_ids(args: argparse.Namespace, client: Any) -> int:
    queue = args.task_queue
    if args.op == "add-new-default":
        op: Any = BuildIdOpAddNewDefault(args.build_id)
        text = f"Added build id {args.build_id!r} as the new default of task queue {queue!r}"
    elif args.op == "add-new-compatible":
        op = BuildIdOpAddNewCompatible(args.build_id, args.existing_compatible_build_id, args.set_as_default)
        text = (f"Added build id {args.build_id!r} to the set of {args.existing_compatible_build_id!r} on task "
                f"queue {queue!r}" + (", now the default set" if args.set_as_default else ""))
    elif args.op == "promote-set":
        op = BuildIdOpPromoteSetByBuildId(args.build_id)
        text = f"Promoted the set of build id {args.build_id!r} to default on task queue {queue!r}"
    elif args.op == "promote-id-in-set":
        op = BuildIdOpPromoteBuildIdWithinSet(args.build_id)
        text = f"Promoted build id {args.build_id!r} to default of its set on task queue {queue!r}"
    else:
        op = BuildIdOpMergeSets(args.primary_build_id, args.secondary_build_id)
        text = (f"Merged the set of {args.secondary_build_id!r} into the set of {args.primary_build_id!r} on task "
                f"queue {queue!r}")
    await client.update_worker_build_id_compatibility(queue, op)
    _emit(args, {"task_queue": queue, **op._to_dict()}, text)
    return EXIT_OK


async def _get_build_ids(args: argparse.Namespace, client: Any) -> int:
    sets = list((await client.get_worker_build_id_compatibility(args.task_queue)).version_sets)
    if args.output == "json":
        _json({
            "task_queue": args.task_queue,
            "version_sets": [
                {"build_ids": list(s.build_ids), "default_for_set": s.default(), "is_default_set": i == len(sets) - 1}
                for i, s in enumerate(sets)
            ],
            "default_build_id": sets[-1].default() if sets else None,
        })
        return EXIT_OK
    if not sets:
        print(f"Task queue {args.task_queue!r} has no build ids")
        return EXIT_OK
    _table(
        [(", ".join(s.build_ids), s.default(), "Default" if i == len(sets) - 1 else "")
         for i, s in enumerate(sets)],
        ["BUILD IDS", "DEFAULT FOR SET", "DEFAULT SET"],
    )
    return EXIT_OK


async def _get_reachability(args: argparse.Namespace, client: Any) -> int:
    kind = _REACHABILITY_TYPES[args.reachability_type] if args.reachability_type else None
    answer = await client.get_worker_task_reachability(
        build_ids=args.build_id, task_queues=args.task_queue, reachability_type=kind
    )
    found = {
        build_id: {queue: [k.name for k in kinds] for queue, kinds in r.task_queue_reachability.items()}
        for build_id, r in answer.build_id_reachability.items()
    }
    if args.output == "json":
        _json({"build_id_reachability": found})
        return EXIT_OK
    _table(
        [(build_id, queue, ", ".join(kinds) or "unreachable")
         for build_id, queues in found.items() for queue, kinds in queues.items()],
        ["BUILD ID", "TASK QUEUE", "REACHABILITY"],
    )
    return EXIT_OK


# -- worker deployments -------------------------------------------------------------------------
def _version(version: Any) -> str:
    return version.build_id if version is not None else ""


def _deployment_json(d: WorkerDeploymentDescription) -> dict[str, Any]:
    return {
        "name": d.name,
        "create_time": _time(d.create_time) or None,
        "current_version": _version(d.current_version) or None,
        "ramping_version": _version(d.ramping_version) or None,
        "ramping_percentage": d.ramping_percentage,
        "routing_changed_time": _time(d.routing_changed_time) or None,
        "versions": [
            {
                "build_id": v.version.build_id,
                "status": v.status.value,
                "create_time": _time(v.create_time) or None,
                "task_queues": [{"name": q, "type": t} for q, t in v.task_queues],
                "drainage": v.drainage_info.status.value if v.drainage_info else None,
            }
            for v in d.version_summaries
        ],
    }


async def _deployment_list(args: argparse.Namespace, client: Any) -> int:
    deployments = await client.list_worker_deployments()
    if args.output == "json":
        _json([_deployment_json(d) for d in deployments])
    elif not deployments:
        print("no worker deployments")
    else:
        _table(
            [(d.name, _version(d.current_version), _version(d.ramping_version),
              f"{d.ramping_percentage:g}" if d.ramping_version else "", _time(d.create_time))
             for d in deployments],
            ["NAME", "CURRENT BUILD ID", "RAMPING BUILD ID", "RAMPING %", "CREATE TIME"],
        )
    return EXIT_OK


async def _deployment_describe(args: argparse.Namespace, client: Any) -> int:
    d = await client.describe_worker_deployment(args.name)
    if args.output == "json":
        _json(_deployment_json(d))
        return EXIT_OK
    ramping = f"{_version(d.ramping_version)} ({d.ramping_percentage:g}%)" if d.ramping_version else ""
    for key, value in (
        ("Name", d.name),
        ("Create Time", _time(d.create_time)),
        ("Current Build Id", _version(d.current_version) or "(unversioned)"),
        ("Ramping Build Id", ramping),
        ("Routing Changed", _time(d.routing_changed_time)),
    ):
        print(f"{key:<18}{value}".rstrip())
    print()  # the table leaves out the workers' sticky queues (--output json lists them)
    _table(
        [(v.version.build_id, v.status.value, _time(v.create_time),
          ", ".join(f"{q} ({t})" for q, t in v.task_queues if not q.startswith(STICKY_QUEUE_PREFIX)),
          _time(v.drainage_info.last_checked_time) if v.drainage_info else "")
         for v in d.version_summaries],
        ["BUILD ID", "STATUS", "CREATE TIME", "TASK QUEUES", "DRAINAGE CHECKED"],
    )
    return EXIT_OK


async def _set_current(args: argparse.Namespace, client: Any) -> int:
    build_id = None if args.unversioned else args.build_id
    previous = await client.set_worker_deployment_current_version(args.deployment_name, build_id)
    _emit(
        args,
        {"deployment_name": args.deployment_name, "current_build_id": build_id,
         "previous_build_id": _version(previous) or None},
        f"Current version of deployment {args.deployment_name!r} set to "
        f"{build_id if build_id else '(unversioned)'} (was {_version(previous) or '(unversioned)'})",
    )
    return EXIT_OK


async def _set_ramping(args: argparse.Namespace, client: Any) -> int:
    if args.delete:
        if args.percentage is not None:
            raise ValueError("--percentage does not go with --delete (it stops ramping)")
        await client.set_worker_deployment_ramping_version(args.deployment_name, None, 0.0)
        _emit(args, {"deployment_name": args.deployment_name, "ramping_build_id": None, "ramping_percentage": 0.0},
              f"Stopped ramping on deployment {args.deployment_name!r}")
        return EXIT_OK
    if args.percentage is None or not 0 <= args.percentage <= 100:
        raise ValueError(f"--percentage must be given with --build-id, between 0 and 100 (got {args.percentage})")
    await client.set_worker_deployment_ramping_version(args.deployment_name, args.build_id, args.percentage)
    _emit(
        args,
        {"deployment_name": args.deployment_name, "ramping_build_id": args.build_id,
         "ramping_percentage": args.percentage},
        f"Ramping {args.percentage:g}% of deployment {args.deployment_name!r} to build id {args.build_id!r}",
    )
    return EXIT_OK


_DEPLOYMENT_COMMANDS = {
    "list": _deployment_list,
    "describe": _deployment_describe,
    "set-current-version": _set_current,
    "set-ramping-version": _set_ramping,
}
