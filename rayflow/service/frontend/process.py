"""``rayflow server start`` / ``stop``: the frontend process (a Ray driver) and its pid file.

``start`` attaches to Ray (``--ray-address``, ``RAY_ADDRESS``) or starts a local one, starts the service
actors unless they run (or attaches to them), serves gRPC until SIGTERM/SIGINT, and writes
``<data dir>/frontend.json`` (pid, address) so that ``stop`` finds it. A Ray it started itself stops with it;
a Ray it attached to keeps running, and so do the service actors (workers and other drivers use them).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rayflow.exceptions import RayflowError

if TYPE_CHECKING:
    from rayflow.persistence.url import StoreURL
    from rayflow.service.store_setting import StoreRequest

PID_FILE = "frontend.json"
_EXIT_ERROR = 2


def _store_request(args: argparse.Namespace) -> StoreRequest:
    from rayflow.service.store_setting import requested_store

    return requested_store(getattr(args, "store", None), getattr(args, "data_dir", None))


def pid_file_of(store: StoreURL) -> Path:
    """Where the frontend of ``store`` keeps its pid file: the SQLite data directory, or for PostgreSQL a file
    under ``~/.rayflow/run/`` named after the store (without its secrets)."""
    if store.path is not None:
        return Path(store.path) / PID_FILE
    digest = hashlib.sha1(store.redacted.encode()).hexdigest()[:12]
    return Path.home() / ".rayflow" / "run" / f"frontend-{store.schema}-{digest}.json"


def _label_selector(pairs: list[str]) -> dict[str, str]:
    selector = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"--service-label-selector {pair!r}: write KEY=VALUE (e.g. rayflow.io/service=yes)")
        selector[key] = value
    return selector


def start(args: argparse.Namespace) -> int:
    """Run the frontend in the foreground until SIGTERM/SIGINT; exit code 2 when it cannot start."""
    try:
        return asyncio.run(_serve(args))
    except (ValueError, OSError, RayflowError) as err:
        print(f"rayflow server start: error: {err}", file=sys.stderr)
        return _EXIT_ERROR


async def _serve(args: argparse.Namespace) -> int:
    import ray

    from rayflow.service import bootstrap
    from rayflow.service.frontend.server import FrontendServer, ServerTLS, read_flag_file

    request = _store_request(args)  # before Ray: a job's working directory goes away in ray.init
    selector = _label_selector(args.service_label_selector)
    tls = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            raise ValueError("--tls-cert and --tls-key go together (--tls-client-ca adds mutual TLS to them)")
        tls = ServerTLS(
            cert_chain=read_flag_file(args.tls_cert, "--tls-cert"),
            private_key=read_flag_file(args.tls_key, "--tls-key"),
            client_ca=read_flag_file(args.tls_client_ca, "--tls-client-ca"),
        )
    api_key = None
    if args.api_key_file:
        api_key = (read_flag_file(args.api_key_file, "--api-key-file") or b"").decode().strip()
        if not api_key:
            raise ValueError(f"--api-key-file {args.api_key_file!r} is empty")
    address = args.ray_address or os.environ.get("RAY_ADDRESS")
    started_ray = not ray.is_initialized() and address in (None, "", "local")
    bootstrap.connect_ray(args.ray_address)
    try:
        config = await bootstrap.attach_or_start(
            request,
            ray_namespace=args.ray_namespace,
            num_shards=args.num_shards,
            durability=args.durability,
            service_label_selector=selector,
            **({} if args.max_payload_size is None else {"max_payload_size": args.max_payload_size}),
        )
        server = FrontendServer(
            config,
            bind=args.bind,
            port=args.port,
            tls=tls,
            api_key=api_key,
            ray_address=ray.get_runtime_context().gcs_address,
            payload_store=args.payload_store,
        )
        port = await server.start()
        from rayflow.ui.launch import start_http

        try:
            http = await start_http(args, frontend_bind=args.bind, frontend_port=port,
                                    tls_files=(tls.cert_chain, tls.private_key, tls.client_ca) if tls else None)
        except BaseException:
            await server.stop(grace=0)
            raise
        pid_file = pid_file_of(config.store_url)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "address": f"{args.bind}:{port}",
                    "ray_namespace": config.ray_namespace,
                    "started_at": time.time(),
                    "ui_url": http.ui_url,
                    "metrics_url": http.metrics_url,
                }
            )
        )
        # Before the frontend's line: whoever waits for "listening on" then knows every URL.
        for line in http.notes:
            print(line, flush=True)
        if http.ui_url:
            print(f"rayflow web UI: {http.ui_url}", flush=True)
        if http.metrics_url:
            print(f"rayflow metrics: {http.metrics_url}", flush=True)
        print(
            f"rayflow frontend listening on {args.bind}:{port} (Ray namespace {config.ray_namespace!r}, "
            f"store {config.store_url.redacted}, Ray {ray.get_runtime_context().gcs_address}, "
            f"{'TLS' if tls else 'plaintext'}"
            f"{', API key required' if api_key else ''})",
            flush=True,
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        await http.close()
        await server.stop(grace=5.0)
        if pid_file.exists() and json.loads(pid_file.read_text()).get("pid") == os.getpid():
            pid_file.unlink()
        print("rayflow frontend stopped", flush=True)
        return 0
    finally:
        if started_ray:
            ray.shutdown()


def stop(args: argparse.Namespace) -> int:
    """SIGTERM the frontend of the store (its pid file); wait up to 15 s for it to exit."""
    try:
        pid_file = pid_file_of(_store_request(args).require())
    except (ValueError, RayflowError) as err:
        print(f"rayflow server stop: error: {err}", file=sys.stderr)
        return _EXIT_ERROR
    try:
        info = json.loads(pid_file.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError):
        print(
            f"rayflow server stop: no frontend runs for this store (no readable {pid_file}); "
            f"pass the --store or --data-dir it was started with",
            file=sys.stderr,
        )
        return _EXIT_ERROR
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print(
            f"rayflow server stop: the frontend (pid {pid}) is not running; removed its stale pid file", file=sys.stderr
        )
        return _EXIT_ERROR
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print(f"rayflow frontend at {info.get('address')} (pid {pid}) stopped")
            return 0
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    print(f"rayflow frontend (pid {pid}) did not stop in 15 s: killed")
    return 0
