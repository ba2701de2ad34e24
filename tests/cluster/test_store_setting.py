"""The one store setting: which store a client asks for, resolved before Ray, and never a job's temporary dir."""

from __future__ import annotations

import os

import pytest

from rayflow.exceptions import ConfigurationError
from rayflow.persistence.url import parse_store_url
from rayflow.service.config import ServiceConfig
from rayflow.service.store_setting import in_ray_job, requested_store

PG = "postgresql://rayflow:s3cret-pw@db.example:5432/flows?schema=prod"
JOB = {"RAY_JOB_CONFIG_JSON_ENV_VAR": '{"runtime_env": {"working_dir": "gcs://_ray_pkg_1.zip"}}'}


def test_precedence_argument_then_env_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"RAYFLOW_STORE": PG, "RAYFLOW_DATA_DIR": "/srv/other"}
    assert requested_store(f"sqlite://{tmp_path}/a", environ=env).url.path == f"{tmp_path}/a"
    assert requested_store(data_dir="rel", environ=env).url.path == f"{tmp_path}/rel"
    from_env = requested_store(environ=env)
    assert (from_env.url.schema, from_env.explicit, from_env.source) == ("prod", True, "RAYFLOW_STORE")
    assert requested_store(environ={"RAYFLOW_DATA_DIR": "/srv/d"}).url.path == "/srv/d"
    default = requested_store(environ={})
    assert (default.url.path, default.explicit) == (f"{tmp_path}/.rayflow", False)
    with pytest.raises(ValueError, match="not both"):
        requested_store("sqlite:///a", "b", environ={})


def test_inside_a_ray_job_there_is_no_default_and_relative_paths_are_refused(tmp_path):
    assert in_ray_job(JOB) and not in_ray_job({})
    request = requested_store(environ=JOB)
    assert request.url is None and not request.explicit
    with pytest.raises(ConfigurationError, match="temporary working directory") as err:
        request.require()
    assert "RAYFLOW_STORE" in str(err.value) and "postgresql://" in str(err.value)
    for kwargs in ({"data_dir": "data"}, {"store": "sqlite://data"}, {"store": "data"}):
        with pytest.raises(ConfigurationError, match="relative SQLite path 'data'"):
            requested_store(**kwargs, environ=JOB)
    with pytest.raises(ConfigurationError, match="RAYFLOW_DATA_DIR names the relative SQLite path"):
        requested_store(environ={**JOB, "RAYFLOW_DATA_DIR": ".rayflow"})
    assert requested_store(f"sqlite://{tmp_path}", environ=JOB).url.path == str(tmp_path)
    assert requested_store(environ={**JOB, "RAYFLOW_STORE": PG}).url.is_postgres


def test_secrets_never_show():
    url = parse_store_url(PG)
    assert "s3cret-pw" not in url.redacted and "rayflow:***@db.example" in url.redacted
    assert "s3cret-pw" in url.url  # the store itself needs it
    assert "s3cret-pw" not in repr(url) and "s3cret-pw" not in str(url)
    config = ServiceConfig(store=url.url)
    assert "s3cret-pw" not in repr(config) and "s3cret-pw" not in str(config)
    assert "s3cret-pw" not in parse_store_url("postgresql://u@h/db?password=s3cret-pw").redacted
    with pytest.raises(ValueError, match="unknown scheme 'mysql'") as err:
        parse_store_url("mysql://u:s3cret-pw@h/db")
    assert "s3cret-pw" not in str(err.value)


def test_malformed_urls_say_what_to_write():
    with pytest.raises(ValueError, match="no database named"):
        parse_store_url("postgresql://u@h:5432")
    with pytest.raises(ValueError, match="schema 'bad-name' is not a plain identifier"):
        parse_store_url("postgresql://u@h/db?schema=bad-name")
    with pytest.raises(ValueError, match="empty"):
        parse_store_url("  ")


def test_same_store_ignores_credentials_and_options():
    a = parse_store_url("postgresql://u:p1@h:5432/db?schema=x&sslmode=require")
    assert a.same_store(parse_store_url("postgres://v:p2@h/db?schema=x"))
    assert not a.same_store(parse_store_url("postgresql://u@h/db?schema=y"))
    assert not a.same_store(parse_store_url("sqlite:///h/db"))
    assert parse_store_url("sqlite:///a/b/../c").same_store(parse_store_url(os.path.join("/a", "c")))
