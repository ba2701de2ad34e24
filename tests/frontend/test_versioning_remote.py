"""Worker versioning through the gRPC frontend: a remote ``Client.connect(address)`` and the ``rayflow`` CLI
(``task-queue update-build-ids/get-build-ids/get-build-id-reachability``, ``worker deployment ...``) against a
`rayflow server start` subprocess, and a worker deployment registered by a real versioned Worker."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from rayflow.client import BuildIdOpAddNewCompatible, BuildIdOpAddNewDefault, Client, TaskReachabilityType
from rayflow.common import VersioningBehavior, WorkerDeploymentVersion
from rayflow.exceptions import VersioningError
from rayflow.worker import Worker, WorkerDeploymentConfig
from tests.frontend.conftest import run_cli
from tests.frontend.workflows import Greeting, compose_greeting


def _queue(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_remote_client_build_id_sets_reachability_and_errors(frontend):
    queue = _queue("vr-remote")
    client = await Client.connect(frontend.address)
    try:
        await client.update_worker_build_id_compatibility(queue, BuildIdOpAddNewDefault("1.0"))
        await client.update_worker_build_id_compatibility(queue, BuildIdOpAddNewCompatible("1.1", "1.0"))
        sets = await client.get_worker_build_id_compatibility(queue)
        assert [list(s.build_ids) for s in sets.version_sets] == [["1.0", "1.1"]]
        assert sets.default_build_id() == "1.1"

        with pytest.raises(VersioningError, match="no-such-build") as caught:
            await client.update_worker_build_id_compatibility(queue, BuildIdOpAddNewCompatible("2.0", "no-such-build"))
        assert type(caught.value) is VersioningError
        assert [list(s.build_ids) for s in (await client.get_worker_build_id_compatibility(queue)).version_sets] == [
            ["1.0", "1.1"]
        ]

        reach = await client.get_worker_task_reachability(build_ids=["1.1"], task_queues=[queue])
        assert TaskReachabilityType.NEW_WORKFLOWS in reach.build_id_reachability["1.1"].task_queue_reachability[queue]

        with pytest.raises(VersioningError):
            await client.describe_worker_deployment(_queue("no-such-deployment"))
    finally:
        await client.close()


async def test_cli_build_ids_reachability_and_a_refused_op(frontend):
    queue = _queue("vr-cli")
    address = ["--address", frontend.address]
    code, out, err = await run_cli(
        "task-queue", "update-build-ids", "add-new-default", *address, "--task-queue", queue, "--build-id", "1.0"
    )
    assert code == 0, err
    assert "1.0" in out
    code, out, err = await run_cli(
        "task-queue", "update-build-ids", "add-new-default", *address, "--task-queue", queue, "--build-id", "2.0"
    )
    assert code == 0, err
    code, out, err = await run_cli(
        "task-queue", "update-build-ids", "add-new-compatible", *address, "--task-queue", queue,
        "--build-id", "1.1", "--existing-compatible-build-id", "1.0",
    )
    assert code == 0, err

    code, out, err = await run_cli("task-queue", "get-build-ids", *address, "--task-queue", queue)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["BUILD", "IDS", "DEFAULT", "FOR", "SET", "DEFAULT", "SET"]
    assert lines[1].split() == ["1.0,", "1.1", "1.1"]  # the older set first, not the default set
    assert lines[2].split() == ["2.0", "2.0", "Default"]

    code, out, err = await run_cli("task-queue", "get-build-ids", *address, "--task-queue", queue, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [s["build_ids"] for s in data["version_sets"]] == [["1.0", "1.1"], ["2.0"]]
    assert [s["is_default_set"] for s in data["version_sets"]] == [False, True]
    assert data["default_build_id"] == "2.0"

    code, out, err = await run_cli(
        "task-queue", "get-build-id-reachability", *address, "--build-id", "2.0", "--build-id", "1.0",
        "--task-queue", queue,
    )
    assert code == 0, err
    rows = {tuple(line.split()[:2]): line for line in out.splitlines()[1:]}
    assert "NEW_WORKFLOWS" in rows[("2.0", queue)]
    assert "unreachable" in rows[("1.0", queue)]  # not its set's default
    code, out, err = await run_cli(
        "task-queue", "get-build-id-reachability", *address, "--build-id", "2.0", "--task-queue", queue,
        "--reachability-type", "new", "-o", "json",
    )
    assert code == 0, err
    assert json.loads(out)["build_id_reachability"]["2.0"][queue] == ["NEW_WORKFLOWS"]

    code, out, err = await run_cli(
        "task-queue", "update-build-ids", "add-new-compatible", *address, "--task-queue", queue,
        "--build-id", "3.0", "--existing-compatible-build-id", "no-such-build",
    )
    assert code == 2, out
    assert err.startswith("rayflow: error: ") and "no-such-build" in err
    assert "Traceback" not in err


async def test_cli_worker_deployment_list_on_an_empty_namespace(frontend):
    namespace = _queue("vr-empty")
    code, out, err = await run_cli("worker", "deployment", "list", "--address", frontend.address, "-n", namespace)
    assert code == 0, err
    assert out.strip() in ("", "no worker deployments")
    code, out, err = await run_cli(
        "worker", "deployment", "list", "--address", frontend.address, "-n", namespace, "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out) == []
    code, out, err = await run_cli(
        "worker", "deployment", "describe", "--address", frontend.address, "-n", namespace, "--name", "nope"
    )
    assert code == 2 and err.startswith("rayflow: error: ") and "Traceback" not in err


async def _registered(client, name: str, build_id: str) -> None:
    for _ in range(150):
        try:
            if (await client.describe_worker_deployment(name)).version(build_id) is not None:
                return
        except VersioningError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"version {name}.{build_id} never registered")


async def test_worker_deployment_set_current_version_through_the_cli(frontend):
    queue = _queue("vr-dep")
    name = f"dep{uuid.uuid4().hex[:6]}"
    address = ["--address", frontend.address]
    config = WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(name, "1"), default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE
    )
    worker = Worker(
        frontend.env.client, task_queue=queue, workflows=[Greeting], activities=[compose_greeting],
        deployment_config=config, ray_actor_options={"num_cpus": 0},
    )
    remote = await Client.connect(frontend.address)
    try:
        async with worker:
            await _registered(remote, name, "1")
            code, out, err = await run_cli("worker", "deployment", "describe", *address, "--name", name)
            assert code == 0, err
            assert "INACTIVE" in out

            code, out, err = await run_cli(
                "worker", "deployment", "set-current-version", *address, "--deployment-name", name, "--build-id", "2"
            )
            assert code == 2 and "rayflow: error: " in err and "Traceback" not in err

            code, out, err = await run_cli(
                "worker", "deployment", "set-current-version", *address, "--deployment-name", name, "--build-id", "1"
            )
            assert code == 0, err
            code, out, err = await run_cli("worker", "deployment", "describe", *address, "--name", name)
            assert code == 0, err
            assert "Current Build Id  1" in out
            version_rows = [line.split() for line in out.splitlines() if line.startswith("1 ")]
            assert version_rows and version_rows[0][1] == "CURRENT"
            assert f"{queue} (workflow), {queue} (activity)" in out and "__sticky__" not in out
            code, out, err = await run_cli("worker", "deployment", "describe", *address, "--name", name, "-o", "json")
            assert code == 0, err
            data = json.loads(out)
            assert data["current_version"] == "1"
            assert [(v["build_id"], v["status"]) for v in data["versions"]] == [("1", "CURRENT")]
            assert (await remote.describe_worker_deployment(name)).current_version == WorkerDeploymentVersion(name, "1")

            result = await remote.execute_workflow("Greeting", "versioned", id=_queue("vr-wf"), task_queue=queue)
            assert result == "Hello, versioned!"

            code, out, err = await run_cli("worker", "deployment", "list", *address)
            assert code == 0, err
            assert any(line.split()[:2] == [name, "1"] for line in out.splitlines())

            code, out, err = await run_cli(
                "worker", "deployment", "set-ramping-version", *address, "--deployment-name", name,
                "--build-id", "1", "--percentage", "150",
            )
            assert code == 2 and "between 0 and 100" in err
            code, out, err = await run_cli(
                "worker", "deployment", "set-ramping-version", *address, "--deployment-name", name, "--delete"
            )
            assert code == 0, err
            code, out, err = await run_cli(
                "worker", "deployment", "set-current-version", *address, "--deployment-name", name, "--unversioned",
                "-o", "json",
            )
            assert code == 0, err
            assert json.loads(out) == {"deployment_name": name, "current_build_id": None, "previous_build_id": "1"}
    finally:
        await remote.close()
