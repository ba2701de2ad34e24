"""Large payloads between two activities (issue 14): a numpy array of 10 MB, 100 MB, 1 GB handed from one
activity to the next, on rayflow (zero-copy and durable-only paths), on DBOS and on plain Ray.

  rayflow    a workflow (its own task queue and replica) runs ``produce(mb)`` on task queue A, which returns
             ``np.ones(mb * 2**20 // 8)``, then ``consume(arr)`` on task queue B (a second worker pool). The result
             goes to the payload store of the default client (``<data dir>/payloads``; history keeps a reference).
             Two modes:
             - ``zero-copy``: as shipped; the producing replica also hands the value to the payload owner actor,
               the workflow and the consumer read it from the Ray object store;
             - ``durable``: the producing replica skips the object-store copy (the bench replaces
               ``rayflow._external_payloads._keep_in_object_store`` with a no-op inside ``produce``: there is no
               switch for it), so the workflow replica and the consumer read the durable copy from disk.
  ray        the floor: an actor method returns the array, its ObjectRef is passed to a second actor's method.
  dbos       the same two ``@DBOS.step`` functions in a ``@DBOS.workflow`` on SQLite (the step output is pickled
             and stored in its system database), run under bench/.peers-venv as a subprocess per run.

Figures per run:
  handoff_s    the time from the first activity's return (``time.time()`` taken in ``produce`` just before it
               returns) to the second's start (taken first thing in ``consume``, after its argument is decoded);
               both stamps are written to files in a temporary directory (the processes share the machine clock)
  memory       per process (rayflow: the workflow, produce and consume replicas and the payload owner; ray: the two
               actors; dbos: its process): RSS before the run, peak RSS (``VmHWM``) and "copies" =
               (peak RSS - RSS before) / array size; also the peaks of RssAnon (private memory) and RssShmem (the
               Ray object store's shared memory mapped in), sampled every 20 ms, in array sizes
  bytes        rayflow: bytes added to the payload store (files under it) and to the rest of the data directory
               (SQLite history); dbos: growth of its database files (with -wal)

Every rayflow run gets a fresh service (new Ray namespace, temporary data directory) and fresh worker replicas (so
VmHWM is the run's own) on the local Ray this script starts; the payload owner is killed after each run. Every
ray run gets two fresh actors. Each run is preceded by a 1 MB warm-up round in the same processes (not measured).

Prints one JSON line per (engine, mode, size, round) on stdout, progress on stderr, then the tables.

Usage: python bench/payloads.py [--sizes 10,100,1000] [--engines rayflow,ray,dbos] [--modes zero-copy,durable]
                                [--repeat N] [--json PATH] [--timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

# This file runs under two interpreters: the project's .venv (rayflow, Ray) and bench/.peers-venv (DBOS, with
# --dbos-child). Each imports what it has; the definitions below are made only where their engine is there.
try:
    import numpy as np
except ImportError:  # bench/.peers-venv may lack numpy: DBOS then gets a bytes object of the same size
    np = None  # type: ignore[assignment]
try:
    import ray

    from rayflow import activity, workflow
    from rayflow.client import Client
    from rayflow.common import RetryPolicy
    from rayflow.service import bootstrap, payload_owner
    from rayflow.worker import Worker
except ImportError:
    ray = None  # type: ignore[assignment]
try:
    from dbos import DBOS
except ImportError:
    DBOS = None  # type: ignore[assignment,misc]

PEERS_PYTHON = os.path.join(HERE, ".peers-venv", "bin", "python")
MiB = 1 << 20
ENGINES = ("rayflow", "ray", "dbos")
MODES = ("zero-copy", "durable")
WARMUP_MB = 1  # above the 256 KiB threshold: the warm-up takes the external path too
SAMPLE_S = 0.02
TARGET_SIZE_MB = 100
TARGET_RATIO = 2.0  # rayflow zero-copy handoff <= 2x the Ray floor at 100 MB
TARGET_COPIES = 2.0  # the array plus at most one extra copy, in any process
COPIES_SLACK = 0.1  # of an array size: the process's other allocations during the run (0.4 MB at 10 MB)
QUEUE_WF, QUEUE_A, QUEUE_B = "payloads-wf", "payloads-a", "payloads-b"


# --- shared by every engine (stdlib, numpy when there) ---


def make_array(mb: int):
    """The payload: float64 ones of ``mb`` MiB (bytes of the same size without numpy)."""
    if np is not None:
        return np.ones(mb * MiB // 8)
    return b"\x01" * (mb * MiB)


def check(value, mb: int) -> int:
    """Read all of it (every page touched) and check it is what ``make_array`` made; its element count."""
    if np is not None and isinstance(value, np.ndarray):
        n = mb * MiB // 8
        assert value.shape == (n,) and float(value.sum()) == n, (value.shape, mb)
        return n
    assert len(value) == mb * MiB and value.count(1) == len(value), mb
    return len(value)


def stamp(ts_dir: str, name: str) -> None:
    """Write ``time.time()`` and this pid to ``<ts_dir>/<name>`` (time taken first)."""
    now = time.time()
    with open(os.path.join(ts_dir, name), "w") as f:
        f.write(f"{now!r} {os.getpid()}")


def read_stamp(ts_dir: str, name: str) -> float:
    with open(os.path.join(ts_dir, name)) as f:
        return float(f.read().split()[0])


def handoff_s(ts_dir: str) -> float:
    return read_stamp(ts_dir, "consume_start") - read_stamp(ts_dir, "produce_return")


def tree_bytes(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


def _memory(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssShmem of ``pid`` in KiB (empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssShmem"):
            out[key] = int(value.split()[0])
    return out


class MemorySampler:
    """Baseline of each process at ``start``, its peaks (sampled every 20 ms in a thread, VmHWM at the end)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.base = {role: _memory(pid) for role, pid in self.pids.items()}
        self.peak = {role: dict(m) for role, m in self.base.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for role, pid in self.pids.items():
            for key, value in _memory(pid).items():
                self.peak[role][key] = max(self.peak[role].get(key, 0), value)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self, array_bytes: int) -> dict[str, dict]:
        out = {}
        for role, pid in self.pids.items():
            base, peak = self.base[role], self.peak[role]
            if not base:
                out[role] = {"pid": pid, "error": "process not found"}
                continue

            def copies(key: str, base_key: str | None = None, base: dict = base, peak: dict = peak) -> float:
                return round((peak.get(key, 0) - base.get(base_key or key, 0)) * 1024 / array_bytes, 2)

            out[role] = {
                "pid": pid,
                "rss_before_mb": round(base.get("VmRSS", 0) / 1024, 1),
                "rss_peak_mb": round(peak.get("VmHWM", 0) / 1024, 1),
                "copies": copies("VmHWM", "VmRSS"),
                "anon_copies": copies("RssAnon"),
                "shm_copies": copies("RssShmem"),
            }
        return out


