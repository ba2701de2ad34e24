"""Large data between activities: a 64 MB feature matrix goes from a CPU pool to a GPU pool.

The preprocessing activity returns a numpy array. It is over the external-payload threshold (256 KiB), so
rayflow writes it to the payload store (here ``./.rayflow/payloads``; on a cluster an ``s3://``-style URL, see
``Client.connect(payload_store=...)``) and history keeps only a reference. The array is also kept in the Ray
object store: the training activity, on another pool, reads it from there without a copy (read-only), and
would read the durable copy if that were gone (its replica died, the cluster restarted).

Needs numpy (``pip install -e '.[ml]'``). On a machine without a GPU the example starts a local Ray with one
logical GPU: python examples/large_arrays.py
"""

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import ray

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
def preprocess(rows: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((rows, 1024)).astype(np.float32)  # rows x 1024 features, 4 KiB a row


@activity.defn(resource_label="gpu")
def train(features: np.ndarray) -> dict:
    weights = features.mean(axis=0)  # stands in for a training step on the GPU
    return {"shape": list(features.shape), "megabytes": round(features.nbytes / 2**20, 1),
            "read_without_copy": not features.flags.writeable, "weight_norm": round(float(np.linalg.norm(weights)), 4),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


@workflow.defn
class TrainOnFeatures:
    @workflow.run
    async def run(self, rows: int) -> dict:
        features = await workflow.execute_activity(preprocess, rows, start_to_close_timeout=timedelta(minutes=10))
        return await workflow.execute_activity(train, features, start_to_close_timeout=timedelta(hours=1))


async def main() -> None:
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_gpus=1, include_dashboard=False)  # a logical GPU if the machine has none
    client = await Client.connect()
    async with (
        Worker(client, task_queue="features", workflows=[TrainOnFeatures], activities=[preprocess]),
        Worker(client, task_queue="features", activities=[train], ray_actor_options={"num_gpus": 1, "num_cpus": 0},
               accept_unlabelled=False),
    ):
        handle = await client.start_workflow(TrainOnFeatures.run, 16_384, id=f"features-{os.getpid()}",
                                             task_queue="features")
        print("trained:", await handle.result())
        history = await handle.fetch_history()
        completed = next(e for e in history if e.event_type.name == "ACTIVITY_TASK_COMPLETED")
        print("history keeps:", completed.attributes["result"])
        store = client.data_converter.payload_store
        if store is not None and store.url.startswith("file://"):
            files = [p for p in Path(store.url.removeprefix("file://")).rglob("*") if p.is_file()]
            print(f"payload store {store.url}: {len(files)} objects, {sum(p.stat().st_size for p in files) / 2**20:.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
