"""examples/rolling_upgrade.py runs as a user runs it: a Ray and a data directory of its own."""

from __future__ import annotations

from tests.examples import run_example, short_tmp


def test_rolling_upgrade_example():
    with short_tmp("rfu-") as tmp:
        out = run_example("rolling_upgrade.py", tmp).stdout
        assert "1.0 is current; GPUs free: 1" in out
        assert "a new workflow: ['epoch 0 on version 2.0" in out
        assert "1.0 is DRAINING" in out
        assert [line.strip()[:27] for line in out.splitlines() if line.strip().startswith("epoch")] == [
            f"epoch {i} on version 1.0 (GPU" for i in range(8)]
        assert "1.0 is DRAINED: its pool retired itself; GPUs free: 1" in out
