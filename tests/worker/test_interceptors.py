"""The public interceptor API: headers a client interceptor sets reach the workflow's and the activity's
interceptors, and a worker interceptor given to the client applies to the workers built from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rayflow import activity, client, worker, workflow
from rayflow.converter import DataConverter
from rayflow.worker import Worker

KEY = "x-test"
_CONVERTER = DataConverter.default.payload_converter


def _header(input: Any) -> Any:
    payload = input.headers.get(KEY)
    return None if payload is None else _CONVERTER.from_payload(payload)


def _with(headers: Any, value: str) -> dict[str, Any]:
    return {**headers, KEY: _CONVERTER.to_payload(value)}


class _ClientOut(client.OutboundInterceptor):
    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        input.headers = _with(input.headers, f"start:{input.id}")
        return await super().start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        input.headers = _with(input.headers, f"signal:{input.signal}")
        await super().signal_workflow(input)

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:
        input.headers = _with(input.headers, f"query:{input.query}")
        return await super().query_workflow(input)

    async def start_workflow_update(self, input: client.StartWorkflowUpdateInput) -> Any:
        input.headers = _with(input.headers, f"update:{input.update}")
        return await super().start_workflow_update(input)


class _WorkflowOut(worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: worker.StartActivityInput) -> Any:
        input.headers = _with(input.headers, f"workflow:{workflow.info().workflow_id}")
        return super().start_activity(input)


class _WorkflowIn(worker.WorkflowInboundInterceptor):
    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        self.seen: list[Any] = []
        super().init(_WorkflowOut(outbound))

    async def execute_workflow(self, input: worker.ExecuteWorkflowInput) -> Any:
        self.seen.append(["run", _header(input)])
        result = await super().execute_workflow(input)
        return {"result": result, "seen": self.seen}

    async def handle_signal(self, input: worker.HandleSignalInput) -> None:
        self.seen.append(["signal", _header(input)])
        await super().handle_signal(input)

    async def handle_query(self, input: worker.HandleQueryInput) -> Any:
        return {"answer": await super().handle_query(input), "header": _header(input)}

    def handle_update_validator(self, input: worker.HandleUpdateInput) -> None:
        self.seen.append(["validate", _header(input)])
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: worker.HandleUpdateInput) -> Any:
        self.seen.append(["update", _header(input)])
        return await super().handle_update_handler(input)


class _ActivityIn(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        return {"activity": await super().execute_activity(input), "header": _header(input)}


class HeaderInterceptor(client.Interceptor, worker.Interceptor):
    """Both a client and a worker interceptor: given to the client only."""

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOut(next)

    def intercept_activity(self, next: worker.ActivityInboundInterceptor) -> worker.ActivityInboundInterceptor:
        return _ActivityIn(next)

    def workflow_interceptor_class(self, input: worker.WorkflowInterceptorClassInput) -> type:
        return _WorkflowIn


class ActivityOnly(worker.Interceptor):
    def intercept_activity(self, next: worker.ActivityInboundInterceptor) -> worker.ActivityInboundInterceptor:
        return _ActivityIn(next)


@activity.defn
def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class Greeter:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.done = False

    @workflow.run
    async def run(self) -> Any:
        await workflow.wait_condition(lambda: self.done)
        return await workflow.execute_activity(shout, ",".join(self.names), start_to_close_timeout=timedelta(seconds=10))

    @workflow.signal
    def add(self, name: str) -> None:
        self.names.append(name)

    @workflow.query
    def count(self) -> int:
        return len(self.names)

    @workflow.update
    def finish(self) -> str:
        self.done = True
        return "finishing"

    @finish.validator
    def check_finish(self) -> None:
        if not self.names:
            raise ValueError("nobody to greet")


def _client_like(base: client.Client, interceptors: list[Any]) -> client.Client:
    """Another client of the same service, with interceptors."""
    return client.Client(base.service_config, namespace=base.namespace, data_converter=base.data_converter,
                         identity="interceptor-test", interceptors=interceptors)


async def test_headers_reach_workflow_and_activity_interceptors(env, task_queue):
    traced = _client_like(env.client, [HeaderInterceptor()])
    async with Worker(traced, task_queue=task_queue, workflows=[Greeter], activities=[shout]):
        handle = await traced.start_workflow(Greeter.run, id="headers-1", task_queue=task_queue)
        await handle.signal(Greeter.add, "ada")
        assert await handle.query(Greeter.count) == {"answer": 1, "header": "query:count"}
        assert await handle.execute_update(Greeter.finish) == "finishing"
        result = await handle.result()
    assert result == {
        "result": {"activity": "ADA", "header": "workflow:headers-1"},
        "seen": [["run", "start:headers-1"], ["signal", "signal:add"], ["validate", "update:finish"],
                 ["update", "update:finish"]],
    }
    history = await handle.fetch_history()
    started = history.events[0].raw.workflow_execution_started_event_attributes
    assert _CONVERTER.from_payload(started.header.fields[KEY]) == "start:headers-1"  # kept in history


async def test_worker_interceptor_on_the_worker_only(env, task_queue):
    plain = env.client
    async with Worker(plain, task_queue=task_queue, workflows=[Greeter], activities=[shout],
                      interceptors=[ActivityOnly()]):
        handle = await plain.start_workflow(Greeter.run, id="headers-2", task_queue=task_queue)
        await handle.signal(Greeter.add, "bo")
        assert await handle.query(Greeter.count) == 1  # no workflow interceptor
        await handle.execute_update(Greeter.finish)
        assert await handle.result() == {"activity": "BO", "header": None}
