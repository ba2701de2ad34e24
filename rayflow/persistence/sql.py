"""What the SQL backends share (internal): their statements, the conflict rules of a write, and the
Store methods built on them.

``SqliteStore`` and ``PostgresStore`` are thin subclasses of ``SqlStore``: each says how it runs one
query (``_read``) and how it runs the steps of one call in a transaction, alone or in a group commit
with other calls, inside a savepoint of its own (``_write``). A step is a statement and, optionally, a
check of its outcome (first row, row count): a failed check rolls back the whole call and its error
goes to that call's caller only. A check reads only its own statement's outcome, so a backend may run
every statement of a call before checking any (PostgreSQL pipelines them, then rolls back to the
savepoint if a check fails): the first failing check is the same error as when checking each in turn.

The statements differ between backends only in the placeholder and in PostgreSQL's leading ``shard_id``
column (one database holds every shard where SQLite has one file per shard).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rayflow.constants import (
    TABLE_CURRENT_EXECUTIONS,
    TABLE_EXECUTIONS,
    TABLE_HISTORY,
    TABLE_METADATA,
    TABLE_PAYLOAD_REFS,
    TABLE_SHARDS,
)
from rayflow.exceptions import RayflowError
from rayflow.persistence.store import (
    NUM_SHARDS_KEY,
    STATUS_RUNNING,
    CurrentExecution,
    ExecutionConflictError,
    ExecutionRecord,
    ExecutionSummary,
    ExecutionWrite,
    ShardOwnershipLostError,
    Store,
)

__all__ = [
    "BUILD_IDS_SEPARATOR",
    "DURABILITIES",
    "Outcome",
    "Queries",
    "SqlStore",
    "Step",
    "check_durability",
    "check_shard_id",
    "decode_build_ids",
    "delete_steps",
    "encode_build_ids",
    "list_executions_query",
    "resolve",
    "write_steps",
]

#: Accepted ``durability`` values (what each means is the backend's to say).
DURABILITIES = ("normal", "fsync")

EXECUTION_COLUMNS = "namespace, workflow_id, run_id, state, status, next_event_id"
SUMMARY_COLUMNS = (
    "namespace, workflow_id, run_id, workflow_type, task_queue, status, start_time, close_time, next_event_id, "
    "build_ids"
)

#: The ``build_ids`` column holds a run's BuildIds entries as ``"|a|b|"`` (``""`` for none): each entry between
#: two separators, so ``LIKE '%|a|%'`` finds exactly the entry ``a``.
BUILD_IDS_SEPARATOR = "|"
# The ESCAPE character of the build id filter's LIKE pattern (neither a placeholder nor a backslash, which a
# PostgreSQL server without standard_conforming_strings would read as a string escape).
_LIKE_ESCAPE = "!"

Params = Sequence[Any]
# Payload keys per ``IN (...)`` list (well under either backend's limit on parameters).
_IN_CHUNK = 500


@dataclass(frozen=True)
class Outcome:
    """What one statement gave: its first row (None when it returns no row) and its row count."""

    row: tuple[Any, ...] | None
    rowcount: int


@dataclass(frozen=True)
class Step:
    """One statement of a call. ``check`` returns the error that fails the call, or None.

    ``many`` (SQLite only): run ``sql`` once per parameter row (``executemany``) instead of with ``params``.
    """

    sql: str
    params: Params = ()
    check: Callable[[Outcome], RayflowError | None] | None = None
    many: Sequence[Params] | None = None


class Queries:
    """The statements of one backend, written once with ``?`` placeholders.

    Args:
        param: the backend's placeholder (``"?"`` for sqlite3, ``"%s"`` for psycopg).
        shard_column: the tables hold every shard, keyed by a leading ``shard_id`` column.
        lock_shard: appended to the ownership read that starts a write (PostgreSQL: ``" FOR SHARE"``, so a
            concurrent ``acquire_shard`` waits for the write's transaction instead of passing it).
    """

    def __init__(self, param: str = "?", *, shard_column: bool = False, lock_shard: str = "") -> None:
        self.param = param
        self.shard_column = shard_column
        cols, vals = ("shard_id, ", "?, ") if shard_column else ("", "")
        workflow = f"{'shard_id = ? AND ' if shard_column else ''}namespace = ? AND workflow_id = ?"
        run = f"{workflow} AND run_id = ?"
        sql = self.sql
        # Metadata and shard ownership.
        self.select_metadata = sql(f"SELECT value FROM {TABLE_METADATA} WHERE key = ?")
        self.insert_metadata = sql(
            f"INSERT INTO {TABLE_METADATA} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
        )
        self.upsert_metadata = sql(
            f"INSERT INTO {TABLE_METADATA} (key, value) VALUES (?, ?) "
            f"ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        self.bump_range = sql(
            f"INSERT INTO {TABLE_SHARDS} (shard_id, range_id) VALUES (?, 1) "
            f"ON CONFLICT (shard_id) DO UPDATE SET range_id = {TABLE_SHARDS}.range_id + 1"
        )
        self.select_range = sql(f"SELECT range_id FROM {TABLE_SHARDS} WHERE shard_id = ?")
        self.select_range_locked = self.select_range + lock_shard
        # Writes (the conflict rules: write_steps).
        self.select_current_run = sql(f"SELECT run_id, status FROM {TABLE_CURRENT_EXECUTIONS} WHERE {workflow}")
        self.insert_execution = sql(
            f"INSERT INTO {TABLE_EXECUTIONS} ({cols}namespace, workflow_id, run_id, workflow_type, task_queue, "
            f"status, start_time, close_time, next_event_id, state, needs_attention, build_ids) "
            f"VALUES ({vals}?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.upsert_current = sql(
            f"INSERT INTO {TABLE_CURRENT_EXECUTIONS} ({cols}namespace, workflow_id, run_id, status, request_id) "
            f"VALUES ({vals}?, ?, ?, ?, ?) ON CONFLICT ({cols}namespace, workflow_id) DO UPDATE SET "
            f"run_id = excluded.run_id, status = excluded.status, request_id = excluded.request_id"
        )
        # Empty or zero listing fields keep the stored ones (build_ids: no entries keep the stored ones).
        self.update_execution = sql(
            f"UPDATE {TABLE_EXECUTIONS} SET state = ?, status = ?, next_event_id = ?, needs_attention = ?, "
            f"workflow_type = CASE WHEN ? != '' THEN ? ELSE workflow_type END, "
            f"task_queue = CASE WHEN ? != '' THEN ? ELSE task_queue END, "
            f"start_time = CASE WHEN ? > 0 THEN ? ELSE start_time END, "
            f"close_time = CASE WHEN ? > 0 THEN ? ELSE close_time END, "
            f"build_ids = CASE WHEN ? != '' THEN ? ELSE build_ids END "
            f"WHERE {run}"
        )
        self.update_current = sql(f"UPDATE {TABLE_CURRENT_EXECUTIONS} SET status = ? WHERE {run}")
        self.insert_event = sql(
            f"INSERT INTO {TABLE_HISTORY} ({cols}namespace, workflow_id, run_id, event_id, data) "
            f"VALUES ({vals}?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        # Reads.
        self.select_execution = sql(f"SELECT {EXECUTION_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE {run}")
        self.select_current = sql(f"SELECT run_id, status, request_id FROM {TABLE_CURRENT_EXECUTIONS} WHERE {workflow}")
        self.select_open = sql(
            f"SELECT {EXECUTION_COLUMNS} FROM {TABLE_EXECUTIONS} "
            f"WHERE {'shard_id = ? AND ' if shard_column else ''}(status = {STATUS_RUNNING} OR needs_attention = 1) "
            f"ORDER BY start_time"
        )
        # Open executions page by page, in key order (the primary key's index; with a shard column it leads).
        key_columns = f"{'shard_id, ' if shard_column else ''}namespace, workflow_id, run_id"
        open_rows = f"SELECT {EXECUTION_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE (status = {STATUS_RUNNING} OR needs_attention = 1)"
        self.select_open_first = sql(
            f"{open_rows}{' AND shard_id = ?' if shard_column else ''} ORDER BY {key_columns} LIMIT ?"
        )
        self.select_open_after = sql(
            f"{open_rows}{' AND shard_id = ?' if shard_column else ''} AND ({key_columns}) > "
            f"({'?, ' if shard_column else ''}?, ?, ?) ORDER BY {key_columns} LIMIT ?"
        )
        history = f"SELECT data FROM {TABLE_HISTORY} WHERE {run} AND event_id >= ?"
        self.select_history = sql(f"{history} ORDER BY event_id")
        self.select_history_until = sql(f"{history} AND event_id <= ? ORDER BY event_id")
        # Retention. Namespaces by a skip scan of the listing index (one lookup per namespace); closed runs by the
        # partial index on (namespace, close_time), whose predicate the query repeats word for word.
        shard = "shard_id = ? AND " if shard_column else ""
        self.select_namespaces = sql(
            f"WITH RECURSIVE ns(name) AS (SELECT MIN(namespace) FROM {TABLE_EXECUTIONS}"
            f"{' WHERE shard_id = ?' if shard_column else ''} UNION ALL SELECT (SELECT MIN(namespace) FROM "
            f"{TABLE_EXECUTIONS} WHERE {shard}namespace > ns.name) FROM ns WHERE ns.name IS NOT NULL) "
            f"SELECT name FROM ns WHERE name IS NOT NULL"
        )
        self.select_closed = sql(
            f"SELECT {SUMMARY_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE {shard}namespace = ? AND close_time > 0 "
            f"AND close_time < ? AND status != {STATUS_RUNNING} AND needs_attention = 0 ORDER BY close_time LIMIT ?"
        )
        self.insert_payload_ref = sql(
            f"INSERT INTO {TABLE_PAYLOAD_REFS} ({cols}namespace, workflow_id, run_id, payload_key, store) "
            f"VALUES ({vals}?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.select_payload_refs = sql(f"SELECT payload_key, store FROM {TABLE_PAYLOAD_REFS} WHERE {run}")
        # ... WHERE payload_key IN (<placeholders>): completed by find_payload_references.
        self.select_references = (
            f"SELECT payload_key, namespace, workflow_id, run_id FROM {TABLE_PAYLOAD_REFS} WHERE {shard}payload_key IN"
        )
        # A run's rows go with its execution row: each statement after the first deletes only once that row is gone
        # (refused for a RUNNING run or one that needs attention), and the current row only when it points at it.
        gone = f"NOT EXISTS (SELECT 1 FROM {TABLE_EXECUTIONS} WHERE {run})"
        self.delete_execution = sql(
            f"DELETE FROM {TABLE_EXECUTIONS} WHERE {run} AND status != {STATUS_RUNNING} AND needs_attention = 0"
        )
        self.delete_history = sql(f"DELETE FROM {TABLE_HISTORY} WHERE {run} AND {gone}")
        self.delete_payload_refs = sql(f"DELETE FROM {TABLE_PAYLOAD_REFS} WHERE {run} AND {gone}")
        self.delete_current = sql(
            f"DELETE FROM {TABLE_CURRENT_EXECUTIONS} WHERE {run} AND status != {STATUS_RUNNING} AND {gone}"
        )

    def sql(self, text: str) -> str:
        """``text`` (written with ``?`` placeholders) in this backend's placeholder style."""
        return text if self.param == "?" else text.replace("?", self.param)

    def scope(self, shard_id: int) -> tuple[int, ...]:
        """The leading parameters that select a shard's rows: ``(shard_id,)``, or nothing for a file per shard."""
        return (shard_id,) if self.shard_column else ()

    def events_step(self, scope: Params, key: Params, events: list[tuple[int, bytes]], check: Any) -> Step:
        """The step appending ``events`` to the run ``key``; its row count is how many were new."""
        return Step(self.insert_event, check=check, many=[(*scope, *key, event_id, data) for event_id, data in events])

    def payload_refs_step(self, scope: Params, key: Params, refs: Sequence[tuple[str, str]]) -> Step:
        """The step adding the run's ``(store URL, payload key)`` references to the payload index (known ones
        are kept)."""
        return Step(self.insert_payload_ref, many=[(*scope, *key, payload_key, store) for store, payload_key in refs])


def _fence(queries: Queries, shard_id: int, range_id: int) -> Step:
    """The first step of every shard write: fails unless ``range_id`` is still the shard's ownership counter."""

    def fenced(outcome: Outcome) -> RayflowError | None:
        stored = None if outcome.row is None else outcome.row[0]
        if stored == range_id:
            return None
        return ShardOwnershipLostError(
            f"shard {shard_id} is owned by range id {stored}, not {range_id}: another owner acquired it; "
            f"this owner must stop writing"
        )

    return Step(queries.select_range_locked, (shard_id,), fenced)


def write_steps(queries: Queries, shard_id: int, range_id: int, writes: list[ExecutionWrite]) -> list[Step]:
    """The steps of ``Store.write``: the fencing check, then each execution change with its conflict rules."""
    steps = [_fence(queries, shard_id, range_id)]
    scope = queries.scope(shard_id)
    for item in writes:
        steps += _execution_steps(queries, scope, item)
    return steps


def delete_steps(queries: Queries, shard_id: int, range_id: int, keys: Sequence[tuple[str, str, str]],
                 deleted: dict[int, bool]) -> list[Step]:
    """The steps of ``Store.delete_executions``: the fencing check, then each run's rows. ``deleted[i]`` is set
    to whether the execution row of ``keys[i]`` was deleted (its check records it, and fails nothing)."""

    def recorder(index: int) -> Callable[[Outcome], None]:
        def record(outcome: Outcome) -> None:
            deleted[index] = outcome.rowcount > 0  # set again if a backend runs the call again: the last one holds

        return record

    steps = [_fence(queries, shard_id, range_id)]
    scope = queries.scope(shard_id)
    for index, key in enumerate(keys):
        params = (*scope, *key)
        steps += [
            Step(queries.delete_execution, params, recorder(index)),
            Step(queries.delete_history, (*params, *params)),
            Step(queries.delete_payload_refs, (*params, *params)),
            Step(queries.delete_current, (*params, *params)),
        ]
    return steps


def encode_build_ids(build_ids: Sequence[str]) -> str:
    """The ``build_ids`` column value of these entries: ``"|a|b|"``, or ``""`` for none.

    Raises:
        ValueError: an entry contains the separator ``"|"`` (or ``build_ids`` is one string, not a sequence).
    """
    if isinstance(build_ids, str):
        raise ValueError(f"build_ids must be a sequence of entries, not the string {build_ids!r}")
    entries = tuple(build_ids)
    for entry in entries:
        if not isinstance(entry, str):
            raise ValueError(f"a build id entry must be a string, got {entry!r}")
        if BUILD_IDS_SEPARATOR in entry:
            raise ValueError(f"build id entry {entry!r} contains {BUILD_IDS_SEPARATOR!r}, which the store cannot keep")
    if not entries:
        return ""
    return f"{BUILD_IDS_SEPARATOR}{BUILD_IDS_SEPARATOR.join(entries)}{BUILD_IDS_SEPARATOR}"


def decode_build_ids(text: str) -> tuple[str, ...]:
    """The entries of a ``build_ids`` column value (``encode_build_ids`` reversed)."""
    return tuple(text[1:-1].split(BUILD_IDS_SEPARATOR)) if text else ()


def _build_id_pattern(build_id: str) -> str:
    """The LIKE pattern (ESCAPE ``_LIKE_ESCAPE``) of a ``build_ids`` value holding exactly the entry ``build_id``."""
    escaped = "".join(f"{_LIKE_ESCAPE}{char}" if char in ("%", "_", _LIKE_ESCAPE) else char for char in build_id)
    return f"%{BUILD_IDS_SEPARATOR}{escaped}{BUILD_IDS_SEPARATOR}%"


def _execution_steps(queries: Queries, scope: Params, item: ExecutionWrite) -> list[Step]:
    key = (item.namespace, item.workflow_id, item.run_id)
    build_ids = encode_build_ids(item.build_ids)
    name = f"execution {item.workflow_id!r} run {item.run_id!r}"

    def no_open_run(outcome: Outcome) -> RayflowError | None:
        if outcome.row is None or outcome.row[1] != STATUS_RUNNING:
            return None
        return ExecutionConflictError(
            f"workflow {item.workflow_id!r} in namespace {item.namespace!r} already has an open run "
            f"({outcome.row[0]}); it must close before a new run starts"
        )

    def inserted(outcome: Outcome) -> RayflowError | None:
        if outcome.rowcount:
            return None
        return ExecutionConflictError(f"{name} in namespace {item.namespace!r} already exists")

    def updated(outcome: Outcome) -> RayflowError | None:
        if outcome.rowcount:
            return None
        return ExecutionConflictError(
            f"{name} in namespace {item.namespace!r} does not exist; create it first (ExecutionWrite(create=True))"
        )

    def appended(outcome: Outcome) -> RayflowError | None:
        if outcome.rowcount == len(item.new_events):
            return None
        first, last = item.new_events[0][0], item.new_events[-1][0]
        return ExecutionConflictError(f"{name}: an event with an id in {first}..{last} is already in its history")

    if item.create:
        steps = [
            Step(queries.select_current_run, (*scope, *key[:2]), no_open_run),
            Step(
                queries.insert_execution,
                (*scope, *key, item.workflow_type, item.task_queue, item.status, item.start_time, item.close_time,
                 item.next_event_id, item.state, int(item.needs_attention), build_ids),
                inserted,
            ),
            Step(queries.upsert_current, (*scope, *key, item.status, item.request_id)),
        ]  # fmt: skip
    else:
        steps = [
            Step(
                queries.update_execution,
                (item.state, item.status, item.next_event_id, int(item.needs_attention), *(item.workflow_type,) * 2,
                 *(item.task_queue,) * 2, *(item.start_time,) * 2, *(item.close_time,) * 2, *(build_ids,) * 2,
                 *scope, *key),
                updated,
            ),
            Step(queries.update_current, (item.status, *scope, *key)),
        ]  # fmt: skip
    if item.new_events:
        steps.append(queries.events_step(scope, key, item.new_events, appended))
    if item.payload_refs:
        steps.append(queries.payload_refs_step(scope, key, item.payload_refs))
    return steps


def list_executions_query(
    namespace: str,
    *,
    status: int | None = None,
    workflow_type: str | None = None,
    task_queue: str | None = None,
    start_time_min: float | None = None,
    start_time_max: float | None = None,
    before: tuple[float, str] | None = None,
    limit: int = 100,
    build_id: str | None = None,
    count: bool = False,
    shard_id: int | None = None,
    param: str = "?",
) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) of ``list_executions``, or of ``count_executions`` with ``count=True``.

    Equality filters and the start-time range lead into one of the ``executions_list_*`` indexes, whose
    last columns are the sort key ``(start_time, run_id)``: the database walks that index backwards from
    the cursor and stops after ``limit`` rows (no table scan, no sort). ``shard_id`` (PostgreSQL: every
    shard in one table) adds the leading index column; ``param`` is the placeholder style.

    ``build_id`` is matched with ``LIKE '%|<entry>|%'`` (its ``%``, ``_`` and escape character escaped), which no
    index serves: the rows that the other filters' index yields are read and tested one by one, so a rare build
    id costs a scan of those rows. Accepted: a BuildIds listing is an occasional operator query, and the other
    filters (type, queue, status, start times) narrow it.
    """
    where, params = ["namespace = ?"], [namespace]
    if shard_id is not None:
        where.insert(0, "shard_id = ?")
        params.insert(0, shard_id)
    for column, value in (("status", status), ("workflow_type", workflow_type), ("task_queue", task_queue)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if start_time_min is not None:
        where.append("start_time >= ?")
        params.append(start_time_min)
    if start_time_max is not None:
        where.append("start_time <= ?")
        params.append(start_time_max)
    if build_id is not None:
        # Not indexed: a scan of what the other filters' index range yields (see the docstring).
        where.append(f"build_ids LIKE ? ESCAPE '{_LIKE_ESCAPE}'")
        params.append(_build_id_pattern(build_id))
    if count:
        sql = f"SELECT COUNT(*) FROM {TABLE_EXECUTIONS} WHERE {' AND '.join(where)}"
    else:
        if before is not None:
            where.append("(start_time, run_id) < (?, ?)")
            params.extend(before)
        params.append(limit)
        sql = (
            f"SELECT {SUMMARY_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE {' AND '.join(where)} "
            f"ORDER BY start_time DESC, run_id DESC LIMIT ?"
        )
    return (sql if param == "?" else sql.replace("?", param)), params


def resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Hand a queued write's outcome to its caller (on the caller's loop)."""
    if future.done():  # the caller was cancelled; the write happened (or not) all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def check_shard_id(shard_id: int) -> None:
    if not isinstance(shard_id, int) or isinstance(shard_id, bool) or shard_id < 0:
        raise ValueError(f"shard_id must be a non-negative int, got {shard_id!r}")


