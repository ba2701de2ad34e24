"""Shared, stdlib-only helpers of the comparison benchmarks (bench/workloads.py, bench/peers/*.py, bench/compare.py).

Imported by scripts running under two interpreters (the project's .venv and bench/.peers-venv), so it must not
import anything outside the standard library. Workflow and activity code never refers to this module.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable

WORKLOADS = ("w1", "w2", "w3", "w4")

# Full sizes (the definitions) and the --quick smoke sizes.
FULL_SIZES = dict(
    w1_workflows=1000,
    w1_concurrency=100,
    w2_workflows=200,
    w2_activities=10,
    w2_concurrency=50,
    w3_children=100,
    w4_count=5000,
    w4_concurrency=100,
)
QUICK_SIZES = dict(
    w1_workflows=200,
    w1_concurrency=100,
    w2_workflows=40,
    w2_activities=10,
    w2_concurrency=50,
    w3_children=20,
    w4_count=500,
    w4_concurrency=100,
)
WARMUP_WORKFLOWS = 20  # hello workflows run before every measured workload (not counted)


def add_workload_args(parser: argparse.ArgumentParser) -> None:
    """The options every engine script shares (compare.py forwards them as given)."""
    parser.add_argument(
        "--workload", default="all", choices=[*WORKLOADS, "all"], help="which workload to run (default all)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each workload (default 1)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK_SIZES.items()),
    )
    for name, default in FULL_SIZES.items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=int, default=None, help=f"default {default} (quick {QUICK_SIZES[name]})"
        )


def resolve_sizes(args: argparse.Namespace) -> dict[str, int]:
    """Fill unset size options from the full or the quick defaults; returns the sizes in use."""
    base = QUICK_SIZES if args.quick else FULL_SIZES
    sizes = {}
    for name, default in base.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        sizes[name] = getattr(args, name)
    return sizes


def selected_workloads(args: argparse.Namespace) -> list[str]:
    return list(WORKLOADS) if args.workload == "all" else [args.workload]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(engine: str, workload: str, mode: str, figures: dict, sizes: dict | None = None) -> None:
    """One result as a JSON line on stdout."""
    record = {"engine": engine, "workload": workload, "mode": mode, "figures": figures}
    if sizes is not None:
        record["sizes"] = sizes
    print(json.dumps(record), flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the same rule as bench/hello.py)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def latency_figures(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


class Progress:
    """Prints ``label: done/total <what>`` to stderr every ``interval`` seconds while active."""

    def __init__(self, label: str, total: int, what: str = "done", interval: float = 2.0) -> None:
        self.label, self.total, self.what, self.interval = label, total, what, interval
        self.done = 0
        self._task: asyncio.Task | None = None

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            log(f"{self.label}: {self.done}/{self.total} {self.what}")

    async def __aenter__(self) -> Progress:
        self._task = asyncio.create_task(self._report())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


async def tick(label: str, what: str) -> None:
    """A progress line every 2 s until cancelled (for waits with nothing to count)."""
    started = time.perf_counter()
    while True:
        await asyncio.sleep(2)
        log(f"{label}: {what} ({time.perf_counter() - started:.0f} s)")


async def timed_bounded(concurrency: int, count: int, fn: Callable[[int], Awaitable[None]]) -> float:
    """``bounded`` and the seconds it took (first start -> last result)."""
    started = time.perf_counter()
    await bounded(concurrency, count, fn)
    return time.perf_counter() - started


async def bounded(concurrency: int, count: int, fn: Callable[[int], Awaitable[None]]) -> None:
    """Run ``fn(0) .. fn(count - 1)`` with at most ``concurrency`` in flight."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await fn(i)

    await asyncio.gather(*(one(i) for i in range(count)))


# --- processes: RSS and CPU from /proc (no psutil in either venv) ---


def _status(pid: int) -> dict[str, str]:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root: int) -> set[int]:
    """``root`` and every process below it."""
    parent: dict[int, int] = {}
    for pid in _all_pids():
        try:
            parent[pid] = int(_status(pid)["PPid"])
        except (OSError, KeyError, ValueError):
            continue
    found = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ray_worker_pids(root: int | None = None) -> list[int]:
    """Processes whose cmdline contains ``ray::`` (Ray workers and actors) among the descendants of ``root``
    (default: this process, so the Ray this driver started; other Rays on the machine are ignored)."""
    return sorted(pid for pid in descendants(root or os.getpid()) if "ray::" in cmdline(pid))


