"""``rayflow cluster up|down|status``: a Ray cluster of several nodes on one machine, with the service on it.

For trying what a real cluster does without cloud accounts: routing to GPU pools (a fake-GPU node with
``--num-gpus`` and the ``ray.io/accelerator-type`` label), ``ray job submit``, and node loss (stop one node's
processes). ``up`` starts a head node (``ray start --head`` on free ports: never Redis's 6379), GPU worker
nodes and the service actors on the store given (``--store``, else ``RAYFLOW_STORE``, else SQLite in
``./.rayflow``), and writes what it started to ``~/.rayflow/local-cluster.json``; ``down`` stops exactly those
processes (by process group), nothing else. The store URL is exported to the head's environment, so every
``ray job submit`` job on this cluster uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rayflow import constants

#: Where ``up`` records the processes it started (``--state-file`` overrides it).
DEFAULT_STATE_FILE = Path("~/.rayflow/local-cluster.json")
GPU_NODE_LABELS = {"ray.io/accelerator-type": "A100", "rayflow.io/pool": "gpu"}
#: Health checks of ``--fast-health-checks``: a lost node is declared dead after ~3 s instead of ~15 s.
FAST_HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3,
                      "health_check_timeout_ms": 1000, "health_check_initial_delay_ms": 1000}
_START_TIMEOUT_S = 90.0
_OBJECT_STORE_BYTES = 200 * 1024 * 1024
_EXIT_ERROR = 2


def add_parser(commands: Any) -> None:
    """Add the ``cluster`` command group to the ``rayflow`` CLI."""
    cluster = commands.add_parser("cluster", help="a multi-node Ray cluster on this machine, with the service")
    sub = cluster.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a head, fake-GPU worker nodes and the service")
    up.add_argument("--store", help="store URL (default RAYFLOW_STORE, else sqlite ./.rayflow)")
    up.add_argument("--gpu-nodes", type=int, default=1, help="worker nodes with one fake GPU each (default 1)")
    up.add_argument("--cpu-nodes", type=int, default=0, help="CPU-only worker nodes (default 0)")
    up.add_argument("--head-cpus", type=int, default=2, help="CPUs the head node offers (default 2)")
    up.add_argument("--dashboard", action="store_true", help="start Ray's dashboard (needed by `ray job submit`)")
    up.add_argument("--num-shards", type=int, default=constants.DEFAULT_NUM_SHARDS, help="shards of a new store")
    up.add_argument("--ray-namespace", default=constants.DEFAULT_RAY_NAMESPACE, help="Ray namespace of the service")
    up.add_argument("--fast-health-checks", action="store_true",
                    help="declare a lost node dead after ~3 s (default Ray: ~15 s)")
    for name, text in (("down", "stop"), ("status", "show")):
        parser = sub.add_parser(name, help=f"{text} the cluster that `rayflow cluster up` started")
        parser.add_argument("--state-file", default=str(DEFAULT_STATE_FILE))
    up.add_argument("--state-file", default=str(DEFAULT_STATE_FILE), help="where to record what was started")


def main(args: argparse.Namespace) -> int:
    state_file = Path(args.state_file).expanduser()
    try:
        if args.command == "up":
            return _up(args, state_file)
        if args.command == "down":
            return _down(state_file)
        return _status(state_file)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"rayflow cluster {args.command}: error: {err}", file=sys.stderr)
        return _EXIT_ERROR


# -- up -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _ray_start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``ray start ... --block`` in a process group of its own: stopping the group stops that node only."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", *args, "--block", "--disable-usage-stats"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )


def _wait_for_address(log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = re.search(r"--address='([^']+)'", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"the head node did not start (exit {process.returncode}); see {log}")
        time.sleep(0.2)
    raise RuntimeError(f"the head node did not start within {_START_TIMEOUT_S:.0f} s; see {log}")


def _up(args: argparse.Namespace, state_file: Path) -> int:
    from rayflow.service.store_setting import requested_store

    if state_file.exists() and _alive(json.loads(state_file.read_text())):
        raise RuntimeError(f"a local cluster already runs ({state_file}); `rayflow cluster down` first")
    store = requested_store(args.store).require()
    workdir = Path(tempfile.mkdtemp(prefix="rayflow-lc-"))
    env = {**os.environ, constants.STORE_ENV: store.url, "RAY_DEDUP_LOGS": os.environ.get("RAY_DEDUP_LOGS", "0")}
    env.pop("RAY_ADDRESS", None)
    from rayflow.service.bootstrap import ray_token_available

    if "RAY_AUTH_MODE" not in env and ray_token_available():
        env["RAY_AUTH_MODE"] = "token"  # `ray start` turns token auth on when a token exists: clients must match
    started: list[dict[str, Any]] = []
    state: dict[str, Any] = {"workdir": str(workdir), "nodes": started, "store": store.redacted,
                             "auth_mode": env.get("RAY_AUTH_MODE", "")}
    try:
        head_args = [
            "--head", f"--port={free_port()}", f"--num-cpus={args.head_cpus}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--object-store-memory={_OBJECT_STORE_BYTES}", f"--include-dashboard={str(args.dashboard).lower()}",
        ]
        if args.dashboard:
            state["dashboard"] = f"http://127.0.0.1:{(dashboard_port := free_port())}"
            head_args += [f"--dashboard-port={dashboard_port}", "--dashboard-host=127.0.0.1"]
        if args.fast_health_checks:
            head_args.append(f"--system-config={json.dumps(FAST_HEALTH_CHECKS)}")
        log = workdir / "head.log"
        head = _ray_start(head_args, env, log)
        started.append({"role": "head", "pid": head.pid, "log": str(log)})
        _write(state_file, state)
        address = state["address"] = _wait_for_address(log, head)
        _write(state_file, state)
        workers = [("gpu", i) for i in range(args.gpu_nodes)] + [("cpu", i) for i in range(args.cpu_nodes)]
        for kind, i in workers:
            node_args = [f"--address={address}", "--num-cpus=1", f"--dashboard-agent-listen-port={free_port()}",
                         f"--object-store-memory={_OBJECT_STORE_BYTES}"]
            if kind == "gpu":
                labels = ",".join(f"{k}={v}" for k, v in GPU_NODE_LABELS.items())
                node_args += ["--num-gpus=1", f"--labels={labels}"]
            log = workdir / f"{kind}-{i}.log"
            process = _ray_start(node_args, env, log)
            started.append({"role": f"{kind}-worker", "pid": process.pid, "log": str(log)})
            _write(state_file, state)
        _wait_for_nodes(address, 1 + len(workers), env)
        _start_service(address, store.url, args, env)
    except BaseException:
        stop_nodes(started)
        state_file.unlink(missing_ok=True)
        raise
    dashboard = state.get("dashboard")
    print(f"rayflow local cluster up: head + {args.gpu_nodes} GPU + {args.cpu_nodes} CPU worker nodes")
    print(f"  RAY_ADDRESS={address}")
    print(f"  store {store.redacted} (exported to the head: every job uses it)")
    auth = "RAY_AUTH_MODE=token " if state["auth_mode"] == "token" else ""
    if dashboard:
        print(f"  dashboard {dashboard}")
        print(f"  submit a job:  {auth}RAY_ADDRESS={dashboard} ray job submit --working-dir . -- "
              f"python examples/ml_pipeline.py")
    print(f"  run a driver:  RAY_ADDRESS={address} python examples/ml_pipeline.py")
    print(f"  stop it:       rayflow cluster down{_state_flag(state_file)}")
    return 0


def _state_flag(state_file: Path) -> str:
    return "" if state_file == DEFAULT_STATE_FILE.expanduser() else f" --state-file {state_file}"


def _write(state_file: Path, state: dict[str, Any]) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state, indent=2))


def _driver(code: str, address: str, env: dict[str, str]) -> str:
    """Run ``code`` in a short Ray driver attached to the cluster; its stdout."""
    result = subprocess.run([sys.executable, "-c", code], env={**env, "RAY_ADDRESS": address}, capture_output=True,
                            text=True, timeout=_START_TIMEOUT_S * 2)
    if result.returncode != 0:
        raise RuntimeError(f"a driver on the new cluster failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _wait_for_nodes(address: str, count: int, env: dict[str, str]) -> None:
    _driver(
        "import time, ray\n"
        "ray.init()\n"
        f"deadline = time.monotonic() + {_START_TIMEOUT_S}\n"
        f"while sum(n['Alive'] for n in ray.nodes()) < {count}:\n"
        f"    assert time.monotonic() < deadline, 'the worker nodes did not join'\n"
        "    time.sleep(0.2)\n",
        address, env,
    )


def _start_service(address: str, store: str, args: argparse.Namespace, env: dict[str, str]) -> None:
    # A driver of its own: the service actors are detached and outlive it.
    _driver(
        "import asyncio\n"
        "from rayflow.client import Client\n"
        f"asyncio.run(Client.connect(store={store!r}, ray_namespace={args.ray_namespace!r}, "
        f"num_shards={args.num_shards}))\n",
        address, env,
    )


# -- down and status ------------------------------------------------------------------------------
def _alive(state: dict[str, Any]) -> bool:
    return any(_running(node["pid"]) for node in state.get("nodes", []))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_nodes(nodes: list[dict[str, Any]], grace_s: float = 5.0) -> None:
    """SIGTERM each node's process group (worker nodes first), SIGKILL what is left after ``grace_s``, and
    return once every process of those groups is gone."""
    for node in sorted(nodes, key=lambda node: node["role"] == "head"):
        _signal_group(node["pid"], signal.SIGTERM)
        if not _wait_gone(node["pid"], grace_s):
            _signal_group(node["pid"], signal.SIGKILL)
            _wait_gone(node["pid"], 10.0)


def _wait_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _down(state_file: Path) -> int:
    if not state_file.exists():
        print(f"rayflow cluster down: no local cluster recorded in {state_file}", file=sys.stderr)
        return _EXIT_ERROR
    state = json.loads(state_file.read_text())
    stop_nodes(state.get("nodes", []))
    state_file.unlink(missing_ok=True)
    print(f"rayflow local cluster at {state.get('address', '?')} stopped ({len(state.get('nodes', []))} nodes)")
    return 0


def _status(state_file: Path) -> int:
    if not state_file.exists():
        print(f"no local cluster recorded in {state_file}")
        return _EXIT_ERROR
    state = json.loads(state_file.read_text())
    print(f"address    {state.get('address')}")
    print(f"store      {state.get('store')}")
    if state.get("dashboard"):
        print(f"dashboard  {state['dashboard']}")
    for node in state.get("nodes", []):
        print(f"{node['role']:<11}pid {node['pid']} {'running' if group_alive(node['pid']) else 'stopped'}")
    return 0 if _alive(state) else _EXIT_ERROR