def max_copies(memory: dict[str, dict]) -> float | None:
    values = [m["copies"] for m in memory.values() if "copies" in m]
    return max(values) if values else None


# --- rayflow ---

if ray is not None:
    TIMEOUT = timedelta(minutes=20)
    ONCE = RetryPolicy(maximum_attempts=1)  # a failure (memory, store) ends the run instead of retrying

    async def _skip_object_store(key, value, size) -> None:  # noqa: ANN001
        """Stands in for ``_keep_in_object_store`` in durable mode: the durable copy only."""
        return None

    @activity.defn
    def produce(spec: dict):
        from rayflow import _external_payloads as external

        # Durable mode: this replica (the one that writes the result) does not put it in the object store.
        if not hasattr(external, "_bench_keep"):
            external._bench_keep = external._keep_in_object_store
        external._keep_in_object_store = _skip_object_store if spec["durable"] else external._bench_keep
        arr = make_array(spec["mb"])
        stamp(spec["ts_dir"], "produce_return")
        return arr

    @activity.defn
    def consume(arr, spec: dict) -> int:
        stamp(spec["ts_dir"], "consume_start")
        return check(arr, spec["mb"])

    @workflow.defn
    class Handoff:
        @workflow.run
        async def run(self, spec: dict) -> int:
            arr = await workflow.execute_activity(
                produce, spec, task_queue=QUEUE_A, start_to_close_timeout=TIMEOUT, retry_policy=ONCE
            )
            return await workflow.execute_activity(
                consume, args=[arr, spec], task_queue=QUEUE_B, start_to_close_timeout=TIMEOUT, retry_policy=ONCE
            )

    def _owner_pid() -> int | None:
        for pid in benchlib.descendants(os.getpid()):
            if benchlib.cmdline(pid).startswith("ray::PayloadOwner"):
                return pid
        return None

    async def _kill_owner() -> None:
        """Kill the cluster's payload owner (a fresh one, and a fresh VmHWM, for the next run)."""
        handle = payload_owner.owner(create=False)
        payload_owner.reset()
        if handle is None:
            return
        ray.kill(handle, no_restart=True)
        for _ in range(100):
            try:
                ray.get_actor(payload_owner.NAME, namespace=payload_owner.RAY_NAMESPACE)
            except ValueError:
                break
            await asyncio.sleep(0.1)
        payload_owner.reset()

    async def rayflow_run(mb: int, mode: str) -> dict:
        durable = mode == "durable"
        data_dir = tempfile.mkdtemp(prefix="rayflow-payloads-")
        ts_root = tempfile.mkdtemp(prefix="rayflow-payloads-ts-")
        client = None
        prefix = uuid.uuid4().hex[:8]

        async def handoff(size: int, name: str) -> tuple[int, str]:
            ts_dir = os.path.join(ts_root, name)
            os.makedirs(ts_dir)
            spec = {"mb": size, "ts_dir": ts_dir, "durable": durable}
            result = await client.execute_workflow(
                Handoff.run, spec, id=f"payloads-{prefix}-{name}", task_queue=QUEUE_WF
            )
            return result, ts_dir

        try:
            client = await Client.connect(store=f"sqlite://{data_dir}", ray_namespace=f"rayflow-payloads-{prefix}")
            store = client.data_converter.payload_store
            if store is None or not store.url.startswith("file://"):
                raise RuntimeError(f"the client has no local payload store ({store!r})")
            store_dir = store.url[len("file://") :]
            async with (
                Worker(client, task_queue=QUEUE_WF, workflows=[Handoff]) as wf_worker,
                Worker(client, task_queue=QUEUE_A, activities=[produce]) as a_worker,
                Worker(client, task_queue=QUEUE_B, activities=[consume]) as b_worker,
            ):
                await handoff(WARMUP_MB, "warm")
                pids = {
                    "workflow replica": wf_worker.replica_infos[0]["pid"],
                    "produce replica": a_worker.replica_infos[0]["pid"],
                    "consume replica": b_worker.replica_infos[0]["pid"],
                }
                owner = _owner_pid()
                if owner is not None:  # durable mode: none (nothing was kept)
                    pids["payload owner"] = owner
                store_before = tree_bytes(store_dir)
                data_before = tree_bytes(data_dir) - store_before
                with MemorySampler(pids) as sampler:
                    started = time.perf_counter()
                    result, ts_dir = await handoff(mb, "run")
                    workflow_s = time.perf_counter() - started
                store_after = tree_bytes(store_dir)
                # Durable mode: nothing may have reached the payload owner (else the patch missed its target).
                owner_after = _owner_pid()
                data_after = tree_bytes(data_dir) - store_after
            assert result == mb * MiB // 8, result
            array_bytes = mb * MiB
            memory = sampler.figures(array_bytes)
            if durable and owner_after is not None:
                raise RuntimeError(
                    "durable mode: the value still reached the payload owner (rayflow._external_payloads changed?)"
                )
            return {
                "handoff_s": round(handoff_s(ts_dir), 4),
                "workflow_s": round(workflow_s, 3),
                "array_bytes": array_bytes,
                "store_bytes_written": store_after - store_before,
                "history_bytes_written": data_after - data_before,
                "max_copies": max_copies(memory),
                "memory": memory,
            }
        finally:
            if client is not None:
                await bootstrap.stop_service(client.service_config)
            await _kill_owner()
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(ts_root, ignore_errors=True)
            await asyncio.sleep(1.0)  # let the killed actors' processes exit

    # --- plain Ray: the floor ---

    @ray.remote(num_cpus=0)
    class FloorProducer:
        def pid(self) -> int:
            return os.getpid()

        def produce(self, mb: int, ts_dir: str):
            arr = make_array(mb)
            stamp(ts_dir, "produce_return")
            return arr

    @ray.remote(num_cpus=0)
    class FloorConsumer:
        def pid(self) -> int:
            return os.getpid()

        def consume(self, arr, mb: int, ts_dir: str) -> int:
            stamp(ts_dir, "consume_start")
            return check(arr, mb)

    async def ray_run(mb: int, mode: str) -> dict:
        ts_root = tempfile.mkdtemp(prefix="ray-payloads-ts-")
        producer, consumer = FloorProducer.remote(), FloorConsumer.remote()
        try:

            async def handoff(size: int, name: str) -> tuple[int, str]:
                ts_dir = os.path.join(ts_root, name)
                os.makedirs(ts_dir)
                ref = producer.produce.remote(size, ts_dir)
                return await consumer.consume.remote(ref, size, ts_dir), ts_dir

            pids = {"producer actor": await producer.pid.remote(), "consumer actor": await consumer.pid.remote()}
            await handoff(WARMUP_MB, "warm")
            with MemorySampler(pids) as sampler:
                started = time.perf_counter()
                result, ts_dir = await handoff(mb, "run")
                total_s = time.perf_counter() - started
            assert result == mb * MiB // 8, result
            memory = sampler.figures(mb * MiB)
            return {
                "handoff_s": round(handoff_s(ts_dir), 4),
                "workflow_s": round(total_s, 3),
                "array_bytes": mb * MiB,
                "max_copies": max_copies(memory),
                "memory": memory,
            }
        finally:
            ray.kill(producer)
            ray.kill(consumer)
            shutil.rmtree(ts_root, ignore_errors=True)
            await asyncio.sleep(1.0)


