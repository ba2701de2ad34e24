"""Start the web UI and ``/metrics`` next to the frontend of ``rayflow server start`` (internal).

The UI calls the frontend in the same process through its gRPC API, as any remote client would, so the
frontend's API key and TLS apply to it unchanged:

- TLS (``--tls-cert``/``--tls-key``): the UI serves HTTPS with the same certificate, and checks the frontend's
  certificate against ``--ui-tls-ca`` (default: the ``--tls-cert`` file, which then must hold its root) and
  ``--ui-tls-server-name`` (default: the host it dials).
- Mutual TLS (``--tls-client-ca``): the UI asks browsers for a client certificate signed by that CA too (it
  must not open a door the frontend keeps shut), and calls the frontend with ``--ui-tls-client-cert`` and
  ``--ui-tls-client-key``; without them it serves no UI and says so.
- API key: the browser sends it and the UI forwards it; the UI holds none of its own.

``/metrics`` (``rayflow.telemetry.http``) is mounted on the UI app, or served alone on ``--metrics-port``.
"""

from __future__ import annotations

import argparse
import errno
import socket
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from rayflow import constants
from rayflow.exceptions import RayflowError, RPCError
from rayflow.service.frontend.remote import GrpcServiceConnection, TLSConfig
from rayflow.service.frontend.server import read_flag_file
from rayflow.telemetry import http as telemetry_http
from rayflow.ui import app as ui_app

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass
class HttpServers:
    """What ``start_http`` started: the UI and metrics URLs (None when not served) and what to tell the user."""

    ui_url: str | None = None
    metrics_url: str | None = None
    notes: list[str] = field(default_factory=list)
    runners: list[web.AppRunner] = field(default_factory=list)

    async def close(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _url(scheme: str, bind: str, port: int) -> str:
    host = socket.gethostname() if bind in _WILDCARDS else bind
    return f"{scheme}://{_host(host)}:{port}"


async def _check_reachable(target: str, tls: TLSConfig) -> None:
    """The UI can call the frontend over TLS (a refused API key still proves the handshake worked)."""
    connection = GrpcServiceConnection(target, tls=tls)
    try:
        await connection.get_cluster_info(timeout=10.0)
    except RPCError as err:
        if getattr(err.status, "name", "") != "UNAUTHENTICATED":
            raise
    except RayflowError as err:
        raise ValueError(
            f"the web UI cannot call the frontend at {target} over TLS ({err}); pass --ui-tls-ca (the CA that "
            f"signed --tls-cert) and --ui-tls-server-name (a name in the certificate), or --no-ui"
        ) from None
    finally:
        await connection.close()


def _listen_error(err: OSError, what: str, bind: str, port: int, flag: str) -> ValueError:
    reason = "the port is in use" if err.errno == errno.EADDRINUSE else err.strerror or str(err)
    return ValueError(f"the {what} cannot listen on {_host(bind)}:{port} ({reason}); pass {flag} 0 for a free port")


async def start_http(args: argparse.Namespace, *, frontend_bind: str, frontend_port: int,
                     tls_files: tuple[bytes, bytes, bytes | None] | None) -> HttpServers:
    """Start the UI (unless ``--no-ui``) with ``/metrics`` on it, or ``/metrics`` alone on ``--metrics-port``.

    ``tls_files``: the frontend's (certificate chain, private key, client CA) PEM bytes, or None (plaintext).
    Raises ``ValueError`` (said to the user, exit code 2) when a port asked for is taken or TLS cannot work.
    """
    servers = HttpServers()
    bind = args.ui_bind
    try:
        if args.metrics_port is not None:
            try:
                runner = await telemetry_http.serve_metrics(bind, args.metrics_port)
            except OSError as err:
                raise _listen_error(err, "metrics endpoint", bind, args.metrics_port, "--metrics-port") from None
            servers.runners.append(runner)
            servers.metrics_url = _url("http", bind, runner.addresses[0][1]) + "/metrics"
        if not args.no_ui:
            await _start_ui(args, servers, frontend_bind, frontend_port, tls_files)
    except BaseException:
        await servers.close()
        raise
    return servers


async def _start_ui(args: argparse.Namespace, servers: HttpServers, frontend_bind: str, frontend_port: int,
                    tls_files: tuple[bytes, bytes, bytes | None] | None) -> None:
    target = f"{_host(_WILDCARDS.get(frontend_bind, frontend_bind))}:{frontend_port}"
    client_tls, context = None, None
    if tls_files is not None:
        cert_chain, _, client_ca = tls_files
        client_cert = read_flag_file(args.ui_tls_client_cert, "--ui-tls-client-cert")
        client_key = read_flag_file(args.ui_tls_client_key, "--ui-tls-client-key")
        if bool(client_cert) != bool(client_key):
            raise ValueError("--ui-tls-client-cert and --ui-tls-client-key go together")
        if client_ca is not None and client_cert is None:
            servers.notes.append(
                "web UI: off: the frontend requires client certificates (--tls-client-ca); give the UI one signed "
                "by that CA with --ui-tls-client-cert and --ui-tls-client-key (browsers then need one too)"
            )
            return
        client_tls = TLSConfig(server_root_ca_cert=read_flag_file(args.ui_tls_ca, "--ui-tls-ca") or cert_chain,
                               domain=args.ui_tls_server_name, client_cert=client_cert,
                               client_private_key=client_key)
        await _check_reachable(target, client_tls)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=client_ca.decode())
    application = ui_app.build_app(target, client_tls)
    if args.metrics_port is None:
        telemetry_http.add_metrics_route(application)
    port = constants.DEFAULT_UI_PORT if args.ui_port is None else args.ui_port
    try:
        runner, port = await ui_app.serve(application, args.ui_bind, port, context)
    except OSError as err:
        if args.ui_port is None and err.errno == errno.EADDRINUSE:  # the default port: serve on without the UI
            servers.notes.append(f"web UI: off: {_host(args.ui_bind)}:{port} is in use (pass --ui-port 0 for a "
                                 f"free port, or --no-ui)")
            return
        raise _listen_error(err, "web UI", args.ui_bind, port, "--ui-port") from None
    servers.runners.append(runner)
    servers.ui_url = _url("https" if context else "http", args.ui_bind, port)
    if args.metrics_port is None:
        servers.metrics_url = servers.ui_url + "/metrics"
