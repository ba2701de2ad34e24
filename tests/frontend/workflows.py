"""Workflows the frontend tests run (workers in Ray; the remote clients name them by type)."""

from __future__ import annotations

from rayflow import workflow
from rayflow.exceptions import ApplicationError
from tests.client.test_hello import Greeting, compose_greeting

__all__ = ["Approval", "Fails", "Greeting", "compose_greeting"]


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
