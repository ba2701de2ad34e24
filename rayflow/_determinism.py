"""Time, randomness, ids and versioning in workflow code (internal; ``rayflow.workflow`` is the API).

Each asks the runtime of the calling workflow, so the answers are the same on every replay.
"""

from __future__ import annotations

import random as _random
import uuid
from datetime import datetime

from rayflow import _runtime
from rayflow._runtime import Info

__all__ = ["deprecate_patch", "info", "now", "patched", "random", "time", "unsafe", "uuid4"]


def info() -> Info:
    """Information about the running workflow."""
    return _runtime.current("workflow.info()").workflow_info()


def now() -> datetime:
    """The workflow's current time: an aware UTC datetime, the start time of the current workflow task.

    It is the same on every replay and does not move while a task runs.
    """
    return _runtime.current("workflow.now()").workflow_now()


def time() -> float:
    """``workflow.now()`` as seconds since the epoch (the clock ``asyncio`` uses in workflow code)."""
    return _runtime.current("workflow.time()").workflow_now().timestamp()


def random() -> _random.Random:
    """A ``random.Random`` seeded from the run id: it gives the same numbers on every replay.

    Use it instead of the ``random`` module (whose numbers change on replay).
    """
    return _runtime.current("workflow.random()").workflow_random()


def uuid4() -> uuid.UUID:
    """A version-4 UUID drawn from ``workflow.random()``: the same on every replay."""
    rng = _runtime.current("workflow.uuid4()").workflow_random()
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class unsafe:  # noqa: N801 - Temporal's name: workflow.unsafe.is_replaying()
    """Helpers whose result differs between the first run and a replay; use them with care."""

    @staticmethod
    def is_replaying() -> bool:
        """True while the code re-runs a workflow task already recorded in history (e.g. to skip logging)."""
        return _runtime.current("workflow.unsafe.is_replaying()").workflow_is_replaying()


# -- versioning ------------------------------------------------------------------------------------


def patched(patch_id: str) -> bool:
    """Whether to run the new code of a change to a workflow that may have runs in flight (Temporal's API).

    ``if workflow.patched("my-change"): new code else: old code``. Run live, it records a marker in
    history and returns True; replaying history recorded with the marker it returns True, and replaying
    history recorded by the old code (no marker here) it returns False. The answer is the same for the
    rest of the run. Once no run of the old code is left, replace the call with ``deprecate_patch``.
    """
    if not isinstance(patch_id, str) or not patch_id:
        raise TypeError(f"workflow.patched(): patch_id must be a non-empty str, got {patch_id!r}")
    return _runtime.current("workflow.patched()").workflow_patch(patch_id, deprecated=False)


def deprecate_patch(patch_id: str) -> None:
    """Mark patch ``patch_id`` as deprecated: only the new code is left, and history recorded with or
    without the patch's marker replays. Once no run recorded before it is left, remove the call."""
    if not isinstance(patch_id, str) or not patch_id:
        raise TypeError(f"workflow.deprecate_patch(): patch_id must be a non-empty str, got {patch_id!r}")
    _runtime.current("workflow.deprecate_patch()").workflow_patch(patch_id, deprecated=True)
