"""Store.list_executions / count_executions: filters, newest-first order and cursor pages on every backend;
index use at 100k rows (SQLite) and on a filtered page (PostgreSQL, with EXPLAIN)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rayflow.constants import SHARD_DB_FILE
from rayflow.persistence import ExecutionWrite, open_store
from rayflow.persistence.sqlite import list_executions_query

RUNNING, COMPLETED, FAILED = 1, 2, 3
NS = "default"


def execution(i: int, *, namespace: str = NS, start_time: float | None = None) -> ExecutionWrite:
    """Execution ``i``: types A/B/C by i % 3, queues q0/q1 by i % 2, status by i % 5, start time 1000 + i."""
    status = RUNNING if i % 5 == 0 else COMPLETED if i % 5 < 4 else FAILED
    return ExecutionWrite(
        namespace=namespace,
        workflow_id=f"wf-{i}",
        run_id=f"run-{i:06d}",
        state=b"s",
        status=status,
        next_event_id=i % 7 + 2,
        create=True,
        workflow_type="ABC"[i % 3],
        task_queue=f"q{i % 2}",
        start_time=1000.0 + i if start_time is None else start_time,
        close_time=0.0 if status == RUNNING else 5000.0,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):
    store = open_store(request.getfixturevalue("postgres_url") if request.param == "postgresql" else tmp_path)
    yield store
    await store.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    store = open_store(tmp_path)
    yield store
    await store.close()


async def test_filters_order_and_pages(store):
    range_id = await store.acquire_shard(0)
    writes = [execution(i) for i in range(60)]
    writes += [execution(100 + i, start_time=2000.0) for i in range(4)]  # same start time: run id breaks the tie
    writes.append(execution(200, namespace="other"))
    await store.write(0, range_id, writes)

    everything = await store.list_executions(0, NS, limit=1000)
    assert len(everything) == 64
    keys = [(row.start_time, row.run_id) for row in everything]
    assert keys == sorted(keys, reverse=True)
    assert [row.run_id for row in everything[:4]] == ["run-000103", "run-000102", "run-000101", "run-000100"]
    first = everything[4]
    assert (first.workflow_id, first.workflow_type, first.task_queue, first.status, first.next_event_id) == (
        "wf-59",
        "C",
        "q1",
        FAILED,
        59 % 7 + 2,
    )

    failed_b = await store.list_executions(0, NS, status=FAILED, workflow_type="B", limit=100)
    expected = sorted((i for i in range(60) if i % 5 == 4 and i % 3 == 1), reverse=True)
    assert [row.run_id for row in failed_b] == [f"run-{i:06d}" for i in expected]
    assert await store.count_executions(0, NS, status=FAILED, workflow_type="B") == len(expected)

    window = await store.list_executions(0, NS, task_queue="q0", start_time_min=1010.0, start_time_max=1020.0)
    assert [row.start_time for row in window] == [1020.0, 1018.0, 1016.0, 1014.0, 1012.0, 1010.0]
    assert await store.count_executions(0, NS, start_time_min=1010.0, start_time_max=1020.0) == 11

    # Pages of 7 with the (start_time, run_id) cursor cover everything once, in order, ties included.
    paged, before = [], None
    while True:
        page = await store.list_executions(0, NS, before=before, limit=7)
        paged += page
        if len(page) < 7:
            break
        before = (page[-1].start_time, page[-1].run_id)
    assert [row.run_id for row in paged] == [row.run_id for row in everything]

    assert [row.run_id for row in await store.list_executions(0, "other")] == ["run-000200"]
    assert await store.list_executions(1, NS) == []  # another shard, another file
    with pytest.raises(ValueError, match="limit"):
        await store.list_executions(0, NS, limit=0)


QUERIES = [
    {},
    {"status": RUNNING},
    {"workflow_type": "B"},
    {"task_queue": "q1"},
    {"status": FAILED, "workflow_type": "C", "start_time_min": 1000.0 + 50_000},
    {"start_time_min": 1000.0 + 10_000, "start_time_max": 1000.0 + 20_000},
    {"status": COMPLETED, "before": (1000.0 + 70_000, "run-070000")},
]


async def test_listing_100k_executions_uses_indexes(sqlite_store, tmp_path):
    """100k executions in one shard: the first filtered page is right and every query is an index search."""
    store = sqlite_store
    count = 100_000
    range_id = await store.acquire_shard(0)
    for chunk in range(0, count, 20_000):
        await store.write(0, range_id, [execution(i) for i in range(chunk, chunk + 20_000)])

    page = await store.list_executions(0, NS, status=FAILED, workflow_type="C", limit=50)
    expected = [i for i in range(count - 1, -1, -1) if i % 5 == 4 and i % 3 == 2][:50]
    assert [row.run_id for row in page] == [f"run-{i:06d}" for i in expected]
    assert all(row.status == FAILED and row.workflow_type == "C" for row in page)

    following = await store.list_executions(
        0, NS, status=FAILED, workflow_type="C", limit=50, before=(page[-1].start_time, page[-1].run_id)
    )
    assert following[0].start_time < page[-1].start_time
    assert await store.count_executions(0, NS, status=RUNNING) == count // 5

    conn = sqlite3.connect(tmp_path / SHARD_DB_FILE.format(index=0))
    try:
        for filters in QUERIES:
            for count_only in (False, True):
                if count_only and "before" in filters:
                    continue
                sql, params = list_executions_query(NS, count=count_only, **filters)
                plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                assert "USING" in plan and "INDEX executions_list_" in plan, (filters, plan)
                assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (filters, plan)
    finally:
        conn.close()


def _fill_postgres(url: str, per_shard: int) -> None:
    """``per_shard`` executions shaped like ``execution(i)`` in shards 0 and 1, written in one statement."""
    from rayflow.constants import TABLE_EXECUTIONS
    from tests.postgres import connect, schema_sql

    with connect(url) as conn:
        conn.execute(f"SET search_path TO {schema_sql(url)}")
        conn.execute(
            f"INSERT INTO {TABLE_EXECUTIONS} (shard_id, namespace, workflow_id, run_id, workflow_type, task_queue, "
            f"status, start_time, close_time, next_event_id, state) "
            f"SELECT shard, %s, 'wf-' || i, 'run-' || lpad(i::text, 6, '0'), (ARRAY['A', 'B', 'C'])[mod(i, 3) + 1], "
            f"'q' || mod(i, 2), CASE WHEN mod(i, 5) = 0 THEN %s WHEN mod(i, 5) < 4 THEN %s ELSE %s END, 1000 + i, "
            f"CASE WHEN mod(i, 5) = 0 THEN 0 ELSE 5000 END, mod(i, 7) + 2, 's' "
            f"FROM generate_series(0, %s) AS i, (VALUES (0), (1)) AS shards (shard)",
            (NS, RUNNING, COMPLETED, FAILED, per_shard - 1),
        )
        conn.execute(f"ANALYZE {TABLE_EXECUTIONS}")


def _plan_nodes(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


def _explain(url: str, sql: str, params: list, *, generic: bool) -> list[dict]:
    """The plan nodes of ``sql``: as run with its values (custom plan), or as a prepared statement's generic plan."""
    import psycopg

    from tests.postgres import connect, schema_sql

    with connect(url) as conn:
        conn.execute(f"SET search_path TO {schema_sql(url)}")
        cursor = psycopg.ClientCursor(conn)
        if generic:
            numbered = sql
            for index in range(1, len(params) + 1):
                numbered = numbered.replace("%s", f"${index}", 1)
            conn.execute(f"PREPARE page AS {numbered}")
            conn.execute("SET plan_cache_mode = force_generic_plan")
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE page ({', '.join(['%s'] * len(params))})", params)
        else:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return _plan_nodes(cursor.fetchone()[0][0]["Plan"])


