"""OpenTelemetry tracing for rayflow, as ``temporalio.contrib.opentelemetry.TracingInterceptor``.

Give one ``TracingInterceptor()`` to ``Client.connect(interceptors=[...])``: it traces the client's calls and,
being a worker interceptor too, the workers built from that client. The trace context travels in the
``_tracer-data`` header (W3C trace context and baggage by default) from the client to the workflow, from the
workflow to its activities and children. Span names and attributes are Temporal's::

    StartWorkflow:Parent                (client; SignalWithStartWorkflow: with a start signal)
      RunWorkflow:Parent                (replica)
      StartActivity:load                (replica, by the workflow)
        RunActivity:load                (replica running the activity)
      StartChildWorkflow:Child
        RunWorkflow:Child
        CompleteWorkflow:Child
      CompleteWorkflow:Parent

Workflow spans are made and ended at once, at the workflow's time (``workflow.now()``): a workflow task may
run on any replica and be replayed, so no span can stay open across it. They are made only when the task runs
live, never while it replays, so a replayed workflow (cache eviction, another replica, a ``Replayer``) adds no
span; and only below a traced caller (``always_create_workflow_spans=True`` makes them without one).

Where spans go: each process uses the tracer provider that is global in it. The interceptor is pickled to
the replicas without its tracer; there it calls ``opentelemetry.trace.get_tracer``. Install the replicas'
provider with ``Worker(replica_setup=...)``, a function each replica calls when it starts::

    def setup_tracing():
        provider = TracerProvider(resource=Resource.create({"service.name": "my-workers"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        opentelemetry.trace.set_tracer_provider(provider)

    Worker(client, task_queue="q", workflows=[...], activities=[...], replica_setup=setup_tracing)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import opentelemetry.baggage.propagation
import opentelemetry.context
import opentelemetry.propagators.composite
import opentelemetry.propagators.textmap
import opentelemetry.trace
import opentelemetry.trace.propagation.tracecontext
from opentelemetry.trace import SpanKind

from rayflow import activity, client, worker, workflow
from rayflow.converter import DataConverter
from rayflow.exceptions import FailureError

__all__ = ["TracingInterceptor", "TracingWorkflowInboundInterceptor", "default_text_map_propagator"]

default_text_map_propagator = opentelemetry.propagators.composite.CompositePropagator([
    opentelemetry.trace.propagation.tracecontext.TraceContextTextMapPropagator(),
    opentelemetry.baggage.propagation.W3CBaggagePropagator(),
])
"""The propagator ``TracingInterceptor`` uses by default: W3C trace context and baggage."""

_Headers = Mapping[str, Any]
_PAYLOADS = DataConverter.default.payload_converter  # headers are JSON, whatever the client's converter


class TracingInterceptor(client.Interceptor, worker.Interceptor):
    """Client and worker interceptor that makes spans and carries their context in headers.

    Args:
        tracer: the tracer of this process (default: ``opentelemetry.trace.get_tracer(__name__)`` of the global
            provider, looked up when first used). Not pickled: replicas always use their own global provider.
        header_key: the header holding the context (default ``"_tracer-data"``, Temporal's).
        text_map_propagator: how the context is written into the header (default W3C trace context and baggage).
        always_create_workflow_spans: make workflow spans even when the workflow's caller was not traced
            (default False, as Temporal).
    """

    def __init__(self, tracer: opentelemetry.trace.Tracer | None = None, *, header_key: str = "_tracer-data",
                 text_map_propagator: opentelemetry.propagators.textmap.TextMapPropagator = default_text_map_propagator,
                 always_create_workflow_spans: bool = False) -> None:
        self._tracer = tracer
        self.header_key = header_key
        self.text_map_propagator = text_map_propagator
        self.always_create_workflow_spans = always_create_workflow_spans
        self._workflow_class: type | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tracer"] = None  # a tracer belongs to its process's provider: the replica looks its own up
        state["_workflow_class"] = None
        return state

    @property
    def tracer(self) -> opentelemetry.trace.Tracer:
        if self._tracer is None:
            self._tracer = opentelemetry.trace.get_tracer(__name__)
        return self._tracer

    # -- the interceptor API ------------------------------------------------------------------------------------

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:  # noqa: A002
        return _TracingClientOutbound(next, self)

    def intercept_activity(self, next: worker.ActivityInboundInterceptor) -> worker.ActivityInboundInterceptor:  # noqa: A002
        return _TracingActivityInbound(next, self)

    def workflow_interceptor_class(self, input: worker.WorkflowInterceptorClassInput  # noqa: A002
                                   ) -> type[worker.WorkflowInboundInterceptor]:
        if self._workflow_class is None:  # bound to this interceptor's settings (made in the replica)
            self._workflow_class = type("TracingWorkflowInboundInterceptor", (TracingWorkflowInboundInterceptor,),
                                        {"root": self})
        return self._workflow_class

    # -- headers ------------------------------------------------------------------------------------------------

    def context_to_headers(self, headers: _Headers, context: opentelemetry.context.Context | None = None
                           ) -> _Headers:
        """``headers`` plus the header carrying ``context`` (default: the current one); unchanged if it is empty."""
        carrier: dict[str, str] = {}
        self.text_map_propagator.inject(carrier, context)
        if not carrier:
            return headers
        return {**headers, self.header_key: _PAYLOADS.to_payload(carrier)}

    def context_from_headers(self, headers: _Headers) -> opentelemetry.context.Context | None:
        """The context the header carries (None without one)."""
        payload = headers.get(self.header_key)
        if payload is None:
            return None
        carrier = _PAYLOADS.from_payload(payload)
        if not isinstance(carrier, dict) or not carrier:
            return None
        return self.text_map_propagator.extract(carrier)


class _TracingClientOutbound(client.OutboundInterceptor):
    def __init__(self, next: client.OutboundInterceptor, root: TracingInterceptor) -> None:  # noqa: A002
        super().__init__(next)
        self.root = root

    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:  # noqa: A002
        prefix = "SignalWithStartWorkflow" if input.start_signal else "StartWorkflow"
        return await self._traced(f"{prefix}:{input.workflow}", input, super().start_workflow)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:  # noqa: A002
        await self._traced(f"SignalWorkflow:{input.signal}", input, super().signal_workflow)

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:  # noqa: A002
        return await self._traced(f"QueryWorkflow:{input.query}", input, super().query_workflow)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:  # noqa: A002
        return await self._traced(f"StartWorkflowUpdate:{input.update}", input, super().start_workflow_update)

    async def _traced(self, name: str, input: Any, call: Callable[[Any], Awaitable[Any]]) -> Any:  # noqa: A002
        """``call(input)`` in a client span, with the span's context in ``input.headers``."""
        with self.root.tracer.start_as_current_span(name, kind=SpanKind.CLIENT,
                                                    attributes={"temporalWorkflowID": input.id}):
            input.headers = self.root.context_to_headers(input.headers)
            return await call(input)


class _TracingActivityInbound(worker.ActivityInboundInterceptor):
    def __init__(self, next: worker.ActivityInboundInterceptor, root: TracingInterceptor) -> None:  # noqa: A002
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:  # noqa: A002
        info = activity.info()
        with self.root.tracer.start_as_current_span(
            f"RunActivity:{info.activity_type}", context=self.root.context_from_headers(input.headers),
            kind=SpanKind.SERVER,
            attributes={"temporalWorkflowID": info.workflow_id, "temporalRunID": info.workflow_run_id,
                        "temporalActivityID": info.activity_id},
        ):
            return await super().execute_activity(input)


class TracingWorkflowInboundInterceptor(worker.WorkflowInboundInterceptor):
    """The workflow side of ``TracingInterceptor`` (one per run, in the replica; ``root`` is set per interceptor).

    Spans are made with explicit parents (the context the run's start header carries), never by changing the
    current context: nothing is attached on the workflow's loop, so evicting a run mid-way leaves nothing behind.
    """

    root: TracingInterceptor

    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        super().init(_TracingWorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: worker.ExecuteWorkflowInput) -> Any:  # noqa: A002
        info = workflow.info()
        self.completed_span(f"RunWorkflow:{info.workflow_type}", kind=SpanKind.SERVER)
        try:
            result = await super().execute_workflow(input)
        except FailureError as err:  # the errors that fail the workflow (others fail only its task)
            self.completed_span(f"CompleteWorkflow:{info.workflow_type}", exception=err)
            raise
        self.completed_span(f"CompleteWorkflow:{info.workflow_type}")
        return result

    async def handle_signal(self, input: worker.HandleSignalInput) -> None:  # noqa: A002
        self.completed_span(f"HandleSignal:{input.signal}", kind=SpanKind.SERVER,
                            link=self.root.context_from_headers(input.headers))
        await super().handle_signal(input)

    async def handle_query(self, input: worker.HandleQueryInput) -> Any:  # noqa: A002
        # Only a traced query makes a span, below its caller's (queries are answered in replay too).
        parent = self.root.context_from_headers(input.headers)
        if parent is not None:
            self.completed_span(f"HandleQuery:{input.query}", kind=SpanKind.SERVER, parent=parent,
                                link=self._parent, even_on_replay=True)
        return await super().handle_query(input)

    def handle_update_validator(self, input: worker.HandleUpdateInput) -> None:  # noqa: A002
        self.completed_span(f"ValidateUpdate:{input.update}", kind=SpanKind.SERVER,
                            link=self.root.context_from_headers(input.headers))
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: worker.HandleUpdateInput) -> Any:  # noqa: A002
        self.completed_span(f"HandleUpdate:{input.update}", kind=SpanKind.SERVER,
                            link=self.root.context_from_headers(input.headers))
        return await super().handle_update_handler(input)

    @functools.cached_property
    def _parent(self) -> opentelemetry.context.Context | None:
        """The workflow's context: what its start header carries (the client's or the parent's span)."""
        return self.root.context_from_headers(workflow.info().headers)

    def completed_span(self, name: str, *, kind: SpanKind = SpanKind.INTERNAL,
                       parent: opentelemetry.context.Context | None = None,
                       link: opentelemetry.context.Context | None = None, exception: BaseException | None = None,
                       add_to: Any = None, even_on_replay: bool = False,
                       attributes: Mapping[str, Any] | None = None) -> None:
        """Make and end a span at the workflow's time, unless the workflow is replaying (or has no traced
        caller); with ``add_to``, put its context into that outbound input's headers."""
        if workflow.unsafe.is_replaying() and not even_on_replay:
            return
        context = parent if parent is not None else self._parent
        if context is None:
            if not self.root.always_create_workflow_spans:
                return
            context = opentelemetry.context.Context()
        info = workflow.info()
        links = []
        if link is not None:
            linked = opentelemetry.trace.get_current_span(link).get_span_context()
            if linked.is_valid:
                links.append(opentelemetry.trace.Link(linked))
        at = int(workflow.time() * 1e9)
        span = self.root.tracer.start_span(
            name, context, kind=kind, links=links, start_time=at,
            attributes={"temporalWorkflowID": info.workflow_id, "temporalRunID": info.run_id, **(attributes or {})},
        )
        if exception is not None:
            span.record_exception(exception)
            span.set_status(opentelemetry.trace.Status(opentelemetry.trace.StatusCode.ERROR, str(exception)))
        span.end(end_time=at)
        if add_to is not None:
            add_to.headers = self.root.context_to_headers(add_to.headers,
                                                          opentelemetry.trace.set_span_in_context(span, context))


