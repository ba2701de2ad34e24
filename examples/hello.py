"""Hello, rayflow: one workflow, one activity, on the embedded default (local Ray + SQLite in ./.rayflow)."""

import asyncio
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=10))


async def main():
    client = await Client.connect()   # embedded default: local Ray + SQLite in ./.rayflow (or RAYFLOW_DATA_DIR)
    async with Worker(client, task_queue="hello", workflows=[Greeting], activities=[compose_greeting]):
        print(await client.execute_workflow(Greeting.run, "World", id="greeting-1", task_queue="hello"))


asyncio.run(main())
