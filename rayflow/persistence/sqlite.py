"""The embedded SQLite store (internal).

A data directory holds ``cluster.db`` (cluster metadata) and ``shard-<i>.db`` (one per history
shard), all in WAL mode. Each database file gets, lazily, one writer thread with its own
connection and one reader thread with another (WAL readers never block the writer), so the event
loop never waits on SQLite.

Group commit: the writer thread drains every write queued while it was busy and commits them in
one transaction. Each queued call runs in its own SAVEPOINT, so a call that fails (a conflict, a
lost shard) is rolled back alone and raises only to its caller; one COMMIT then resolves the
others. With ``synchronous=NORMAL`` (``durability="normal"``) a committed transaction is in the
WAL file and survives ``kill -9`` of any process; ``synchronous=FULL`` (``"fsync"``) also survives
power loss.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayflow.constants import (
    METADATA_DB_FILE,
    SHARD_DB_FILE,
    TABLE_CURRENT_EXECUTIONS,
    TABLE_EXECUTIONS,
    TABLE_HISTORY,
    TABLE_METADATA,
    TABLE_SHARDS,
)
from rayflow.exceptions import RayflowError
from rayflow.persistence.schema import SCHEMA_VERSION, SQLITE_METADATA_SCHEMA, SQLITE_SHARD_SCHEMA
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

__all__ = ["SqliteStore", "list_executions_query"]

logger = logging.getLogger(__name__)

_SYNCHRONOUS = {"normal": "NORMAL", "fsync": "FULL"}
# A second store on the same files (another process) may hold the write lock for a while.
_BUSY_TIMEOUT_MS = 30_000
# Upper bound on calls per group commit, so one transaction stays short.
_MAX_BATCH = 1000

_EXECUTION_COLUMNS = "namespace, workflow_id, run_id, state, status, next_event_id"
_SUMMARY_COLUMNS = (
    "namespace, workflow_id, run_id, workflow_type, task_queue, status, start_time, close_time, next_event_id"
)


@dataclass
class _Job:
    """One queued write: ``fn(conn)`` runs inside a savepoint of the next group transaction."""

    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write happened (or not) all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class _Database:
    """One SQLite file: a writer thread doing group commits and a reader thread."""

    def __init__(self, path: Path, schema: str, synchronous: str) -> None:
        self.path = path
        self.commits = 0  # group transactions committed (observable by tests)
        self._schema = schema
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"rayflow-sqlite-read-{path.name}")
        self._reader_conn: sqlite3.Connection | None = None
        self._writer = threading.Thread(target=self._write_loop, name=f"rayflow-sqlite-write-{path.name}", daemon=True)
        self._writer.start()

    # -- API used by the store (event loop side) ----------------------------------------------------
    async def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn(conn)`` in the next group transaction; returns its result once committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Job(fn, loop, future))
        return await future

    async def read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn(conn)`` on the reader thread (each statement sees the latest commit)."""
        return await asyncio.wrap_future(self._reader.submit(self._run_read, fn))

    async def close(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        await asyncio.wrap_future(self._reader.submit(self._close_reader))
        self._reader.shutdown(wait=False)

    # -- connections --------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions, the writer issues BEGIN/SAVEPOINT/COMMIT itself.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RayflowError(
                    f"could not put {self.path} in WAL mode (got {mode!r}); the data directory must be on a "
                    f"local file system that supports shared memory (not NFS)"
                )
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RayflowError(
                    f"{self.path} has schema version {version}, newer than this rayflow's ({SCHEMA_VERSION}); "
                    f"upgrade rayflow or use another data directory"
                )
            conn.executescript(f"BEGIN IMMEDIATE;\n{self._schema}\nCOMMIT;")
        except BaseException:
            conn.close()
            raise
        return conn

    def _run_read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        if self._reader_conn is None:
            self._ready.result()  # the writer created the schema (or failed to open: raise its error)
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._reader_conn = conn
        return fn(self._reader_conn)

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    # -- writer thread ------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            conn = self._open_writer()
        except BaseException as error:  # noqa: BLE001 - handed to every caller instead
            self._ready.set_exception(error)
            self._fail_forever(error)
            return
        self._ready.set_result(None)
        try:
            stop = False
            while not stop:
                job = self._queue.get()
                if job is None:
                    break
                batch = [job]
                while len(batch) < _MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                try:
                    self._run_batch(conn, batch)
                except Exception as error:  # a bug or a broken connection: never leave a caller waiting
                    logger.exception("group commit of %s failed", self.path)
                    for job in batch:
                        self._deliver(job, None, error)
        finally:
            conn.close()

    def _fail_forever(self, error: BaseException) -> None:
        while (job := self._queue.get()) is not None:
            self._deliver(job, None, error)

    @staticmethod
    def _deliver(job: _Job, result: Any, error: BaseException | None) -> None:
        try:
            job.loop.call_soon_threadsafe(_resolve, job.future, result, error)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            pass

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            for job in batch:
                self._deliver(job, None, error)
            return
        outcomes: list[tuple[Any, BaseException | None]] = []
        for job in batch:
            try:
                conn.execute("SAVEPOINT job")
                result = job.fn(conn)
                conn.execute("RELEASE job")
                outcomes.append((result, None))
            except Exception as error:  # noqa: BLE001 - raised to this call's caller only
                if not self._rollback_savepoint(conn):
                    # SQLite rolled back the whole transaction (I/O error, disk full): every call fails.
                    for failed in batch:
                        self._deliver(failed, None, error)
                    return
                outcomes.append((None, error))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for job in batch:
                self._deliver(job, None, error)
            return
        self.commits += 1
        for job, (result, error) in zip(batch, outcomes, strict=True):
            self._deliver(job, result, error)

    @staticmethod
    def _rollback_savepoint(conn: sqlite3.Connection) -> bool:
        """Undo the failed call only; False when the transaction itself is gone."""
        if not conn.in_transaction:
            return False
        try:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
        except sqlite3.Error:
            logger.exception("rolling back a failed write failed; failing the whole group commit")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        return True


