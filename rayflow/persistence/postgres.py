"""The PostgreSQL store (internal): every shard's tables in one schema of one database, for clusters of
several nodes (``postgresql://user:pass@host:port/db?schema=name``).

Connections: a store holds one writer connection, used by its group-commit task, and a small pool for
reads (psycopg_pool). Nothing connects before the first call: the constructor runs inside Ray actor
constructors. Every connection is named ``rayflow/<schema>`` (``application_name``), works in the schema
(``search_path``) and keeps ``synchronous_commit=on``, PostgreSQL's durable default, whatever the server's
setting: a write the caller was told succeeded survives ``kill -9`` of any process, the server's included.

The first call creates the schema and its tables, or migrates them, under a transaction-scoped advisory
lock, so that many actors opening one store at once do not race; a schema newer than this code is refused.

Group commit: calls queued while a transaction runs are committed together by the next one, each in its
own SAVEPOINT. The transaction is pipelined: BEGIN and every call's savepoint and statements go in one
round trip, then the steps' checks are read. A call whose check failed (a conflict, a lost shard) is rolled
back to its savepoint, which undoes the calls queued after it too: those are sent again. A group costs two
round trips (statements, COMMIT) plus one per failed call.

Fencing: a write first reads its shard's ``range_id`` FOR SHARE, so ``acquire_shard``'s update waits for
every transaction holding it: a write either commits before the new owner acquired the shard, or it sees
the new range id and fails.

Lost connections: a server that cannot be reached, or a connection that breaks, raises
``StoreUnavailableError``. A group whose connection broke before COMMIT was sent wrote nothing: it is
redone once on a new connection. One that broke while COMMIT was in flight may have been committed: its
calls get ``unknown_outcome=True``. A read whose connection broke is retried once after the pool has
checked its connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from rayflow.constants import TABLE_HISTORY, TABLE_PAYLOAD_REFS, TABLE_SCHEMA_VERSION
from rayflow.exceptions import RayflowError
from rayflow.persistence.schema import (
    POSTGRES_MIGRATIONS,
    POSTGRES_SCHEMA_VERSION,
    POSTGRES_VERSION_TABLE,
)
from rayflow.persistence.sql import (
    Outcome,
    Params,
    Queries,
    SqlStore,
    Step,
    check_durability,
    check_shard_id,
    resolve,
)
from rayflow.persistence.store import StoreUnavailableError
from rayflow.persistence.url import StoreURL, parse_store_url

__all__ = ["PostgresStore", "application_name"]

logger = logging.getLogger(__name__)

# At most this many calls per group transaction: a backend caches 64 subtransaction ids (one per
# savepoint that wrote); past that, every other session's snapshot must look them up in pg_subtrans.
_MAX_BATCH = 64
# Reads: every service actor opens a store (several shards and Matching per service), so pools stay small.
_READ_POOL_MIN, _READ_POOL_MAX = 1, 4
_POOL_TIMEOUT_S = 10.0
_POOL_MAX_IDLE_S = 60.0
# Connection settings a store URL may override (seconds): fail fast, notice a dead peer within a minute.
_DEFAULT_SETTINGS = {
    "connect_timeout": "10",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
# Server errors that end the session: admin shutdown (pg_terminate_backend), crash shutdown, starting up.
_SESSION_LOST = {"57P01", "57P02", "57P03"}
# Errors after which the same call may well succeed when run again in the same transaction.
_TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure, pg_errors.LockNotAvailable)
_TRANSIENT_RETRIES = 3


def application_name(schema: str) -> str:
    """The ``application_name`` of every connection of a store on ``schema`` (PostgreSQL keeps 63 characters)."""
    return f"rayflow/{schema}"[:63]


class _PostgresQueries(Queries):
    def __init__(self) -> None:
        super().__init__("%s", shard_column=True, lock_shard=" FOR SHARE")
        self.insert_events = (
            f"INSERT INTO {TABLE_HISTORY} (shard_id, namespace, workflow_id, run_id, event_id, data) "
            f"SELECT %s, %s, %s, %s, unnest(%s::bigint[]), unnest(%s::bytea[]) ON CONFLICT DO NOTHING"
        )
        self.insert_payload_refs = (
            f"INSERT INTO {TABLE_PAYLOAD_REFS} (shard_id, namespace, workflow_id, run_id, payload_key, store) "
            f"SELECT %s, %s, %s, %s, unnest(%s::text[]), unnest(%s::text[]) ON CONFLICT DO NOTHING"
        )

    def events_step(self, scope: Params, key: Params, events: list[tuple[int, bytes]], check: Any) -> Step:
        # One statement however many events: the arrays are unnested by the server.
        ids, data = [event_id for event_id, _ in events], [bytes(blob) for _, blob in events]
        return Step(self.insert_events, (*scope, *key, ids, data), check)

    def payload_refs_step(self, scope: Params, key: Params, refs: Sequence[tuple[str, str]]) -> Step:
        stores, keys = [store for store, _ in refs], [payload_key for _, payload_key in refs]
        return Step(self.insert_payload_refs, (*scope, *key, keys, stores))


@dataclass(eq=False)
class _Call:
    """One queued ``_write``: its steps and the caller's future."""

    steps: list[Step]
    future: asyncio.Future[Any] = field(repr=False)


