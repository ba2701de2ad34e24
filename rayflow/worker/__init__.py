"""Workers: pools of Ray actors that run workflow and activity code."""

from rayflow.worker import _interceptor
from rayflow.worker._interceptor import *  # noqa: F403 - the interceptor API, as listed in its __all__
from rayflow.worker.replayer import Replayer, ReplayResult
from rayflow.worker.versioning import WorkerDeploymentConfig
from rayflow.worker.worker import Worker

__all__ = ["ReplayResult", "Replayer", "Worker", "WorkerDeploymentConfig"]
__all__ += _interceptor.__all__
