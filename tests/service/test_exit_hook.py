"""A program that started its own Ray stops Ray's autoscaler monitor at exit before Ray's own exit hook (which
otherwise waits a second for it: bench/cold_start.py), and the hook is harmless everywhere else."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import ray

from rayflow.service import bootstrap

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import ray
from rayflow.service import bootstrap
bootstrap.connect_ray(None)
node = ray._private.worker._global_node
(monitor,) = node.all_processes["monitor"]
assert monitor.process.poll() is None
bootstrap._stop_ray_monitor_at_exit()
assert monitor.process.poll() is not None, "the monitor still runs"
assert ray.is_initialized()
print("monitor stopped", flush=True)
"""


def test_the_exit_hook_leaves_alone_a_ray_this_process_did_not_start(ray_session) -> None:
    """Attached to a running cluster (the test session's), the hook stops nothing: the head's monitor runs on."""
    (monitor,) = ray_session.head_node.all_processes["monitor"]
    bootstrap._stop_ray_monitor_at_exit()
    assert monitor.process.poll() is None, "the hook stopped the monitor of a Ray this process only attached to"
    assert ray.is_initialized() and ray.cluster_resources()  # the cluster still answers


def test_a_program_that_started_ray_stops_its_monitor_and_exits_cleanly() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with tempfile.TemporaryDirectory(prefix="rf-exit-") as tmp:  # short: Ray's socket paths must fit 107 bytes
        env |= {"RAY_TMPDIR": tmp, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "monitor stopped" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
