"""The authoring API outside the engine: definitions, public names, calls outside a workflow."""

from __future__ import annotations

import re

import pytest

from rayflow import workflow


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return name


@workflow.defn(name="Renamed")
class Other:
    @workflow.run
    async def execute(self) -> None: ...


def test_definition_from_class_or_run_method() -> None:
    definition = workflow.get_definition(Greeting)
    assert (definition.name, definition.cls, definition.run_method_name) == ("Greeting", Greeting, "run")
    assert workflow.get_definition(Greeting.run) is definition
    assert workflow.get_definition(Greeting().run) is definition
    renamed = workflow.get_definition(Other.execute)
    assert (renamed.name, renamed.cls, renamed.run_fn) == ("Renamed", Other, Other.execute)


def test_not_a_workflow() -> None:
    with pytest.raises(ValueError, match="is not a workflow"):
        workflow.get_definition(test_not_a_workflow)

    class Plain: ...

    with pytest.raises(ValueError, match="is not a workflow"):
        workflow.get_definition(Plain)


def test_defn_needs_exactly_one_run_method() -> None:
    with pytest.raises(ValueError, match="Workflow class .*NoRun must have exactly one .*found none"):

        @workflow.defn
        class NoRun:
            async def run(self) -> None: ...

    with pytest.raises(ValueError, match="TwoRuns must have exactly one .*found 2: a, b"):

        @workflow.defn
        class TwoRuns:
            @workflow.run
            async def a(self) -> None: ...

            @workflow.run
            async def b(self) -> None: ...


def test_run_must_be_async() -> None:
    with pytest.raises(ValueError, match="must be `async def`"):

        class Sync:
            @workflow.run
            def run(self) -> None: ...


@pytest.mark.parametrize(
    ("call", "api"),
    [
        (workflow.now, "workflow.now()"),
        (workflow.time, "workflow.time()"),
        (workflow.random, "workflow.random()"),
        (workflow.uuid4, "workflow.uuid4()"),
        (workflow.info, "workflow.info()"),
        (workflow.unsafe.is_replaying, "workflow.unsafe.is_replaying()"),
        (lambda: workflow.start_activity("a", start_to_close_timeout=None), "workflow.start_activity()"),
    ],
)
def test_calls_outside_a_workflow_raise_a_clear_error(call, api: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(f"{api} can only be called from workflow code")):
        call()


async def test_outside_a_workflow_even_on_an_asyncio_loop() -> None:
    with pytest.raises(RuntimeError, match="can only be called from workflow code"):
        workflow.now()
    with pytest.raises(RuntimeError, match="can only be called from workflow code"):
        await workflow.sleep(1)
