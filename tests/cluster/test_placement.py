"""Service placement that matches the store, on the test session's two-node Ray (a CPU head and a fake GPU
node labelled ray.io/accelerator-type=A100): SQLite pins every service actor to the node holding the data,
PostgreSQL keeps them off accelerator nodes or where the operator pins them; a running service keeps its store."""

from __future__ import annotations

import uuid

import pytest
import ray

from rayflow.client import Client
from rayflow.exceptions import ConfigurationError, ServiceUnavailableError
from rayflow.service.bootstrap import find_service, stop_service
from rayflow.testing import WorkflowEnvironment


def head_node_id() -> str:
    return next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"])


def assert_all_on(description, node_id: str) -> None:
    assert len(description.actors) == description.num_shards + description.num_matching
    assert [a.state for a in description.actors] == ["running"] * len(description.actors)
    assert {a.node_id for a in description.actors} == {node_id}, description.actors


async def test_sqlite_service_runs_on_the_node_of_its_data(env, ray_session):
    description = await env.client.describe_service()
    assert description.store == f"sqlite://{env.config.data_dir}"
    assert_all_on(description, head_node_id())
    assert not any(a.accelerator_node for a in description.actors)
    assert {a.node_ip for a in description.actors} == {ray.util.get_node_ip_address()}
    assert all(a.pid > 0 and a.actor_id for a in description.actors)


async def test_postgres_service_keeps_off_the_accelerator_node(ray_session, postgres_url):
    env = await WorkflowEnvironment.start_local(store=postgres_url, num_shards=4)
    try:
        description = await env.client.describe_service()
        assert description.store == postgres_url  # no password in this URL: shown as it is
        assert ray_session.gpu_node.node_id not in {a.node_id for a in description.actors}
        assert not any(a.accelerator_node for a in description.actors)
    finally:
        await env.shutdown()


async def test_postgres_service_pinned_by_label_selector(ray_session, postgres_url):
    namespace = f"rf-pin-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(store=postgres_url, ray_namespace=namespace, num_shards=2,
                                  service_label_selector={"rayflow.io/pool": "gpu"})
    try:
        description = await client.describe_service()
        assert_all_on(description, ray_session.gpu_node.node_id)
        assert all(a.accelerator_node for a in description.actors)
    finally:
        await stop_service(client.service_config)


async def test_label_selector_no_node_satisfies_fails_at_once(ray_session, postgres_url):
    namespace = f"rf-nowhere-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigurationError, match=r"no alive Ray node has the labels \{'rayflow.io/pool': 'tpu'\}"):
        await Client.connect(store=postgres_url, ray_namespace=namespace,
                             service_label_selector={"rayflow.io/pool": "tpu"})
    assert await find_service(namespace) is None  # nothing was started


async def test_a_running_service_keeps_its_store(env, ray_session, tmp_path):
    namespace = env.config.ray_namespace
    other = "postgresql://postgres:s3cret-pw@127.0.0.1:5432/test?schema=elsewhere"
    with pytest.raises(ConfigurationError) as err:
        await Client.connect(store=other, ray_namespace=namespace)
    message = str(err.value)
    assert f"sqlite://{env.config.data_dir}" in message and "postgres:***@127.0.0.1" in message
    assert "s3cret-pw" not in message
    with pytest.raises(ConfigurationError, match="already runs"):
        await Client.connect(data_dir=tmp_path / "other", ray_namespace=namespace)
    # Naming the same store, or none, attaches.
    same = await Client.connect(store=env.config.store, ray_namespace=namespace)
    none = await Client.connect(ray_namespace=namespace)
    assert same.service_config.store == none.service_config.store == env.config.store


async def test_unreachable_postgres_is_a_clear_error_and_starts_nothing(ray_session):
    namespace = f"rf-down-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ServiceUnavailableError, match="cannot connect to the PostgreSQL store") as err:
        await Client.connect(store="postgresql://postgres:s3cret-pw@127.0.0.1:1/test", ray_namespace=namespace)
    assert "s3cret-pw" not in str(err.value) and "RAYFLOW_STORE" in str(err.value)
    assert await find_service(namespace) is None


async def test_a_password_in_the_store_url_never_shows(ray_session, postgres_url, task_queue):
    """Trust auth here accepts any password: run a service on a URL carrying one, make its shards log the URL
    (killed connections), and look for the password in describe output and every log of the Ray session."""
    import glob
    import os

    from rayflow.worker import Worker
    from tests import postgres
    from tests.client.test_hello import Greeting, compose_greeting

    secret = f"pw-{uuid.uuid4().hex[:10]}"
    url = postgres_url.replace("postgres@", f"postgres:{secret}@")
    env = await WorkflowEnvironment.start_local(store=url)
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[Greeting], activities=[compose_greeting]):
            await env.client.execute_workflow(Greeting.run, "a", id="pw-1", task_queue=task_queue)
            assert postgres.terminate_backends(postgres_url) > 0
            await env.client.execute_workflow(Greeting.run, "b", id="pw-2", task_queue=task_queue)
        description = await env.client.describe_service()
        assert "postgres:***@" in description.store and secret not in repr(description)
        assert secret not in repr(env.config)
    finally:
        await env.shutdown()
    logs = glob.glob(os.path.join(ray._private.worker._global_node.get_session_dir_path(), "logs", "*"))
    assert logs
    contents = {path: open(path, "rb").read() for path in logs if os.path.isfile(path)}
    shown = url.replace(secret, "***").split("?")[0].encode()
    assert any(shown in data for data in contents.values()), "the shards did not log their store"
    assert [path for path, data in contents.items() if secret.encode() in data] == []
