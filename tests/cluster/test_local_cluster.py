"""A real two-node cluster of `ray start` processes on free ports (`rayflow cluster up`: a CPU head with the
dashboard, a fake-GPU worker node labelled ray.io/accelerator-type=A100), the service on PostgreSQL: the
README's ml_pipeline runs on it, `ray job submit --working-dir` runs a rayflow program twice and the second job
sees the first job's workflows, no shard sits on the GPU node, a job with no usable store is told what to set,
and `rayflow cluster down` stops exactly what `up` started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rayflow import constants
from rayflow.local_cluster import group_alive

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300

JOB = textwrap.dedent('''
    """A rayflow program submitted as a Ray job: one GPU workflow, then what the service holds."""
    import asyncio, json, sys
    from datetime import timedelta

    import ray
    from rayflow import activity, workflow
    from rayflow.client import Client
    from rayflow.worker import Worker

    @activity.defn(resource_label="gpu")
    def train(name: str) -> dict:
        return {"name": name, "node_id": ray.get_runtime_context().get_node_id(), "gpus": ray.get_gpu_ids()}

    @workflow.defn
    class Pipeline:
        @workflow.run
        async def run(self, name: str) -> dict:
            return await workflow.execute_activity(train, name, start_to_close_timeout=timedelta(minutes=2))

    async def main(workflow_id: str) -> None:
        client = await Client.connect()          # the store comes from the head's environment (RAYFLOW_STORE)
        async with (
            Worker(client, task_queue="jobs", workflows=[Pipeline], ray_actor_options={"num_cpus": 0}),
            Worker(client, task_queue="jobs", activities=[train], accept_unlabelled=False,
                   ray_actor_options={"num_gpus": 1, "num_cpus": 0}),
        ):
            result = await client.execute_workflow(Pipeline.run, workflow_id, id=workflow_id, task_queue="jobs")
        listed = [[w.id, w.status.name] async for w in client.list_workflows()]
        service = await client.describe_service()
        gpu_nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")]
        print("JOB " + json.dumps({"result": result, "listed": listed, "store": service.store,
                                   "actors": [[a.name, a.node_id, a.accelerator_node] for a in service.actors],
                                   "gpu_nodes": gpu_nodes}), flush=True)

    asyncio.run(main(sys.argv[1]))
''')

NO_STORE_JOB = textwrap.dedent('''
    import asyncio
    from rayflow.client import Client
    asyncio.run(Client.connect(ray_namespace="a-namespace-with-no-service"))
''')


def cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "rayflow.cli", *args], capture_output=True, text=True,
                            timeout=TIMEOUT_S, env=env, cwd=ROOT)
    if check:
        assert result.returncode == 0, f"rayflow {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def cluster(module_postgres_url, tmp_path_factory):
    """`rayflow cluster up --dashboard` on a store of its own; stopped (by its pids) afterwards."""
    state_file = tmp_path_factory.mktemp("local-cluster") / "state.json"
    env = {key: value for key, value in os.environ.items() if key not in ("RAY_ADDRESS", "RAYFLOW_STORE")}
    cli("cluster", "up", "--dashboard", "--store", module_postgres_url, "--state-file", str(state_file), env=env)
    state = json.loads(state_file.read_text())
    state["state_file"] = state_file
    state["env"] = env | ({"RAY_AUTH_MODE": "token"} if state["auth_mode"] == "token" else {})
    yield state
    if state_file.exists():
        cli("cluster", "down", "--state-file", str(state_file), check=False)


def submit(cluster: dict, workdir: Path, *entrypoint: str, runtime_env: dict | None = None):
    args = ["ray", "job", "submit", "--address", cluster["dashboard"], "--working-dir", str(workdir)]
    if runtime_env is not None:
        args += ["--runtime-env-json", json.dumps(runtime_env)]
    return subprocess.run([*args, "--", *entrypoint], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=cluster["env"], cwd=workdir)


def job_output(result: subprocess.CompletedProcess[str]) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.startswith("JOB ")]
    assert result.returncode == 0 and lines, f"job failed ({result.returncode}):\n{result.stdout[-4000:]}"
    return json.loads(lines[-1][4:])


def test_ml_pipeline_runs_on_the_local_cluster(cluster):
    env = cluster["env"] | {"RAY_ADDRESS": cluster["address"]}
    result = subprocess.run([sys.executable, "examples/ml_pipeline.py"], capture_output=True, text=True,
                            timeout=TIMEOUT_S, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "uploaded model" in result.stdout and "trained on GPU 0" in result.stdout


def test_job_submit_twice_and_the_second_job_sees_the_first(cluster, tmp_path):
    (tmp_path / "job.py").write_text(JOB)
    first = job_output(submit(cluster, tmp_path, "python", "job.py", "job-1"))
    second = job_output(submit(cluster, tmp_path, "python", "job.py", "job-2"))
    for out, name in ((first, "job-1"), (second, "job-2")):
        assert out["result"]["name"] == name and out["result"]["gpus"] == [0]
        assert out["result"]["node_id"] in out["gpu_nodes"]  # the GPU activity ran on the GPU node
    assert ["job-1", "COMPLETED"] in second["listed"] and ["job-2", "COMPLETED"] in second["listed"]
    assert second["store"] == cluster["store"]
    actors = second["actors"]
    assert len(actors) == constants.DEFAULT_NUM_SHARDS + 1  # the shards of `cluster up`'s default and Matching
    assert not any(on_accelerator for _, _, on_accelerator in actors)
    assert not {node for _, node, _ in actors} & set(second["gpu_nodes"]), "a service actor sits on the GPU node"


def test_a_job_without_a_store_is_told_what_to_set(cluster, tmp_path):
    (tmp_path / "no_store.py").write_text(NO_STORE_JOB)
    result = submit(cluster, tmp_path, "python", "no_store.py",
                    runtime_env={"env_vars": {"RAYFLOW_STORE": "", "RAYFLOW_DATA_DIR": ""}})
    assert result.returncode != 0
    assert "ConfigurationError" in result.stdout
    assert "temporary working directory" in result.stdout and "set RAYFLOW_STORE" in result.stdout


def test_down_stops_exactly_what_up_started(cluster):
    pgids = [node["pid"] for node in cluster["nodes"]]
    assert len(pgids) == 2 and all(group_alive(pgid) for pgid in pgids)
    out = cli("cluster", "down", "--state-file", str(cluster["state_file"])).stdout
    assert "stopped (2 nodes)" in out
    assert not any(group_alive(pgid) for pgid in pgids)
    assert not cluster["state_file"].exists()

