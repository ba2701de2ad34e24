"""Metrics under Temporal's names: ``curl /metrics`` of `rayflow server start` shows them with their labels, and
their values move as workflows complete; the Grafana dashboard names only metrics rayflow defines."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from rayflow import activity, workflow
from rayflow.common import RetryPolicy
from rayflow.exceptions import ApplicationError, WorkflowFailureError
from rayflow.telemetry import DEFINITIONS
from rayflow.telemetry.prometheus import NO_AGENT_HINT, RayMetricsScraper, render
from rayflow.worker import Worker

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "cluster" / "grafana" / "rayflow-dashboard.json"


@activity.defn
async def flaky_greeting(name: str) -> str:
    """Fails its first attempt (``temporal_activity_execution_failed``), then greets."""
    if activity.info().attempt < 2:
        raise ApplicationError("first attempts fail")
    return f"Hello, {name}!"


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            flaky_greeting, name, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


@workflow.defn
class Refuse:
    @workflow.run
    async def run(self, reason: str) -> None:
        raise ApplicationError(f"refused: {reason}", non_retryable=True)


# -- helpers ---------------------------------------------------------------------------------------------
def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)] of a Prometheus exposition."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


async def start_server(*args: str) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    """`rayflow server start ARGS`; the process, its metrics URL and the lines it printed."""
    process = await asyncio.create_subprocess_exec(
        Path(sys.executable).with_name("rayflow"), "server", "start", "--port", "0", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    url = ""
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        lines.append(line)
        if not line:
            raise AssertionError("rayflow server start exited:\n" + "".join(lines[-30:]))
        if match := re.search(r"rayflow metrics: (\S+)", line):
            url = match.group(1)
        if "listening on" in line:
            return process, url, lines


async def scrape_until(url: str, ready, timeout_s: float = 30.0) -> dict:
    """GET ``url`` until ``ready(samples)`` holds (Ray reports every second here: tests/conftest.py)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(url) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                text = await response.text()
            samples = parse(text)
            if ready(samples):
                return samples
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{url} never showed what the test waits for; it served:\n{text[-4000:]}")
            await asyncio.sleep(0.3)


