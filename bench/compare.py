"""Compare rayflow (SQLite with durability normal and fsync, and PostgreSQL) with DBOS (SQLite and PostgreSQL)
and Temporal on the same four workloads, against the targets of issue 12.

Runs every (engine, workload, round) as its own subprocess, one after another (never two at once): rayflow via
bench/workloads.py under the project's .venv, Temporal via bench/peers/temporal_bench.py and DBOS via
bench/peers/dbos_bench.py under bench/.peers-venv (create it with `bash bench/setup_peers.sh`). The PostgreSQL
engines (rayflow-pg, dbos-pg) use the server of --postgres: a fresh schema (rayflow) or database (DBOS) per run,
dropped after it. Also times the rayflow cold start (`python examples/hello.py` with nothing running).

Prints one markdown table: per figure the median of the rounds with the rounds in brackets, the ratios
rayflow/DBOS, rayflow/Temporal and rayflow-pg/DBOS-pg, the target and whether rayflow (durability normal) meets
it (the W1 target "2x DBOS" against the DBOS median of this same invocation); then the CPU split of rayflow's W1
per process. With --count-calls, one more W1 run per rayflow engine counts the actor calls per workflow (a
diagnostic run: its figures stay out of the table).

Usage:
  python bench/compare.py [--repeat 2] [--quick]
                          [--engines rayflow,rayflow-fsync,rayflow-pg,dbos,dbos-pg,temporal]
                          [--postgres postgresql://postgres@127.0.0.1:5432/test]
                          [--workloads w1,w2,w3,w4] [--w4-count 5000] [--count-calls] [--json results.jsonl]
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
ENGINES = ("rayflow", "rayflow-fsync", "rayflow-pg", "dbos", "dbos-pg", "temporal")
COLUMNS = {
    "rayflow": "rayflow",
    "rayflow-fsync": "rayflow fsync",
    "rayflow-pg": "rayflow PostgreSQL",
    "dbos": "DBOS",
    "dbos-pg": "DBOS PostgreSQL",
    "temporal": "Temporal",
}
PEER_SCRIPTS = {"temporal": ["temporal_bench.py"], "dbos": ["dbos_bench.py"], "dbos-pg": ["dbos_bench.py"]}

# (row label, workload, figure key, better, target): the headline figures of the table. A target is
# (comparison, value[, factor of the DBOS figure of the same invocation]); None: no target.
ROWS = [
    ("W1 hello: workflows/s", "w1", "workflows_per_s", "higher", (">=", 300, 2.0)),
    ("W1 hello: p50 latency ms", "w1", "p50_ms", "lower", ("<=", 250)),
    ("W1 hello: p99 latency ms", "w1", "p99_ms", "lower", ("<=", 1000)),
    ("W2 sequence: activities/s", "w2", "activities_per_s", "higher", (">=", 700)),
    ("W3 fan-out: parent start → result s", "w3", "seconds", "lower", ("<=", 0.5)),
    ("W4 at rest: KB per waiting workflow, all processes", "w4", "kb_per_workflow", "lower", None),
    (
        "W4 at rest: KB per waiting workflow, service (shards + Matching)",
        "w4",
        "service_kb_per_workflow",
        "lower",
        ("<=", 5),
    ),
    ("W4 at rest: drain workflows/s", "w4", "drain_workflows_per_s", "higher", (">=", 500)),
    ("cold start: `python examples/hello.py` s", "cold", "seconds", "lower", ("<=", 4)),
]
# (column header, numerator engine, denominator engine)
RATIOS = [
    ("rayflow/DBOS", "rayflow", "dbos"),
    ("rayflow/Temporal", "rayflow", "temporal"),
    ("rayflow-pg/DBOS-pg", "rayflow-pg", "dbos-pg"),
]


def engine_command(engine: str, args: argparse.Namespace) -> list[str]:
    if engine.startswith("rayflow"):
        command = [args.rayflow_python, os.path.join(HERE, "workloads.py")]
        if engine == "rayflow-fsync":
            command.append("--fsync")
        if engine == "rayflow-pg":
            command += ["--postgres", args.postgres]
        return command
    command = [PEERS_PYTHON, os.path.join(HERE, "peers", PEER_SCRIPTS[engine][0])]
    if engine == "dbos-pg":
        command += ["--postgres", args.postgres]
    return command


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


def cell(rounds: list[float] | None) -> str:
    """The median, and the rounds in brackets when there are several."""
    if not rounds:
        return "—"
    median = fmt(statistics.median(rounds))
    return median if len(rounds) == 1 else f"{median} ({', '.join(fmt(r) for r in rounds)})"


def target_text(target: tuple | None) -> str:
    if target is None:
        return ""
    comparison, value, *factor = target
    text = f"{'≥' if comparison == '>=' else '≤'} {value:g}"
    return f"≥ {factor[0]:g}× DBOS in the same run ({text})" if factor else text


def met(value: float | None, target: tuple | None, dbos: float | None) -> str:
    """``yes``/``NO`` for ``value`` against ``target``; the DBOS factor needs the DBOS figure of this run."""
    if target is None or value is None:
        return ""
    comparison, bound, *factor = target
    ok = value >= bound if comparison == ">=" else value <= bound
    if factor:
        if dbos is None:
            return ("yes" if ok else "NO") + " (DBOS not run)"
        ok = ok and value >= factor[0] * dbos
    return "yes" if ok else "NO"


def table(samples: dict[str, dict[tuple[str, str], list[float]]], engines: list[str]) -> str:
    """Medians (rounds) per engine that ran, the ratios of the medians, the target and rayflow's mark."""
    columns = [e for e in ENGINES if e in engines]
    ratios = [r for r in RATIOS if r[1] in engines and r[2] in engines]
    rayflows = [e for e in ("rayflow", "rayflow-fsync", "rayflow-pg") if e in engines]
    header = [
        "figure",
        *[COLUMNS[e] for e in columns],
        *[r[0] for r in ratios],
        "target",
        *[f"met? ({COLUMNS[e]})" for e in rayflows],
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def median(engine: str, workload: str, key: str) -> float | None:
        rounds = samples.get(engine, {}).get((workload, key))
        return statistics.median(rounds) if rounds else None

    for label, workload, key, better, target in ROWS:
        if workload != "cold" and not any(samples.get(e, {}).get((workload, key)) for e in columns):
            continue
        if workload == "cold" and not samples.get("rayflow", {}).get((workload, key)):
            continue
        dbos = median("dbos", workload, key)
        cells = [
            f"{label} ({better} is better)",
            *[cell(samples.get(e, {}).get((workload, key))) for e in columns],
            *[ratio(median(a, workload, key), median(b, workload, key)) for _, a, b in ratios],
            target_text(target),
            *[met(median(e, workload, key), target, dbos) for e in rayflows],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_report(records: list[dict]) -> str:
    """The CPU split of each rayflow engine's W1 rounds (median per process role), % of one core."""
    lines = []
    for engine in ("rayflow", "rayflow-fsync", "rayflow-pg"):
        splits = [
            r["figures"]["cpu_pct"]
            for r in records
            if r["engine_column"] == engine
            and r["workload"] == "w1"
            and "cpu_pct" in r["figures"]
            and not r.get("diagnostic")
        ]
        if not splits:
            continue
        roles = {role for split in splits for role in split}
        medians = {role: statistics.median([split.get(role, 0.0) for split in splits]) for role in roles}
        medians = dict(sorted(medians.items(), key=lambda kv: (kv[0] == "total", -kv[1])))
        shown = [f"{role} {fmt(value)}" for role, value in medians.items() if value >= 0.5 or role == "total"]
        lines.append(f"- {COLUMNS[engine]}: " + ", ".join(shown))
    if not lines:
        return ""
    return "CPU during W1, % of one core (median of the rounds; roles under 0.5 % left out):\n" + "\n".join(lines)


def calls_report(records: list[dict]) -> str:
    """The actor calls per W1 workflow of the --count-calls runs, one table per rayflow engine."""
    out = []
    for record in records:
        per_wf = record["figures"].get("calls_per_workflow")
        if not record.get("diagnostic") or per_wf is None:
            continue
        out.append(
            f"Actor calls per W1 workflow, {COLUMNS[record['engine_column']]} "
            f"({record['sizes'].get('w1_workflows')} workflows; `a>b`: b carried inside batch call a):"
        )
        out.append("")
        out.append("| actor | method | calls per workflow |")
        out.append("|---|---|---|")
        for kind, methods in per_wf.items():
            if kind == "total":
                continue
            for method, value in methods.items():
                if method != "(calls)":
                    out.append(f"| {kind} | {method} | {fmt(value)} |")
            out.append(f"| {kind} | **all calls** | **{fmt(methods['(calls)'])}** |")
        out.append(f"| **all actors** | | **{fmt(per_wf['total'])}** |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds per figure; the table shows the median and the rounds (default 2)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (forwarded to the scripts)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)} (default all)"
    )
    parser.add_argument(
        "--workloads", default=",".join(benchlib.WORKLOADS), help="comma-separated subset of w1,w2,w3,w4 (default all)"
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip the rayflow cold-start figure")
    parser.add_argument(
        "--count-calls",
        action="store_true",
        help="one more W1 run per rayflow engine with the actor call counters on (workloads.py "
        "--count-calls): actor calls per workflow; its figures stay out of the table",
    )
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
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server of rayflow-pg and dbos-pg (a fresh schema, or for DBOS a fresh "
        "database, per run; default %(default)s)",
    )
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
    if any(e in PEER_SCRIPTS for e in engines) and not os.path.exists(PEERS_PYTHON):
        sys.exit(
            f"{PEERS_PYTHON} is missing: run `bash bench/setup_peers.sh` first "
            f"(or leave the peers out: --engines rayflow,rayflow-fsync,rayflow-pg)"
        )

    records: list[dict] = []
    samples: dict[str, dict[tuple[str, str], list[float]]] = {e: {} for e in ENGINES}
    failures: list[str] = []

    def run(engine: str, workload: str, label: str, extra: tuple[str, ...] = ()) -> list[dict]:
        # One process per run: every figure (W4 memory above all) starts from a fresh process.
        command = [*engine_command(engine, args), "--workload", workload, "--repeat", "1", *size_options(args), *extra]
        rc, results = run_child(command, args.timeout, args.verbose)
        if rc != 0 or not results:
            failures.append(f"{engine} {workload} {label}: exit {rc}, {len(results)} results")
            benchlib.log("  FAILED: " + failures[-1])
        for record in results:
            record["engine_column"] = engine
            records.append(record)
        return results

    for engine in engines:
        for workload in workloads:
            for attempt in range(args.repeat):
                for record in run(engine, workload, f"run {attempt + 1}"):
                    for key, value in record["figures"].items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            samples[engine].setdefault((record["workload"], key), []).append(value)
        if engine.startswith("rayflow") and args.count_calls:
            benchlib.log(f"{engine}: W1 with the actor call counters on (diagnostic, not in the table)")
            for record in run(engine, "w1", "count-calls run", ("--count-calls",)):
                record["diagnostic"] = True
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

    sizes = benchlib.QUICK_SIZES if args.quick else benchlib.FULL_SIZES
    sizes = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in sizes.items()}
    print()
    print(
        f"Median of {args.repeat} round(s) each, the rounds in brackets; sizes: "
        + ", ".join(f"{k}={v}" for k, v in sizes.items())
    )
    print(
        f'Machine: {os.cpu_count()} CPUs. Ratios are of the medians; "met?" judges each rayflow column '
        "against the target (W1 throughput also against 2× the DBOS (SQLite) median of this run)."
    )
    print()
    print(table(samples, engines))
    for report in (cpu_report(records), calls_report(records)):
        if report:
            print()
            print(report)
    if failures:
        print()
        print("Failed runs:")
        for failure in failures:
            print("  - " + failure)
        sys.exit(1)


if __name__ == "__main__":
    main()
