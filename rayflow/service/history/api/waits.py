"""Clients' waits for runs to close (internal): registrations and one long poll per client (close_waits.py)."""

from __future__ import annotations

from typing import Any

from rayflow.exceptions import WorkflowNotFoundError
from rayflow.service.history.api.read import close_event
from rayflow.service.history.context import ShardContext

Key = tuple[str, str, str]


async def watch_closes(ctx: ShardContext, client_id: str, register: list[Key], forget: list[Key],
                       wait_s: float) -> dict[str, Any]:
    """Register the runs ``client_id`` awaits (an empty run id: the current run), drop those it gave up on, and
    report closes: those of the registered runs that closed already, else (waiting up to ``wait_s``) whichever
    of its runs close.

    Returns ``{"resolved": [(index in register, run id, error or None)], "closed": [(key, close event)],
    "reregister": bool}``; ``reregister`` is true when this shard does not know the client (it restarted): the
    client must register its runs again.
    """
    reregister = not register and not ctx.close_waits.knows(client_id)
    ctx.close_waits.forget(client_id, [tuple(key) for key in forget])
    resolved: list[tuple[int, str, str | None]] = []
    closed: list[tuple[Key, bytes]] = []
    for index, (namespace, workflow_id, run_id) in enumerate(register):
        try:
            key = await ctx.cache.resolve(namespace, workflow_id, run_id)
            async with ctx.cache.locked(namespace, workflow_id):  # no close can slip between check and register
                execution = await ctx.cache.load(key)
                if execution.is_open:
                    ctx.close_waits.register(client_id, key)
                else:
                    closed.append((key, await close_event(ctx, key, execution.state.execution_info.close_event_id)))
        except WorkflowNotFoundError as err:
            resolved.append((index, "", str(err)))
            continue
        resolved.append((index, key[2], None))
    if not reregister:
        closed += await ctx.close_waits.poll(client_id, 0.0 if closed else wait_s)
    return {"resolved": resolved, "closed": closed, "reregister": reregister}
