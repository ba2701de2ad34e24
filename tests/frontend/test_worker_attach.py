"""A worker program attaches to the Ray that `rayflow server start` started (token authentication on, as
Ray 2.60 sets it for a Ray that ray.init() starts) with the address `rayflow server status` prints, and no
RAY_AUTH_MODE in its environment."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap

from tests.frontend.conftest import REPO, run_cli, start_server_process

WORKER = textwrap.dedent("""
    import asyncio, sys
    from rayflow.client import Client
    from rayflow.worker import Worker
    from tests.frontend.workflows import Greeting, compose_greeting

    async def main():
        client = await Client.connect(ray_address=sys.argv[1])
        async with Worker(client, task_queue="attach", workflows=[Greeting], activities=[compose_greeting]):
            print("RESULT", await client.execute_workflow(Greeting.run, "attached", id="attach-1", task_queue="attach"))

    asyncio.run(main())
""")


async def test_worker_program_attaches_to_the_servers_ray_without_auth_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAYFLOW_STORE")}
    process, address = await start_server_process("--ray-address", "local", "--data-dir", str(tmp_path / "data"),
                                                  env=env)
    drain = asyncio.ensure_future(process.stdout.read())
    try:
        code, out, err = await run_cli("server", "status", "--address", address, "--output", "json")
        assert code == 0, err
        status = json.loads(out)
        assert status["store"] == f"sqlite://{tmp_path / 'data'}"
        assert [a["state"] for a in status["actors"]] == ["running"] * (status["num_shards"] + status["num_matching"])
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, status["ray_address"], cwd=REPO, env=env | {"PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(worker.communicate(), 180)
        assert worker.returncode == 0, stderr.decode()[-3000:]
        assert "RESULT Hello, attached!" in stdout.decode()
    finally:
        code, _, err = await run_cli("server", "stop", "--data-dir", str(tmp_path / "data"))
        await asyncio.wait_for(process.wait(), 60)
        drain.cancel()
    assert code == 0, err
