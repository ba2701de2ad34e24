"""The `rayflow` command line against a `rayflow server start` subprocess (each command a subprocess)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

from tests.frontend.conftest import TASK_QUEUE, run_cli


async def _start_approval(frontend, workflow_id: str, request: str, *flags: str) -> tuple[int, str, str]:
    """`rayflow workflow start` of an Approval workflow (it waits for approve signals)."""
    return await run_cli(
        "workflow",
        "start",
        "--address",
        frontend.address,
        "--type",
        "Approval",
        "-t",
        TASK_QUEUE,
        "-w",
        workflow_id,
        "--input",
        request,
        *flags,
    )


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_execute_prints_the_result(frontend):
    code, out, err = await run_cli(
        "workflow",
        "execute",
        "--address",
        frontend.address,
        "--type",
        "Greeting",
        "--task-queue",
        TASK_QUEUE,
        "--input",
        '"CLI"',
        "--workflow-id",
        _id("cli-exec"),
    )
    assert code == 0, err
    assert "Status   COMPLETED" in out and 'Result   "Hello, CLI!"' in out


async def test_execute_of_a_failing_workflow_exits_1(frontend):
    code, out, err = await run_cli(
        "workflow",
        "execute",
        "--address",
        frontend.address,
        "--type",
        "Fails",
        "--task-queue",
        TASK_QUEUE,
        "--input",
        '"no budget"',
        "--output",
        "json",
    )
    assert code == 1, err
    data = json.loads(out)
    assert data["status"] == "FAILED"
    assert data["failure"] == {"type": "ApplicationError", "message": "refused: no budget"}


async def test_start_signal_query_update_describe_show_list_result(frontend):
    address = ["--address", frontend.address]
    workflow_id = _id("cli-approval")
    code, out, err = await _start_approval(frontend, workflow_id, '{"item": "disk", "needed": 1}', "-o", "json")
    assert code == 0, err
    started = json.loads(out)
    assert started["workflow_id"] == workflow_id and started["run_id"]

    code, out, err = await run_cli(
        "workflow", "update", *address, "-w", workflow_id, "--name", "set_note", "--input", '"ship it"', "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["result"] == ""
    code, out, err = await run_cli("workflow", "query", *address, "-w", workflow_id, "--name", "status")
    assert code == 0, err
    assert json.loads(out) == {"approvals": 0, "note": "ship it"}

    code, out, err = await run_cli("workflow", "describe", *address, "-w", workflow_id)
    assert code == 0, err
    assert "Status          RUNNING" in out and "Type            Approval" in out

    code, out, err = await run_cli(
        "workflow", "signal", *address, "-w", workflow_id, "--name", "approve", "--input", '"carla"'
    )
    assert code == 0, err
    code, out, err = await run_cli("workflow", "result", *address, "-w", workflow_id, "-o", "json")
    assert code == 0, err
    assert json.loads(out)["result"] == {"item": "disk", "approved_by": ["carla"], "note": "ship it"}

    code, out, err = await run_cli("workflow", "show", *address, "-w", workflow_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "TIME", "TYPE", "DETAILS"]
    assert (
        lines[1].startswith("1 ") and "WORKFLOW_EXECUTION_STARTED" in lines[1] and "workflow_type=Approval" in lines[1]
    )
    assert any("WORKFLOW_EXECUTION_SIGNALED" in line and "signal_name=approve" in line for line in lines)
    assert "WORKFLOW_EXECUTION_COMPLETED" in lines[-1]

    code, out, err = await run_cli(
        "workflow", "list", *address, "--query", "WorkflowType='Approval' AND ExecutionStatus='Completed'", "-o", "json"
    )
    assert code == 0, err
    listed = json.loads(out)
    assert workflow_id in [w["workflow_id"] for w in listed]
    assert {w["status"] for w in listed} == {"COMPLETED"} and {w["type"] for w in listed} == {"Approval"}
    code, out, err = await run_cli("workflow", "list", *address)
    assert code == 0 and out.split()[:2] == ["STATUS", "WORKFLOW"] and workflow_id in out


async def test_show_follow_streams_until_the_workflow_closes(frontend):
    address = ["--address", frontend.address]
    workflow_id = _id("cli-follow")
    code, _, err = await _start_approval(frontend, workflow_id, '{"item": "gpu"}')
    assert code == 0, err
    follow = asyncio.ensure_future(run_cli("workflow", "show", *address, "-w", workflow_id, "--follow", "-o", "json"))
    await asyncio.sleep(3)
    assert not follow.done()  # still following a running workflow
    code, _, err = await run_cli(
        "workflow", "signal", *address, "-w", workflow_id, "--name", "approve", "--input", '"dana"'
    )
    assert code == 0, err
    code, out, err = await follow
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event_id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["event_type"] == "WORKFLOW_EXECUTION_COMPLETED"
    assert any(e["event_type"] == "WORKFLOW_EXECUTION_SIGNALED" for e in events)


async def test_cancel_terminate_and_task_queue_describe(frontend):
    address = ["--address", frontend.address]
    ids = [_id("cli-cancel"), _id("cli-term")]
    for workflow_id in ids:
        code, _, err = await _start_approval(frontend, workflow_id, '{"item": "x"}')
        assert code == 0, err
    code, out, err = await run_cli("workflow", "cancel", *address, "-w", ids[0])
    assert code == 0 and "Cancellation requested" in out, err
    code, out, err = await run_cli("workflow", "terminate", *address, "-w", ids[1], "--reason", "operator")
    assert code == 0 and "Terminated" in out, err
    code, out, err = await run_cli("workflow", "result", *address, "-w", ids[1])
    assert code == 1 and "Status   FAILED" in out and "operator" in out
    code, out, err = await run_cli("workflow", "describe", *address, "-w", ids[0], "-o", "json")
    assert code == 0 and json.loads(out)["status"] == "CANCELED", out + err

    code, out, err = await run_cli("task-queue", "describe", *address, "--task-queue", TASK_QUEUE, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["name"] == TASK_QUEUE and data["workflow"]["pollers"] and data["activity"]["pollers"]
    code, out, err = await run_cli("task-queue", "describe", *address, "--task-queue", TASK_QUEUE)
    assert code == 0 and f"Workflow queue {TASK_QUEUE!r}" in out and "POLLER IDENTITY" in out

    code, out, err = await run_cli("server", "status", *address)
    assert code == 0 and "SERVING" in out and frontend.data_dir in out


async def test_bad_input_gets_a_clear_message_and_exit_code_2(frontend):
    address = ["--address", frontend.address]
    code, out, err = await run_cli("workflow", "describe", *address, "-w", "no-such-workflow")
    assert code == 2 and "workflow 'no-such-workflow' not found" in err
    code, out, err = await run_cli(
        "workflow", "start", *address, "--type", "Greeting", "-t", TASK_QUEUE, "--input", "{not json"
    )
    assert code == 2 and "--input 1 is not valid JSON" in err
    code, out, err = await run_cli("workflow", "start", *address, "--type", "Greeting")
    assert code == 2 and "the following arguments are required: --task-queue/-t" in err
    code, out, err = await run_cli("workflow", "signal", *address, "-w", "x")
    assert code == 2 and "--name" in err
    code, out, err = await run_cli("workflow", "list", *address, "--query", "Color='red'")
    assert code == 2 and "--query term" in err
    code, out, err = await run_cli(
        "workflow", "start", *address, "--type", "Greeting", "-t", TASK_QUEUE, "--run-timeout", "soon"
    )
    assert code == 2 and "--run-timeout 'soon' is not a duration" in err

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    code, out, err = await run_cli("workflow", "list", "--address", closed)
    assert code == 2 and f"cannot reach the rayflow frontend at {closed}" in err and "rayflow server start" in err


async def test_server_stop_stops_the_frontend(frontend):
    """Runs last in this module: `rayflow server stop --data-dir` ends the frontend started on it."""
    code, out, err = await run_cli("server", "stop", "--data-dir", frontend.data_dir)
    assert code == 0, err
    assert "stopped" in out
    assert await asyncio.wait_for(frontend.process.wait(), 30) == 0
    code, out, err = await run_cli("server", "status", "--address", frontend.address)
    assert code == 2 and "cannot reach" in err
    code, out, err = await run_cli("server", "stop", "--data-dir", frontend.data_dir)
    assert code == 2 and "no frontend runs" in err
