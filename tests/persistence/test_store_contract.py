"""Contract of the Store interface, run against every backend (``backend`` fixture): SQLite with each
durability, and PostgreSQL (a schema of its own per test; skipped when no server answers, see the
``postgres_url`` fixture).

A backend factory opens a new Store on the same storage each time it is called, so tests can play
two owners of one shard, or reopen after a crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
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


# -- BuildIds (worker versioning) -------------------------------------------------------------------


async def test_build_ids_written_on_create_are_listed(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(
        0,
        range_id,
        [
            create("a", "ra", start_time=2.0, build_ids=("versioned:2.0", "unversioned")),
            create("b", "rb", start_time=1.0),
        ],
    )
    summaries = await store.list_executions(0, NS)
    assert [(row.run_id, row.build_ids) for row in summaries] == [
        ("ra", ("versioned:2.0", "unversioned")),
        ("rb", ()),
    ]


async def test_update_with_no_build_ids_keeps_them_and_new_ones_replace(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("wf", "r1", build_ids=("versioned:1.0",))])

    async def listed() -> tuple[str, ...]:
        (row,) = await store.list_executions(0, NS)
        return row.build_ids

    await store.write(0, range_id, [update("wf", "r1", 2, 2)])  # build_ids=(): keeps the stored ones
    assert await listed() == ("versioned:1.0",)
    replacing = update("wf", "r1", 3, 3)
    replacing.build_ids = ("versioned:1.0", "pinned:dep.1")
    await store.write(0, range_id, [replacing])
    assert await listed() == ("versioned:1.0", "pinned:dep.1")
    closing = update("wf", "r1", 4, 4, status=COMPLETED)
    closing.build_ids = ("unversioned",)
    await store.write(0, range_id, [closing])
    assert await listed() == ("unversioned",)
    assert await store.count_executions(0, NS, build_id="versioned:1.0") == 0
    assert await store.count_executions(0, NS, build_id="unversioned") == 1


async def test_list_and_count_by_build_id_match_an_entry_exactly(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    entries = {
        "r1": ("versioned:2.0",),
        "r2": ("versioned:2.01",),
        "r3": ("2.0",),
        "r4": ("unversioned", "versioned:2.0", "pinned:dep.1"),
        "r5": ("Versioned:2.0",),
        "r6": ("xversioned:2.0", "versioned:2.0x"),
        "r7": ("pinned:100%_a!b",),
        "r8": ("pinned:100abcXa!b", "pinned:100%Xa!b", "pinned:100%_a!!b", "pinned:100%_ab"),
        "r9": (),
    }
    writes = [
        create(f"wf-{run}", run, start_time=float(i), build_ids=ids) for i, (run, ids) in enumerate(entries.items())
    ]
    await store.write(0, range_id, writes)
    await store.write(0, range_id, [update("wf-r4", "r4", 2, 2, status=COMPLETED)])

    async def runs(build_id: str, **filters: object) -> list[str]:
        listed = [row.run_id for row in await store.list_executions(0, NS, build_id=build_id, **filters)]
        assert await store.count_executions(0, NS, build_id=build_id, **filters) == len(listed)
        return listed

    assert await runs("versioned:2.0") == ["r4", "r1"]
    assert await runs("versioned:2.0", status=RUNNING) == ["r1"]
    assert await runs("versioned:2.0", status=COMPLETED) == ["r4"]
    assert await runs("versioned:2.0", start_time_min=1.0) == ["r4"]
    assert await runs("versioned:2.01") == ["r2"]
    assert await runs("2.0") == ["r3"]
    assert await runs("versioned:2") == []
    assert await runs("versioned") == []
    assert await runs("unversioned") == ["r4"]
    assert await runs("pinned:dep.1") == ["r4"]
    assert await runs("pinned:100%_a!b") == ["r7"]  # % _ and the escape character are literal
    assert await runs("pinned:100%") == []
    assert await runs("%") == []
    assert await runs("_") == []
    assert await runs("") == []
    everything = await store.list_executions(0, NS, limit=100)
    assert [row.run_id for row in everything] == list(reversed(entries))
    assert {row.run_id: row.build_ids for row in everything} == entries
    # Pages of one with the cursor, filtered by build id.
    page = await store.list_executions(0, NS, build_id="versioned:2.0", limit=1)
    assert [row.run_id for row in page] == ["r4"]
    following = await store.list_executions(
        0, NS, build_id="versioned:2.0", limit=1, before=(page[-1].start_time, page[-1].run_id)
    )
    assert [row.run_id for row in following] == ["r1"]


async def test_build_id_entry_with_separator_is_refused(store: Store) -> None:
    range_id = await store.acquire_shard(0)
    with pytest.raises(ValueError, match=r"\|"):
        await store.write(0, range_id, [create("ok", "r0"), create("wf", "r1", build_ids=("versioned:a|b",))])
    assert await store.get_execution(0, NS, "ok", "r0") is None  # nothing of the call was written
    await store.write(0, range_id, [create("wf", "r1", build_ids=("versioned:1",))])
    bad = update("wf", "r1", 2, 2)
    bad.build_ids = ("unversioned", "|")
    with pytest.raises(ValueError, match=r"\|"):
        await store.write(0, range_id, [bad])
    (row,) = await store.list_executions(0, NS)
    assert (row.build_ids, row.next_event_id) == (("versioned:1",), 2)


async def test_postgres_version_1_schema_gets_build_ids(postgres_url: str) -> None:
    """A PostgreSQL schema at version 1 (no build_ids column) is migrated by the first store call."""
    from rayflow.persistence.schema import POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION, POSTGRES_VERSION_TABLE
    from tests.postgres import connect, schema_sql

    schema = schema_sql(postgres_url)
    with connect(postgres_url) as conn, conn.transaction():
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET LOCAL search_path TO {schema}")
        conn.execute(POSTGRES_VERSION_TABLE)
        conn.execute(POSTGRES_MIGRATIONS[0])
        conn.execute("UPDATE schema_version SET version = 1")
        conn.execute(
            "INSERT INTO executions (shard_id, namespace, workflow_id, run_id, workflow_type, task_queue, status, "
            "start_time, next_event_id, state) VALUES (0, %s, 'old', 'r-old', 'Wf', 'tq', %s, 10, 2, 's')",
            (NS, RUNNING),
        )
        conn.execute("INSERT INTO shards (shard_id, range_id) VALUES (0, 1)")

    store = open_store(postgres_url)
    try:
        (row,) = await store.list_executions(0, NS)
        assert (row.run_id, row.build_ids) == ("r-old", ())
        range_id = await store.acquire_shard(0)
        changed = update("old", "r-old", 2, 2)
        changed.build_ids = ("versioned:1.0",)
        await store.write(0, range_id, [changed])
        assert [r.run_id for r in await store.list_executions(0, NS, build_id="versioned:1.0")] == ["r-old"]
    finally:
        await store.close()
    with connect(postgres_url) as conn:
        assert conn.execute(f"SELECT version FROM {schema}.schema_version").fetchall() == [(POSTGRES_SCHEMA_VERSION,)]
    assert POSTGRES_SCHEMA_VERSION == 3


# -- SQLite only ----------------------------------------------------------------------------------

# A shard database as rayflow wrote it at schema version 1 (before executions.build_ids), kept verbatim.
_SQLITE_SHARD_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS shards (
    shard_id INTEGER PRIMARY KEY,
    range_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL DEFAULT '',
    task_queue TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL,
    start_time REAL NOT NULL DEFAULT 0,
    close_time REAL NOT NULL DEFAULT 0,
    next_event_id INTEGER NOT NULL,
    state BLOB NOT NULL,
    -- 1 while a closed run still has work for its shard (e.g. tell its parent it closed): reloaded on restart.
    needs_attention INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, workflow_id, run_id)
);
CREATE INDEX IF NOT EXISTS executions_status_start ON executions (status, start_time);
CREATE INDEX IF NOT EXISTS executions_attention ON executions (needs_attention)
    WHERE needs_attention = 1;
CREATE INDEX IF NOT EXISTS executions_list_start ON executions (namespace, start_time, run_id);
CREATE INDEX IF NOT EXISTS executions_list_status
    ON executions (namespace, status, start_time, run_id);
CREATE INDEX IF NOT EXISTS executions_list_type
    ON executions (namespace, workflow_type, start_time, run_id);
CREATE INDEX IF NOT EXISTS executions_list_queue
    ON executions (namespace, task_queue, start_time, run_id);
CREATE TABLE IF NOT EXISTS current_executions (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (namespace, workflow_id)
);
CREATE TABLE IF NOT EXISTS history_events (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace, workflow_id, run_id, event_id)
);
PRAGMA user_version = 1;
"""