# -- the endpoint of `rayflow server start`, end to end ----------------------------------------------------
async def test_metrics_endpoint_shows_temporal_names_labels_and_moving_values(env, task_queue):
    client = env.client
    config = env.config
    process, url, lines = await start_server(
        "--ray-address", ray.get_runtime_context().gcs_address, "--ray-namespace", config.ray_namespace,
        "--data-dir", config.data_dir, "--no-ui", "--metrics-port", "0",
    )
    drain = asyncio.ensure_future(process.stdout.read())
    try:
        assert url.endswith("/metrics"), "".join(lines)
        async with Worker(client, task_queue=task_queue, workflows=[Greet, Refuse], activities=[flaky_greeting]):
            assert await client.execute_workflow(Greet.run, "metrics", id=f"greet-{uuid.uuid4()}",
                                                 task_queue=task_queue) == "Hello, metrics!"
            with pytest.raises(WorkflowFailureError):
                await client.execute_workflow(Refuse.run, "no", id=f"refuse-{uuid.uuid4()}", task_queue=task_queue)
            wf = {"namespace": "default", "task_queue": task_queue}
            greet = {**wf, "workflow_type": "Greet"}
            act = {**greet, "activity_type": "flaky_greeting"}
            srv = {"namespace": "default", "taskqueue": task_queue}

            def first_round(s: dict) -> bool:
                return (
                    value(s, "temporal_workflow_completed_total", **greet) >= 1
                    and value(s, "temporal_workflow_failed_total", **wf, workflow_type="Refuse") >= 1
                    and value(s, "temporal_activity_execution_failed_total", **act) >= 1
                    and value(s, "temporal_activity_execution_latency_count", **act) >= 2
                    and value(s, "temporal_workflow_endtoend_latency_count", **greet) >= 1
                    and value(s, "temporal_workflow_task_execution_latency_count", **greet) >= 1
                    and value(s, "temporal_workflow_task_schedule_to_start_latency_count", **wf) >= 1
                    and value(s, "temporal_activity_schedule_to_start_latency_count", **act) >= 1
                    and value(s, "temporal_sticky_cache_hit_total", **wf) >= 1
                    and value(s, "poll_success_total", **srv, task_type="Workflow") >= 1
                    and value(s, "rayflow_pool_replicas", task_queue=task_queue) == 1
                    and value(s, "temporal_worker_task_slots_available", **wf, worker_type="ActivityWorker") > 0
                    and value(s, "temporal_num_pollers", **wf, poller_type="workflow_task") > 0
                    and value(s, "service_requests_total", service_name="history") > 0
                    and value(s, "persistence_latency_count", operation="write") > 0
                )

            samples = await scrape_until(url, first_round)
            # Every name of the issue is served (HELP/TYPE at least), with Temporal's labels where recorded.
            text_names = {name for name in DEFINITIONS}
            for name in text_names:
                assert any(s == name or s.startswith(name + "_") for s in samples) or name in (
                    "temporal_workflow_canceled", "temporal_workflow_task_execution_failed", "service_errors",
                    "poll_timeouts", "poll_success_sync", "temporal_sticky_cache_miss",
                ), name
            assert set(next(lb for lb, _ in samples["temporal_workflow_completed_total"]
                            if lb.get("task_queue") == task_queue)) == {"namespace", "task_queue", "workflow_type"}
            assert {"namespace", "taskqueue", "task_type", "partition"} <= set(samples["approximate_backlog_count"][0][0])
            assert not any("WorkerId" in lb or "Component" in lb for got in samples.values() for lb, _ in got)
            assert value(samples, "approximate_backlog_age_seconds", **srv) >= 0
            assert value(samples, "temporal_workflow_endtoend_latency_bucket", **greet, le="+Inf") >= 1
            completed = value(samples, "temporal_workflow_completed_total", **greet)

            # More workflows complete: the counter moves by as many.
            for i in range(2):
                await client.execute_workflow(Greet.run, f"again-{i}", id=f"greet-{uuid.uuid4()}",
                                              task_queue=task_queue)
            await scrape_until(url, lambda s: value(s, "temporal_workflow_completed_total", **greet) == completed + 2)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        drain.cancel()


# -- pieces ----------------------------------------------------------------------------------------------
RAY_TEXT = """\
# HELP ray_temporal_workflow_completed_total Workflows completed successfully
# TYPE ray_temporal_workflow_completed_total counter
ray_temporal_workflow_completed_total{{Component="core_worker",WorkerId="{a}",namespace="default",task_queue="q",\
workflow_type="W",otel_scope_name="x"}} 2.0
ray_temporal_workflow_completed_total{{Component="core_worker",WorkerId="{b}",namespace="default",task_queue="q",\
workflow_type="W",otel_scope_name="x"}} 3.0
# HELP ray_approximate_backlog_age_seconds age
# TYPE ray_approximate_backlog_age_seconds gauge
ray_approximate_backlog_age_seconds{{WorkerId="{a}",namespace="default",taskqueue="q",task_type="Workflow",\
partition="0"}} 4.0
ray_approximate_backlog_age_seconds{{WorkerId="{b}",namespace="default",taskqueue="q",task_type="Workflow",\
partition="0"}} 9.0
# HELP ray_temporal_workflow_endtoend_latency latency
# TYPE ray_temporal_workflow_endtoend_latency histogram
ray_temporal_workflow_endtoend_latency_bucket{{WorkerId="{a}",le="10.0",namespace="default",task_queue="q",\
workflow_type="W"}} 1.0
ray_temporal_workflow_endtoend_latency_bucket{{WorkerId="{b}",le="10.0",namespace="default",task_queue="q",\
workflow_type="W"}} 1.0
ray_temporal_workflow_endtoend_latency_bucket{{WorkerId="{a}",le="+Inf",namespace="default",task_queue="q",\
workflow_type="W"}} 1.0
ray_temporal_workflow_endtoend_latency_bucket{{WorkerId="{b}",le="+Inf",namespace="default",task_queue="q",\
workflow_type="W"}} 2.0
ray_temporal_workflow_endtoend_latency_count{{WorkerId="{a}",namespace="default",task_queue="q",workflow_type="W"}} 1.0
ray_temporal_workflow_endtoend_latency_count{{WorkerId="{b}",namespace="default",task_queue="q",workflow_type="W"}} 2.0
ray_temporal_workflow_endtoend_latency_sum{{WorkerId="{a}",namespace="default",task_queue="q",workflow_type="W"}} 5.0
ray_temporal_workflow_endtoend_latency_sum{{WorkerId="{b}",namespace="default",task_queue="q",workflow_type="W"}} 70.0
# HELP ray_grpc_server_req_total Ray's own
# TYPE ray_grpc_server_req_total counter
ray_grpc_server_req_total{{Component="raylet"}} 7.0
""".format(a="a" * 8, b="b" * 8)


