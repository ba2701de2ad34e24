"""A rolling upgrade of a GPU pool with worker deployments: the old version finishes its work, then frees its GPU.

1. Version 1.0 of the "trainer" deployment runs on a GPU pool and is made current.
2. A long training workflow starts there. Its type is PINNED: it finishes on the version that started it.
3. Version 2.0 is deployed beside it (another GPU pool) and made current: new workflows run on 2.0 while the
   long one carries on on 1.0.
4. Once nothing can reach 1.0 any more (the long workflow finished, 1.0 is DRAINED), the 1.0 pool, started with
   ``retire_when_drained=True``, stops polling and removes its replicas: its GPU is free again.

On a machine without GPUs the example starts a local Ray with two logical GPUs, so it runs anywhere:
python examples/rolling_upgrade.py
"""

import asyncio
import os
import uuid
from datetime import timedelta

import ray

from rayflow import activity, workflow
from rayflow.client import Client
from rayflow.common import VersioningBehavior, WorkerDeploymentVersion
from rayflow.worker import Worker, WorkerDeploymentConfig

QUEUE = "training"
DEPLOYMENT = "trainer"


def make_train_epoch(version: str):
    """Each version's code of the ``train_epoch`` activity (here it only says which version ran it)."""

    @activity.defn(name="train_epoch")
    async def train_epoch(epoch: int) -> str:
        await asyncio.sleep(0.3)  # an epoch of training
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return f"epoch {epoch} on version {version} (GPU {gpus or 'logical'})"

    return train_epoch


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class Train:
    @workflow.run
    async def run(self, epochs: int) -> list[str]:
        return [await workflow.execute_activity("train_epoch", epoch, start_to_close_timeout=timedelta(minutes=5))
                for epoch in range(epochs)]


def gpu_pool(client: Client, version: str, **kwargs) -> Worker:
    return Worker(
        client, task_queue=QUEUE, workflows=[Train], activities=[make_train_epoch(version)],
        deployment_config=WorkerDeploymentConfig(version=WorkerDeploymentVersion(DEPLOYMENT, version)),
        ray_actor_options={"num_gpus": 1, "num_cpus": 0}, **kwargs,
    )


async def until_registered(client: Client, build_id: str) -> None:
    """A version exists once its workers have polled."""
    for _ in range(200):
        try:
            if (await client.describe_worker_deployment(DEPLOYMENT)).version(build_id) is not None:
                return
        except Exception:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"version {build_id} never polled")


async def main() -> None:
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        ray.init(num_gpus=2, include_dashboard=False)  # logical GPUs if the machine has none
    client = await Client.connect()
    run = uuid.uuid4().hex[:6]
    old = gpu_pool(client, "1.0", retire_when_drained=True, retire_check_interval=timedelta(seconds=0.5))
    await old.start()
    await until_registered(client, "1.0")
    await client.set_worker_deployment_current_version(DEPLOYMENT, "1.0")
    print(f"1.0 is current; GPUs free: {ray.available_resources().get('GPU', 0):g}")
    long_run = await client.start_workflow(Train.run, 8, id=f"long-{run}", task_queue=QUEUE)

    async with gpu_pool(client, "2.0"):
        await until_registered(client, "2.0")
        await client.set_worker_deployment_current_version(DEPLOYMENT, "2.0")
        print("2.0 deployed beside it and made current")
        print("a new workflow:", await client.execute_workflow(Train.run, 1, id=f"new-{run}", task_queue=QUEUE))
        description = await client.describe_worker_deployment(DEPLOYMENT)
        print("1.0 is", description.version("1.0").status.value, "(the long workflow is pinned to it)")
        print("the long workflow, started on 1.0:")
        for line in await long_run.result():
            print("  ", line)
        await asyncio.wait_for(old.run(), timeout=120)  # returns once the pool retired
        for _ in range(50):  # Ray reports the freed GPU a moment later
            if ray.available_resources().get("GPU", 0) >= 1:
                break
            await asyncio.sleep(0.1)
        description = await client.describe_worker_deployment(DEPLOYMENT)
        print(f"1.0 is {description.version('1.0').status.value}: its pool retired itself; "
              f"GPUs free: {ray.available_resources().get('GPU', 0):g}")


if __name__ == "__main__":
    asyncio.run(main())
