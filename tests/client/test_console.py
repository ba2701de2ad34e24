"""A quiet console: a short program shows its own output and rayflow's warnings, not the service actors' INFO
lines, which go to their log files in the Ray session's log directory; RAYFLOW_LOG_LEVEL brings them back."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from tests import examples
from tests.examples import run_example


def run_hello(tmp_path: Path, **extra_env: str) -> tuple[str, list[Path]]:
    done = run_example("hello.py", tmp_path, timeout=180, **extra_env)
    logs = [Path(p) for p in glob.glob(str(tmp_path / "**" / "rayflow-history-0-*.log"), recursive=True)]
    return done.stdout + done.stderr, logs


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path: Ray's socket paths under it must stay within 107 bytes."""
    with examples.short_tmp("rfc-") as path:
        yield path


def test_service_info_lines_stay_off_the_console(short_tmp):
    tmp_path = short_tmp
    console, logs = run_hello(tmp_path)
    assert "Hello, World!" in console
    assert "history shard 0 ready" not in console and "INFO rayflow" not in console
    assert logs and "history shard 0 ready" in logs[0].read_text()


def test_rayflow_log_level_brings_them_to_the_console(short_tmp):
    console, _ = run_hello(short_tmp, RAYFLOW_LOG_LEVEL="INFO")
    assert "Hello, World!" in console and "history shard 0 ready" in console
