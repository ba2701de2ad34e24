"""Encryption end to end: client and worker share a codec, the store holds only ciphertext, and a worker
without the key fails the workflow task clearly until a worker with the key takes over."""

from __future__ import annotations

import asyncio
import glob
import os
import sqlite3
import time
import uuid
from datetime import timedelta

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.common import RetryPolicy
from rayflow.converter import DataConverter, EncryptionCodec, ZlibCompressionCodec
from rayflow.proto.rayflow.v1 import history_pb2
from rayflow.worker import Worker

KEY_1 = os.urandom(32)
KEY_2 = os.urandom(32)


@activity.defn
async def shout(text: str) -> str:
    return text.upper() + "!"


@workflow.defn
class Shouter:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(shout, text, start_to_close_timeout=timedelta(seconds=30))


async def _client(env, codec) -> Client:
    """A second client of the env's service, with its own data converter."""
    return await Client.connect(
        ray_namespace=env.config.ray_namespace,
        data_dir=env.config.data_dir,
        data_converter=DataConverter(payload_codec=codec),
    )


def _store_rows(data_dir: str) -> list[bytes]:
    """Every value of every row of every table of every SQLite file of the data dir, as bytes."""
    values = []
    for path in glob.glob(os.path.join(data_dir, "**", "*.db"), recursive=True):
        connection = sqlite3.connect(path)
        try:
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        if isinstance(value, bytes):
                            values.append(value)
                        elif value is not None:
                            values.append(str(value).encode())
        finally:
            connection.close()
    assert values, f"no SQLite rows found under {data_dir}"
    return values


