"""examples/large_arrays.py runs as a user runs it: a Ray and a data directory of its own."""

from __future__ import annotations

from tests.examples import run_example, short_tmp


def test_large_arrays_example():
    with short_tmp("rfl-") as tmp:
        done = run_example("large_arrays.py", tmp)
        out = done.stdout
        assert "'shape': [16384, 1024], 'megabytes': 64.0, 'read_without_copy': True" in out
        assert "history keeps: <external 64.0 MiB sha256:" in out
        assert f"payload store file://{tmp / 'data' / 'payloads'}: 1 objects, 64.0 MiB" in out
        assert "blocking ray.get" not in done.stdout + done.stderr
