"""The web UI of `rayflow server start`, driven in a real headless Chromium (Debian's, through Playwright).

One `rayflow server start` subprocess (API key on, free ports) in front of a service with a GPU worker pool in
the test's Ray, and one browser page for the module: the page asks for the API key, then the list shows the
workflows the test started, a workflow's page its history and result, a signal sent from the page (through its
confirmation) completes the workflow, and the task-queue page shows the worker's pollers. Each page is saved
under test-artifacts/ui/.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
import ray
from playwright.async_api import async_playwright, expect

from rayflow.worker import Worker
from tests.frontend.workflows import Approval, Greeting, compose_greeting

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
API_KEY = "ui-test-key"
TASK_QUEUE = f"ui-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def ui(ray_session, tmp_path_factory):
    """A service with a GPU worker pool, served by `rayflow server start --ui-port 0 --api-key-file ...`."""
    from rayflow.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_local()
    worker = Worker(env.client, task_queue=TASK_QUEUE, workflows=[Greeting, Approval], activities=[compose_greeting],
                    ray_actor_options={"num_gpus": 1, "num_cpus": 0})
    key_file = tmp_path_factory.mktemp("ui") / "api-key"
    key_file.write_text(API_KEY)
    await worker.start()
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).with_name("rayflow"), "server", "start", "--port", "0", "--ui-port", "0",
        "--ray-address", ray.get_runtime_context().gcs_address, "--ray-namespace", env.config.ray_namespace,
        "--data-dir", env.config.data_dir, "--api-key-file", str(key_file),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines, url, drain = [], None, None
    try:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
            lines.append(line)
            assert line, "rayflow server start exited:\n" + "".join(lines[-30:])
            url = (re.search(r"rayflow web UI: (\S+)", line) or [None, url])[1]
            if "listening on" in line:
                break
        assert url, "no web UI URL printed:\n" + "".join(lines)
        drain = asyncio.ensure_future(process.stdout.read())  # keep the pipe from filling up
        yield {"url": url, "env": env}
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        if drain is not None:  # the server's output, for when a page shows an error
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "server.log").write_text("".join(lines) + (await drain).decode(errors="replace"))
        await worker.shutdown()
        await env.shutdown()


@pytest.fixture(scope="module")
async def page():
    """One Chromium page (one tab: its sessionStorage keeps the API key) for the module."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        tab = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.on("pageerror", lambda err: print("page error:", err))  # shown with a failing test
        tab.set_default_timeout(15_000)
        yield tab
        await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


async def shot(page, name: str, *, full_page: bool = False) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