# --- DBOS (under bench/.peers-venv, one subprocess per run) ---

if DBOS is not None:

    @DBOS.step()
    def dbos_produce(mb: int, ts_dir: str):
        arr = make_array(mb)
        stamp(ts_dir, "produce_return")
        return arr

    @DBOS.step()
    def dbos_consume(arr, mb: int, ts_dir: str) -> int:
        stamp(ts_dir, "consume_start")
        return check(arr, mb)

    @DBOS.workflow()
    def dbos_handoff(mb: int, ts_dir: str) -> int:
        return dbos_consume(dbos_produce(mb, ts_dir), mb, ts_dir)

    def dbos_child(mb: int) -> dict:
        """One DBOS run on a fresh SQLite system database; its figures (or the error)."""
        data_dir = tempfile.mkdtemp(prefix="dbos-payloads-")
        db = os.path.join(data_dir, "dbos.sqlite")
        figures: dict = {"array_bytes": mb * MiB, "payload_type": "numpy" if np is not None else "bytes"}
        try:
            DBOS(config={"name": "rayflow-payloads", "system_database_url": f"sqlite:///{db}", "log_level": "WARNING"})
            DBOS.launch()
            for name in ("warm", "run"):
                os.makedirs(os.path.join(data_dir, name))
            DBOS.start_workflow(dbos_handoff, WARMUP_MB, os.path.join(data_dir, "warm")).get_result()
            db_before = _db_bytes(db)
            ts_dir = os.path.join(data_dir, "run")
            with MemorySampler({"dbos process": os.getpid()}) as sampler:
                started = time.perf_counter()
                result = DBOS.start_workflow(dbos_handoff, mb, ts_dir).get_result()
                workflow_s = time.perf_counter() - started
            assert result in (mb * MiB // 8, mb * MiB), result
            memory = sampler.figures(mb * MiB)
            figures.update(
                handoff_s=round(handoff_s(ts_dir), 4),
                workflow_s=round(workflow_s, 3),
                db_bytes_written=_db_bytes(db) - db_before,
                max_copies=max_copies(memory),
                memory=memory,
            )
        except Exception as err:  # noqa: BLE001 - recorded in the table (1 GB: SQLite's string limit, memory)
            figures["error"] = f"{type(err).__name__}: {str(err)[:300]}"
        finally:
            try:
                DBOS.destroy(destroy_registry=False)
            except Exception:  # noqa: BLE001
                pass
            shutil.rmtree(data_dir, ignore_errors=True)
        return figures

    def _db_bytes(db: str) -> int:
        return sum(os.path.getsize(db + s) for s in ("", "-wal", "-shm") if os.path.exists(db + s))


def dbos_run(mb: int, timeout: float) -> dict:
    """One DBOS run in a subprocess under bench/.peers-venv; its figures, or ``{"error": ...}``."""
    command = [PEERS_PYTHON, os.path.abspath(__file__), "--dbos-child", str(mb)]
    benchlib.log("$ " + " ".join(command))
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"array_bytes": mb * MiB, "error": f"timeout after {timeout:g} s"}
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"engine"' in line:
            return json.loads(line)["figures"]
    tail = (done.stderr or "").strip().splitlines()[-3:]
    return {"array_bytes": mb * MiB, "error": f"exit {done.returncode}: {' | '.join(tail)[:300]}"}


