"""The actor call counters (``rayflow.service.call_counts``): counts of real Ray calls, method kinds and Ray's
method options kept, and nothing changed without the flag."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys

import pytest
import ray

from rayflow.service.call_counts import COUNT_CALLS_ENV, counted


def _make_class() -> type:
    """A fresh plain actor class (defined per test, so each decoration sees the flag as the test set it)."""

    class Probe:
        def __init__(self) -> None:
            self._released = False

        async def echo(self, value: int) -> int:
            return value

        def sync_echo(self, value: int) -> int:
            return value

        async def outer(self) -> int:
            return await self.echo(1) + await self.echo(2)

        async def gen(self, n: int):
            for i in range(n):
                yield i

        async def block(self) -> str:
            while not self._released:  # set from the other group's event loop (another thread)
                await asyncio.sleep(0.01)
            return "released"

        @ray.method(concurrency_group="control")
        async def release(self) -> None:
            self._released = True

        async def _private(self) -> None:
            pass

    return Probe


def test_without_the_flag_the_class_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COUNT_CALLS_ENV, raising=False)
    cls = _make_class()
    before = dict(vars(cls))
    assert counted(cls) is cls
    assert dict(vars(cls)) == before
    assert not hasattr(cls, "call_counts")


def test_wrappers_keep_kind_signature_and_ray_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COUNT_CALLS_ENV, "1")
    original = _make_class()
    kinds = {name: inspect.iscoroutinefunction(getattr(original, name)) for name in ("echo", "sync_echo", "release")}
    cls = counted(original)
    assert cls is original
    assert {name: inspect.iscoroutinefunction(getattr(cls, name)) for name in kinds} == kinds
    assert inspect.isasyncgenfunction(cls.gen)
    assert list(inspect.signature(cls.echo).parameters) == ["self", "value"]
    assert cls.release.__ray_concurrency_group__ == "control"
    assert inspect.iscoroutinefunction(cls.call_counts)
    assert getattr(cls._private, "__wrapped__", None) is None  # private methods are not counted


async def test_counts_real_calls_and_keeps_concurrency_groups(ray_session, monkeypatch: pytest.MonkeyPatch) -> None:
    # Decorated here, in the driver, with the flag set: the class travels to its worker by value (it is local to
    # this module's function), wrappers included, so the worker's own environment does not matter.
    monkeypatch.setenv(COUNT_CALLS_ENV, "1")
    actor_cls = ray.remote(max_concurrency=1, concurrency_groups={"control": 1})(counted(_make_class()))
    actor = actor_cls.remote()
    try:
        assert await asyncio.gather(*(actor.echo.remote(i) for i in range(5))) == list(range(5))
        assert await actor.sync_echo.remote(7) == 7
        assert await actor.outer.remote() == 3
        assert [await ref for ref in actor.gen.remote(3)] == [0, 1, 2]
        # The default group holds one call at a time: release() gets through only in its own group.
        blocked = actor.block.remote()
        await asyncio.sleep(0.2)
        await asyncio.wait_for(actor.release.remote(), timeout=10)
        assert await asyncio.wait_for(blocked, timeout=10) == "released"
        counts = await actor.call_counts.remote()
    finally:
        ray.kill(actor)
    assert counts == {
        "echo": 5,
        "sync_echo": 1,
        "outer": 1,
        "outer>echo": 2,
        "gen": 1,
        "block": 1,
        "release": 1,
    }


def test_the_service_actor_classes_are_counted_under_the_flag() -> None:
    """The history shard, Matching and worker replica classes get ``call_counts`` when imported with the flag
    (a fresh interpreter: this one imported them without it)."""
    script = (
        "from rayflow.service.history.shard import HistoryShard\n"
        "from rayflow.service.matching.actor import MatchingActor\n"
        "from rayflow.worker.replica import WorkerReplica\n"
        "matching = MatchingActor.__ray_metadata__.modified_class\n"
        "for cls in (HistoryShard, matching, WorkerReplica):\n"
        "    assert hasattr(cls, 'call_counts'), cls\n"
        "assert hasattr(HistoryShard.batch, '__wrapped__')\n"
        "print('ok')\n"
    )
    env = {**os.environ, COUNT_CALLS_ENV: "1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