async def test_the_api_key_is_asked_for_and_forwarded(ui, page):
    async with aiohttp.ClientSession() as http:
        async with http.get(ui["url"] + "/api/workflows") as response:
            assert response.status == 401
            assert "no API key was sent" in (await response.json())["error"]
        async with http.get(ui["url"] + "/api/workflows", headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401 and "the API key is wrong" in (await response.json())["error"]
        async with http.get(ui["url"] + "/metrics") as response:
            assert response.status == 200  # /metrics rides on the UI's port
    await page.goto(ui["url"])
    await expect(page.locator("#keybox")).to_contain_text("API key required")
    await page.fill("#api-key", "wrong")
    await page.click("#keybox button")
    await expect(page.locator("#key-error")).to_contain_text("the API key is wrong")
    await page.fill("#api-key", API_KEY)
    await page.click("#keybox button")
    await expect(page.locator("#workflows")).to_be_visible()
    await expect(page.locator("#keystate")).to_contain_text("API key set")


async def test_the_list_shows_workflows_with_counts_and_the_query_box(ui, page):
    client = ui["env"].client
    assert await client.execute_workflow(Greeting.run, "UI", id="greet-ui", task_queue=TASK_QUEUE) == "Hello, UI!"
    await client.start_workflow(Approval.run, {"item": "gpu-node"}, id="approve-ui", task_queue=TASK_QUEUE)
    await page.goto(ui["url"] + "/#/workflows")
    rows = page.locator("#workflows tbody tr")
    await expect(page.locator('#workflows tr[data-workflow-id="greet-ui"]')).to_contain_text("Completed")
    await expect(page.locator('#workflows tr[data-workflow-id="approve-ui"]')).to_contain_text("Running")
    await expect(page.locator('#counts [data-count="Running"] b')).to_have_text("1")
    await expect(page.locator('#counts [data-count="Completed"] b')).to_have_text("1")
    await shot(page, "workflows")
    await page.fill("#query", "WorkflowType='Greeting'")
    await page.press("#query", "Enter")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-workflow-id", "greet-ui")
    await page.fill("#query", "Nonsense='x'")
    await page.press("#query", "Enter")
    await expect(page.locator("main .error")).to_contain_text("query term \"Nonsense='x'\" is not supported")


async def test_a_workflow_page_shows_its_history_result_and_workers(ui, page):
    await page.goto(ui["url"] + "/#/workflow?id=greet-ui")
    await expect(page.locator("#result")).to_contain_text('"Hello, UI!"')
    await expect(page.locator("#input")).to_contain_text('"UI"')
    history = page.locator("#history")
    for event_type in ("WorkflowExecutionStarted", "ActivityTaskCompleted", "WorkflowExecutionCompleted"):
        await expect(history.locator(f'tr[data-event-type="{event_type}"]')).to_have_count(1)
    await expect(page.locator("#timeline")).to_contain_text("Activity compose_greeting")
    workers = page.locator("#workers tbody tr")
    await expect(workers).to_have_count(1)
    await expect(workers.first).to_contain_text(re.compile(r"\d workflow · 1 activity"))  # one replica ran both
    await expect(workers.first).to_contain_text("yes")
    await expect(workers.first.locator("td").nth(4)).to_have_text(re.compile(r"GPU \d"))  # Ray gave the replica one
    await expect(page.locator("#summary")).to_contain_text(TASK_QUEUE)
    await shot(page, "workflow")
    await shot(page, "workflow-full", full_page=True)


async def test_a_signal_sent_from_the_page_arrives(ui, page):
    handle = ui["env"].client.get_workflow_handle("approve-ui")
    await page.goto(ui["url"] + "/#/workflow?id=approve-ui")
    await expect(page.locator("h1 .badge")).to_have_text("Running")
    await page.click("#signal")
    await page.fill("#field-name", "approve")
    await page.fill("#field-input", "not json")
    await page.click("#next")
    await expect(page.locator("dialog .field-error")).to_contain_text("Line 1 is not JSON")
    await page.fill("#field-input", '"alice"')
    await page.click("#next")
    await expect(page.locator("#confirm-text")).to_contain_text('Send signal "approve" with ["alice"]')
    await shot(page, "signal-confirmation")
    await page.click("#confirm")
    assert await asyncio.wait_for(handle.result(), 30) == {"item": "gpu-node", "approved_by": ["alice"], "note": ""}
    await expect(page.locator("h1 .badge")).to_have_text("Completed")  # the page follows a running workflow
    await expect(page.locator('#history tr[data-event-type="WorkflowExecutionSignaled"]')).to_contain_text("approve")
    await expect(page.locator("#result")).to_contain_text('"alice"')
    await shot(page, "workflow-signalled")


async def test_the_task_queue_page_shows_the_workers_pollers(ui, page):
    await page.goto(ui["url"] + f"/#/task-queues?name={TASK_QUEUE}")
    for kind in ("workflow", "activity"):
        pollers = page.locator(f"#queue-{kind} .pollers tbody tr[data-identity]")
        await expect(pollers.first).to_be_visible()
    activity = page.locator("#queue-activity .pollers tbody tr[data-identity]").first
    await expect(activity).to_contain_text("gpu")  # the pool's label from its Ray resources
    await expect(page.locator("#queue-activity")).to_contain_text("Partitions")
    await shot(page, "task-queue")


async def test_the_service_page_shows_shards_and_matching(ui, page):
    config = ui["env"].config
    await page.goto(ui["url"] + "/#/service")
    await expect(page.locator("#actors tbody tr")).to_have_count(config.num_shards + config.num_matching)
    # "API key" then "required": the key is on ("not required" would have passed a plain "required").
    await expect(page.locator("#cluster")).to_contain_text(re.compile(r"API key\s*required"))
    await expect(page.locator("#cluster")).to_contain_text(config.data_dir)
    await shot(page, "service")


def test_payloads_are_decoded_only_when_json_and_shown_encoded_otherwise():
    from rayflow.proto.rayflow.v1 import message_pb2
    from rayflow.ui.encode import message_json

    payloads = message_pb2.Payloads(payloads=[
        message_pb2.Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": [1, 2]}'),
        message_pb2.Payload(metadata={"encoding": b"binary/cloudpickle", "key": b"\x00\xff"}, data=b"\x80\x05N."),
    ])
    decoded, encoded = message_json(message_pb2.ApplicationFailureInfo(type="E", details=payloads))["details"]
    assert decoded == {"encoding": "json/plain", "value": {"a": [1, 2]}}
    assert encoded == {"encoding": "binary/cloudpickle", "metadata": {"encoding": "binary/cloudpickle",
                       "key": "base64:AP8="}, "data_base64": "gAVOLg==", "truncated": False, "size": 4}


def _http_args(**overrides):
    import argparse

    values = {"ui_port": 0, "ui_bind": "127.0.0.1", "no_ui": False, "metrics_port": None, "ui_tls_ca": None,
              "ui_tls_server_name": None, "ui_tls_client_cert": None, "ui_tls_client_key": None,
              "tls_cert": None, "tls_key": None}
    return argparse.Namespace(**(values | overrides))


async def test_no_ui_with_a_metrics_port_and_ports_in_use(monkeypatch):
    """`--no-ui --metrics-port 0` serves /metrics alone; a taken --ui-port fails the start, a taken default port
    only leaves the UI off (said at start); mutual TLS without a client certificate for the UI leaves it off."""
    import socket

    from rayflow.ui import launch

    servers = await launch.start_http(_http_args(no_ui=True, metrics_port=0), frontend_bind="127.0.0.1",
                                      frontend_port=1, tls_files=None)
    try:
        assert servers.ui_url is None and servers.metrics_url.endswith("/metrics")
        async with aiohttp.ClientSession() as http, http.get(servers.metrics_url) as response:
            assert response.status == 200
    finally:
        await servers.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"web UI cannot listen on 127.0.0.1:{port} .the port is in use"):
            await launch.start_http(_http_args(ui_port=port), frontend_bind="127.0.0.1", frontend_port=1,
                                    tls_files=None)
        monkeypatch.setattr(launch.constants, "DEFAULT_UI_PORT", port)
        servers = await launch.start_http(_http_args(ui_port=None), frontend_bind="127.0.0.1", frontend_port=1,
                                          tls_files=None)
        assert servers.ui_url is None and any(f"{port} is in use" in note for note in servers.notes)
    servers = await launch.start_http(_http_args(), frontend_bind="127.0.0.1", frontend_port=1,
                                      tls_files=(b"cert", b"key", b"client ca"))
    assert servers.ui_url is None and any("--ui-tls-client-cert" in note for note in servers.notes)
