"""Contract of the Store interface, run against every backend (``backend`` fixture): SQLite with each
durability, and PostgreSQL (a schema of its own per test; skipped when no server answers, see the
``postgres_url`` fixture).

A backend factory opens a new Store on the same storage each time it is called, so tests can play
two owners of one shard, or reopen after a crash.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rayflow.persistence import (
    CurrentExecution,
    ExecutionConflictError,
    ExecutionRecord,
    ExecutionWrite,
    ShardOwnershipLostError,
    SqliteStore,
    Store,
    open_store,
)

RUNNING, COMPLETED = 1, 2
NS = "default"

BACKENDS = ["sqlite", "sqlite-fsync", "postgresql"]


class StoreFactory:
    """Opens stores on one storage, named by ``url`` (a SQLite data directory or a PostgreSQL schema)."""

    def __init__(self, url: str, durability: str) -> None:
        self.url = url
        self.durability = durability
        self.opened: list[Store] = []

    def __call__(self) -> Store:
        store = open_store(self.url, durability=self.durability)
        self.opened.append(store)
        return store


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = str(tmp_path / "data")
    factory = StoreFactory(url, "fsync" if request.param.endswith("fsync") else "normal")
    yield factory
    for store in factory.opened:
        await store.close()


@pytest.fixture
async def store(backend: StoreFactory) -> Store:
    return backend()


def create(workflow_id: str, run_id: str, *, events: int = 1, status: int = RUNNING, **kw) -> ExecutionWrite:
    return ExecutionWrite(
        namespace=NS,
        workflow_id=workflow_id,
        run_id=run_id,
        state=f"state-{run_id}-0".encode(),
        status=status,
        next_event_id=events + 1,
        new_events=[(i, f"{run_id}-e{i}".encode()) for i in range(1, events + 1)],
        create=True,
        workflow_type="Wf",
        task_queue="tq",
        start_time=kw.pop("start_time", 1000.0),
        request_id=kw.pop("request_id", f"req-{run_id}"),
        **kw,
    )


def update(workflow_id: str, run_id: str, first: int, last: int, *, status: int = RUNNING) -> ExecutionWrite:
    return ExecutionWrite(
        namespace=NS,
        workflow_id=workflow_id,
        run_id=run_id,
        state=f"state-{run_id}-{last}".encode(),
        status=status,
        next_event_id=last + 1,
        new_events=[(i, f"{run_id}-e{i}".encode()) for i in range(first, last + 1)],
        close_time=2000.0 if status != RUNNING else 0.0,
    )


async def test_create_and_read_back(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    assert range_id == 1
    await store.write(0, range_id, [create("wf", "r1", events=3)])

    assert await store.get_execution(0, NS, "wf", "r1") == ExecutionRecord(NS, "wf", "r1", b"state-r1-0", RUNNING, 4)
    assert await store.get_execution(0, NS, "wf", "missing") is None
    assert await store.get_current_execution(0, NS, "wf") == CurrentExecution("r1", RUNNING, "req-r1")
    assert await store.get_current_execution(0, NS, "missing") is None
    assert await store.read_history(0, NS, "wf", "r1") == [b"r1-e1", b"r1-e2", b"r1-e3"]
    assert await store.read_history(0, NS, "wf", "r1", 2) == [b"r1-e2", b"r1-e3"]
    assert await store.read_history(0, NS, "wf", "r1", 1, 2) == [b"r1-e1", b"r1-e2"]
    assert await store.read_history(0, NS, "wf", "r1", 2, 2) == [b"r1-e2"]
    assert await store.read_history(0, NS, "wf", "r1", 4) == []
    assert await store.read_history(0, NS, "wf", "other") == []


async def test_update_appends_events_and_changes_state(store: Store) -> None:
    range_id = await store.acquire_shard(1)
    await store.write(1, range_id, [create("wf", "r1", events=2)])
    await store.write(1, range_id, [update("wf", "r1", 3, 5)])
    record = await store.get_execution(1, NS, "wf", "r1")
    assert record is not None
    assert (record.state, record.status, record.next_event_id) == (b"state-r1-5", RUNNING, 6)
    assert await store.read_history(1, NS, "wf", "r1") == [f"r1-e{i}".encode() for i in range(1, 6)]

    await store.write(1, range_id, [update("wf", "r1", 6, 6, status=COMPLETED)])
    record = await store.get_execution(1, NS, "wf", "r1")
    assert record is not None and record.status == COMPLETED
    assert await store.get_current_execution(1, NS, "wf") == CurrentExecution("r1", COMPLETED, "req-r1")


async def test_update_of_missing_execution_conflicts(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    with pytest.raises(ExecutionConflictError, match="does not exist"):
        await store.write(0, range_id, [update("wf", "nope", 1, 1)])


async def test_list_open_excludes_closed(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(
        0,
        range_id,
        [create("a", "ra", start_time=3.0), create("b", "rb", start_time=1.0), create("c", "rc", start_time=2.0)],
    )
    await store.write(0, range_id, [update("c", "rc", 2, 2, status=COMPLETED)])
    assert [r.workflow_id for r in await store.list_open_executions(0)] == ["b", "a"]
    assert await store.list_open_executions(3) == []


async def test_closed_runs_that_need_attention_are_listed_with_the_open_ones(store: Store) -> None:
    """A closed child whose parent was not told yet must come back when its shard restarts."""
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("child", "rc", start_time=1.0), create("other", "ro", start_time=2.0)])
    closed = update("child", "rc", 2, 2, status=COMPLETED)
    closed.needs_attention = True
    await store.write(0, range_id, [closed, update("other", "ro", 2, 2, status=COMPLETED)])
    assert [r.workflow_id for r in await store.list_open_executions(0)] == ["child"]
    done = update("child", "rc", 3, 3, status=COMPLETED)  # the parent was told: attention cleared
    await store.write(0, range_id, [done])
    assert await store.list_open_executions(0) == []


async def test_open_executions_come_page_by_page_in_key_order(store: Store) -> None:
    """What a starting shard reads (never all states at once): every open or needs-attention run once."""
    r0, r1 = await store.acquire_shard(0), await store.acquire_shard(1)
    await store.write(0, r0, [create(f"wf-{i:02d}", f"r{i}", start_time=100.0 - i) for i in range(7)])
    closed = update("wf-03", "r3", 2, 2, status=COMPLETED)
    attention = update("wf-04", "r4", 2, 2, status=COMPLETED)
    attention.needs_attention = True
    await store.write(0, r0, [closed, attention])
    await store.write(1, r1, [create("other-shard", "rx")])
    pages, after = [], None
    while page := await store.list_open_executions_page(0, after, limit=2):
        pages.append([r.workflow_id for r in page])
        after = (page[-1].namespace, page[-1].workflow_id, page[-1].run_id)
    assert pages == [["wf-00", "wf-01"], ["wf-02", "wf-04"], ["wf-05", "wf-06"]]
    assert await store.list_open_executions_page(0, ("zz", "", "")) == []
    assert [r.workflow_id for r in await store.list_open_executions_page(1)] == ["other-shard"]
    with pytest.raises(ValueError, match="limit"):
        await store.list_open_executions_page(0, limit=0)


async def test_shards_are_separate(store: Store) -> None:
    r0, r1 = await store.acquire_shard(0), await store.acquire_shard(1)
    await store.write(0, r0, [create("wf", "r0")])
    await store.write(1, r1, [create("wf", "r1")])
    assert (await store.get_current_execution(0, NS, "wf")).run_id == "r0"  # type: ignore[union-attr]
    assert (await store.get_current_execution(1, NS, "wf")).run_id == "r1"  # type: ignore[union-attr]


async def test_fencing_stale_owner_writes_nothing(backend: StoreFactory) -> None:
    first, second = backend(), backend()
    old_range = await first.acquire_shard(0)
    await first.write(0, old_range, [create("wf", "r1")])

    new_range = await second.acquire_shard(0)
    assert new_range == old_range + 1
    with pytest.raises(ShardOwnershipLostError):
        await first.write(0, old_range, [update("wf", "r1", 2, 3), create("other", "r2")])
    with pytest.raises(ShardOwnershipLostError):
        await first.write(0, 99, [create("other", "r2")])

    for store in (first, second):
        record = await store.get_execution(0, NS, "wf", "r1")
        assert record is not None and record.next_event_id == 2
        assert await store.read_history(0, NS, "wf", "r1") == [b"r1-e1"]
        assert await store.get_current_execution(0, NS, "other") is None
    await second.write(0, new_range, [update("wf", "r1", 2, 2)])
    assert await first.read_history(0, NS, "wf", "r1") == [b"r1-e1", b"r1-e2"]


async def test_write_to_unacquired_shard_is_fenced(store: Store) -> None:
    with pytest.raises(ShardOwnershipLostError):
        await store.write(2, 1, [create("wf", "r1")])


async def test_create_conflict_while_open_then_new_run_after_close(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("wf", "r1")])
    with pytest.raises(ExecutionConflictError, match="open run"):
        await store.write(0, range_id, [create("wf", "r2")])
    assert await store.get_execution(0, NS, "wf", "r2") is None

    await store.write(0, range_id, [update("wf", "r1", 2, 2, status=COMPLETED)])
    await store.write(0, range_id, [create("wf", "r2", request_id="req-2")])
    assert await store.get_current_execution(0, NS, "wf") == CurrentExecution("r2", RUNNING, "req-2")
    assert (await store.get_execution(0, NS, "wf", "r1")).status == COMPLETED  # type: ignore[union-attr]
    assert await store.read_history(0, NS, "wf", "r2") == [b"r2-e1"]


async def test_duplicate_event_id_conflicts_and_writes_nothing(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("wf", "r1", events=2)])
    with pytest.raises(ExecutionConflictError, match="already in its history"):
        await store.write(0, range_id, [create("other", "r9"), update("wf", "r1", 2, 3)])
    assert await store.get_current_execution(0, NS, "other") is None
    assert (await store.get_execution(0, NS, "wf", "r1")).next_event_id == 3  # type: ignore[union-attr]
    assert await store.read_history(0, NS, "wf", "r1") == [b"r1-e1", b"r1-e2"]


async def test_group_commit_concurrent_writes_all_land(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await asyncio.gather(*(store.write(0, range_id, [create(f"wf-{i}", f"r{i}")]) for i in range(50)))
    assert len(await store.list_open_executions(0)) == 50
    for i in range(50):
        assert await store.read_history(0, NS, f"wf-{i}", f"r{i}") == [f"r{i}-e1".encode()]


async def test_group_commit_conflict_fails_alone(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("taken", "r-old")])
    writes = [[create(f"wf-{i}", f"r{i}")] for i in range(20)]
    writes.insert(10, [create("fresh", "r-fresh"), create("taken", "r-new")])
    results = await asyncio.gather(*(store.write(0, range_id, w) for w in writes), return_exceptions=True)

    assert isinstance(results[10], ExecutionConflictError)
    assert [r for i, r in enumerate(results) if i != 10] == [None] * 20
    assert len(await store.list_open_executions(0)) == 21
    assert await store.get_current_execution(0, NS, "fresh") is None
    assert (await store.get_current_execution(0, NS, "taken")).run_id == "r-old"  # type: ignore[union-attr]


async def test_durable_across_killed_process(backend: StoreFactory) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from rayflow.persistence import ExecutionWrite, open_store

        async def main():
            store = open_store({backend.url!r})
            range_id = await store.acquire_shard(0)
            await store.write(0, range_id, [ExecutionWrite(
                namespace="default", workflow_id="wf", run_id="r1", state=b"s", status=1, next_event_id=3,
                new_events=[(1, b"e1"), (2, b"e2")], create=True, request_id="req")])
            print("written", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == "written", proc.stderr
    assert proc.returncode == -9

    store = backend()
    assert await store.get_execution(0, NS, "wf", "r1") == ExecutionRecord(NS, "wf", "r1", b"s", RUNNING, 3)
    assert await store.get_current_execution(0, NS, "wf") == CurrentExecution("r1", RUNNING, "req")
    assert await store.read_history(0, NS, "wf", "r1") == [b"e1", b"e2"]
    assert await store.acquire_shard(0) == 2


async def test_init_cluster_fixes_shard_count(backend: StoreFactory) -> None:
    store = backend()
    assert await store.init_cluster(8) == 8
    assert await store.init_cluster(4) == 8
    assert await backend().init_cluster(16) == 8


async def test_metadata_round_trip(store: Store) -> None:
    assert await store.get_metadata("k") is None
    await store.put_metadata("k", b"v1")
    await store.put_metadata("k", b"v2")
    assert await store.get_metadata("k") == b"v2"


# -- SQLite only ----------------------------------------------------------------------------------


async def test_sqlite_files_and_single_group_commit(tmp_path: Path) -> None:
    """Writes queued while the writer is busy are committed in one transaction."""
    store = SqliteStore(tmp_path / "data")
    try:
        range_id = await store.acquire_shard(0)
        assert (tmp_path / "data" / "shard-0.db").is_file()

        db = store._shard_db(0)
        started, release = threading.Event(), threading.Event()

        def block(conn: object) -> None:
            started.set()
            release.wait(10)

        blocker = asyncio.ensure_future(db.write(block))
        await asyncio.to_thread(started.wait, 10)
        commits = db.commits
        writes = [[create(f"wf-{i}", f"r{i}")] for i in range(50)]
        writes.insert(25, [create("wf-0", "r-dup")])  # conflicts with wf-0's open run, queued before it commits
        tasks = [asyncio.ensure_future(store.write(0, range_id, w)) for w in writes]
        await asyncio.sleep(0.1)  # every write is queued behind the blocker
        release.set()
        await blocker
        results = await asyncio.gather(*tasks, return_exceptions=True)

        assert db.commits == commits + 2  # the blocker's transaction, then all 51 calls in one
        assert isinstance(results[25], ExecutionConflictError)
        assert results.count(None) == 50
        assert len(await store.list_open_executions(0)) == 50
        assert (await store.get_current_execution(0, NS, "wf-0")).run_id == "r0"  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_sqlite_rejects_unknown_durability(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(tmp_path, durability="sometimes")


async def test_sqlite_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    await store.acquire_shard(0)
    await store.close()
    with pytest.raises(Exception, match="closed"):
        await store.acquire_shard(0)
