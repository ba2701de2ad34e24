"""The replay core (internal): workflow code on a deterministic event loop, history in, commands out.

It does no I/O and imports no Ray, gRPC or store code, so it is tested on hand-built histories. The
worker creates one ``WorkflowInstance`` per cached workflow run and calls ``apply(events)`` for each
workflow task.
"""

from rayflow.worker.replay.instance import ActivationResult, WorkflowInstance

__all__ = ["ActivationResult", "WorkflowInstance"]
