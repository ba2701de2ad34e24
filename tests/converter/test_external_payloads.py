"""External payloads: large values go to the payload store, history keeps a reference; read back through the
Ray object store (zero-copy) or from the durable copy; codecs run before the store; clear errors."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from rayflow import activity, workflow
from rayflow.common import EventType, WorkflowExecutionStatus
from rayflow.converter import DataConverter, EncryptionCodec
from rayflow.exceptions import ActivityError, PayloadError
from rayflow.payload_store import ENCODING_EXTERNAL, ExternalRef, PayloadStoreError
from rayflow.proto.rayflow.v1 import message_pb2
from rayflow.worker import Worker

TIMEOUT = timedelta(seconds=120)
NO_CPU = {"num_cpus": 0}
MB = 1 << 20


def forget_cached(*keys: str) -> None:
    """Drop the Ray-object-store copies (when a Ray runs in this process): reads go to the durable copy."""
    from rayflow.service import payload_owner

    if ray.is_initialized() and (owner := payload_owner.owner(create=False)) is not None:
        ray.get(owner.forget.remote(list(keys)))


def objects_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".partial")]


async def test_a_large_value_round_trips_through_the_store(tmp_path):
    converter = DataConverter(payload_store=str(tmp_path), external_payload_threshold=1024)
    array = np.arange(100_000, dtype=np.float64)
    payloads = await converter.encode([array, "small", {"k": 1}])
    ref_payload, small, doc = payloads.payloads
    assert ref_payload.metadata["encoding"] == ENCODING_EXTERNAL
    assert small.metadata["encoding"] == b"json/plain" and doc.metadata["encoding"] == b"json/plain"
    ref = ExternalRef.from_json(ref_payload.data)
    assert ref.format == "pickle5" and ref.size > array.nbytes and len(ref.sha256) == 64
    [stored] = objects_in(tmp_path)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == ref.sha256
    decoded = await converter.decode(payloads)
    assert np.array_equal(decoded[0], array) and decoded[1:] == ["small", {"k": 1}]
    assert str(ref).startswith("<external 781.") and f"sha256:{ref.sha256[:8]}" in str(ref)
    # Passing the decoded value on reuses its reference: nothing is written again.
    again = await converter.encode([decoded[0]])
    assert again.payloads[0] == ref_payload and len(objects_in(tmp_path)) == 1
    # Big bytes (not pickled) go as a payload object.
    blob = await converter.encode([os.urandom(5000)])
    assert ExternalRef.from_json(blob.payloads[0].data).format == "payload"
    assert len((await converter.decode(blob))[0]) == 5000


async def test_missing_and_corrupted_objects_are_clear_non_retryable_errors(tmp_path):
    converter = DataConverter(payload_store=str(tmp_path), external_payload_threshold=0)
    payloads = await converter.encode([np.ones(1000), b"x" * 100])
    value_ref, bytes_ref = (ExternalRef.from_json(p.data) for p in payloads.payloads)
    forget_cached(value_ref.key, bytes_ref.key)
    path = tmp_path / value_ref.key
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PayloadStoreError, match=f"{value_ref.key} in .* is corrupted: its SHA-256") as caught:
        await converter.decode(message_pb2.Payloads(payloads=[payloads.payloads[0]]))
    assert caught.value.non_retryable
    (tmp_path / bytes_ref.key).unlink()
    with pytest.raises(PayloadStoreError, match=f"external payload {bytes_ref.key} is missing from payload store"):
        await converter.decode(message_pb2.Payloads(payloads=[payloads.payloads[1]]))


async def test_over_max_external_payload_size_fails_clearly(tmp_path):
    converter = DataConverter(payload_store=str(tmp_path), external_payload_threshold=0, max_external_payload_size=100)
    with pytest.raises(PayloadError, match="over max_external_payload_size \\(100\\)"):
        await converter.encode([np.ones(1000)])
    assert objects_in(tmp_path) == []


async def test_with_an_encryption_codec_the_store_holds_only_ciphertext(tmp_path):
    codec = EncryptionCodec(keys={"k1": os.urandom(32)}, key_id="k1")
    converter = DataConverter(payload_codec=codec, payload_store=str(tmp_path), external_payload_threshold=1024)
    secret = b"TOP-SECRET-" * 1000
    array = np.frombuffer(secret * 4, dtype=np.uint8).copy()
    payloads = await converter.encode([secret, array])
    assert all(p.metadata["encoding"] == ENCODING_EXTERNAL for p in payloads.payloads)
    stored = objects_in(tmp_path)
    assert len(stored) == 2
    for path in stored:
        content = path.read_bytes()
        assert b"TOP-SECRET" not in content
        assert message_pb2.Payload.FromString(content[4:]).metadata["encoding"] == b"binary/encrypted"
    got = await converter.decode(payloads)
    assert got[0] == secret and np.array_equal(got[1], array)
    # Without the key the reference is read but cannot be decrypted: the codec's clear error.
    keyless = DataConverter(payload_store=str(tmp_path))
    with pytest.raises(PayloadError, match="unknown payload encoding 'binary/encrypted'"):
        await keyless.decode(payloads)


# -- through real activities on real Ray --------------------------------------------------------------
@activity.defn
def make_features(megabytes: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.standard_normal(megabytes * MB // 8)


@activity.defn
def summarize(features: np.ndarray) -> dict:
    return {"sum": float(features.sum()), "n": int(features.size), "writeable": bool(features.flags.writeable),
            "sha": hashlib.sha256(features.tobytes()).hexdigest()}


@workflow.defn
class Pipeline:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self, megabytes: int) -> dict:
        features = await workflow.execute_activity(make_features, megabytes, task_queue="prep",
                                                   start_to_close_timeout=TIMEOUT)
        await workflow.wait_condition(lambda: self.go)
        return await workflow.execute_activity(summarize, features, task_queue="train",
                                               start_to_close_timeout=TIMEOUT)


def expected(megabytes: int) -> dict:
    features = np.random.default_rng(7).standard_normal(megabytes * MB // 8)
    return {"n": features.size, "sha": hashlib.sha256(features.tobytes()).hexdigest()}


async def _run_with_first_replica_killed(env, task_queue, tmp_path, *, kill_owner: bool) -> dict:
    from rayflow.service import payload_owner

    client = env.client
    assert client.data_converter.payload_store is not None  # the embedded default: under the data directory
    prep = Worker(client, task_queue="prep", activities=[make_features], ray_actor_options=NO_CPU)
    async with Worker(client, task_queue=task_queue, workflows=[Pipeline], ray_actor_options=NO_CPU), \
            Worker(client, task_queue="train", activities=[summarize], ray_actor_options=NO_CPU):
        await prep.start()
        handle = await client.start_workflow(Pipeline.run, 50, id=f"pipe-{kill_owner}", task_queue=task_queue)
        for _ in range(600):
            history = await handle.fetch_history()
            if any(e.event_type == EventType.ACTIVITY_TASK_COMPLETED for e in history):
                break
            await asyncio.sleep(0.1)
        completed = [e for e in history if e.event_type == EventType.ACTIVITY_TASK_COMPLETED]
        shown = completed[0].attributes["result"]
        assert shown.startswith("<external 50.0 MiB sha256:"), shown  # history holds the reference only
        assert completed[0].raw.ByteSize() < 2000
        for replica in prep.replica_handles:  # the replica that produced the array dies
            ray.kill(replica, no_restart=True)
        await prep.shutdown()
        if kill_owner:  # and the cluster's object-store copy is gone too
            ray.kill(payload_owner.owner(create=False), no_restart=True)
            payload_owner.reset()
        await handle.signal(Pipeline.proceed)
        return await handle.result()


async def test_an_array_passes_between_activities_after_its_replica_died(env, task_queue, tmp_path):
    result = await _run_with_first_replica_killed(env, task_queue, tmp_path, kill_owner=False)
    assert {k: result[k] for k in ("n", "sha")} == expected(50)
    assert result["writeable"] is False  # read from the Ray object store, without a copy
    store = Path(env.config.data_dir) / "payloads"
    assert len(objects_in(store)) == 1  # written once: the workflow passed the reference on


async def test_the_durable_copy_answers_when_the_object_store_copy_is_gone(env, task_queue, tmp_path):
    result = await _run_with_first_replica_killed(env, task_queue, tmp_path, kill_owner=True)
    assert {k: result[k] for k in ("n", "sha")} == expected(50)
    assert result["writeable"] is True  # read back from the payload store


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "replayed"])
async def test_a_corrupted_payload_fails_naming_the_object(env, task_queue, tmp_path, cached):
    """The durable copy is corrupted and the object-store copy gone. The activity that reads it fails naming the
    object; a workflow that must replay its history to go on (not cached, or evicted) cannot decode the value
    either, and its workflow task fails naming the object and is retried, as Temporal does with a payload it
    cannot decode, until the object is repaired or the run terminated."""
    client = env.client
    options = {} if cached else {"max_cached_workflows": 0}
    async with Worker(client, task_queue=task_queue, workflows=[Pipeline], ray_actor_options=NO_CPU, **options), \
            Worker(client, task_queue="prep", activities=[make_features], ray_actor_options=NO_CPU), \
            Worker(client, task_queue="train", activities=[summarize], ray_actor_options=NO_CPU):
        handle = await client.start_workflow(Pipeline.run, 1, id="gone", task_queue=task_queue)
        await _wait_for(handle, EventType.ACTIVITY_TASK_COMPLETED)
        from rayflow.service import payload_owner

        owner = payload_owner.owner(create=False)
        if owner is not None:
            ray.kill(owner, no_restart=True)
            payload_owner.reset()
        for path in objects_in(Path(env.config.data_dir) / "payloads"):  # damaged where the workers read it
            path.write_bytes(b"\0" * path.stat().st_size)
        await handle.signal(Pipeline.proceed)
        failed = await _wait_for(handle, EventType.ACTIVITY_TASK_FAILED, EventType.WORKFLOW_TASK_FAILED)
        message = failed.attributes["failure"]["message"]
        assert "is corrupted" in message and "external payload" in message, message
        if failed.event_type == EventType.ACTIVITY_TASK_FAILED:  # non-retryable: the workflow fails with it
            assert cached  # a replaying workflow never gets as far as scheduling the activity
            with pytest.raises(Exception) as caught:
                await asyncio.wait_for(handle.result(), 60)
            assert isinstance(caught.value.__cause__, ActivityError)
        else:
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            await handle.terminate("the test is done")


async def _wait_for(handle, *event_types: EventType) -> Any:
    """The first event of one of ``event_types`` in the run's history (polled for up to a minute)."""
    for _ in range(600):
        for event in (await handle.fetch_history()).events:
            if event.event_type in event_types:
                return event
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {[t.name for t in event_types]} in a minute")


@workflow.defn
class Holder:
    def __init__(self) -> None:
        self.value: np.ndarray | None = None

    @workflow.signal
    def put(self, value: np.ndarray) -> None:
        self.value = value

    @workflow.query
    def doubled(self) -> np.ndarray:
        assert self.value is not None
        return self.value * 2

    @workflow.run
    async def run(self) -> float:
        await workflow.wait_condition(lambda: self.value is not None)
        return float(self.value.sum())


async def test_signals_and_queries_carry_external_payloads(env, task_queue):
    client = env.client
    value = np.arange(200_000, dtype=np.float64)  # 1.6 MB: over the threshold
    async with Worker(client, task_queue=task_queue, workflows=[Holder], ray_actor_options=NO_CPU):
        handle = await client.start_workflow(Holder.run, id="holder", task_queue=task_queue)
        await handle.signal(Holder.put, value)
        assert await handle.result() == float(value.sum())
        assert np.array_equal(await handle.query(Holder.doubled), value * 2)
        signaled = [e for e in await handle.fetch_history() if e.event_type == EventType.WORKFLOW_EXECUTION_SIGNALED]
        assert signaled[0].attributes["input"][0].startswith("<external 1.5 MiB")