async def test_encrypted_round_trip_and_only_ciphertext_in_the_store(env, task_queue):
    client = await _client(env, EncryptionCodec({"k1": KEY_1}, "k1"))
    secret = f"top-secret-{uuid.uuid4().hex}"
    async with Worker(client, task_queue=task_queue, workflows=[Shouter], activities=[shout]):
        handle = await client.start_workflow(
            Shouter.run, secret, id=f"enc-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        assert await handle.result() == secret.upper() + "!"

    rows = _store_rows(env.config.data_dir)
    for plaintext in (secret.encode(), secret.upper().encode(), b"json/plain"):
        assert not any(plaintext in value for value in rows), f"{plaintext!r} is in the store in clear"
    assert any(b"binary/encrypted" in value for value in rows)
    assert any(b"encryption-key-id" in value for value in rows)

    # The client with the key reads the history back in clear; the default converter sees ciphertext.
    history = await handle.fetch_history()
    started = history.raw.events[0].workflow_execution_started_event_attributes
    assert DataConverter.default.from_payloads(started.input) == [secret]


async def test_compressed_and_encrypted_chain_end_to_end(env, task_queue):
    client = await _client(env, [ZlibCompressionCodec(min_size=16), EncryptionCodec({"k1": KEY_1}, "k1")])
    text = "repeat " * 2000
    async with Worker(client, task_queue=task_queue, workflows=[Shouter], activities=[shout]):
        handle = await client.start_workflow(
            Shouter.run, text, id=f"chain-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        assert await handle.result() == text.upper() + "!"
    assert not any(b"repeat repeat" in value or b"REPEAT REPEAT" in value for value in _store_rows(env.config.data_dir))


async def test_key_rotation_end_to_end(env, task_queue):
    old = await _client(env, EncryptionCodec({"k1": KEY_1}, "k1"))
    rotated = await _client(env, EncryptionCodec({"k1": KEY_1, "k2": KEY_2}, "k2"))
    # Started under the old key, run by a worker whose new payloads use k2 but which still has k1.
    handle = await old.start_workflow(Shouter.run, "rotate", id=f"rot-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
    async with Worker(rotated, task_queue=task_queue, workflows=[Shouter], activities=[shout]):
        assert await rotated.get_workflow_handle(handle.id).result() == "ROTATE!"
    events = (await rotated.get_workflow_handle(handle.id).fetch_history()).raw.events
    assert events[-1].event_type == history_pb2.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


async def _wait_for_task_failure(handle, timeout_s: float = 30.0) -> history_pb2.HistoryEvent:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        history = await handle.fetch_history()
        for event in history.raw.events:
            if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event
        await asyncio.sleep(0.2)
    raise AssertionError("no WorkflowTaskFailed event was recorded")


async def test_worker_without_the_key_fails_the_task_then_a_worker_with_it_completes(env, task_queue):
    client = await _client(env, EncryptionCodec({"k1": KEY_1}, "k1"))
    keyless = await _client(env, EncryptionCodec({"other": KEY_2}, "other"))
    handle = await client.start_workflow(
        Shouter.run, "locked", id=f"nokey-{uuid.uuid4().hex[:6]}", task_queue=task_queue
    )
    async with Worker(keyless, task_queue=task_queue, workflows=[Shouter], activities=[shout]):
        failed = await _wait_for_task_failure(handle)
    attributes = failed.workflow_task_failed_event_attributes
    assert attributes.cause == history_pb2.WORKFLOW_TASK_FAILED_CAUSE_PAYLOAD_ERROR
    assert "key id 'k1'" in attributes.failure.message
    assert "give this worker/client that key" in attributes.failure.message

    async with Worker(client, task_queue=task_queue, workflows=[Shouter], activities=[shout]):
        assert await handle.result() == "LOCKED!"


@activity.defn
async def resumes(marker: str) -> list:
    """Heartbeats a secret, fails its first attempt; the retry gets the (decrypted) heartbeat back."""
    info = activity.info()
    if info.attempt == 1:
        activity.heartbeat(f"{marker}-heartbeat")
        await asyncio.sleep(0.3)  # let the heartbeat go out
        raise RuntimeError("first attempt fails on purpose")
    return list(info.heartbeat_details)


@workflow.defn
class Mailbox:
    def __init__(self) -> None:
        self.letters: list[str] = []

    @workflow.run
    async def run(self, marker: str) -> list:
        await workflow.wait_condition(lambda: bool(self.letters))
        resumed = await workflow.execute_activity(
            resumes,
            marker,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )
        return [self.letters, resumed]

    @workflow.signal
    def post(self, letter: str) -> None:
        self.letters.append(letter)

    @workflow.query
    def peek(self, prefix: str) -> list[str]:
        return [prefix + letter for letter in self.letters]


async def test_signal_query_and_heartbeat_details_are_encrypted(env, task_queue):
    client = await _client(env, EncryptionCodec({"k1": KEY_1}, "k1"))
    marker = f"m{uuid.uuid4().hex}"
    async with Worker(client, task_queue=task_queue, workflows=[Mailbox], activities=[resumes]):
        handle = await client.start_workflow(
            Mailbox.run, marker, id=f"mail-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        await handle.signal(Mailbox.post, f"{marker}-signal")
        letters, resumed = await handle.result()
        assert letters == [f"{marker}-signal"]
        assert resumed == [f"{marker}-heartbeat"]
        assert await handle.query(Mailbox.peek, "re: ") == [f"re: {marker}-signal"]
    assert not any(marker.encode() in value for value in _store_rows(env.config.data_dir))


@workflow.defn
class ShoutElsewhere:
    """Runs ``shout`` on another task queue (an activity pool of its own)."""

    @workflow.run
    async def run(self, text: str, activity_queue: str) -> str:
        return await workflow.execute_activity(
            shout,
            text,
            task_queue=activity_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=1)
            ),
        )


async def test_activity_worker_without_the_key_fails_attempts_until_one_with_it_runs(env, task_queue):
    client = await _client(env, EncryptionCodec({"k1": KEY_1}, "k1"))
    keyless = await _client(env, EncryptionCodec({"other": KEY_2}, "other"))
    activity_queue = f"{task_queue}-acts"
    async with Worker(client, task_queue=task_queue, workflows=[ShoutElsewhere]):
        handle = await client.start_workflow(
            ShoutElsewhere.run, args=["quiet", activity_queue], id=f"acts-{uuid.uuid4().hex[:6]}", task_queue=task_queue
        )
        async with Worker(keyless, task_queue=activity_queue, activities=[shout]):
            deadline = time.monotonic() + 60
            while True:  # attempts fail on the keyless pool, and are retried (the activity stays pending)
                pending = (await handle.describe()).pending_activities
                if pending and pending[0].attempt >= 2 and pending[0].last_failure is not None:
                    break
                assert time.monotonic() < deadline, "the keyless activity worker never failed an attempt"
                await asyncio.sleep(0.2)
        failure = pending[0].last_failure
        assert "k1" in str(failure), failure
        async with Worker(client, task_queue=activity_queue, activities=[shout]):
            assert await asyncio.wait_for(handle.result(), 60) == "QUIET!"