async def test_postgres_pages_use_indexes(postgres_url):
    """50k executions in each of two shards: filtered pages are right, and each is an index scan with no sort,
    with its values (custom plan) and as the prepared statement the store runs after a few calls (generic plan)."""
    import asyncio

    from rayflow.persistence.sql import list_executions_query

    store = open_store(postgres_url)
    try:
        await store.acquire_shard(0)  # creates the schema
        count = 50_000
        await asyncio.to_thread(_fill_postgres, postgres_url, count)
        page = await store.list_executions(0, NS, status=FAILED, workflow_type="C", limit=50)
        expected = [i for i in range(count - 1, -1, -1) if i % 5 == 4 and i % 3 == 2][:50]
        assert [row.run_id for row in page] == [f"run-{i:06d}" for i in expected]
        following = await store.list_executions(
            0, NS, status=FAILED, workflow_type="C", limit=50, before=(page[-1].start_time, page[-1].run_id)
        )
        assert following[0].start_time < page[-1].start_time
        assert await store.count_executions(0, NS, status=RUNNING) == count // 5
        assert await store.count_executions(1, NS) == count

        for filters in QUERIES:
            sql, params = list_executions_query(NS, shard_id=0, param="%s", limit=50, **filters)
            for generic in (False, True):
                nodes = await asyncio.to_thread(_explain, postgres_url, sql, params, generic=generic)
                kinds = [node["Node Type"] for node in nodes]
                indexes = [node.get("Index Name", "") for node in nodes]
                assert any(name.startswith("executions_list_") for name in indexes), (filters, generic, kinds)
                assert "Seq Scan" not in kinds and "Sort" not in kinds, (filters, generic, kinds, indexes)
    finally:
        await store.close()
