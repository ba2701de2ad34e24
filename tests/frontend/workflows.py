"""Workflows the frontend tests run (workers in Ray; the remote clients name them by type)."""

from __future__ import annotations

from datetime import timedelta

from rayflow import activity, workflow
from rayflow.exceptions import ApplicationError


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(compose_greeting, name, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class Approval:
    """Waits for an ``approve`` signal; ``status`` query; ``set_note`` update."""

    def __init__(self) -> None:
        self.approvals: list[str] = []
        self.note = ""

    @workflow.run
    async def run(self, request: dict) -> dict:
        await workflow.wait_condition(lambda: len(self.approvals) >= request.get("needed", 1))
        return {"item": request["item"], "approved_by": self.approvals, "note": self.note}

    @workflow.signal
    def approve(self, who: str) -> None:
        self.approvals.append(who)

    @workflow.query
    def status(self) -> dict:
        return {"approvals": len(self.approvals), "note": self.note}

    @workflow.update
    def set_note(self, note: str) -> str:
        previous, self.note = self.note, note
        return previous


@workflow.defn
class Fails:
    @workflow.run
    async def run(self, reason: str) -> None:
        raise ApplicationError(f"refused: {reason}", non_retryable=True)
