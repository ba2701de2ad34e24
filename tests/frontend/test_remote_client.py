"""A process with no Ray connection drives workflows through the gRPC frontend (`rayflow server start`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rayflow.client import Client
from rayflow.exceptions import (
    PayloadError,
    WorkflowAlreadyStartedError,
    WorkflowNotFoundError,
    WorkflowQueryFailedError,
)
from tests.frontend.conftest import REPO, TASK_QUEUE

REMOTE_SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from rayflow.client import Client
    from rayflow.common import WorkflowExecutionStatus

    async def main(address, prefix, task_queue):
        out = {}
        client = await Client.connect(address)
        out["hello"] = await client.execute_workflow("Greeting", "remote", id=f"{prefix}-hello", task_queue=task_queue)
        handle = await client.start_workflow("Approval", {"item": "gpu-quota", "needed": 2}, id=f"{prefix}-approval",
                                             task_queue=task_queue)
        await handle.signal("approve", "ana")
        out["query"] = await handle.query("status")
        out["update"] = await handle.execute_update("set_note", "urgent")
        described = await handle.describe()
        out["describe"] = [described.workflow_type, described.task_queue, described.status.name]
        await handle.signal("approve", "bo")
        out["result"] = await handle.result()
        out["history_types"] = [e.event_type.name for e in (await handle.fetch_history()).events]
        out["listed"] = sorted([w.id async for w in client.list_workflows(workflow_type="Approval")])
        out["count_completed"] = await client.count_workflows(status=WorkflowExecutionStatus.COMPLETED)
        other = await Client.connect(address, namespace="other-namespace")
        out["other_sees"] = await other.count_workflows()
        try:
            await other.get_workflow_handle(f"{prefix}-approval").describe()
            out["other_describe"] = "found"
        except Exception as err:
            out["other_describe"] = type(err).__name__
        queue = await client.describe_task_queue(task_queue)
        out["pollers"] = len(queue.workflow.pollers)
        out["ray_imported"] = "ray" in sys.modules
        print("OUT " + json.dumps(out))

    asyncio.run(main(*sys.argv[1:]))
""")


async def test_process_without_ray_starts_signals_queries_and_lists(frontend):
    prefix = f"remote-{uuid.uuid4().hex[:6]}"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", REMOTE_SCRIPT, frontend.address, prefix, TASK_QUEUE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("OUT ", 1)[1])
    assert out["hello"] == "Hello, remote!"
    assert out["query"] == {"approvals": 1, "note": ""}
    assert out["update"] == ""
    assert out["describe"] == ["Approval", TASK_QUEUE, "RUNNING"]
    assert out["result"] == {"item": "gpu-quota", "approved_by": ["ana", "bo"], "note": "urgent"}
    assert out["history_types"][0] == "WORKFLOW_EXECUTION_STARTED"
    assert out["history_types"][-1] == "WORKFLOW_EXECUTION_COMPLETED"
    assert out["history_types"].count("WORKFLOW_EXECUTION_SIGNALED") == 2
    assert f"{prefix}-approval" in out["listed"]
    assert out["count_completed"] >= 2
    assert out["other_sees"] == 0
    assert out["other_describe"] == "WorkflowNotFoundError"
    assert out["pollers"] >= 1
    assert out["ray_imported"] is False


async def test_errors_come_back_as_rayflow_errors(frontend):
    client = await Client.connect(frontend.address)
    try:
        with pytest.raises(WorkflowNotFoundError, match="not found"):
            await client.get_workflow_handle("no-such-workflow").describe()
        workflow_id = f"dup-{uuid.uuid4().hex[:6]}"
        handle = await client.start_workflow("Approval", {"item": "x"}, id=workflow_id, task_queue=TASK_QUEUE)
        with pytest.raises(WorkflowAlreadyStartedError) as info:
            await client.start_workflow("Approval", {"item": "x"}, id=workflow_id, task_queue=TASK_QUEUE)
        assert info.value.workflow_id == workflow_id and info.value.run_id == handle.run_id
        with pytest.raises(WorkflowQueryFailedError, match="no_such_query"):
            await handle.query("no_such_query")
        await handle.terminate("test over")
        assert (await handle.describe()).status.name == "TERMINATED"
    finally:
        await client.close()


async def test_malformed_and_oversized_requests_are_refused_without_harm(frontend):
    client = await Client.connect(frontend.address)
    handle = await client.start_workflow(
        "Approval", {"item": "bystander"}, id=f"by-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE
    )
    channel = grpc.aio.insecure_channel(frontend.address, options=[("grpc.max_send_message_length", -1)])
    try:
        start = channel.unary_unary("/rayflow.v1.WorkflowService/StartWorkflowExecution")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await start(b"\xff\xff\xff\xff garbage")
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid rayflow.v1.StartWorkflowExecutionRequest" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await start(b"")  # parses as an empty request: every required field missing
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "workflow_id, workflow_type, task_queue are required" in info.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await start(b"\x0a" + b"\x80\x80\x80\x02" + b"x" * (4 * 1024 * 1024))  # 4 MiB > the 3 MiB limit
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        health = health_pb2_grpc.HealthStub(channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service="rayflow.v1.WorkflowService"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        # The workflow started before the bad requests is undisturbed.
        await handle.signal("approve", "still-here")
        assert (await handle.result())["approved_by"] == ["still-here"]
    finally:
        await channel.close()
        await client.close()


async def test_oversized_payload_is_refused_with_its_size_and_the_limit(frontend):
    client = await Client.connect(frontend.address, payload_store=False)  # no store: the service's limit applies
    workflow_id = f"big-{uuid.uuid4().hex[:6]}"
    try:
        with pytest.raises(PayloadError, match=r"over the payload limit of 2 MB \(2097152 bytes\)"):
            await client.start_workflow("Greeting", "x" * (2 * 1024 * 1024 + 10), id=workflow_id, task_queue=TASK_QUEUE)
        with pytest.raises(WorkflowNotFoundError):
            await client.get_workflow_handle(workflow_id).describe()
    finally:
        await client.close()


async def test_history_pages_follow_each_other_without_gaps(frontend):
    from rayflow.proto.rayflow.v1 import service_pb2

    client = await Client.connect(frontend.address)
    try:
        handle = await client.start_workflow(
            "Greeting", "pages", id=f"pages-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE
        )
        assert await handle.result() == "Hello, pages!"
        whole = [e.event_id for e in (await handle.fetch_history()).events]
        assert len(whole) > 5
        request = service_pb2.GetWorkflowExecutionHistoryRequest(
            namespace="default", workflow_id=handle.id, maximum_page_size=2
        )
        pages = []
        while True:
            page = await client._service._call("GetWorkflowExecutionHistory", request, "fetch history")
            pages.append([e.event_id for e in page.history.events])
            assert page.run_id == handle.run_id
            if not page.next_page_token:
                break
            request.next_page_token = page.next_page_token
        assert [event_id for page in pages for event_id in page] == whole
        assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    finally:
        await client.close()
