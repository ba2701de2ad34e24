"""rayflow.contrib.opentelemetry: one trace from the client's start through a workflow, its activities and its
child, with Temporal's span names and parent links, and no new workflow span when the workflow is replayed.

The driver's spans go to an in-memory exporter here. The replica's go to an ``InMemorySpanExporter`` that
``Worker(replica_setup=...)`` installs as the global tracer provider of the replica's own process; an activity
running in that process reads them back (the spans a replica exports never leave its process otherwise).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import opentelemetry.trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rayflow import activity, client, workflow
from rayflow.contrib.opentelemetry import TracingInterceptor
from rayflow.worker import Replayer, Worker

_TIMEOUT = timedelta(seconds=20)


def install_in_memory_tracing() -> None:
    """Replica setup: this process's global tracer provider exports to memory."""
    provider = TracerProvider()
    provider.rayflow_test_exporter = InMemorySpanExporter()  # type: ignore[attr-defined]
    provider.add_span_processor(SimpleSpanProcessor(provider.rayflow_test_exporter))  # type: ignore[attr-defined]
    opentelemetry.trace.set_tracer_provider(provider)


def _span_dict(span: Any) -> dict[str, Any]:
    return {"name": span.name, "trace_id": span.context.trace_id, "span_id": span.context.span_id,
            "parent_id": span.parent.span_id if span.parent is not None else None,
            "links": [link.context.span_id for link in span.links],
            "attributes": dict(span.attributes or {})}


@activity.defn
def replica_spans() -> list[dict[str, Any]]:
    """The spans this replica's process exported so far."""
    exporter = opentelemetry.trace.get_tracer_provider().rayflow_test_exporter  # type: ignore[attr-defined]
    return [_span_dict(span) for span in exporter.get_finished_spans()]


@activity.defn
def load(name: str) -> str:
    return f"loaded {name}"


@activity.defn
async def train(data: str) -> str:
    return f"trained on {data}"


@workflow.defn
class Evaluate:
    @workflow.run
    async def run(self, model: str) -> str:
        return f"{model}: ok"


@workflow.defn
class Pipeline:
    @workflow.run
    async def run(self, name: str) -> str:
        data = await workflow.execute_activity(load, name, start_to_close_timeout=_TIMEOUT)
        model = await workflow.execute_activity(train, data, start_to_close_timeout=_TIMEOUT)
        return await workflow.execute_child_workflow(Evaluate.run, model, id=f"{workflow.info().workflow_id}-eval")

    @workflow.query
    def ping(self) -> str:
        return "pong"


@workflow.defn
class ReadSpans:
    @workflow.run
    async def run(self) -> list[dict[str, Any]]:
        return await workflow.execute_activity(replica_spans, start_to_close_timeout=_TIMEOUT)


def _tree(spans: list[dict[str, Any]]) -> list[str]:
    """Span names indented under their parents (children in start order)."""
    by_parent: dict[Any, list[dict[str, Any]]] = {}
    ids = {span["span_id"] for span in spans}
    for span in spans:
        by_parent.setdefault(span["parent_id"] if span["parent_id"] in ids else None, []).append(span)
    lines: list[str] = []

    def walk(parent: Any, depth: int) -> None:
        for span in by_parent.get(parent, []):
            lines.append("  " * depth + span["name"])
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines


