"""Compare rayflow (SQLite with durability normal and fsync, and PostgreSQL) with Temporal and DBOS on the same
four workloads.

Runs every (engine, workload, repeat) as its own subprocess, one after another (never two at once): rayflow via
bench/workloads.py under the project's .venv, Temporal via bench/peers/temporal_bench.py and DBOS via
bench/peers/dbos_bench.py under bench/.peers-venv (create it with `bash bench/setup_peers.sh`). Also times the
rayflow cold start (`python examples/hello.py` with nothing running). Prints one markdown table of the medians.

Usage:
  python bench/compare.py [--repeat 3] [--quick] [--engines rayflow,rayflow-fsync,rayflow-pg,temporal,dbos]
                          [--postgres postgresql://postgres@127.0.0.1:5432/test]
                          [--workloads w1,w2,w3,w4] [--w4-count 5000] [--json results.jsonl]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

PEERS_PYTHON = os.path.join(HERE, ".peers-venv", "bin", "python")
ENGINES = ("rayflow", "rayflow-fsync", "rayflow-pg", "temporal", "dbos")
COLUMNS = {"rayflow": "rayflow", "rayflow-fsync": "rayflow-fsync", "rayflow-pg": "rayflow (PostgreSQL)",
           "temporal": "Temporal", "dbos": "DBOS"}

# (row label, workload, figure key, better): the headline figures of the table.
ROWS = [
    ("W1 hello: workflows/s", "w1", "workflows_per_s", "higher"),
    ("W1 hello: p50 latency ms", "w1", "p50_ms", "lower"),
    ("W1 hello: p99 latency ms", "w1", "p99_ms", "lower"),
    ("W2 sequence: activities/s", "w2", "activities_per_s", "higher"),
    ("W3 fan-out: parent start → result s", "w3", "seconds", "lower"),
    ("W4 at rest: KB per waiting workflow", "w4", "kb_per_workflow", "lower"),
    ("W4 at rest: drain workflows/s", "w4", "drain_workflows_per_s", "higher"),
    ("cold start: `python examples/hello.py` s", "cold", "seconds", "lower"),
]


def engine_command(engine: str, args: argparse.Namespace) -> list[str]:
    if engine.startswith("rayflow"):
        command = [args.rayflow_python, os.path.join(HERE, "workloads.py")]
        if engine == "rayflow-fsync":
            command.append("--fsync")
        if engine == "rayflow-pg":
            command += ["--postgres", args.postgres]
        return command
    script = {"temporal": "temporal_bench.py", "dbos": "dbos_bench.py"}[engine]
    return [PEERS_PYTHON, os.path.join(HERE, "peers", script)]


def size_options(args: argparse.Namespace) -> list[str]:
    options = ["--quick"] if args.quick else []
    for name in benchlib.FULL_SIZES:
        value = getattr(args, name)
        if value is not None:
            options += ["--" + name.replace("_", "-"), str(value)]
    return options


def run_child(
    command: list[str], timeout: float, verbose: bool, env: dict | None = None
) -> tuple[int | str, list[dict]]:
    """Run one benchmark subprocess; its stderr (progress) passes through, its JSON result lines are returned.
    Past ``timeout`` seconds it is stopped and the exit status is ``"timeout"``."""
    benchlib.log("$ " + " ".join(command))
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        stop_child(process)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    results: list[dict] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            stripped = line.strip()
            if stripped.startswith("{") and '"engine"' in stripped:
                try:
                    results.append(json.loads(stripped))
                    benchlib.log("  " + stripped)
                    continue
                except json.JSONDecodeError:
                    pass
            if verbose:
                sys.stderr.write("  | " + line)
        rc = process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:  # KeyboardInterrupt or an error here: leave nothing running
            stop_child(process)
    return ("timeout" if timed_out.is_set() else rc), results


def stop_child(process: subprocess.Popen) -> None:
    """SIGTERM (the scripts clean up: Ray shutdown, dev server stop), then SIGKILL the whole process group."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def cold_start(args: argparse.Namespace) -> dict:
    """Wall time of `python examples/hello.py` on a fresh local Ray and an empty data directory."""
    data_dir = tempfile.mkdtemp(prefix="rayflow-cold-")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAYFLOW_DATA_DIR"] = os.path.join(data_dir, "data")
    # A private Ray temp dir: ray.init() in the example must not join a cluster recorded in
    # /tmp/ray/ray_current_cluster by a `ray start` elsewhere on the machine.
    env["RAY_TMPDIR"] = data_dir
    try:
        started = time.perf_counter()
        rc = subprocess.run(
            [args.rayflow_python, os.path.join(ROOT, "examples", "hello.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=args.timeout,
        )
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if rc.returncode != 0 or "Hello, World!" not in rc.stdout:
        raise RuntimeError(f"examples/hello.py failed ({rc.returncode}):\n{rc.stdout[-2000:]}")
    return {"seconds": round(elapsed, 2)}


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"×{a / b:.2f}"


def table(medians: dict[str, dict[tuple[str, str], float]], engines: list[str]) -> str:
    header = ["figure", *[COLUMNS[e] for e in ENGINES], "rayflow/Temporal", "rayflow/DBOS"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, workload, key, better in ROWS:
        values = {e: medians.get(e, {}).get((workload, key)) for e in ENGINES}
        cells = [
            f"{label} ({better} is better)",
            *[fmt(values[e]) for e in ENGINES],
            ratio(values["rayflow"], values["temporal"]),
            ratio(values["rayflow"], values["dbos"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the table shows the median (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (forwarded to the scripts)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)} (default all)"
    )
    parser.add_argument(
        "--workloads", default=",".join(benchlib.WORKLOADS), help="comma-separated subset of w1,w2,w3,w4 (default all)"
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip the rayflow cold-start figure")
    for name, default in benchlib.FULL_SIZES.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            default=None,
            help=f"forwarded to every script (default {default}, quick {benchlib.QUICK_SIZES[name]})",
        )
    parser.add_argument(
        "--rayflow-python",
        default=None,
        help="interpreter for bench/workloads.py (default .venv/bin/python, else this one)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess (default 1800)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL server of the rayflow-pg engine (a fresh schema per run; default %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write every result line (JSON) to PATH")
    parser.add_argument("--verbose", action="store_true", help="pass the scripts' non-result stdout through")
    args = parser.parse_args()

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown += [w for w in workloads if w not in benchlib.WORKLOADS]
    if unknown:
        parser.error(f"unknown engine or workload: {', '.join(unknown)}")
    if args.rayflow_python is None:
        venv_python = os.path.join(ROOT, ".venv", "bin", "python")
        args.rayflow_python = venv_python if os.path.exists(venv_python) else sys.executable
    if any(e in ("temporal", "dbos") for e in engines) and not os.path.exists(PEERS_PYTHON):
        sys.exit(
            f"{PEERS_PYTHON} is missing: run `bash bench/setup_peers.sh` first "
            f"(or leave the peers out: --engines rayflow,rayflow-fsync)"
        )

    records: list[dict] = []
    samples: dict[str, dict[tuple[str, str], list[float]]] = {e: {} for e in ENGINES}
    failures: list[str] = []
    for engine in engines:
        for workload in workloads:
            for attempt in range(args.repeat):
                # One process per run: every figure (W4 memory above all) starts from a fresh process.
                command = [*engine_command(engine, args), "--workload", workload, "--repeat", "1", *size_options(args)]
                rc, results = run_child(command, args.timeout, args.verbose)
                if rc != 0 or not results:
                    failures.append(f"{engine} {workload} run {attempt + 1}: exit {rc}, {len(results)} results")
                    benchlib.log("  FAILED: " + failures[-1])
                for record in results:
                    record["engine_column"] = engine
                    records.append(record)
                    for key, value in record["figures"].items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            samples[engine].setdefault((record["workload"], key), []).append(value)
        if engine == "rayflow" and not args.no_cold_start:
            for attempt in range(args.repeat):
                benchlib.log(f"rayflow cold start run {attempt + 1}/{args.repeat}: python examples/hello.py")
                try:
                    figures = cold_start(args)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    failures.append(f"cold start run {attempt + 1}: {error}")
                    benchlib.log("  FAILED: " + failures[-1])
                    continue
                benchlib.log(f"  cold start {figures['seconds']} s")
                records.append(
                    {
                        "engine": "rayflow",
                        "engine_column": "rayflow",
                        "workload": "cold",
                        "mode": "normal",
                        "figures": figures,
                    }
                )
                samples["rayflow"].setdefault(("cold", "seconds"), []).append(figures["seconds"])

    if args.json:
        with open(args.json, "w") as f:
            for record in records:
                f.write(json.dumps(record) + "\n")

    medians = {e: {k: statistics.median(v) for k, v in by_key.items()} for e, by_key in samples.items()}
    sizes = benchlib.QUICK_SIZES if args.quick else benchlib.FULL_SIZES
    sizes = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in sizes.items()}
    print()
    print(f"Medians of {args.repeat} run(s) each; sizes: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    print(f"Machine: {os.cpu_count()} CPUs; ratios are rayflow (durability normal) / peer.")
    print()
    print(table(medians, engines))
    if failures:
        print()
        print("Failed runs:")
        for failure in failures:
            print("  - " + failure)
        sys.exit(1)


if __name__ == "__main__":
    main()
