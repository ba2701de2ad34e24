"""PostgreSQL store: what the contract suite cannot show on SQLite. Fencing against another process and
against writes in flight, group commit (batching, a failing call isolated), the schema version and its
migration lock, reconnection after ``pg_terminate_backend`` (nothing half written), an unreachable server,
acknowledged writes surviving ``kill -9``, and how stores are opened.

Each test gets a schema of its own (``postgres_url``); they skip when no server answers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("psycopg")

from rayflow.exceptions import RayflowError  # noqa: E402
from rayflow.persistence import (  # noqa: E402
    ExecutionConflictError,
    ExecutionWrite,
    ShardOwnershipLostError,
    SqliteStore,
    StoreUnavailableError,
    open_store,
)
from rayflow.persistence.postgres import PostgresStore, application_name  # noqa: E402
from rayflow.persistence.schema import POSTGRES_SCHEMA_VERSION, TABLE_SCHEMA_VERSION  # noqa: E402
from rayflow.persistence.url import parse_store_url  # noqa: E402
from tests.postgres import (  # noqa: E402
    backends,
    connect,
    drop_schema,
    schema_sql,
    terminate_backends,
    with_schema,
)

RUNNING, COMPLETED = 1, 2
NS = "default"


def create(workflow_id: str, run_id: str = "r1", **kw) -> ExecutionWrite:
    fields = dict(
        namespace=NS, workflow_id=workflow_id, run_id=run_id, state=b"s0", status=RUNNING, next_event_id=2,
        new_events=[(1, f"{workflow_id}-e1".encode())], create=True, workflow_type="Wf", task_queue="tq",
        start_time=1000.0, request_id=f"req-{workflow_id}",
    )  # fmt: skip
    return ExecutionWrite(**{**fields, **kw})


def update(workflow_id: str, event_id: int, run_id: str = "r1", **kw) -> ExecutionWrite:
    return ExecutionWrite(
        namespace=NS, workflow_id=workflow_id, run_id=run_id, state=f"s{event_id}".encode(), status=RUNNING,
        next_event_id=event_id + 1, new_events=[(event_id, f"{workflow_id}-e{event_id}".encode())], **kw,
    )  # fmt: skip


def schema_of(url: str) -> str:
    schema = parse_store_url(url).schema
    assert schema is not None
    return schema


@pytest.fixture
async def stores(postgres_url: str):
    """Opens PostgresStores on the test's schema; closes them afterwards."""
    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        store = PostgresStore(postgres_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


class ShardRowLock:
    """Holds the shard's ownership row FOR UPDATE from another connection: a store's write blocks on it."""

    def __init__(self, url: str, shard_id: int = 0) -> None:
        self.conn = connect(url)
        self.conn.execute("BEGIN")
        self.conn.execute(f"SELECT 1 FROM {schema_sql(url)}.shards WHERE shard_id = %s FOR UPDATE", (shard_id,))

    def release(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


async def wait_for_store_backend(url: str, wait_event_type: str, wait_event: str | None = None) -> None:
    """Until one of the store's server processes waits on ``wait_event_type`` (e.g. a lock held by a test)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = %s"
    params: tuple = (application_name(schema_of(url)), wait_event_type)
    if wait_event is not None:
        query, params = query + " AND wait_event = %s", (*params, wait_event)
    with connect(url) as conn:
        for _ in range(500):
            if conn.execute(query, params).fetchone()[0]:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"no backend of {url} waits on {wait_event_type}/{wait_event}")


async def assert_whole(store: PostgresStore, workflow_id: str) -> bool:
    """Checks that ``workflow_id`` is stored completely or not at all; whether it is stored."""
    record = await store.get_execution(0, NS, workflow_id, "r1")
    current = await store.get_current_execution(0, NS, workflow_id)
    history = await store.read_history(0, NS, workflow_id, "r1")
    if record is None:
        assert current is None and history == [], workflow_id
        return False
    assert current is not None and history == [f"{workflow_id}-e1".encode()], workflow_id
    return True


# -- fencing --------------------------------------------------------------------------------------


async def test_fencing_by_an_owner_in_another_process(stores, postgres_url: str) -> None:
    store = stores()
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("wf")])
    script = textwrap.dedent(
        f"""
        import asyncio
        from rayflow.persistence import open_store

        async def main():
            store = open_store({postgres_url!r})
            print(await store.acquire_shard(0), flush=True)
            await store.close()

        asyncio.run(main())
        """
    )
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == str(range_id + 1), proc.stderr
    with pytest.raises(ShardOwnershipLostError, match=f"owned by range id {range_id + 1}, not {range_id}"):
        await store.write(0, range_id, [update("wf", 2), create("other")])
    assert (await store.get_execution(0, NS, "wf", "r1")).next_event_id == 2  # type: ignore[union-attr]
    assert await store.get_current_execution(0, NS, "other") is None


async def test_acquire_orders_after_writes_in_flight(stores) -> None:
    """Every write the old owner was told succeeded is visible to the new owner right after it acquired the
    shard; every later one fails (the FOR SHARE read of range_id makes acquire wait for write transactions)."""
    old, new = stores(), stores()
    range_id = await old.acquire_shard(0)
    acquired = asyncio.Event()
    outcomes: dict[str, BaseException | None] = {}

    async def writer(w: int) -> None:
        for i in range(1000):
            workflow_id, after = f"w{w}-{i}", acquired.is_set()
            try:
                await old.write(0, range_id, [create(workflow_id)])
                outcomes[workflow_id] = None
            except ShardOwnershipLostError as error:
                outcomes[workflow_id] = error
                return
            assert not after, f"{workflow_id} was written after the new owner acquired the shard"

    tasks = [asyncio.ensure_future(writer(w)) for w in range(8)]
    await asyncio.sleep(0.3)
    await new.acquire_shard(0)
    acquired.set()
    seen = {record.workflow_id for record in await new.list_open_executions(0)}
    await asyncio.gather(*tasks)

    written = {workflow_id for workflow_id, error in outcomes.items() if error is None}
    assert written and written <= seen
    assert all(workflow_id not in seen for workflow_id, error in outcomes.items() if error is not None)
    assert len([error for error in outcomes.values() if error is not None]) == 8


# -- group commit ---------------------------------------------------------------------------------


async def test_group_commit_one_transaction_and_failures_isolated(stores, postgres_url: str) -> None:
    """Calls queued behind a blocked transaction commit in one; a conflicting call, one fenced and one
    that the server refuses (a value out of range) fail alone, each raising only to its caller."""
    store = stores()
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("taken")])
    lock = ShardRowLock(postgres_url)
    try:
        blocked = asyncio.ensure_future(store.write(0, range_id, [create("first")]))
        await wait_for_store_backend(postgres_url, "Lock")
        commits = store.commits
        calls = [[create(f"wf-{i}")] for i in range(50)]
        calls.insert(10, [create("fresh"), create("taken", "r2")])  # an open run: conflict
        calls.insert(20, [create("fenced")])
        calls.insert(30, [create("too-big", next_event_id=2**70)])  # bigint out of range: refused by the server
        ranges = [range_id] * len(calls)
        ranges[20] = range_id - 1
        tasks = [asyncio.ensure_future(store.write(0, r, call)) for r, call in zip(ranges, calls, strict=True)]
        await asyncio.sleep(0.1)  # every call is queued behind the blocked transaction
    finally:
        lock.release()
    await blocked
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert store.commits == commits + 2  # the blocked transaction, then the 53 calls in one
    assert isinstance(results[10], ExecutionConflictError) and "open run" in str(results[10])
    assert isinstance(results[20], ShardOwnershipLostError)
    assert not isinstance(results[30], RayflowError) and "out of range" in str(results[30])
    assert [r for i, r in enumerate(results) if i not in (10, 20, 30)] == [None] * 50
    assert len(await store.list_open_executions(0)) == 52  # taken, first and the 50
    for workflow_id in ("fresh", "fenced", "too-big"):
        assert await store.get_current_execution(0, NS, workflow_id) is None
    assert (await store.get_current_execution(0, NS, "taken")).run_id == "r1"  # type: ignore[union-attr]


async def test_concurrent_writes_share_transactions(stores) -> None:
    store = stores()
    range_id = await store.acquire_shard(0)
    commits = store.commits
    await asyncio.gather(*(store.write(0, range_id, [create(f"wf-{i}")]) for i in range(400)))
    assert store.commits - commits < 400 / 4
    assert len(await store.list_open_executions(0)) == 400


# -- schema ---------------------------------------------------------------------------------------


async def test_schema_version_recorded_and_newer_one_refused(stores, postgres_url: str) -> None:
    await stores().put_metadata("k", b"v")
    schema = schema_sql(postgres_url)
    with connect(postgres_url) as conn:
        assert conn.execute(f"SELECT version FROM {schema}.{TABLE_SCHEMA_VERSION}").fetchall() == [
            (POSTGRES_SCHEMA_VERSION,)
        ]
        conn.execute(f"UPDATE {schema}.{TABLE_SCHEMA_VERSION} SET version = version + 1")
    newer = POSTGRES_SCHEMA_VERSION + 1
    message = (
        f"has schema version {newer}, newer than this rayflow's \\({POSTGRES_SCHEMA_VERSION}\\); "
        f"upgrade rayflow or use another schema"
    )
    store = stores()
    with pytest.raises(RayflowError, match=message):
        await store.get_metadata("k")
    with pytest.raises(RayflowError, match=message):
        await store.acquire_shard(0)


async def test_many_stores_create_the_schema_at_once(stores, postgres_url: str) -> None:
    opened = [stores() for _ in range(6)]
    ranges = await asyncio.gather(*(store.acquire_shard(i) for i, store in enumerate(opened)))
    assert ranges == [1] * 6
    counts = await asyncio.gather(*(store.init_cluster(4 + i) for i, store in enumerate(opened)))
    assert len(set(counts)) == 1 and 4 <= counts[0] < 10  # the first to commit fixed it for all
    with connect(postgres_url) as conn:
        rows = conn.execute(f"SELECT version FROM {schema_sql(postgres_url)}.{TABLE_SCHEMA_VERSION}").fetchall()
    assert rows == [(POSTGRES_SCHEMA_VERSION,)]


async def test_schema_named_like_a_keyword(postgres_url: str) -> None:
    url = with_schema(postgres_url, "Select")  # quoted everywhere: kept as written, and no syntax error
    drop_schema(url)
    store = PostgresStore(url)
    try:
        range_id = await store.acquire_shard(0)
        await store.write(0, range_id, [create("wf")])
        assert await assert_whole(store, "wf")
        assert len(backends(url)) >= 2
    finally:
        await store.close()
        terminate_backends(url)
        drop_schema(url)


# -- connections ----------------------------------------------------------------------------------


async def test_connections_are_named_few_and_released(stores, postgres_url: str) -> None:
    store = stores()
    range_id = await store.acquire_shard(0)
    await asyncio.gather(*(store.write(0, range_id, [create(f"wf-{i}")]) for i in range(20)))
    await asyncio.gather(*(store.get_execution(0, NS, f"wf-{i}", "r1") for i in range(20)))
    assert 2 <= len(backends(postgres_url)) <= 5  # the writer and at most 4 readers
    await store.close()
    for _ in range(100):
        if not backends(postgres_url):
            break
        await asyncio.sleep(0.02)
    assert backends(postgres_url) == []
    with pytest.raises(RayflowError, match="closed"):
        await store.get_metadata("k")


async def test_reconnects_after_backends_are_terminated(stores, postgres_url: str) -> None:
    store = stores()
    range_id = await store.acquire_shard(0)
    await store.write(0, range_id, [create("a")])
    assert await assert_whole(store, "a")  # now the writer and a reader are both connected
    assert terminate_backends(postgres_url) >= 2
    assert await assert_whole(store, "a")  # reads reconnect
    await store.write(0, range_id, [update("a", 2)])  # and so does the writer
    assert await store.read_history(0, NS, "a", "r1") == [b"a-e1", b"a-e2"]

    # A write in flight when its connection is terminated (before COMMIT) is redone on a new connection.
    lock = ShardRowLock(postgres_url)
    try:
        in_flight = asyncio.ensure_future(store.write(0, range_id, [create("b")]))
        await wait_for_store_backend(postgres_url, "Lock")
        assert terminate_backends(postgres_url) >= 1
        await wait_for_store_backend(postgres_url, "Lock")  # the redo waits on the lock again
    finally:
        lock.release()
    await in_flight
    assert await assert_whole(store, "b")


async def test_connection_lost_during_commit_has_unknown_outcome(stores, postgres_url: str) -> None:
    """A deferred trigger makes COMMIT sleep; the store's connection is terminated meanwhile: the caller is told
    the outcome is unknown, and the stored state is whole (here: the write was not committed)."""
    store = stores()
    range_id = await store.acquire_shard(0)
    schema = schema_sql(postgres_url)
    with connect(postgres_url) as conn:
        conn.execute(
            f"CREATE FUNCTION {schema}.slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
        )
        conn.execute(
            f"CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {schema}.executions DEFERRABLE INITIALLY "
            f"DEFERRED FOR EACH ROW EXECUTE FUNCTION {schema}.slow_commit()"
        )
    committing = asyncio.ensure_future(store.write(0, range_id, [create("wf")]))
    await wait_for_store_backend(postgres_url, "Timeout", "PgSleep")
    terminate_backends(postgres_url)
    with pytest.raises(StoreUnavailableError, match="while COMMIT was in flight") as raised:
        await committing
    assert raised.value.unknown_outcome is True
    assert "read it back" in str(raised.value)
    with connect(postgres_url) as conn:
        conn.execute(f"DROP TRIGGER slow_commit ON {schema}.executions")
    assert await assert_whole(store, "wf") is False
    await store.write(0, range_id, [create("wf")])  # the store reconnected by itself
    assert await assert_whole(store, "wf")


async def test_writes_during_repeated_terminations_are_whole(stores, postgres_url: str) -> None:
    store = stores()
    range_id = await store.acquire_shard(0)
    outcomes: dict[str, BaseException | None] = {}

    done = asyncio.Event()

    async def writer(w: int) -> None:
        i = 0
        while not done.is_set():
            workflow_id, i = f"w{w}-{i}", i + 1
            try:
                await store.write(0, range_id, [create(workflow_id)])
                outcomes[workflow_id] = None
            except StoreUnavailableError as error:
                outcomes[workflow_id] = error

    tasks = [asyncio.ensure_future(writer(w)) for w in range(6)]
    terminated = 0
    for _ in range(5):
        await asyncio.sleep(0.1)
        terminated += await asyncio.to_thread(terminate_backends, postgres_url)
    done.set()
    await asyncio.gather(*tasks)
    assert terminated >= 5
    for workflow_id, error in outcomes.items():
        stored = await assert_whole(store, workflow_id)
        if error is None:
            assert stored, workflow_id
        elif not error.unknown_outcome:  # type: ignore[attr-defined]
            assert not stored, workflow_id
    await store.write(0, range_id, [create("after")])
    assert await assert_whole(store, "after")


async def test_unreachable_server_is_reported_without_the_password() -> None:
    store = PostgresStore("postgresql://rayflow:s3cret-pw@127.0.0.1:1/test?schema=rf_nowhere")
    started = time.monotonic()
    for call in (store.get_metadata("k"), store.acquire_shard(0)):
        with pytest.raises(StoreUnavailableError) as raised:
            await call
        message = str(raised.value)
        assert "s3cret-pw" not in message and "rayflow:***@127.0.0.1:1" in message, message
        assert "start PostgreSQL or fix the store URL (RAYFLOW_STORE)" in message, message
        assert raised.value.unknown_outcome is False
    assert time.monotonic() - started < 10
    await store.close()


# -- durability -----------------------------------------------------------------------------------


async def test_acknowledged_writes_survive_kill_9_of_the_writer(stores, postgres_url: str) -> None:
    """A process writes from 8 tasks (group commits) and prints each acknowledged workflow id; it is killed
    with SIGKILL mid-stream. Every acknowledged execution is stored, and nothing is stored half."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from rayflow.persistence import ExecutionWrite, open_store

        async def main():
            store = open_store({postgres_url!r})
            range_id = await store.acquire_shard(0)

            async def writer(w):
                for i in range(100_000):
                    workflow_id = f"w{{w}}-{{i}}"
                    await store.write(0, range_id, [ExecutionWrite(
                        namespace="default", workflow_id=workflow_id, run_id="r1", state=b"s0", status=1,
                        next_event_id=2, new_events=[(1, (workflow_id + "-e1").encode())], create=True)])
                    print(workflow_id, flush=True)

            await asyncio.gather(*(writer(w) for w in range(8)))

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    acknowledged: list[str] = []
    while len(acknowledged) < 300:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise AssertionError((await proc.stderr.read()).decode())
        acknowledged.append(line.decode().strip())
    proc.kill()
    assert await proc.wait() == -9
    acknowledged += (await proc.stdout.read()).decode().split()  # printed before the kill landed

    store = stores()
    stored = {record.workflow_id for record in await store.list_open_executions(0)}
    assert set(acknowledged) <= stored
    for workflow_id in stored:
        assert await assert_whole(store, workflow_id)
    assert await store.acquire_shard(0) == 2


# -- opening --------------------------------------------------------------------------------------


async def test_open_store_picks_the_backend_from_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for location in (
        tmp_path / "a",
        str(tmp_path / "b"),
        f"sqlite://{tmp_path / 'c'}",
        parse_store_url(tmp_path / "d"),
    ):
        store = open_store(location)
        assert isinstance(store, SqliteStore)
        await store.close()
    store = open_store("postgresql://u:secret@db.invalid:5432/app?schema=rf", durability="fsync")  # no I/O yet
    assert isinstance(store, PostgresStore) and store.schema == "rf" and "secret" not in repr(store)
    await store.close()
    with pytest.raises(ValueError, match="durability"):
        PostgresStore("postgresql://u@h/db", durability="sometimes")

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    monkeypatch.delitem(sys.modules, "rayflow.persistence.postgres")
    with pytest.raises(RayflowError, match=r"pip install 'rayflow\[postgres\]'"):
        open_store("postgresql://u:secret@h/db")


def test_importing_the_persistence_package_does_not_import_psycopg() -> None:
    code = "import sys, rayflow.persistence; assert 'psycopg' not in sys.modules, 'psycopg imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
