"""Store URLs (internal): the one setting that says where the service keeps its data.

- ``sqlite:///abs/dir``: the embedded store, a directory of SQLite files on one node's disk
  (``sqlite://rel/dir`` is relative to the current directory, resolved when parsed).
- ``postgresql://user:pass@host:port/db?schema=name``: a PostgreSQL database for clusters of several
  nodes; ``schema`` (default ``rayflow``) is rayflow's own parameter, every other query parameter goes
  to libpq (``sslmode``, ``connect_timeout``, ...). ``postgres://`` is accepted as a synonym.

A bare path (no ``scheme://``) is taken as a SQLite directory. ``StoreURL.redacted`` is what may be
shown anywhere (logs, describe output, errors): the password replaced by ``***``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_POSTGRES_SCHEMA",
    "POSTGRES",
    "SQLITE",
    "StoreURL",
    "parse_store_url",
    "redact",
    "sqlite_url",
]

SQLITE = "sqlite"
POSTGRES = "postgresql"
DEFAULT_POSTGRES_SCHEMA = "rayflow"
_SCHEMES = {"sqlite": SQLITE, "postgresql": POSTGRES, "postgres": POSTGRES}
# An unquoted PostgreSQL identifier: rayflow creates and drops the schema by this name.
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SECRET_PARAMS = {"password", "sslpassword"}


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL.

    Attributes:
        url: the normalized URL, secrets included (hand it only to the store; show ``redacted``).
        scheme: ``"sqlite"`` or ``"postgresql"``.
        path: SQLite: the absolute data directory; None for PostgreSQL.
        schema: PostgreSQL: the schema holding rayflow's tables; None for SQLite.
    """

    url: str = field(repr=False)
    scheme: str
    path: str | None = None
    schema: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == SQLITE

    @property
    def is_postgres(self) -> bool:
        return self.scheme == POSTGRES

    @property
    def redacted(self) -> str:
        """The URL with its password (if any) replaced by ``***``: safe for logs and describe output."""
        return redact(self.url)

    @property
    def conninfo(self) -> str:
        """PostgreSQL: the libpq connection URL (rayflow's ``schema`` parameter removed)."""
        if not self.is_postgres:
            raise ValueError(f"{self.redacted} is not a PostgreSQL URL")
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
        return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))

    def same_store(self, other: StoreURL) -> bool:
        """Whether both name the same data (credentials and libpq options aside)."""
        if self.scheme != other.scheme:
            return False
        if self.is_sqlite:
            return os.path.realpath(self.path or "") == os.path.realpath(other.path or "")
        a, b = urlsplit(self.url), urlsplit(other.url)
        return (
            (a.hostname or "", a.port or 5432, a.path, self.schema)
            == (b.hostname or "", b.port or 5432, b.path, other.schema)
        )

    def __str__(self) -> str:
        return self.redacted


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of a SQLite data directory (made absolute against the current directory)."""
    return f"sqlite://{os.path.abspath(os.fspath(path))}"


def parse_store_url(url: str | os.PathLike[str]) -> StoreURL:
    """Parse (and normalize) a store URL; a relative SQLite path is resolved against the current directory.

    Raises:
        ValueError: an unknown scheme, a PostgreSQL URL without a database, or a bad schema name; the
            message shows the URL without its password and what to write instead.
    """
    text = os.fspath(url).strip()
    if not text:
        raise ValueError("the store URL is empty; use sqlite:///abs/dir or postgresql://user@host:5432/db")
    if "://" not in text:
        return StoreURL(url=sqlite_url(text), scheme=SQLITE, path=os.path.abspath(text))
    scheme_text, rest = text.split("://", 1)
    scheme = _SCHEMES.get(scheme_text.lower())
    if scheme is None:
        raise ValueError(
            f"store {redact(text)!r}: unknown scheme {scheme_text!r}; use sqlite:///abs/dir (one node) or "
            f"postgresql://user:password@host:5432/db?schema=rayflow (a cluster)"
        )
    if scheme == SQLITE:
        if "?" in rest:
            raise ValueError(f"store {text!r}: a SQLite URL takes no options (sqlite:///abs/dir)")
        path = os.path.abspath(os.path.normpath(rest or "."))
        return StoreURL(url=f"sqlite://{path}", scheme=SQLITE, path=path)
    parts = urlsplit("postgresql://" + rest)
    database = parts.path.lstrip("/")
    if not database:
        raise ValueError(
            f"store {redact(text)!r}: no database named; write postgresql://user@host:5432/DATABASE"
        )
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in params if k == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_POSTGRES_SCHEMA
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(
            f"store {redact(text)!r}: schema {schema!r} is not a plain identifier (letters, digits and _, "
            f"not starting with a digit, at most 63 characters)"
        )
    others = [(k, v) for k, v in params if k != "schema"]
    query = urlencode([*others, ("schema", schema)])
    normalized = urlunsplit(("postgresql", parts.netloc, "/" + database, query, ""))
    return StoreURL(url=normalized, scheme=POSTGRES, schema=schema)


def redact(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by ``***``."""
    if "://" not in url or url.lower().startswith("sqlite://"):
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            netloc = f"{userinfo}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://***"

