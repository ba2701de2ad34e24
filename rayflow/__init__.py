"""rayflow: durable workflows with Temporal's semantics, whose service runs as Ray actors.

The public surface is ``rayflow.{workflow, activity, client, worker, converter, exceptions, common,
testing}``; ``rayflow.service``, ``rayflow.persistence`` and ``rayflow.worker.replay`` are internal.
"""

from rayflow import activity, workflow

__version__ = "0.1.0"

__all__ = ["activity", "workflow"]
