"""Errors the service raises to its own callers (workers, matching); not public API."""

from __future__ import annotations

from rayflow.exceptions import RayflowError


class TaskNotFoundError(RayflowError):
    """The task (token) no longer matches the execution: it timed out, was retried, or the run closed."""
