"""A client of the gRPC frontend uses the payload store the frontend advertises: large arguments and results
go through it, and the history the frontend serves holds only references."""

from __future__ import annotations

from pathlib import Path

from rayflow.client import Client
from tests.frontend.conftest import TASK_QUEUE
from tests.frontend.workflows import Greeting


async def test_a_remote_client_sends_and_reads_large_payloads_through_the_store(frontend):
    client = await Client.connect(frontend.address)
    try:
        store = client.data_converter.payload_store
        assert store is not None and store.url == f"file://{Path(frontend.data_dir) / 'payloads'}"
        name = "x" * 400_000  # a 400 KB argument: over the 256 KiB threshold
        result = await client.execute_workflow(Greeting.run, name, id="remote-large", task_queue=TASK_QUEUE)
        assert name in result and len(result) > 400_000
        history = await client.get_workflow_handle("remote-large").fetch_history()
        started = next(e for e in history if e.event_type.name == "WORKFLOW_EXECUTION_STARTED")
        assert started.attributes["input"][0].startswith("<external 390.")
        assert started.raw.ByteSize() < 2000
    finally:
        await client.close()
