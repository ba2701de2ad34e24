"""examples/large_arrays.py runs as a user runs it: a Ray and a data directory of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_large_arrays_example():
    tmp = Path(tempfile.mkdtemp(prefix="rfl-", dir="/tmp"))  # short: Ray's socket paths must fit
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYFLOW_STORE", "RAYFLOW_PAYLOAD_STORE")}
        env |= {"RAY_TMPDIR": str(tmp), "RAYFLOW_DATA_DIR": str(tmp / "data")}
        done = subprocess.run([sys.executable, "examples/large_arrays.py"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert "'shape': [16384, 1024], 'megabytes': 64.0, 'read_without_copy': True" in out
        assert "history keeps: <external 64.0 MiB sha256:" in out
        assert f"payload store file://{tmp / 'data' / 'payloads'}: 1 objects, 64.0 MiB" in out
        assert "blocking ray.get" not in done.stdout + done.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
