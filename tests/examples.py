"""Running an example as a user runs it: a Python process with a Ray and a data directory of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What would point an example at the test session's Ray or store instead of its own.
_SESSION_ENV = ("RAY_ADDRESS", "RAYFLOW_STORE", "RAYFLOW_PAYLOAD_STORE", "RAYFLOW_LOG_LEVEL")


@contextmanager
def short_tmp(prefix: str) -> Iterator[Path]:
    """A temporary directory with a short path: Ray's socket paths under it must stay within 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_example(name: str, tmp: Path, *, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``examples/<name>`` with Ray's temp dir and the data directory under ``tmp``; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if k not in _SESSION_ENV}
    env |= {"RAY_TMPDIR": str(tmp), "RAYFLOW_DATA_DIR": str(tmp / "data"), **extra_env}
    done = subprocess.run([sys.executable, f"examples/{name}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done
