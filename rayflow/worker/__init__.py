"""Workers: pools of Ray actors that run workflow and activity code."""

from rayflow.worker.replayer import Replayer, ReplayResult
from rayflow.worker.versioning import WorkerDeploymentConfig
from rayflow.worker.worker import Worker

__all__ = ["ReplayResult", "Replayer", "Worker", "WorkerDeploymentConfig"]
