"""Cold start of a short script that starts its own Ray, phase by phase (issue 12).

Each run is a fresh Python process (a child) on a fresh data directory, doing what ``examples/hello.py`` does
with a timestamp between phases; the parent adds the interpreter's start (before the first import) and the
exit (after the last line of the script, until the process is gone: Ray's shutdown).

    python bench/cold_start.py --runs 3                  # phases, private RAY_TMPDIR per run
    python bench/cold_start.py --runs 3 --default-tmpdir # Ray's default temp dir (/tmp/ray)
    python bench/cold_start.py --runs 3 --hello          # also time `python examples/hello.py` end to end
    python bench/cold_start.py --runs 3 --ray-exit       # alternate with Ray's own exit (no rayflow exit hook)

Where another Ray runs on the machine (other tests, a `ray start`), the new node's dashboard agent finds its
fixed port 52365 taken and retries for ~4.5 s inside ``ray.init``: not what a fresh install sees. Measure in a
private network namespace then (as root): ``unshare -n sh -c 'ip link set lo up && python bench/cold_start.py'``.

Phases: ``imports`` (interpreter start + ``import rayflow...``), ``ray.init``, ``service`` (the service actors
ready: ``Client.connect`` once Ray runs), ``replica`` (``Worker.start``), ``workflow`` (one hello workflow),
``worker stop`` (``Worker.shutdown``), ``exit`` (Ray's shutdown at interpreter exit). ``--overlapped`` lets
``Client.connect`` start Ray itself (``ray.init`` and service are then one figure, as in ``examples/hello.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
marks = [("start", time.time())]
def mark(name):
    marks.append((name, time.time()))
import asyncio
from datetime import timedelta
import ray
from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.service import bootstrap
from rayflow.worker import Worker
mark("imports")

@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"

@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=10))

async def main(overlapped):
    if not overlapped:
        bootstrap.connect_ray(None)
        mark("ray.init")
    client = await Client.connect()
    mark("service" if not overlapped else "ray.init+service")
    worker = Worker(client, task_queue="hello", workflows=[Greeting], activities=[compose_greeting])
    await worker.start()
    mark("replica")
    result = await client.execute_workflow(Greeting.run, "World", id="greeting-1", task_queue="hello")
    assert result == "Hello, World!", result
    mark("workflow")
    await worker.shutdown()
    mark("worker stop")

asyncio.run(main(sys.argv[1] == "1"))
if sys.argv[2] == "1":  # measure the exit as Ray alone does it
    import atexit
    atexit.unregister(bootstrap._stop_ray_monitor_at_exit)
mark("end")
print("MARKS " + json.dumps(marks), flush=True)
"""


def run_once(*, private_tmpdir: bool, overlapped: bool, ray_exit: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rayflow-cold-") as tmp:
        env = dict(os.environ, RAYFLOW_DATA_DIR=os.path.join(tmp, "data"), PYTHONPATH=str(ROOT))
        if private_tmpdir:
            env["RAY_TMPDIR"] = os.path.join(tmp, "ray")
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-c", CHILD, "1" if overlapped else "0", "1" if ray_exit else "0"], env=env, cwd=tmp,
                              capture_output=True, text=True)
        t_end = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MARKS "))
    marks = json.loads(line[len("MARKS "):])
    phases: dict[str, float] = {}
    previous = t0
    for name, at in marks[1:]:
        if name != "end":
            phases[name] = at - previous
            previous = at
    phases["exit"] = t_end - marks[-1][1]
    phases["total"] = t_end - t0
    return phases


def run_hello(*, private_tmpdir: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="rayflow-hello-") as tmp:
        env = dict(os.environ, RAYFLOW_DATA_DIR=os.path.join(tmp, "data"), PYTHONPATH=str(ROOT))
        if private_tmpdir:
            env["RAY_TMPDIR"] = os.path.join(tmp, "ray")
        t0 = time.time()
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "hello.py")], env=env, cwd=tmp,
                              capture_output=True, text=True)
        elapsed = time.time() - t0
    if proc.returncode != 0 or "Hello, World!" not in proc.stdout:
        raise SystemExit(f"hello.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--default-tmpdir", action="store_true", help="use Ray's default temp dir")
    parser.add_argument("--overlapped", action="store_true", help="let Client.connect start Ray")
    parser.add_argument("--hello", action="store_true", help="also time examples/hello.py end to end")
    parser.add_argument("--ray-exit", action="store_true",
                        help="alternate runs with Ray's own exit (without rayflow's exit hook), marked 'ray-exit'")
    args = parser.parse_args()
    private = not args.default_tmpdir
    runs = []
    hellos = []
    baseline = []
    for i in range(args.runs):
        if args.ray_exit:
            phases = run_once(private_tmpdir=private, overlapped=args.overlapped, ray_exit=True)
            baseline.append(phases)
            print(f"run {i + 1} ray-exit: " + "  ".join(f"{k} {v:.2f}" for k, v in phases.items()), flush=True)
        phases = run_once(private_tmpdir=private, overlapped=args.overlapped)
        runs.append(phases)
        print(f"run {i + 1}: " + "  ".join(f"{k} {v:.2f}" for k, v in phases.items()), flush=True)
        if args.hello:
            hellos.append(run_hello(private_tmpdir=private))
            print(f"  examples/hello.py: {hellos[-1]:.2f} s", flush=True)
    if baseline:
        print("median ray-exit: " + "  ".join(f"{k} {statistics.median(r[k] for r in baseline):.2f}"
                                              for k in baseline[0]))
    print("median: " + "  ".join(f"{k} {statistics.median(r[k] for r in runs):.2f}" for k in runs[0]))
    if hellos:
        print(f"examples/hello.py median {statistics.median(hellos):.2f} s ({', '.join(f'{h:.2f}' for h in hellos)})")


if __name__ == "__main__":
    main()