def rss_kb(pids: Iterable[int]) -> int:
    """Sum of VmRSS (KiB) over ``pids`` (processes that exited count 0)."""
    total = 0
    for pid in pids:
        try:
            total += int(_status(pid).get("VmRSS", "0 kB").split()[0])
        except (OSError, ValueError):
            pass
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds consumed so far by ``pids``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def cpu_by_pid(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds so far of each of ``pids`` (one reading each; processes that exited are left out)."""
    readings = {}
    for pid in pids:
        if os.path.exists(f"/proc/{pid}"):
            readings[pid] = cpu_seconds([pid])
    return readings


def postgres_server_pids() -> list[int]:
    """The processes of a PostgreSQL server on this machine (postmaster and its children), by their titles."""
    found = []
    for pid in _all_pids():
        line = cmdline(pid)
        if line.startswith("postgres") or "/bin/postgres " in line or line.endswith("/bin/postgres"):
            found.append(pid)
    return found


def process_role(pid: int) -> str:
    """What a process below a driver that started Ray is, from its cmdline: ``raylet``, ``gcs``, the actor
    class of a Ray worker (``ray::<Class>...``), ``ray (idle workers)`` or ``other`` (Ray's agents, log
    monitor...)."""
    line = cmdline(pid)
    if "gcs_server" in line:
        return "gcs"
    if "/raylet" in line.split(" ", 1)[0]:
        return "raylet"
    if line.startswith("ray::"):
        name = line[5:].split(" ", 1)[0].split(".", 1)[0]
        return "ray (idle workers)" if name == "IDLE" else name
    return "other"


def cpu_split(
    before: dict[int, float], after: dict[int, float], seconds: float, role_of: Callable[[int], str]
) -> dict[str, float]:
    """CPU used between two ``cpu_by_pid`` readings per role, in % of one core over ``seconds`` (a process
    that started in between counts from 0). Roles sorted by use, then ``total``."""
    used: dict[str, float] = {}
    for pid, cpu in after.items():
        role = role_of(pid)
        used[role] = used.get(role, 0.0) + cpu - before.get(pid, 0.0)
    split = {role: round(100 * cpu / seconds, 1) for role, cpu in sorted(used.items(), key=lambda kv: -kv[1])}
    split["total"] = round(100 * sum(used.values()) / seconds, 1)
    return split


async def settle(
    pids_fn: Callable[[], list[int]],
    *,
    ready: Callable[[], Awaitable[bool]] | None = None,
    cpu_threshold: float = 0.15,
    quiet_samples: int = 2,
    timeout: float = 120.0,
) -> dict:
    """Wait until the engine is at rest: ``ready()`` (if given) is true, then the engine processes used less
    than ``cpu_threshold`` of a core for ``quiet_samples`` consecutive one-second samples. Returns how long it
    took and whether it settled before ``timeout``."""
    started = time.perf_counter()
    deadline = started + timeout
    if ready is not None:
        while time.perf_counter() < deadline and not await ready():
            await asyncio.sleep(0.5)
    quiet = 0
    while time.perf_counter() < deadline and quiet < quiet_samples:
        pids = pids_fn()
        before, t0 = cpu_seconds(pids), time.perf_counter()
        await asyncio.sleep(1.0)
        load = (cpu_seconds(pids) - before) / (time.perf_counter() - t0)
        quiet = quiet + 1 if load < cpu_threshold else 0
    return {"settle_s": round(time.perf_counter() - started, 1), "settled": quiet >= quiet_samples}


#: Where a Ray process belongs in the W4 figures, by the actor class in its title (``ray::<Class>...``); the
#: service is the shards and Matching together.
RAY_ROLES = {"ray::HistoryShard": "shards", "ray::MatchingActor": "matching", "ray::WorkerReplica": "worker"}


def _roles(pids: Iterable[int]) -> dict[str, list[int]]:
    """``pids`` grouped by role (``RAY_ROLES``); processes of no known role are left out."""
    grouped: dict[str, list[int]] = {}
    for pid in pids:
        line = cmdline(pid)
        role = next((r for prefix, r in RAY_ROLES.items() if line.startswith(prefix)), None)
        if role is not None:
            grouped.setdefault(role, []).append(pid)
            if role != "worker":
                grouped.setdefault("service", []).append(pid)
    return grouped


async def w4_memory(
    count: int,
    pids_fn: Callable[[], list[int]],
    start_all: Callable[[], Awaitable[None]],
    *,
    ready: Callable[[], Awaitable[bool]] | None = None,
) -> dict:
    """The W4 memory figure: RSS of the engine's processes before starting ``count`` waiting workflows and once
    they all wait, per workflow; for rayflow also per role (the service: shards and Matching; the worker
    replicas), so what the service keeps per waiting workflow is told apart from the workers' capped cache."""
    await settle(pids_fn, timeout=30.0)
    pids = pids_fn()
    before, roles_before = rss_kb(pids), {role: rss_kb(group) for role, group in _roles(pids).items()}
    await start_all()
    # The engine works through the first task of each for a while after the last start: at 100,000, minutes.
    rest = await settle(pids_fn, ready=ready, timeout=max(120.0, count / 50))
    pids = pids_fn()
    after, roles_after = rss_kb(pids), {role: rss_kb(group) for role, group in _roles(pids).items()}
    by_role = {}
    for role in sorted(roles_after):
        start = roles_before.get(role, 0)
        by_role[f"{role}_rss_before_mb"] = round(start / 1024, 1)
        by_role[f"{role}_rss_after_mb"] = round(roles_after[role] / 1024, 1)
        by_role[f"{role}_kb_per_workflow"] = round((roles_after[role] - start) / count, 2)
    figures = {
        "rss_before_mb": round(before / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "kb_per_workflow": round((after - before) / count, 2),
        **by_role,
        **rest,
    }
    log(f"w4 memory at rest: {json.dumps(figures)}")  # known before the drain (long at 100,000)
    return figures


def run_all(
    engine: str,
    mode: str,
    args: argparse.Namespace,
    workloads: dict[str, Callable[[argparse.Namespace], Awaitable[dict]]],
) -> None:
    """Run the selected workloads ``--repeat`` times each, one JSON line per run."""
    sizes = resolve_sizes(args)

    async def main() -> None:
        for name in selected_workloads(args):
            for attempt in range(args.repeat):
                log(f"{engine} ({mode}) {name} run {attempt + 1}/{args.repeat}")
                figures = await workloads[name](args)
                emit(engine, name, mode, figures, {k: v for k, v in sizes.items() if k.startswith(name)})

    asyncio.run(main())
