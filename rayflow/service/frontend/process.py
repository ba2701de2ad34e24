"""``rayflow server start`` / ``stop``: the frontend process (a Ray driver) and its pid file.

``start`` attaches to Ray (``--ray-address``, ``RAY_ADDRESS``) or starts a local one, starts the service
actors unless they run (or attaches to them), serves gRPC until SIGTERM/SIGINT, and writes
``<data dir>/frontend.json`` (pid, address) so that ``stop`` finds it. A Ray it started itself stops with it;
a Ray it attached to keeps running, and so do the service actors (workers and other drivers use them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from rayflow import constants

PID_FILE = "frontend.json"
_EXIT_ERROR = 2


def _data_dir(args: argparse.Namespace) -> str:
    store = getattr(args, "store", None)
    if store:
        if not store.startswith("sqlite:///") and not store.startswith("sqlite://"):
            scheme = store.split("://", 1)[0] if "://" in store else store
            raise ValueError(
                f"--store {store!r}: store {scheme!r} is not supported by this version; use "
                f"sqlite:///path/to/dir (or --data-dir DIR)"
            )
        return os.path.abspath(store.split("://", 1)[1] or constants.DEFAULT_DATA_DIR)
    return os.path.abspath(args.data_dir or os.environ.get(constants.DATA_DIR_ENV) or constants.DEFAULT_DATA_DIR)


def _read_file(path: str | None, flag: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{flag}: cannot read {path!r} ({err.strerror})") from None


def start(args: argparse.Namespace) -> int:
    """Run the frontend in the foreground until SIGTERM/SIGINT; exit code 2 when it cannot start."""
    try:
        return asyncio.run(_serve(args))
    except (ValueError, OSError) as err:
        print(f"rayflow server start: error: {err}", file=sys.stderr)
        return _EXIT_ERROR


async def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    import ray

    from rayflow.service import bootstrap
    from rayflow.service.config import ServiceConfig
    from rayflow.service.frontend.server import FrontendServer, ServerTLS

    data_dir = _data_dir(args)
    tls = None
    if args.tls_cert or args.tls_key or args.tls_client_ca:
        if not (args.tls_cert and args.tls_key):
            raise ValueError("--tls-cert and --tls-key go together (--tls-client-ca adds mutual TLS to them)")
        tls = ServerTLS(
            cert_chain=_read_file(args.tls_cert, "--tls-cert"),
            private_key=_read_file(args.tls_key, "--tls-key"),
            client_ca=_read_file(args.tls_client_ca, "--tls-client-ca"),
        )
    api_key = None
    if args.api_key_file:
        api_key = (_read_file(args.api_key_file, "--api-key-file") or b"").decode().strip()
        if not api_key:
            raise ValueError(f"--api-key-file {args.api_key_file!r} is empty")
    started_ray = not ray.is_initialized() and not (args.ray_address or os.environ.get("RAY_ADDRESS"))
    bootstrap.connect_ray(args.ray_address)
    try:
        config = ServiceConfig(
            ray_namespace=args.ray_namespace, data_dir=data_dir, num_shards=args.num_shards, durability=args.durability
        )
        if args.max_payload_size is not None:
            config = dataclasses.replace(config, max_payload_size=args.max_payload_size)
        existing = await bootstrap.find_service(args.ray_namespace)
        explicit_dir = bool(args.data_dir or args.store)
        config = existing if existing is not None and not explicit_dir else await bootstrap.ensure_service(config)
        server = FrontendServer(
            config,
            bind=args.bind,
            port=args.port,
            tls=tls,
            api_key=api_key,
            ray_address=ray.get_runtime_context().gcs_address,
        )
        port = await server.start()
        pid_file = Path(config.data_dir) / PID_FILE
        pid_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "address": f"{args.bind}:{port}",
                    "ray_namespace": config.ray_namespace,
                    "started_at": time.time(),
                }
            )
        )
        print(
            f"rayflow frontend listening on {args.bind}:{port} (Ray namespace {config.ray_namespace!r}, "
            f"data dir {config.data_dir}, {'TLS' if tls else 'plaintext'}"
            f"{', API key required' if api_key else ''})",
            flush=True,
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
        await server.stop(grace=5.0)
        if pid_file.exists() and json.loads(pid_file.read_text()).get("pid") == os.getpid():
            pid_file.unlink()
        print("rayflow frontend stopped", flush=True)
        return 0
    finally:
        if started_ray:
            ray.shutdown()


def stop(args: argparse.Namespace) -> int:
    """SIGTERM the frontend whose pid file is in the data directory; wait up to 15 s for it to exit."""
    pid_file = Path(_data_dir(args)) / PID_FILE
    try:
        info = json.loads(pid_file.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError):
        print(
            f"rayflow server stop: no frontend runs for data dir {pid_file.parent} (no readable {pid_file}); "
            f"pass the --data-dir it was started with",
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
