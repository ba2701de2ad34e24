"""Node loss on a real multi-node Ray cluster (its own ``ray.cluster_utils.Cluster`` in a subprocess: one Ray
per process), PostgreSQL store, Ray's health checks shortened (``rayflow.local_cluster.FAST_HEALTH_CHECKS``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("node_loss.py")
ROOT = SCRIPT.parents[2]


def run_scenario(scenario: str, store: str, out: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"} | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(SCRIPT), scenario, store, str(out)], capture_output=True, text=True,
                            timeout=540, env=env, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    measured = json.loads(lines[-1][len("RESULT "):])
    print(scenario, {k: v for k, v in measured.items() if k not in ("actors_after", "events")})
    return measured


def test_service_node_killed_with_200_workflows_running(postgres_url, tmp_path):
    m = run_scenario("service", postgres_url, tmp_path)
    assert m["done_before_kill"] < 2 * m["workflows"], "the node died after all the work: kill it earlier"
    assert m["wrong_results"] == []
    assert m["completed_once"] == m["workflows"] == 200
    assert m["missing_activities"] == 0
    # The service's own writes are exactly once; an activity attempt whose completion was in flight when its
    # shard's node died is retried by Ray on the restarted shard, so none had to run again.
    assert m["duplicate_activities"] == 0
    assert {node for _, node in m["actors_after"]} == {m["moved_to"]}
    assert m["recovery_first_write_s"] > 0 and m["recovery_all_actors_s"] >= m["recovery_first_write_s"] - 1


def test_gpu_node_killed_mid_activity_retried_on_a_replacement_gpu_node(postgres_url, tmp_path):
    m = run_scenario("gpu", postgres_url, tmp_path)
    assert [a["attempt"] for a in m["attempts"]] == [1, 2]
    assert m["attempts"][0]["node_id"] == m["gpu_1"]  # attempt 1 on the node that was killed
    assert m["result"] == {"attempt": 2, "node_id": m["gpu_2"], "gpus": [0]}  # attempt 2 on the new GPU node
    assert m["events"].count("ACTIVITY_TASK_SCHEDULED") == 1
    assert m["events"].count("ACTIVITY_TASK_COMPLETED") == 1
    assert m["events"][-1] == "WORKFLOW_EXECUTION_COMPLETED"