async def test_one_trace_through_activities_and_child_and_none_on_replay(env, task_queue):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = TracingInterceptor(provider.get_tracer("test"))  # the driver's tracer; replicas use their own
    base = env.client
    traced = client.Client(base.service_config, namespace=base.namespace, data_converter=base.data_converter,
                           identity="otel-test", interceptors=[tracing])
    # One replica runs everything (its spans are in one process); with no workflow cache every workflow task
    # replays the run's history from its start: only the live part of each task may make spans.
    async with Worker(traced, task_queue=task_queue, workflows=[Pipeline, Evaluate, ReadSpans],
                      activities=[load, train, replica_spans], max_cached_workflows=0,
                      replica_setup=install_in_memory_tracing):
        handle = await traced.start_workflow(Pipeline.run, "cifar", id="otel-pipeline", task_queue=task_queue)
        assert await handle.result() == "trained on loaded cifar: ok"

        async def spans_of_trace() -> list[dict[str, Any]]:
            replica = await base.execute_workflow(ReadSpans.run, id=f"read-{len(exporter.get_finished_spans())}-"
                                                  f"{id(handle)}", task_queue=task_queue)
            driver = [_span_dict(span) for span in exporter.get_finished_spans()]
            trace_id = driver[0]["trace_id"]
            return [span for span in driver + replica if span["trace_id"] == trace_id]

        spans = await spans_of_trace()
        assert _tree(spans) == [
            "StartWorkflow:Pipeline",
            "  RunWorkflow:Pipeline",
            "  StartActivity:load",
            "    RunActivity:load",
            "  StartActivity:train",
            "    RunActivity:train",
            "  StartChildWorkflow:Evaluate",
            "    RunWorkflow:Evaluate",
            "    CompleteWorkflow:Evaluate",
            "  CompleteWorkflow:Pipeline",
        ]
        by_name = {span["name"]: span for span in spans}
        assert by_name["StartWorkflow:Pipeline"]["attributes"] == {"temporalWorkflowID": "otel-pipeline"}
        assert by_name["RunWorkflow:Pipeline"]["attributes"] == {"temporalWorkflowID": "otel-pipeline",
                                                                 "temporalRunID": handle.run_id}
        run_load = by_name["RunActivity:load"]["attributes"]
        assert run_load["temporalWorkflowID"] == "otel-pipeline" and run_load["temporalRunID"] == handle.run_id
        assert run_load["temporalActivityID"] == "1"
        assert by_name["RunWorkflow:Evaluate"]["attributes"]["temporalWorkflowID"] == "otel-pipeline-eval"

        # Replayed once more in the replica: a query of the closed run replays its whole history there.
        assert await base.get_workflow_handle("otel-pipeline").query(Pipeline.ping) == "pong"
        assert await spans_of_trace() == spans

    # And offline, with the driver's tracer: replaying makes no span at all.
    before = len(exporter.get_finished_spans())
    result = await Replayer(workflows=[Pipeline], interceptors=[tracing]).replay_workflow(await handle.fetch_history())
    assert result.failure is None
    assert len(exporter.get_finished_spans()) == before


@workflow.defn
class Approval:
    def __init__(self) -> None:
        self.approved_by = ""
        self.title = "untitled"

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: bool(self.approved_by))
        return f"{self.title} approved by {self.approved_by}"

    @workflow.signal
    def approve(self, who: str) -> None:
        self.approved_by = who

    @workflow.update
    def rename(self, title: str) -> str:
        self.title = title
        return title

    @rename.validator
    def _check_title(self, title: str) -> None:
        if not title:
            raise ValueError("a title is needed")

    @workflow.query
    def status(self) -> str:
        return self.title


async def test_signal_query_and_update_spans_follow_the_clients_calls(env, task_queue):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = TracingInterceptor(provider.get_tracer("test"))
    base = env.client
    traced = client.Client(base.service_config, namespace=base.namespace, data_converter=base.data_converter,
                           identity="otel-test", interceptors=[tracing])
    async with Worker(traced, task_queue=task_queue, workflows=[Approval, ReadSpans], activities=[replica_spans],
                      replica_setup=install_in_memory_tracing):
        handle = await traced.start_workflow(Approval.run, id="otel-approval", task_queue=task_queue)
        assert await handle.execute_update(Approval.rename, "budget") == "budget"
        assert await handle.query(Approval.status) == "budget"
        await handle.signal(Approval.approve, "alice")
        assert await handle.result() == "budget approved by alice"
        replica = await base.execute_workflow(ReadSpans.run, id="otel-approval-spans", task_queue=task_queue)
    driver = [_span_dict(span) for span in exporter.get_finished_spans()]
    spans = driver + replica
    by_name = {span["name"]: span for span in spans}
    started = by_name["StartWorkflow:Approval"]
    # As in temporalio: a signal's and an update's spans belong to the workflow's trace (their parent is the
    # workflow's start) and link to the client call that caused them; a query's span is the query call's child.
    for client_span, worker_spans in (
        ("StartWorkflowUpdate:rename", ["ValidateUpdate:rename", "HandleUpdate:rename"]),
        ("SignalWorkflow:approve", ["HandleSignal:approve"]),
    ):
        for name in worker_spans:
            span = by_name[name]
            assert span["parent_id"] == started["span_id"] and span["trace_id"] == started["trace_id"], name
            assert span["links"] == [by_name[client_span]["span_id"]], name
            assert span["attributes"]["temporalWorkflowID"] == "otel-approval"
    query = by_name["HandleQuery:status"]
    assert query["parent_id"] == by_name["QueryWorkflow:status"]["span_id"]
    assert query["links"] == [started["span_id"]]
    assert [span["name"] for span in spans].count("HandleSignal:approve") == 1