def check_durability(durability: str) -> None:
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be one of {sorted(DURABILITIES)}, got {durability!r}")


def _summary(row: Sequence[Any]) -> ExecutionSummary:
    *columns, build_ids = row
    return ExecutionSummary(*columns, build_ids=decode_build_ids(build_ids))


def _record(row: Sequence[Any]) -> ExecutionRecord:
    namespace, workflow_id, run_id, state, status, next_event_id = row
    return ExecutionRecord(namespace, workflow_id, run_id, bytes(state), status, next_event_id)


class SqlStore(Store):
    """The Store methods of a SQL backend; a subclass sets ``queries`` and runs reads and writes."""

    queries: Queries

    @abstractmethod
    async def _read(self, shard_id: int | None, sql: str, params: Params, *, one: bool) -> Any:
        """Run one query on the shard's data (``None``: cluster metadata): its first row, or all rows."""

    @abstractmethod
    async def _write(self, shard_id: int | None, steps: list[Step]) -> tuple[Any, ...] | None:
        """Run ``steps`` atomically (all or nothing) once committed: the last step's first row.

        Raises the error of the first failed check (the call wrote nothing).
        """

    # -- cluster metadata -------------------------------------------------------------------------
    async def init_cluster(self, num_shards: int) -> int:
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")
        q = self.queries
        row = await self._write(
            None,
            [
                Step(q.insert_metadata, (NUM_SHARDS_KEY, str(num_shards).encode())),
                Step(q.select_metadata, (NUM_SHARDS_KEY,)),
            ],
        )
        assert row is not None
        return int(bytes(row[0]).decode())

    async def get_metadata(self, key: str) -> bytes | None:
        row = await self._read(None, self.queries.select_metadata, (key,), one=True)
        return None if row is None else bytes(row[0])

    async def put_metadata(self, key: str, value: bytes) -> None:
        await self._write(None, [Step(self.queries.upsert_metadata, (key, bytes(value)))])

    # -- shards -----------------------------------------------------------------------------------
    async def acquire_shard(self, shard_id: int) -> int:
        q = self.queries
        row = await self._write(shard_id, [Step(q.bump_range, (shard_id,)), Step(q.select_range, (shard_id,))])
        assert row is not None
        return int(row[0])

    # -- executions -------------------------------------------------------------------------------
    async def write(self, shard_id: int, range_id: int, writes: list[ExecutionWrite]) -> None:
        # The steps hold the values now: the caller may reuse its objects while the write is queued.
        await self._write(shard_id, write_steps(self.queries, shard_id, range_id, list(writes)))

    async def get_execution(
        self, shard_id: int, namespace: str, workflow_id: str, run_id: str
    ) -> ExecutionRecord | None:
        params = (*self.queries.scope(shard_id), namespace, workflow_id, run_id)
        row = await self._read(shard_id, self.queries.select_execution, params, one=True)
        return None if row is None else _record(row)

    async def get_current_execution(self, shard_id: int, namespace: str, workflow_id: str) -> CurrentExecution | None:
        params = (*self.queries.scope(shard_id), namespace, workflow_id)
        row = await self._read(shard_id, self.queries.select_current, params, one=True)
        return None if row is None else CurrentExecution(run_id=row[0], status=row[1], request_id=row[2])

    async def list_open_executions(self, shard_id: int) -> list[ExecutionRecord]:
        rows = await self._read(shard_id, self.queries.select_open, self.queries.scope(shard_id), one=False)
        return [_record(row) for row in rows]

    async def list_open_executions_page(
        self, shard_id: int, after: tuple[str, str, str] | None = None, limit: int = 1000
    ) -> list[ExecutionRecord]:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        q = self.queries
        scope = q.scope(shard_id)
        if after is None:
            sql, params = q.select_open_first, (*scope, limit)
        else:
            sql, params = q.select_open_after, (*scope, *scope, *after, limit)
        return [_record(row) for row in await self._read(shard_id, sql, params, one=False)]

    async def list_executions(
        self,
        shard_id: int,
        namespace: str,
        *,
        status: int | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: float | None = None,
        start_time_max: float | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 100,
        build_id: str | None = None,
    ) -> list[ExecutionSummary]:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        sql, params = self._listing(
            shard_id, namespace, status=status, workflow_type=workflow_type, task_queue=task_queue,
            start_time_min=start_time_min, start_time_max=start_time_max, before=before, limit=limit,
            build_id=build_id,
        )  # fmt: skip
        return [_summary(row) for row in await self._read(shard_id, sql, params, one=False)]

    async def count_executions(
        self,
        shard_id: int,
        namespace: str,
        *,
        status: int | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: float | None = None,
        start_time_max: float | None = None,
        build_id: str | None = None,
    ) -> int:
        sql, params = self._listing(
            shard_id, namespace, status=status, workflow_type=workflow_type, task_queue=task_queue,
            start_time_min=start_time_min, start_time_max=start_time_max, build_id=build_id, count=True,
        )  # fmt: skip
        return int((await self._read(shard_id, sql, params, one=True))[0])

    def _listing(self, shard_id: int, namespace: str, **filters: Any) -> tuple[str, list[Any]]:
        q = self.queries
        return list_executions_query(namespace, shard_id=shard_id if q.shard_column else None, param=q.param, **filters)

    async def read_history(
        self,
        shard_id: int,
        namespace: str,
        workflow_id: str,
        run_id: str,
        first_event_id: int = 1,
        last_event_id: int | None = None,
    ) -> list[bytes]:
        q = self.queries
        params: tuple[Any, ...] = (*q.scope(shard_id), namespace, workflow_id, run_id, first_event_id)
        if last_event_id is None:
            sql = q.select_history
        else:
            sql, params = q.select_history_until, (*params, last_event_id)
        return [bytes(row[0]) for row in await self._read(shard_id, sql, params, one=False)]

    # -- retention --------------------------------------------------------------------------------
    async def list_namespaces(self, shard_id: int) -> list[str]:
        q = self.queries
        params = (*q.scope(shard_id), *q.scope(shard_id))
        return [row[0] for row in await self._read(shard_id, q.select_namespaces, params, one=False)]

    async def list_closed_executions(
        self, shard_id: int, namespace: str, close_time_max: float, limit: int = 100
    ) -> list[ExecutionSummary]:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        q = self.queries
        params = (*q.scope(shard_id), namespace, close_time_max, limit)
        return [_summary(row) for row in await self._read(shard_id, q.select_closed, params, one=False)]

    async def list_payload_refs(
        self, shard_id: int, keys: Sequence[tuple[str, str, str]]
    ) -> list[tuple[tuple[str, str, str], str, str]]:
        q = self.queries
        out: list[tuple[tuple[str, str, str], str, str]] = []
        for namespace, workflow_id, run_id in keys:
            rows = await self._read(shard_id, q.select_payload_refs, (*q.scope(shard_id), namespace, workflow_id,
                                                                      run_id), one=False)
            out += [((namespace, workflow_id, run_id), store, payload_key) for payload_key, store in rows]
        return out

    async def find_payload_references(
        self, shard_id: int, payload_keys: Sequence[str]
    ) -> list[tuple[str, tuple[str, str, str]]]:
        q = self.queries
        keys = list(dict.fromkeys(payload_keys))
        out: list[tuple[str, tuple[str, str, str]]] = []
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start:start + _IN_CHUNK]
            sql = q.sql(f"{q.select_references} ({', '.join('?' * len(chunk))})")
            rows = await self._read(shard_id, sql, (*q.scope(shard_id), *chunk), one=False)
            out += [(payload_key, (namespace, workflow_id, run_id)) for payload_key, namespace, workflow_id, run_id
                    in rows]
        return out

    async def delete_executions(
        self, shard_id: int, range_id: int, keys: Sequence[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]]:
        runs = [(namespace, workflow_id, run_id) for namespace, workflow_id, run_id in keys]
        if not runs:
            return []
        deleted: dict[int, bool] = {}
        await self._write(shard_id, delete_steps(self.queries, shard_id, range_id, runs, deleted))
        return [key for index, key in enumerate(runs) if deleted.get(index)]