class SqliteStore(Store):
    """The store in a data directory of SQLite files (created if missing).

    Args:
        data_dir: the data directory.
        durability: ``"normal"`` (default; ``synchronous=NORMAL``: a committed write survives ``kill -9``
            of any process) or ``"fsync"`` (``synchronous=FULL``: it also survives power loss).
    """

    def __init__(self, data_dir: str | Path, *, durability: str = "normal") -> None:
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be one of {sorted(_SYNCHRONOUS)}, got {durability!r}")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._synchronous = _SYNCHRONOUS[durability]
        self._metadata: _Database | None = None
        self._shards: dict[int, _Database] = {}
        self._closed = False

    def _metadata_db(self) -> _Database:
        self._check_open()
        if self._metadata is None:
            self._metadata = _Database(self.data_dir / METADATA_DB_FILE, SQLITE_METADATA_SCHEMA, self._synchronous)
        return self._metadata

    def _shard_db(self, shard_id: int) -> _Database:
        self._check_open()
        db = self._shards.get(shard_id)
        if db is None:
            if not isinstance(shard_id, int) or shard_id < 0:
                raise ValueError(f"shard_id must be a non-negative int, got {shard_id!r}")
            path = self.data_dir / SHARD_DB_FILE.format(index=shard_id)
            db = self._shards[shard_id] = _Database(path, SQLITE_SHARD_SCHEMA, self._synchronous)
        return db

    def _check_open(self) -> None:
        if self._closed:
            raise RayflowError(f"the store of {self.data_dir} is closed; open a new one")

    # -- cluster metadata -------------------------------------------------------------------------
    async def init_cluster(self, num_shards: int) -> int:
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")

        def init(conn: sqlite3.Connection) -> int:
            row = conn.execute(f"SELECT value FROM {TABLE_METADATA} WHERE key = ?", (NUM_SHARDS_KEY,)).fetchone()
            if row is not None:
                return int(bytes(row[0]).decode())
            conn.execute(
                f"INSERT INTO {TABLE_METADATA} (key, value) VALUES (?, ?)", (NUM_SHARDS_KEY, str(num_shards).encode())
            )
            return num_shards

        return await self._metadata_db().write(init)

    async def get_metadata(self, key: str) -> bytes | None:
        def get(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(f"SELECT value FROM {TABLE_METADATA} WHERE key = ?", (key,)).fetchone()
            return None if row is None else bytes(row[0])

        return await self._metadata_db().read(get)

    async def put_metadata(self, key: str, value: bytes) -> None:
        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO {TABLE_METADATA} (key, value) VALUES (?, ?) "
                f"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, bytes(value)),
            )

        await self._metadata_db().write(put)

    # -- shards -----------------------------------------------------------------------------------
    async def acquire_shard(self, shard_id: int) -> int:
        def acquire(conn: sqlite3.Connection) -> int:
            row = conn.execute(f"SELECT range_id FROM {TABLE_SHARDS} WHERE shard_id = ?", (shard_id,)).fetchone()
            range_id = 1 if row is None else row[0] + 1
            conn.execute(
                f"INSERT INTO {TABLE_SHARDS} (shard_id, range_id) VALUES (?, ?) "
                f"ON CONFLICT (shard_id) DO UPDATE SET range_id = excluded.range_id",
                (shard_id, range_id),
            )
            return range_id

        return await self._shard_db(shard_id).write(acquire)

    # -- executions -------------------------------------------------------------------------------
    async def write(self, shard_id: int, range_id: int, writes: list[ExecutionWrite]) -> None:
        writes = list(writes)  # the caller may reuse its list while the write is queued

        def apply(conn: sqlite3.Connection) -> None:
            row = conn.execute(f"SELECT range_id FROM {TABLE_SHARDS} WHERE shard_id = ?", (shard_id,)).fetchone()
            if row is None or row[0] != range_id:
                raise ShardOwnershipLostError(
                    f"shard {shard_id} is owned by range id {None if row is None else row[0]}, not {range_id}: "
                    f"another owner acquired it; this owner must stop writing"
                )
            for item in writes:
                _apply_write(conn, item)

        await self._shard_db(shard_id).write(apply)

    async def get_execution(
        self, shard_id: int, namespace: str, workflow_id: str, run_id: str
    ) -> ExecutionRecord | None:
        def get(conn: sqlite3.Connection) -> ExecutionRecord | None:
            row = conn.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM {TABLE_EXECUTIONS} "
                f"WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
                (namespace, workflow_id, run_id),
            ).fetchone()
            return None if row is None else _record(row)

        return await self._shard_db(shard_id).read(get)

    async def get_current_execution(self, shard_id: int, namespace: str, workflow_id: str) -> CurrentExecution | None:
        def get(conn: sqlite3.Connection) -> CurrentExecution | None:
            row = conn.execute(
                f"SELECT run_id, status, request_id FROM {TABLE_CURRENT_EXECUTIONS} "
                f"WHERE namespace = ? AND workflow_id = ?",
                (namespace, workflow_id),
            ).fetchone()
            return None if row is None else CurrentExecution(run_id=row[0], status=row[1], request_id=row[2])

        return await self._shard_db(shard_id).read(get)

    async def list_open_executions(self, shard_id: int) -> list[ExecutionRecord]:
        def list_open(conn: sqlite3.Connection) -> list[ExecutionRecord]:
            rows = conn.execute(
                f"SELECT {_EXECUTION_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE status = ? OR needs_attention = 1 "
                f"ORDER BY start_time",
                (STATUS_RUNNING,),
            ).fetchall()
            return [_record(row) for row in rows]

        return await self._shard_db(shard_id).read(list_open)

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
    ) -> list[ExecutionSummary]:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        sql, params = list_executions_query(
            namespace, status=status, workflow_type=workflow_type, task_queue=task_queue,
            start_time_min=start_time_min, start_time_max=start_time_max, before=before, limit=limit,
        )

        def select(conn: sqlite3.Connection) -> list[ExecutionSummary]:
            return [ExecutionSummary(*row) for row in conn.execute(sql, params).fetchall()]

        return await self._shard_db(shard_id).read(select)

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
    ) -> int:
        sql, params = list_executions_query(
            namespace, status=status, workflow_type=workflow_type, task_queue=task_queue,
            start_time_min=start_time_min, start_time_max=start_time_max, count=True,
        )
        return await self._shard_db(shard_id).read(lambda conn: conn.execute(sql, params).fetchone()[0])

    async def read_history(
        self,
        shard_id: int,
        namespace: str,
        workflow_id: str,
        run_id: str,
        first_event_id: int = 1,
        last_event_id: int | None = None,
    ) -> list[bytes]:
        def read(conn: sqlite3.Connection) -> list[bytes]:
            query = (
                f"SELECT data FROM {TABLE_HISTORY} "
                f"WHERE namespace = ? AND workflow_id = ? AND run_id = ? AND event_id >= ?"
            )
            params: list[Any] = [namespace, workflow_id, run_id, first_event_id]
            if last_event_id is not None:
                query += " AND event_id <= ?"
                params.append(last_event_id)
            rows = conn.execute(query + " ORDER BY event_id", params).fetchall()
            return [bytes(row[0]) for row in rows]

        return await self._shard_db(shard_id).read(read)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        databases = [*self._shards.values(), *([self._metadata] if self._metadata else [])]
        await asyncio.gather(*(db.close() for db in databases))


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
    count: bool = False,
) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) of ``list_executions``, or of ``count_executions`` with ``count=True``.

    Equality filters and the start-time range lead into one of the ``executions_list_*`` indexes, whose
    last columns are the sort key ``(start_time, run_id)``: SQLite walks that index backwards from the
    cursor and stops after ``limit`` rows (no table scan, no sort).
    """
    where, params = ["namespace = ?"], [namespace]
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
    if count:
        return f"SELECT COUNT(*) FROM {TABLE_EXECUTIONS} WHERE {' AND '.join(where)}", params
    if before is not None:
        where.append("(start_time, run_id) < (?, ?)")
        params.extend(before)
    params.append(limit)
    return (
        f"SELECT {_SUMMARY_COLUMNS} FROM {TABLE_EXECUTIONS} WHERE {' AND '.join(where)} "
        f"ORDER BY start_time DESC, run_id DESC LIMIT ?",
        params,
    )


def _record(row: tuple[Any, ...]) -> ExecutionRecord:
    return ExecutionRecord(
        namespace=row[0],
        workflow_id=row[1],
        run_id=row[2],
        state=bytes(row[3]),
        status=row[4],
        next_event_id=row[5],
    )


def _apply_write(conn: sqlite3.Connection, item: ExecutionWrite) -> None:
    """One execution change, inside the caller's savepoint (a raise rolls back the whole call)."""
    key = (item.namespace, item.workflow_id, item.run_id)
    if item.create:
        current = conn.execute(
            f"SELECT run_id, status FROM {TABLE_CURRENT_EXECUTIONS} WHERE namespace = ? AND workflow_id = ?",
            key[:2],
        ).fetchone()
        if current is not None and current[1] == STATUS_RUNNING:
            raise ExecutionConflictError(
                f"workflow {item.workflow_id!r} in namespace {item.namespace!r} already has an open run "
                f"({current[0]}); it must close before a new run starts"
            )
        try:
            conn.execute(
                f"INSERT INTO {TABLE_EXECUTIONS} (namespace, workflow_id, run_id, workflow_type, task_queue, "
                f"status, start_time, close_time, next_event_id, state, needs_attention) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    item.workflow_type,
                    item.task_queue,
                    item.status,
                    item.start_time,
                    item.close_time,
                    item.next_event_id,
                    item.state,
                    int(item.needs_attention),
                ),
            )
        except sqlite3.IntegrityError as error:
            raise ExecutionConflictError(
                f"execution {item.workflow_id!r} run {item.run_id!r} in namespace {item.namespace!r} already exists"
            ) from error
        conn.execute(
            f"INSERT INTO {TABLE_CURRENT_EXECUTIONS} (namespace, workflow_id, run_id, status, request_id) "
            f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, workflow_id) DO UPDATE SET "
            f"run_id = excluded.run_id, status = excluded.status, request_id = excluded.request_id",
            (*key, item.status, item.request_id),
        )
    else:
        cursor = conn.execute(
            f"UPDATE {TABLE_EXECUTIONS} SET state = ?, status = ?, next_event_id = ?, needs_attention = ?, "
            f"workflow_type = CASE WHEN ? != '' THEN ? ELSE workflow_type END, "
            f"task_queue = CASE WHEN ? != '' THEN ? ELSE task_queue END, "
            f"start_time = CASE WHEN ? > 0 THEN ? ELSE start_time END, "
            f"close_time = CASE WHEN ? > 0 THEN ? ELSE close_time END "
            f"WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
            (
                item.state,
                item.status,
                item.next_event_id,
                int(item.needs_attention),
                *(item.workflow_type,) * 2,
                *(item.task_queue,) * 2,
                *(item.start_time,) * 2,
                *(item.close_time,) * 2,
                *key,
            ),
        )
        if cursor.rowcount == 0:
            raise ExecutionConflictError(
                f"execution {item.workflow_id!r} run {item.run_id!r} in namespace {item.namespace!r} does not exist; "
                f"create it first (ExecutionWrite(create=True))"
            )
        conn.execute(
            f"UPDATE {TABLE_CURRENT_EXECUTIONS} SET status = ? WHERE namespace = ? AND workflow_id = ? AND run_id = ?",
            (item.status, *key),
        )
    if item.new_events:
        try:
            conn.executemany(
                f"INSERT INTO {TABLE_HISTORY} (namespace, workflow_id, run_id, event_id, data) VALUES (?, ?, ?, ?, ?)",
                [(*key, event_id, data) for event_id, data in item.new_events],
            )
        except sqlite3.IntegrityError as error:
            ids = [event_id for event_id, _ in item.new_events]
            raise ExecutionConflictError(
                f"execution {item.workflow_id!r} run {item.run_id!r}: an event with an id in {ids[0]}..{ids[-1]} "
                f"is already in its history"
            ) from error