def test_ray_exposition_is_combined_across_processes_under_temporal_names():
    families = RayMetricsScraper().combine([RAY_TEXT])
    samples = parse(render(families, ["node x: refused"]).decode())
    q = {"namespace": "default", "task_queue": "q", "workflow_type": "W"}
    assert samples["temporal_workflow_completed_total"] == [(q, 5.0)]
    # A gauge defined with aggregate=max keeps the oldest backlog.
    assert value(samples, "approximate_backlog_age_seconds", taskqueue="q") == 9.0
    assert value(samples, "temporal_workflow_endtoend_latency_bucket", le="+Inf") == 3.0
    assert value(samples, "temporal_workflow_endtoend_latency_sum") == 75.0
    assert not any(name.startswith(("ray_", "grpc")) for name in samples)  # only rayflow's, no prefix
    assert render(families, ["node x: refused"]).startswith(b"# rayflow: node x: refused\n")


async def test_a_node_without_a_metrics_agent_is_named_with_the_fix(ray_session):
    class Unreachable(RayMetricsScraper):
        async def endpoints(self):
            return [("deadbeef" * 4, "http://127.0.0.1:9/metrics")]

    text = (await Unreachable(timeout_s=2).render()).decode()
    assert "# rayflow: node deadbeef" in text and NO_AGENT_HINT in text
    assert "# TYPE temporal_workflow_completed_total counter" in text  # the names are still listed


# -- the Grafana dashboard ---------------------------------------------------------------------------------
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: words directly after the ``${prefix}`` variable."""
    return set(re.findall(r"\$\{prefix\}([a-zA-Z_:][a-zA-Z0-9_:]*)", expr))


def _defined(name: str) -> bool:
    if name in DEFINITIONS:
        return DEFINITIONS[name].kind != "counter"  # a counter is served as NAME_total
    for suffix in _SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in DEFINITIONS:
            kind = DEFINITIONS[base].kind
            return (suffix == "_total") == (kind == "counter") and (suffix != "_bucket" or kind == "histogram")
    return False


def test_grafana_dashboard_names_only_metrics_rayflow_defines():
    dashboard = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "prefix", "task_queue"}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    assert len(exprs) > 20
    used = set()
    for expr in exprs:
        names = _metric_names(expr)
        assert names, f"no ${{prefix}}metric in {expr!r}"
        # No metric name written without the prefix variable (it would miss Ray's ray_-prefixed series).
        bare = set(re.findall(r"(?<![\w{}$])((?:temporal|rayflow|approximate|poll|service|persistence)_\w+)", expr))
        bare -= {label for d in DEFINITIONS.values() for label in d.labels}
        assert bare <= names, f"{expr!r} names {bare - names} without ${{prefix}}"
        for name in names:
            assert _defined(name), f"{expr!r} names {name}, which rayflow does not define"
        used |= {n.removesuffix(s) for n in names for s in _SUFFIXES if n.endswith(s)} | names
    for needed in ("temporal_workflow_completed", "temporal_workflow_endtoend_latency", "approximate_backlog_count",
                   "approximate_backlog_age_seconds", "temporal_worker_task_slots_available", "temporal_num_pollers",
                   "rayflow_pool_replicas", "rayflow_pool_gpus", "rayflow_backlog_by_label"):
        assert needed in used, needed
    assert "grafana/rayflow-dashboard.json" in (REPO / "cluster" / "README.md").read_text()