class _TracingWorkflowOutbound(worker.WorkflowOutboundInterceptor):
    def __init__(self, next: worker.WorkflowOutboundInterceptor, root: TracingWorkflowInboundInterceptor) -> None:  # noqa: A002
        super().__init__(next)
        self.root = root

    def start_activity(self, input: worker.StartActivityInput) -> Any:  # noqa: A002
        self.root.completed_span(f"StartActivity:{input.activity}", kind=SpanKind.CLIENT, add_to=input)
        return super().start_activity(input)

    async def start_child_workflow(self, input: worker.StartChildWorkflowInput) -> Any:  # noqa: A002
        self.root.completed_span(f"StartChildWorkflow:{input.workflow}", kind=SpanKind.CLIENT, add_to=input)
        return await super().start_child_workflow(input)

    async def signal_child_workflow(self, input: worker.SignalChildWorkflowInput) -> None:  # noqa: A002
        self.root.completed_span(f"SignalChildWorkflow:{input.signal}", kind=SpanKind.CLIENT, add_to=input)
        await super().signal_child_workflow(input)

    def continue_as_new(self, input: worker.ContinueAsNewInput) -> Any:  # noqa: A002
        # The next run continues this run's trace: it gets the context this run started under.
        parent = self.root._parent
        if parent is not None and not workflow.unsafe.is_replaying():
            input.headers = self.root.root.context_to_headers(input.headers, parent)
        super().continue_as_new(input)
