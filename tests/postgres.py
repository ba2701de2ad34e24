"""Helpers for tests on a PostgreSQL server: connect, find or end a store's connections, drop its schema.

The server is ``RAYFLOW_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``); every test
gets a schema of its own (the ``postgres_url`` fixture of tests/conftest.py). psycopg is imported here,
so import this module only from tests that use PostgreSQL.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from rayflow.persistence.postgres import application_name
from rayflow.persistence.url import parse_store_url

__all__ = [
    "DEFAULT_SERVER",
    "REQUIRE_ENV",
    "SERVER_ENV",
    "backends",
    "connect",
    "drop_schema",
    "schema_sql",
    "server_url",
    "terminate_backends",
    "unreachable_reason",
    "with_schema",
]

SERVER_ENV = "RAYFLOW_TEST_POSTGRES"
#: Set to 1 (CI) to fail, instead of skip, the PostgreSQL tests when the server does not answer.
REQUIRE_ENV = "RAYFLOW_REQUIRE_POSTGRES"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The test server's URL (no schema)."""
    return os.environ.get(SERVER_ENV) or DEFAULT_SERVER


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``schema`` parameter set to ``schema``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit((*parts[:3], urlencode([*query, ("schema", schema)]), parts.fragment))


def connect(url: str, *, timeout: float = 3.0) -> psycopg.Connection:
    """An autocommit connection to the server of ``url`` (its ``schema`` parameter ignored)."""
    return psycopg.connect(
        parse_store_url(url).conninfo, autocommit=True, connect_timeout=max(1, round(timeout)),
        application_name="rayflow-tests",
    )  # fmt: skip


def unreachable_reason(url: str, *, timeout: float = 3.0) -> str | None:
    """None when the server of ``url`` answers within ``timeout`` seconds, else why not."""
    try:
        with connect(url, timeout=timeout) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return " ".join(str(error).split())
    return None


def backends(url: str) -> list[int]:
    """The pids of the server processes serving stores on the schema of ``url``."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name(_schema(url)),)
        ).fetchall()
    return [row[0] for row in rows]


def terminate_backends(url: str) -> int:
    """End (``pg_terminate_backend``) every connection of stores on the schema of ``url``; how many."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
            "AND pid <> pg_backend_pid()",
            (application_name(_schema(url)),),
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def drop_schema(url: str) -> None:
    """Drop the schema of ``url`` and everything in it (if it exists)."""
    with connect(url) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema_sql(url)} CASCADE")


def schema_sql(url: str) -> str:
    """The schema of ``url`` as SQL: a quoted identifier, as the store writes it."""
    return f'"{_schema(url)}"'


def _schema(url: str) -> str:
    schema = parse_store_url(url).schema
    assert schema is not None, url
    return schema
