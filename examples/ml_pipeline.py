"""An ML pipeline: preprocess on a CPU pool, train on a GPU pool, upload anywhere.

The GPU pool is a Worker whose replicas ask Ray for a GPU (`num_gpus=1`): Ray places them on GPU nodes
and sets CUDA_VISIBLE_DEVICES. The `train` activity requires the label "gpu", so only that pool takes
it, and the GPU pool takes nothing else (`accept_unlabelled=False`). If the pool dies mid-training the
activity is retried on a replacement after its heartbeat timeout, and the workflow carries on.

On a machine without a GPU the example starts a local Ray with one logical GPU (Ray's resources are
logical), so it runs anywhere: python examples/ml_pipeline.py
"""

import asyncio
import os
import socket
from datetime import timedelta

import ray

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.worker import Worker


@activity.defn
def preprocess(dataset: str) -> list[float]:
    return [float(len(word)) for word in dataset.split()]


@activity.defn(resource_label="gpu")
def train(features: list[float], epochs: int) -> dict:
    weight = 0.0
    for epoch in range(epochs):
        for x in features:
            weight += 0.01 * (x - weight)
        activity.heartbeat(epoch)  # progress, and liveness for the heartbeat timeout
    return {"weight": round(weight, 4), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "host": socket.gethostname()}


@activity.defn
async def upload(model: dict) -> str:
    return f"uploaded model weight={model['weight']} trained on GPU {model['cuda_visible_devices']}"


@workflow.defn
class TrainModel:
    @workflow.run
    async def run(self, dataset: str) -> str:
        features = await workflow.execute_activity(preprocess, dataset, start_to_close_timeout=timedelta(minutes=5))
        model = await workflow.execute_activity(
            train, args=[features, 50], start_to_close_timeout=timedelta(hours=2), heartbeat_timeout=timedelta(minutes=1)
        )
        return await workflow.execute_activity(upload, model, start_to_close_timeout=timedelta(minutes=5))


async def main() -> None:
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_gpus=1, include_dashboard=False)  # a logical GPU if the machine has none
    client = await Client.connect()
    async with (
        Worker(client, task_queue="ml", workflows=[TrainModel], activities=[preprocess, upload]),
        Worker(client, task_queue="ml", activities=[train], ray_actor_options={"num_gpus": 1, "num_cpus": 0},
               accept_unlabelled=False),
    ):
        print(await client.execute_workflow(TrainModel.run, "the quick brown fox jumps over the lazy dog",
                                            id="train-model-1", task_queue="ml"))


if __name__ == "__main__":
    asyncio.run(main())
