"""``rayflow server start`` options of the web UI and the metrics endpoint (internal; no aiohttp import)."""

from __future__ import annotations

import argparse

from rayflow import constants


def add_ui_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web UI and metrics")
    group.add_argument("--ui-port", type=int, default=None,
                       help=f"web UI port (default {constants.DEFAULT_UI_PORT}; 0: a free one)")
    group.add_argument("--ui-bind", default=constants.DEFAULT_UI_BIND, help="address the web UI listens on")
    group.add_argument("--no-ui", action="store_true", help="serve no web UI (and /metrics only on --metrics-port)")
    group.add_argument("--metrics-port", type=int, default=None,
                       help="serve /metrics on this port of --ui-bind (0: a free one) instead of the UI's")
    group.add_argument("--ui-tls-ca", help="TLS: PEM CA the UI checks the frontend with (default: --tls-cert)")
    group.add_argument("--ui-tls-server-name", help="TLS: name the UI checks the frontend certificate against")
    group.add_argument("--ui-tls-client-cert", help="mutual TLS: PEM client certificate the UI calls the frontend with")
    group.add_argument("--ui-tls-client-key", help="mutual TLS: PEM private key of --ui-tls-client-cert")