class _ConnectionLost(Exception):
    """The writer connection broke; ``committing``: while COMMIT was in flight (``kept``: calls not rolled back)."""

    def __init__(self, error: BaseException, *, committing: bool = False, kept: list[bool] | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.committing = committing
        self.kept = kept or []


def _is_lost(error: BaseException, conn: psycopg.AsyncConnection[Any] | None = None) -> bool:
    """Whether ``error`` means the connection is gone (as opposed to a statement that failed)."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        return state is None or state.startswith("08") or state in _SESSION_LOST
    return False


class PostgresStore(SqlStore):
    """The store in a schema of a PostgreSQL database (created, or migrated, on first use).

    Args:
        url: a ``postgresql://`` store URL (``?schema=`` picks the schema, default ``rayflow``), parsed or not.
        durability: ``"normal"`` (default) or ``"fsync"``: both commit with ``synchronous_commit=on``, so a
            write the caller was told succeeded is on the server's disk (survives power loss of the server
            if its storage honours fsync).

    Attributes:
        commits: group transactions committed (tests observe batching with it).
    """

    queries = _PostgresQueries()

    def __init__(self, url: str | StoreURL, *, durability: str = "normal") -> None:
        check_durability(durability)
        self.url = url if isinstance(url, StoreURL) else parse_store_url(url)
        if not self.url.is_postgres or self.url.schema is None:
            raise ValueError(f"{self.url.redacted} is not a PostgreSQL store URL (postgresql://user@host:5432/db)")
        self.schema: str = self.url.schema
        # Quoted in SQL: the name is kept as written (case included), and may be a keyword ("user").
        self._schema_sql = f'"{self.schema}"'  # parse_store_url allows letters, digits and _ only
        self.durability = durability
        self.commits = 0
        self._conninfo = self.url.conninfo
        settings = conninfo_to_dict(self._conninfo)
        self._password = str(settings.get("password") or "")
        options = f"-c search_path={self._schema_sql} -c synchronous_commit=on"
        if settings.get("options"):  # the URL's own options come first (ours win on a clash)
            options = f"{settings['options']} {options}"
        self._settings: dict[str, Any] = {k: v for k, v in _DEFAULT_SETTINGS.items() if k not in settings}
        self._settings.update(application_name=application_name(self.schema), options=options, autocommit=True)
        self._start_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: AsyncConnectionPool | None = None
        self._writer: psycopg.AsyncConnection[Any] | None = None
        self._queue: asyncio.Queue[_Call | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.url.redacted!r})"

    # -- SqlStore ---------------------------------------------------------------------------------
    async def _read(self, shard_id: int | None, sql: str, params: Params, *, one: bool) -> Any:
        if shard_id is not None:
            check_shard_id(shard_id)
        pool = await self._start()
        for attempt in range(2):
            try:
                async with pool.connection() as conn:
                    cursor = await conn.execute(sql, params)
                    return await cursor.fetchone() if one else await cursor.fetchall()
            except PoolTimeout as error:
                raise await self._pool_unavailable() from error
            except psycopg.Error as error:
                if not _is_lost(error):
                    raise
                if attempt:
                    raise StoreUnavailableError(
                        f"reading from the PostgreSQL store {self.url.redacted} failed: the connection broke "
                        f"({self._reason(error)}); retry: the store reconnects by itself"
                    ) from error
                await pool.check()  # replaces every idle connection that broke too (a server restart)
        raise AssertionError("unreachable")

    async def _write(self, shard_id: int | None, steps: list[Step]) -> tuple[Any, ...] | None:
        if shard_id is not None:
            check_shard_id(shard_id)
        await self._start()
        assert self._loop is not None
        future = self._loop.create_future()
        self._queue.put_nowait(_Call(steps, future))
        return await future

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._start_lock:  # a first call still connecting finishes first
            if self._writer_task is not None:
                self._queue.put_nowait(None)
                await self._writer_task
            await self._drop_writer()
            if self._pool is not None:
                await self._pool.close()

    # -- start: schema and connections ------------------------------------------------------------
    async def _start(self) -> AsyncConnectionPool:
        """Connect and prepare the schema on the first call; the read pool."""
        self._check_open()
        loop = asyncio.get_running_loop()
        if self._loop is not None and loop is not self._loop:
            raise RayflowError(
                f"{self!r} is used from another event loop than the one of its first call; open one store per loop"
            )
        if self._pool is not None:
            return self._pool
        async with self._start_lock:
            self._check_open()
            if self._pool is None:
                conn = await self._connect()
                try:
                    await self._migrate(conn)
                except BaseException:
                    await conn.close()
                    raise
                self._writer = conn
                pool = AsyncConnectionPool(
                    self._conninfo, kwargs=self._settings, min_size=_READ_POOL_MIN, max_size=_READ_POOL_MAX,
                    open=False, name=application_name(self.schema), timeout=_POOL_TIMEOUT_S,
                    max_idle=_POOL_MAX_IDLE_S, num_workers=1,
                )  # fmt: skip
                await pool.open(wait=False)
                self._loop = loop
                self._writer_task = loop.create_task(self._write_loop(), name=f"rayflow-postgres-write-{self.schema}")
                self._pool = pool
        return self._pool

    def _check_open(self) -> None:
        if self._closed:
            raise RayflowError(f"the PostgreSQL store {self.url.redacted} is closed; open a new one")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            return await psycopg.AsyncConnection.connect(self._conninfo, **self._settings)
        except psycopg.Error as error:
            raise StoreUnavailableError(
                f"cannot connect to the PostgreSQL store {self.url.redacted}: {self._reason(error)}; "
                f"start PostgreSQL or fix the store URL (RAYFLOW_STORE)"
            ) from error

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Create or upgrade the schema, unless it is current (the usual case: one query, no lock)."""
        schema, version_table = self._schema_sql, f"{self._schema_sql}.{TABLE_SCHEMA_VERSION}"
        try:
            cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (version_table,))
            row = await cursor.fetchone()
            if row is not None and row[0]:
                cursor = await conn.execute(f"SELECT version FROM {version_table}")
                row = await cursor.fetchone()
                if row is not None and self._check_version(row[0]) == POSTGRES_SCHEMA_VERSION:
                    return
            async with conn.transaction():
                # One migrator at a time per schema (CREATE SCHEMA IF NOT EXISTS itself races).
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (application_name(self.schema),)
                )
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(POSTGRES_VERSION_TABLE)
                cursor = await conn.execute(f"SELECT version FROM {TABLE_SCHEMA_VERSION}")
                row = await cursor.fetchone()
                assert row is not None
                version = self._check_version(row[0])
                for migration in POSTGRES_MIGRATIONS[version:]:
                    await conn.execute(migration)
                await conn.execute(f"UPDATE {TABLE_SCHEMA_VERSION} SET version = %s", (POSTGRES_SCHEMA_VERSION,))
            if version < POSTGRES_SCHEMA_VERSION:
                logger.info("PostgreSQL store %s: schema migrated from version %s", self.url.redacted, version)
        except psycopg.Error as error:
            if _is_lost(error, conn):
                raise StoreUnavailableError(
                    f"preparing the PostgreSQL store {self.url.redacted} failed: the connection broke "
                    f"({self._reason(error)}); retry: the store reconnects by itself"
                ) from error
            raise RayflowError(
                f"could not prepare schema {self.schema!r} of the PostgreSQL store {self.url.redacted}: "
                f"{self._reason(error)}; the user needs the right to create the schema (or its tables) there"
            ) from error

    def _check_version(self, version: int) -> int:
        if version > POSTGRES_SCHEMA_VERSION:
            raise RayflowError(
                f"the PostgreSQL store {self.url.redacted} has schema version {version}, newer than this "
                f"rayflow's ({POSTGRES_SCHEMA_VERSION}); upgrade rayflow or use another schema"
            )
        return version

    def _reason(self, error: BaseException) -> str:
        """The error's text on one line, the password (should the server echo it) masked."""
        text = " ".join(str(error).split()) or type(error).__name__
        return text.replace(self._password, "***") if self._password else text

    async def _pool_unavailable(self) -> StoreUnavailableError:
        """Why no read connection came in time: the server is unreachable (its error), or the pool is busy."""
        try:
            conn = await self._connect()
        except StoreUnavailableError as unreachable:
            return unreachable
        await conn.close()
        return StoreUnavailableError(
            f"no read connection to the PostgreSQL store {self.url.redacted} was free within {_POOL_TIMEOUT_S:g} s "
            f"(pool of {_READ_POOL_MAX}); the server answers, so retry"
        )

    # -- group commit -----------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        stop = False
        while not stop:
            call = await self._queue.get()
            if call is None:
                break
            batch = [call]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                queued = self._queue.get_nowait()
                if queued is None:
                    stop = True
                    break
                batch.append(queued)
            await self._commit(batch)

    async def _commit(self, batch: list[_Call]) -> None:
        """Commit ``batch`` in one transaction and resolve every call; never raises."""
        for attempt in range(2):
            try:
                conn = await self._writer_connection()
            except StoreUnavailableError as error:
                self._fail(batch, error)
                return
            try:
                outcomes = await self._transact(conn, batch)
            except _ConnectionLost as lost:
                await self._drop_writer()
                reason = self._reason(lost.error)
                if lost.committing:
                    for call, kept in zip(batch, lost.kept, strict=True):
                        resolve(call.future, None, self._commit_lost(reason, kept))
                    return
                if attempt == 0:  # nothing was committed: redo the group on a new connection
                    logger.warning(
                        "PostgreSQL store %s: connection broke (%s); reconnecting", self.url.redacted, reason
                    )
                    continue
                self._fail(
                    batch,
                    StoreUnavailableError(
                        f"writing to the PostgreSQL store {self.url.redacted} failed: the connection broke twice "
                        f"({reason}); nothing was written; retry: the store reconnects by itself"
                    ),
                )
                return
            except Exception as error:  # a bug or a server error outside any call: never leave a caller waiting
                logger.exception("group commit on the PostgreSQL store %s failed", self.url.redacted)
                await self._rollback(conn)
                self._fail(batch, error)
                return
            self.commits += 1
            for call, (result, error) in zip(batch, outcomes, strict=True):
                resolve(call.future, result, error)
            return

    def _commit_lost(self, reason: str, kept: bool) -> StoreUnavailableError:
        what = (
            "it may or may not have been committed: read it back before redoing it"
            if kept
            else "this call wrote nothing (it had failed; retry it)"
        )
        return StoreUnavailableError(
            f"writing to the PostgreSQL store {self.url.redacted} failed: the connection broke while COMMIT was in "
            f"flight ({reason}); {what}",
            unknown_outcome=kept,
        )

    async def _transact(self, conn: psycopg.AsyncConnection[Any], batch: list[_Call]) -> list[tuple[Any, Any]]:
        """One group transaction: each call's (result, error), once committed."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        start, retries, began = 0, 0, False
        while start < len(batch):
            cursors, error = await self._send(conn, batch, start, begin=not began)
            began = True
            if error is not None and _is_lost(error, conn):
                raise _ConnectionLost(error)
            resume = len(batch)
            for index, call_cursors in enumerate(cursors, start):
                outcome = await self._evaluate(batch[index], call_cursors)
                if outcome is None:  # a statement of this call failed on the server (or could not be sent)
                    if error is None:
                        raise RayflowError("a pipelined statement has no result and no error")
                    if isinstance(error, _TRANSIENT) and retries < _TRANSIENT_RETRIES:
                        retries += 1
                        await self._control(conn, f"ROLLBACK TO SAVEPOINT s{index}")
                        resume = index
                        break
                    outcome = (None, error)
                outcomes.append(outcome)
                if outcome[1] is not None:
                    await self._control(conn, f"ROLLBACK TO SAVEPOINT s{index}")
                    resume = index + 1
                    break
            else:
                if error is not None:  # every call ran, yet the pipeline failed
                    raise error
            start = resume
        try:
            await conn.execute("COMMIT", prepare=False)
        except psycopg.Error as error:
            if _is_lost(error, conn):
                raise _ConnectionLost(error, committing=True, kept=[e is None for _, e in outcomes]) from error
            raise
        return outcomes

    async def _send(
        self, conn: psycopg.AsyncConnection[Any], batch: list[_Call], start: int, *, begin: bool
    ) -> tuple[list[list[psycopg.AsyncCursor[Any]]], psycopg.Error | None]:
        """Pipeline the calls from ``start`` on (each after a savepoint ``s<index>``): their cursors, and the
        first error (the statements after it did not run)."""
        cursors: list[list[psycopg.AsyncCursor[Any]]] = []
        try:
            async with conn.pipeline() as pipeline:
                if begin:
                    await conn.execute("BEGIN", prepare=False)
                for index in range(start, len(batch)):
                    call_cursors: list[psycopg.AsyncCursor[Any]] = []
                    cursors.append(call_cursors)
                    savepoint = conn.cursor()
                    call_cursors.append(savepoint)
                    await savepoint.execute(f"SAVEPOINT s{index}", prepare=False)
                    for step in batch[index].steps:
                        assert step.many is None, "PostgreSQL steps carry their rows as arrays"
                        cursor = conn.cursor()
                        call_cursors.append(cursor)
                        await cursor.execute(step.sql, step.params, prepare=True)
                await pipeline.sync()
        except psycopg.Error as error:
            return cursors, error
        return cursors, None

    @staticmethod
    async def _evaluate(call: _Call, cursors: list[psycopg.AsyncCursor[Any]]) -> tuple[Any, Any] | None:
        """The call's (result, error) from its statements' outcomes; None if one of them did not run."""
        savepoint, *statements = cursors
        if savepoint.pgresult is None or len(statements) != len(call.steps):
            return None
        row = None
        for step, cursor in zip(call.steps, statements, strict=True):
            if cursor.pgresult is None:
                return None
            row = await cursor.fetchone() if cursor.description is not None else None
            if step.check is not None and (problem := step.check(Outcome(row, cursor.rowcount))) is not None:
                return None, problem
        return row, None

    async def _control(self, conn: psycopg.AsyncConnection[Any], sql: str) -> None:
        try:
            await conn.execute(sql, prepare=False)
        except psycopg.Error as error:
            if _is_lost(error, conn):
                raise _ConnectionLost(error) from error
            raise

    async def _writer_connection(self) -> psycopg.AsyncConnection[Any]:
        if self._writer is None or self._writer.closed:
            self._writer = await self._connect()
        return self._writer

    async def _drop_writer(self) -> None:
        conn, self._writer = self._writer, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:
                pass

    async def _rollback(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await conn.execute("ROLLBACK", prepare=False)
        except psycopg.Error:
            await self._drop_writer()

    @staticmethod
    def _fail(batch: list[_Call], error: BaseException) -> None:
        for call in batch:
            resolve(call.future, None, error)
