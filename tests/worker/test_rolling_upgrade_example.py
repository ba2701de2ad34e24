"""examples/rolling_upgrade.py runs as a user runs it: a Ray and a data directory of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rolling_upgrade_example():
    tmp = Path(tempfile.mkdtemp(prefix="rfu-", dir="/tmp"))  # short: Ray's socket paths must fit
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYFLOW_STORE")}
        env |= {"RAY_TMPDIR": str(tmp), "RAYFLOW_DATA_DIR": str(tmp / "data")}
        done = subprocess.run([sys.executable, "examples/rolling_upgrade.py"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert "1.0 is current; GPUs free: 1" in out
        assert "a new workflow: ['epoch 0 on version 2.0" in out
        assert "1.0 is DRAINING" in out
        assert [line.strip()[:27] for line in out.splitlines() if line.strip().startswith("epoch")] == [
            f"epoch {i} on version 1.0 (GPU" for i in range(8)]
        assert "1.0 is DRAINED: its pool retired itself; GPUs free: 1" in out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
