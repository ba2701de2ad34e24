"""Logging of the service actors and worker replicas (internal): a quiet console, full logs on disk.

Ray forwards every actor's stderr to the driver's console, so an INFO line per shard start from every actor
would bury the program's own output. Each actor logs at INFO (or ``RAYFLOW_LOG_LEVEL``) to a file of its own in
the Ray session's log directory (``<session>/logs/rayflow-<name>.log``, next to Ray's own), and to stderr, hence
the driver's console, only from WARNING (or ``RAYFLOW_LOG_LEVEL`` when it asks for more).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rayflow import constants

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(name: str, level: str = "") -> None:
    """Set up logging for the actor ``name`` (e.g. ``history-0``) in this process (once).

    ``level``: the service's ``log_level`` (taken from ``RAYFLOW_LOG_LEVEL`` where the service was started;
    Ray's worker processes do not see the driver's environment); else this process's ``RAYFLOW_LOG_LEVEL``.
    """
    root = logging.getLogger()
    if getattr(root, "_rayflow_configured", False):
        return
    root._rayflow_configured = True  # type: ignore[attr-defined]
    asked = (level or os.environ.get(constants.LOG_LEVEL_ENV, "")).upper()
    file_level = getattr(logging, asked, logging.INFO) if asked else logging.INFO
    console_level = min(logging.WARNING, file_level) if asked else logging.WARNING
    root.setLevel(min(file_level, console_level))
    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(console)
    path = _log_path(name)
    if path is not None:
        handler = logging.FileHandler(path)
        handler.setLevel(file_level)
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)


def _log_path(name: str) -> Path | None:
    try:
        import ray

        session = ray._private.worker._global_node.get_session_dir_path()
    except Exception:  # not in a Ray worker: console only
        return None
    logs = Path(session) / "logs"
    return logs / f"rayflow-{name}-{os.getpid()}.log" if logs.is_dir() else None