def _columns(path: Path) -> dict[str, list[tuple]]:
    """Each table's columns (name, type, not null, default), and the database's user_version under ``""``."""
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {table: [tuple(row[1:5]) for row in conn.execute(f"PRAGMA table_info({table})")] for table in tables}
        out[""] = [conn.execute("PRAGMA user_version").fetchone()]
        return out
    finally:
        conn.close()


async def test_sqlite_version_1_shard_database_gets_build_ids(tmp_path: Path) -> None:
    """A shard file of schema version 1 (no build_ids column) is migrated when the store opens it."""
    from rayflow.persistence.schema import SCHEMA_VERSION

    data = tmp_path / "data"
    data.mkdir()
    path = data / "shard-0.db"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SQLITE_SHARD_SCHEMA_V1)
        conn.execute("INSERT INTO shards (shard_id, range_id) VALUES (0, 3)")
        conn.execute(
            "INSERT INTO executions (namespace, workflow_id, run_id, workflow_type, task_queue, status, start_time, "
            "close_time, next_event_id, state, needs_attention) VALUES (?, 'old', 'r-old', 'Wf', 'tq', ?, 10.0, 0, 2, "
            "x'73', 0)",
            (NS, RUNNING),
        )
        conn.execute(
            "INSERT INTO current_executions (namespace, workflow_id, run_id, status, request_id) "
            "VALUES (?, 'old', 'r-old', ?, 'req-old')",
            (NS, RUNNING),
        )
        conn.execute("INSERT INTO history_events (namespace, workflow_id, run_id, event_id, data) VALUES (?, 'old', 'r-old', "
                     "1, x'6531')", (NS,))  # fmt: skip
        conn.commit()
    finally:
        conn.close()
    assert "build_ids" not in [column[0] for column in _columns(path)["executions"]]

    store = SqliteStore(data)
    try:
        (row,) = await store.list_executions(0, NS)
        assert (row.run_id, row.workflow_type, row.status, row.build_ids) == ("r-old", "Wf", RUNNING, ())
        assert await store.count_executions(0, NS, build_id="versioned:1.0") == 0
        assert await store.get_execution(0, NS, "old", "r-old") == ExecutionRecord(NS, "old", "r-old", b"s", RUNNING, 2)
        range_id = await store.acquire_shard(0)
        assert range_id == 4
        changed = update("old", "r-old", 2, 2)
        changed.build_ids = ("versioned:1.0",)
        await store.write(0, range_id, [changed, create("new", "r-new", start_time=20.0, build_ids=("unversioned",))])
        assert [(r.run_id, r.build_ids) for r in await store.list_executions(0, NS)] == [
            ("r-new", ("unversioned",)),
            ("r-old", ("versioned:1.0",)),
        ]
        assert [r.run_id for r in await store.list_executions(0, NS, build_id="versioned:1.0")] == ["r-old"]
        assert await store.read_history(0, NS, "old", "r-old") == [b"e1", b"r-old-e2"]
    finally:
        await store.close()

    # The migrated file has the tables, columns and version of a new one.
    fresh = SqliteStore(tmp_path / "fresh")
    try:
        await fresh.acquire_shard(0)
    finally:
        await fresh.close()
    migrated = _columns(path)
    assert migrated == _columns(tmp_path / "fresh" / "shard-0.db")
    assert ("build_ids", "TEXT", 1, "''") in migrated["executions"]
    assert migrated[""] == [(SCHEMA_VERSION,)] and SCHEMA_VERSION == 3
    again = SqliteStore(data)  # a migrated file opens as any current one
    try:
        assert [r.build_ids for r in await again.list_executions(0, NS)] == [("unversioned",), ("versioned:1.0",)]
    finally:
        await again.close()


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
