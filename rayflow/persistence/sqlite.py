"""The embedded SQLite store (internal).

The Store methods, their statements and the conflict rules of a write are shared with PostgreSQL
(``sql.py``); this module says how SQLite runs them.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayflow.constants import METADATA_DB_FILE, SHARD_DB_FILE
from rayflow.exceptions import RayflowError
from rayflow.persistence.schema import (
    SCHEMA_VERSION,
    SQLITE_METADATA_SCHEMA,
    SQLITE_SHARD_MIGRATIONS,
    SQLITE_SHARD_SCHEMA,
)
from rayflow.persistence.sql import (
    Outcome,
    Params,
    Queries,
    SqlStore,
    Step,
    check_durability,
    check_shard_id,
    list_executions_query,
    resolve,
)

# list_executions_query: the listing SQL lives in sql.py; importable from here too (SQLite's query-plan test).
__all__ = ["SqliteStore", "list_executions_query"]

logger = logging.getLogger(__name__)

_SYNCHRONOUS = {"normal": "NORMAL", "fsync": "FULL"}
_QUERIES = Queries()
# A second store on the same files (another process) may hold the write lock for a while.
_BUSY_TIMEOUT_MS = 30_000
# Upper bound on calls per group commit, so one transaction stays short.
_MAX_BATCH = 1000


@dataclass
class _Job:
    """One queued write: ``fn(conn)`` runs inside a savepoint of the next group transaction."""

    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class _Database:
    """One SQLite file: a writer thread doing group commits and a reader thread.

    ``migrations[v]``: the statements that bring the file from schema version ``v`` to ``v + 1`` (see
    ``SQLITE_SHARD_MIGRATIONS``); run by the writer when it opens a file older than ``SCHEMA_VERSION``.
    """

    def __init__(
        self, path: Path, schema: str, synchronous: str, migrations: Mapping[int, Sequence[str]] | None = None
    ) -> None:
        self.path = path
        self.commits = 0  # group transactions committed (observable by tests)
        self._schema = schema
        self._migrations = dict(migrations or {})
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
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            # LIKE matches ASCII letters case-blind by default: the build id filter must match exactly.
            conn.execute("PRAGMA case_sensitive_like = ON")
            if conn.execute("SELECT 'a' LIKE 'A'").fetchone()[0]:
                raise RayflowError(
                    f"this SQLite ({sqlite3.sqlite_version}) ignores PRAGMA case_sensitive_like; rayflow needs it"
                )
        except BaseException:
            conn.close()
            raise
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
            self._migrate(conn)
            conn.executescript(f"BEGIN IMMEDIATE;\n{self._schema}\nCOMMIT;")
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Refuse a newer file; bring an older one (version >= 1) to ``SCHEMA_VERSION``.

        The version is read under the write lock (BEGIN IMMEDIATE), so of two stores opening one old file at
        once the second sees the first's upgrade. Its own transaction: ``executescript`` (the schema, next)
        commits a pending one first on Python < 3.12. A new file (version 0) is left to the schema script.
        """
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RayflowError(
                    f"{self.path} has schema version {version}, newer than this rayflow's ({SCHEMA_VERSION}); "
                    f"upgrade rayflow or use another data directory"
                )
            if 0 < version < SCHEMA_VERSION:
                for step in range(version, SCHEMA_VERSION):
                    for statement in self._migrations.get(step, ()):
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                logger.info("%s: schema migrated from version %s to %s", self.path, version, SCHEMA_VERSION)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

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
            job.loop.call_soon_threadsafe(resolve, job.future, result, error)
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


class SqliteStore(SqlStore):
    """The store in a data directory of SQLite files (created if missing).

    Args:
        data_dir: the data directory.
        durability: ``"normal"`` (default; ``synchronous=NORMAL``: a committed write survives ``kill -9``
            of any process) or ``"fsync"`` (``synchronous=FULL``: it also survives power loss).
    """

    queries = _QUERIES

    def __init__(self, data_dir: str | Path, *, durability: str = "normal") -> None:
        check_durability(durability)
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
            check_shard_id(shard_id)
            path = self.data_dir / SHARD_DB_FILE.format(index=shard_id)
            db = self._shards[shard_id] = _Database(
                path, SQLITE_SHARD_SCHEMA, self._synchronous, SQLITE_SHARD_MIGRATIONS
            )
        return db

    def _database(self, shard_id: int | None) -> _Database:
        return self._metadata_db() if shard_id is None else self._shard_db(shard_id)

    def _check_open(self) -> None:
        if self._closed:
            raise RayflowError(f"the store of {self.data_dir} is closed; open a new one")

    async def _read(self, shard_id: int | None, sql: str, params: Params, *, one: bool) -> Any:
        def run(conn: sqlite3.Connection) -> Any:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if one else cursor.fetchall()

        return await self._database(shard_id).read(run)

    async def _write(self, shard_id: int | None, steps: list[Step]) -> tuple[Any, ...] | None:
        return await self._database(shard_id).write(lambda conn: _run_steps(conn, steps))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        databases = [*self._shards.values(), *([self._metadata] if self._metadata else [])]
        await asyncio.gather(*(db.close() for db in databases))


def _run_steps(conn: sqlite3.Connection, steps: list[Step]) -> tuple[Any, ...] | None:
    """Run each step in turn inside the caller's savepoint; the first failed check raises (rolling it back)."""
    row = None
    for step in steps:
        cursor = conn.execute(step.sql, step.params) if step.many is None else conn.executemany(step.sql, step.many)
        row = cursor.fetchone()
        if step.check is not None and (error := step.check(Outcome(row, cursor.rowcount))) is not None:
            raise error
    return row
