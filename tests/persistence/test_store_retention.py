"""Contract of the Store's retention methods, on every backend of test_store_contract.py (SQLite with each
durability, and PostgreSQL): listing expired closed runs, the payload index, and fenced deletes that never touch
a RUNNING run or one that still needs attention."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rayflow.persistence import ShardOwnershipLostError, SqliteStore, Store
from tests.persistence import test_store_contract as contract
from tests.persistence.test_store_contract import COMPLETED, NS, RUNNING, StoreFactory, create, update

# The contract's fixtures: every backend, and a store on it.
backend = contract.backend
store = contract.store

REFS = "file:///payloads"


def closed(workflow_id: str, run_id: str, close_time: float, *, attention: bool = False, event: int = 2, **kw):
    """The write that closes a run at ``close_time`` (its closing event: ``event``)."""
    item = update(workflow_id, run_id, event, event, status=COMPLETED)
    item.close_time = close_time
    item.needs_attention = attention
    for name, value in kw.items():
        setattr(item, name, value)
    return item


async def test_closed_runs_listed_oldest_close_first_per_namespace(store: Store) -> None:
    r0 = await store.acquire_shard(0)
    await store.write(0, r0, [create(f"wf-{i}", f"r{i}") for i in range(6)])
    other = create("elsewhere", "rx")
    other.namespace = "other"
    await store.write(0, r0, [other])
    await store.write(0, r0, [closed("wf-0", "r0", 300.0), closed("wf-1", "r1", 100.0), closed("wf-2", "r2", 200.0),
                              closed("wf-3", "r3", 150.0, attention=True), closed("wf-4", "r4", 900.0)])
    rows = await store.list_closed_executions(0, NS, 500.0)
    assert [(r.run_id, r.close_time, r.status) for r in rows] == [
        ("r1", 100.0, COMPLETED), ("r2", 200.0, COMPLETED), ("r0", 300.0, COMPLETED)]  # fmt: skip
    assert [r.run_id for r in await store.list_closed_executions(0, NS, 500.0, limit=2)] == ["r1", "r2"]
    assert await store.list_closed_executions(0, NS, 100.0) == []  # strictly before
    assert await store.list_closed_executions(0, "other", 10_000.0) == []  # running
    assert await store.list_closed_executions(1, NS, 10_000.0) == []
    assert await store.list_namespaces(0) == [NS, "other"]
    assert await store.list_namespaces(1) == []
    with pytest.raises(ValueError, match="limit"):
        await store.list_closed_executions(0, NS, 500.0, limit=0)


async def test_delete_removes_runs_history_refs_and_current_row(store: Store) -> None:
    r0 = await store.acquire_shard(0)
    first = create("wf", "r1", events=3, payload_refs=((REFS, "aa/k1"), (REFS, "aa/shared")))
    await store.write(0, r0, [first, create("keep", "rk", payload_refs=((REFS, "aa/shared"),))])
    await store.write(0, r0, [closed("wf", "r1", 100.0, event=4, payload_refs=((REFS, "aa/k2"),))])
    assert sorted(await store.list_payload_refs(0, [(NS, "wf", "r1"), (NS, "keep", "rk")])) == [
        ((NS, "keep", "rk"), REFS, "aa/shared"), ((NS, "wf", "r1"), REFS, "aa/k1"),
        ((NS, "wf", "r1"), REFS, "aa/k2"), ((NS, "wf", "r1"), REFS, "aa/shared")]  # fmt: skip
    assert sorted(await store.find_payload_references(0, ["aa/shared", "aa/k2", "aa/none", "aa/k2"])) == [
        ("aa/k2", (NS, "wf", "r1")), ("aa/shared", (NS, "keep", "rk")), ("aa/shared", (NS, "wf", "r1"))]  # fmt: skip
    assert await store.find_payload_references(1, ["aa/shared"]) == []

    assert await store.delete_executions(0, r0, [(NS, "wf", "r1"), (NS, "wf", "missing")]) == [(NS, "wf", "r1")]
    assert await store.get_execution(0, NS, "wf", "r1") is None
    assert await store.read_history(0, NS, "wf", "r1") == []
    assert await store.get_current_execution(0, NS, "wf") is None  # the workflow id may be used again
    assert await store.list_payload_refs(0, [(NS, "wf", "r1")]) == []
    assert await store.find_payload_references(0, ["aa/shared", "aa/k1"]) == [("aa/shared", (NS, "keep", "rk"))]
    assert await store.list_closed_executions(0, NS, 1e12) == []
    await store.write(0, r0, [create("wf", "r2")])  # a new run of the deleted one's workflow id
    assert (await store.get_current_execution(0, NS, "wf")).run_id == "r2"  # type: ignore[union-attr]
    assert await store.read_history(0, NS, "keep", "rk") == [b"rk-e1"]  # the other run is untouched


async def test_delete_never_touches_running_or_attention_runs(store: Store) -> None:
    r0 = await store.acquire_shard(0)
    await store.write(0, r0, [create("run", "r-run", events=2, payload_refs=((REFS, "k-run"),)),
                              create("att", "r-att", events=2, payload_refs=((REFS, "k-att"),)),
                              create("done", "r-done")])
    await store.write(0, r0, [closed("att", "r-att", 50.0, attention=True, event=3), closed("done", "r-done", 60.0)])
    keys = [(NS, "run", "r-run"), (NS, "att", "r-att"), (NS, "done", "r-done")]
    assert await store.delete_executions(0, r0, keys) == [(NS, "done", "r-done")]
    for _, workflow_id, run_id in keys[:2]:
        assert await store.get_execution(0, NS, workflow_id, run_id) is not None
        assert len(await store.read_history(0, NS, workflow_id, run_id)) == (2 if workflow_id == "run" else 3)
        assert (await store.get_current_execution(0, NS, workflow_id)).run_id == run_id  # type: ignore[union-attr]
    assert sorted(k for k, _ in await store.find_payload_references(0, ["k-run", "k-att"])) == ["k-att", "k-run"]
    assert await store.delete_executions(0, r0, []) == []


async def test_delete_keeps_the_current_row_of_a_newer_run(store: Store) -> None:
    """Continue-as-new: the closed first run goes, its successor stays current."""
    r0 = await store.acquire_shard(0)
    await store.write(0, r0, [create("wf", "r1")])
    await store.write(0, r0, [closed("wf", "r1", 10.0), create("wf", "r2")])
    assert await store.delete_executions(0, r0, [(NS, "wf", "r1")]) == [(NS, "wf", "r1")]
    assert (await store.get_current_execution(0, NS, "wf")).run_id == "r2"  # type: ignore[union-attr]
    assert await store.get_execution(0, NS, "wf", "r2") is not None


async def test_stale_owner_cannot_delete(backend: StoreFactory) -> None:
    first, second = backend(), backend()
    old = await first.acquire_shard(0)
    await first.write(0, old, [create("wf", "r1", payload_refs=((REFS, "k1"),))])
    await first.write(0, old, [closed("wf", "r1", 10.0)])
    new = await second.acquire_shard(0)
    with pytest.raises(ShardOwnershipLostError):
        await first.delete_executions(0, old, [(NS, "wf", "r1")])
    assert await second.get_execution(0, NS, "wf", "r1") is not None
    assert await second.list_payload_refs(0, [(NS, "wf", "r1")]) == [((NS, "wf", "r1"), REFS, "k1")]
    assert await second.delete_executions(0, new, [(NS, "wf", "r1")]) == [(NS, "wf", "r1")]


async def test_sqlite_closed_runs_come_from_the_retention_index(tmp_path: Path) -> None:
    from rayflow.persistence.sqlite import _QUERIES

    sqlite = SqliteStore(tmp_path / "data")
    try:
        await sqlite.acquire_shard(0)
    finally:
        await sqlite.close()
    conn = sqlite3.connect(tmp_path / "data" / "shard-0.db")
    try:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {_QUERIES.select_closed}", (NS, 1.0, 10)))
        assert "executions_closed" in plan and "TEMP B-TREE" not in plan, plan
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {_QUERIES.select_namespaces}"))
        assert "SCAN executions" not in plan.replace("USING COVERING INDEX", ""), plan
    finally:
        conn.close()


async def test_sqlite_version_2_shard_database_gets_the_retention_tables(tmp_path: Path) -> None:
    """A shard file of schema version 2 gains the payload index and the retention index when opened."""
    from rayflow.persistence.schema import SCHEMA_VERSION

    data = tmp_path / "data"
    sqlite = SqliteStore(data)
    try:
        r0 = await sqlite.acquire_shard(0)
        await sqlite.write(0, r0, [create("old", "r-old")])
    finally:
        await sqlite.close()
    conn = sqlite3.connect(data / "shard-0.db")
    try:
        conn.executescript("DROP TABLE payload_refs; DROP INDEX executions_closed; PRAGMA user_version = 2;")
    finally:
        conn.close()
    sqlite = SqliteStore(data)
    try:
        r0 = await sqlite.acquire_shard(0)
        await sqlite.write(0, r0, [closed("old", "r-old", 5.0, payload_refs=((REFS, "k"),))])
        assert [r.run_id for r in await sqlite.list_closed_executions(0, NS, 10.0)] == ["r-old"]
        assert await sqlite.find_payload_references(0, ["k"]) == [("k", (NS, "old", "r-old"))]
    finally:
        await sqlite.close()
    conn = sqlite3.connect(data / "shard-0.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"payload_refs", "payload_refs_key", "executions_closed"} <= names
    finally:
        conn.close()


@pytest.mark.parametrize("stale", [False, True])
async def test_running_rows_with_close_time_are_never_listed(store: Store, stale: bool) -> None:
    """Only the status says a run is closed: a RUNNING row is never listed nor deleted, whatever its close time."""
    r0 = await store.acquire_shard(0)
    await store.write(0, r0, [create("wf", "r1", close_time=5.0 if stale else 0.0)])
    assert await store.list_closed_executions(0, NS, 1e12) == []
    assert await store.delete_executions(0, r0, [(NS, "wf", "r1")]) == []
    assert (await store.get_execution(0, NS, "wf", "r1")).status == RUNNING  # type: ignore[union-attr]