# --- driver ---


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.0f}"


def cell(rounds: list[float]) -> str:
    if not rounds:
        return "—"
    median = fmt(statistics.median(rounds))
    return median if len(rounds) == 1 else f"{median} ({', '.join(fmt(r) for r in rounds)})"


def _mb(n: float | None) -> str:
    return "—" if n is None else f"{n / MiB:.1f} MB"


def tables(records: list[dict], sizes: list[int]) -> str:
    by: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        by.setdefault((f"{r['engine']} {r['mode']}", r["sizes"]["size_mb"]), []).append(r["figures"])

    def rounds(key: str, mb: int, figure: str = "handoff_s") -> list[float]:
        return [f[figure] for f in by.get((key, mb), []) if f.get(figure) is not None]

    def errors(key: str, mb: int) -> str:
        found = sorted({f["error"] for f in by.get((key, mb), []) if "error" in f})
        return "; ".join(found)

    def handoff(key: str, mb: int) -> str:
        text = cell(rounds(key, mb))
        err = errors(key, mb)
        if err:
            text = f"{text} — error: {err}" if text != "—" else f"error: {err}"
        return text

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    header = [
        "size",
        "rayflow zero-copy handoff s",
        "ratio to Ray floor",
        "rayflow durable handoff s",
        "DBOS handoff s",
        "Ray floor handoff s",
        "rayflow zero-copy peak RSS MB / copies per process",
        "bytes written",
        "target met?",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for mb in sizes:
        zero, floor = median(rounds("rayflow zero-copy", mb)), median(rounds("ray floor", mb))
        ratio = zero / floor if zero is not None and floor else None
        runs = by.get(("rayflow zero-copy", mb), [])
        memory = []
        if runs and "memory" in runs[0]:
            for role in runs[0]["memory"]:
                peaks = [f["memory"][role].get("rss_peak_mb") for f in runs if role in f.get("memory", {})]
                copies = [f["memory"][role].get("copies") for f in runs if role in f.get("memory", {})]
                short = role.replace(" replica", "").replace("payload ", "")
                memory.append(
                    f"{short} {fmt(median([p for p in peaks if p is not None]), 0)}/"
                    f"{fmt(median([c for c in copies if c is not None]), 2)}"
                )
        written = []
        for key, figure, label in (
            ("rayflow zero-copy", "store_bytes_written", "rayflow store"),
            ("rayflow durable", "store_bytes_written", "rayflow store (durable)"),
            ("dbos sqlite", "db_bytes_written", "DBOS db"),
        ):
            value = median(rounds(key, mb, figure))
            if value is not None:
                written.append(f"{label} {_mb(value)}")
        verdicts = []
        rayflow_copies = rounds("rayflow zero-copy", mb, "max_copies") + rounds("rayflow durable", mb, "max_copies")
        if mb == TARGET_SIZE_MB:
            if ratio is None:
                verdicts.append("ratio: not measured")
            else:
                verdicts.append(f"ratio ≤ {TARGET_RATIO:g}: {'yes' if ratio <= TARGET_RATIO else 'NO'}")
        if rayflow_copies:
            worst = max(rayflow_copies)
            ok = worst <= TARGET_COPIES + COPIES_SLACK
            verdicts.append(f"copies ≤ {TARGET_COPIES:g} (worst {worst:.2f}): {'yes' if ok else 'NO'}")
        cells = [
            f"{mb} MB",
            handoff("rayflow zero-copy", mb),
            "—" if ratio is None else f"×{ratio:.2f}",
            handoff("rayflow durable", mb),
            handoff("dbos sqlite", mb),
            handoff("ray floor", mb),
            ", ".join(memory) or "—",
            ", ".join(written) or "—",
            "; ".join(verdicts) or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")

    lines += [
        "",
        "Memory per process (median of the rounds): RSS before the run and peak RSS (VmHWM) in MB; copies = (peak "
        "RSS - RSS before) / array size; private = peak RssAnon, shared = peak RssShmem (Ray object store mapped in), "
        "each above its value before, in array sizes.",
        "",
        "| size | engine | process | RSS before MB | peak RSS MB | copies | private | shared |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mb in sizes:
        for key in ("rayflow zero-copy", "rayflow durable", "ray floor", "dbos sqlite"):
            runs = [f for f in by.get((key, mb), []) if "memory" in f]
            if not runs:
                continue
            for role in runs[0]["memory"]:

                def m(figure: str, role: str = role, runs: list = runs) -> str:
                    values = [f["memory"][role][figure] for f in runs if figure in f["memory"].get(role, {})]
                    return fmt(median(values), 2 if "copies" in figure else 0)

                lines.append(
                    f"| {mb} MB | {key} | {role} | {m('rss_before_mb')} | {m('rss_peak_mb')} | {m('copies')} | "
                    f"{m('anon_copies')} | {m('shm_copies')} |"
                )
    return "\n".join(lines)


async def run_all(args: argparse.Namespace, sizes: list[int], engines: list[str], modes: list[str]) -> list[dict]:
    records = []
    for mb in sizes:
        for attempt in range(args.repeat):
            jobs: list[tuple[str, str]] = []
            if "rayflow" in engines:
                jobs += [("rayflow", mode) for mode in modes]
            if "ray" in engines:
                jobs.append(("ray", "floor"))
            if "dbos" in engines:
                jobs.append(("dbos", "sqlite"))
            for engine, mode in jobs:
                benchlib.log(f"{engine} ({mode}) {mb} MB, round {attempt + 1}/{args.repeat}")
                try:
                    if engine == "rayflow":
                        figures = await rayflow_run(mb, mode)
                    elif engine == "ray":
                        figures = await ray_run(mb, mode)
                    else:
                        figures = await asyncio.to_thread(dbos_run, mb, args.timeout)
                except Exception as err:  # noqa: BLE001 - recorded, the other runs go on
                    figures = {"array_bytes": mb * MiB, "error": f"{type(err).__name__}: {str(err)[:300]}"}
                benchlib.emit(engine, "payloads", mode, figures, {"size_mb": mb, "round": attempt + 1})
                records.append({"engine": engine, "mode": mode, "figures": figures, "sizes": {"size_mb": mb}})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="10,100,1000", help="array sizes in MiB, comma-separated (default %(default)s)"
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help="subset of rayflow,ray,dbos (default all)")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="rayflow paths: subset of zero-copy,durable (default both)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds per (engine, size); the table shows medians")
    parser.add_argument("--json", metavar="PATH", help="also write every result line to PATH")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per DBOS subprocess (default 1800)")
    parser.add_argument("--dbos-child", type=int, metavar="MB", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.dbos_child is not None:  # under bench/.peers-venv, started by dbos_run
        if DBOS is None:
            sys.exit("dbos is not installed in this interpreter (use bench/.peers-venv/bin/python)")
        benchlib.emit("dbos", "payloads", "sqlite", dbos_child(args.dbos_child), {"size_mb": args.dbos_child})
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [e for e in engines if e not in ENGINES] + [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown engine or mode: {', '.join(unknown)}")
    if ray is None and {"rayflow", "ray"} & set(engines):
        sys.exit("rayflow and Ray are not importable here: run with the project's .venv/bin/python")
    if "dbos" in engines and not os.path.exists(PEERS_PYTHON):
        sys.exit(f"{PEERS_PYTHON} is missing: run `bash bench/setup_peers.sh` first (or --engines rayflow,ray)")

    started_ray = False
    try:
        if {"rayflow", "ray"} & set(engines):
            # Always a fresh local Ray (never an existing cluster; RAY_ADDRESS ignored), as bench/workloads.py.
            ray.init(address="local", include_dashboard=False)
            started_ray = True
        records = asyncio.run(run_all(args, sizes, engines, modes))
    finally:
        if started_ray and ray.is_initialized():
            ray.shutdown()

    if args.json:
        with open(args.json, "w") as f:
            for record in records:
                f.write(json.dumps(record) + "\n")
    print()
    print(
        f"Handoff = first activity's return -> second's start (median of {args.repeat} round(s), rounds in brackets); "
        f"targets at {TARGET_SIZE_MB} MB: rayflow zero-copy ≤ {TARGET_RATIO:g}× the Ray floor; in every rayflow "
        f"process at most {TARGET_COPIES:g} copies of the array (the array and one extra; judged with "
        f"{COPIES_SLACK:g} array size of slack for other allocations). Machine: {os.cpu_count()} CPUs."
    )
    print()
    print(tables(records, sizes))
    failed = [r for r in records if "error" in r["figures"]]
    if failed:
        print()
        print("Runs with errors:")
        for r in failed:
            print(f"  - {r['engine']} {r['mode']} {r['sizes']['size_mb']} MB: {r['figures']['error']}")


if __name__ == "__main__":
    main()
