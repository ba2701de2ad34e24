"""Which store a client or ``rayflow server start`` asks for (internal): one place that reads the setting.

In order: the ``store`` argument (``--store``), the ``data_dir`` argument (``--data-dir``, SQLite
shorthand), ``RAYFLOW_STORE``, ``RAYFLOW_DATA_DIR``, else the embedded default ``./.rayflow``. Relative
SQLite paths are resolved here, before Ray is touched: inside a ``ray job submit`` job Ray replaces the
working directory under the driver after ``ray.init``, and that directory is temporary anyway, so there a
relative path is refused and the default is not used (the job attaches to the running service or is told
what to set).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from rayflow import constants
from rayflow.exceptions import ConfigurationError
from rayflow.persistence.url import StoreURL, parse_store_url

# Set by Ray's job supervisor in the environment of every job's driver (ray/_private/runtime_env/constants.py).
_RAY_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"

_WHAT_TO_SET = (
    "set RAYFLOW_STORE to postgresql://user:password@host:5432/db (a cluster of several nodes) or to "
    "sqlite:///absolute/dir on the head node, for example with "
    "--runtime-env-json '{\"env_vars\": {\"RAYFLOW_STORE\": \"...\"}}' or in the environment of `ray start --head`; "
    "or start the service first (`rayflow server start --store ...`) and the job attaches to it"
)


@dataclass(frozen=True)
class StoreRequest:
    """What the caller asked for.

    Attributes:
        url: the store, or None inside a Ray job that named none (it may only attach to a running service).
        explicit: named by an argument or an environment variable (a running service on another store is
            then an error); False for the embedded default.
        source: where it came from, for messages (``store=``, ``RAYFLOW_STORE``, ...).
    """

    url: StoreURL | None
    explicit: bool
    source: str

    def require(self) -> StoreURL:
        """The URL, or the error saying what to set when there is none (inside a job, no service running)."""
        if self.url is None:
            raise ConfigurationError(
                f"this program runs in a Ray job, and the default store ./{constants.DEFAULT_DATA_DIR} would be "
                f"under the job's temporary working directory (its data would be lost with it); {_WHAT_TO_SET}"
            )
        return self.url


def in_ray_job(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process is the driver of a ``ray job submit`` job."""
    return _RAY_JOB_ENV in (os.environ if environ is None else environ)


def requested_store(
    store: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> StoreRequest:
    """Resolve the store setting; call it before ``ray.init`` (relative paths use the current directory).

    Raises:
        ValueError: both ``store`` and ``data_dir`` are given, or the URL is malformed.
        ConfigurationError: a relative SQLite path inside a Ray job.
    """
    environ = os.environ if environ is None else environ
    if store is not None and data_dir is not None:
        raise ValueError("pass store= or data_dir= (its SQLite shorthand), not both")
    candidates = (
        (store, "store"),
        (data_dir, "data_dir"),
        (environ.get(constants.STORE_ENV) or None, constants.STORE_ENV),
        (environ.get(constants.DATA_DIR_ENV) or None, constants.DATA_DIR_ENV),
    )
    for value, source in candidates:
        if value is None:
            continue
        text = os.fspath(value)
        _refuse_relative_in_job(text, source, environ)
        return StoreRequest(url=parse_store_url(text), explicit=True, source=source)
    if in_ray_job(environ):
        return StoreRequest(url=None, explicit=False, source="default")
    return StoreRequest(url=parse_store_url(constants.DEFAULT_DATA_DIR), explicit=False, source="default")


def _refuse_relative_in_job(text: str, source: str, environ: Mapping[str, str]) -> None:
    if not in_ray_job(environ):
        return
    path = text.split("://", 1)[1] if text.lower().startswith("sqlite://") else None if "://" in text else text
    if path is not None and not os.path.isabs(path):
        raise ConfigurationError(
            f"{source} names the relative SQLite path {path!r}; in a Ray job it would resolve against the job's "
            f"temporary working directory; {_WHAT_TO_SET}"
        )
