"""How service clients call actors: one place that turns Ray's errors into rayflow's."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import ray

from rayflow.exceptions import ServiceUnavailableError

T = TypeVar("T")


async def call(ref: Awaitable[T], what: str) -> T:
    """Await an actor call; re-raise the actor's own exception, and a dead actor as ServiceUnavailableError."""
    try:
        return await ref
    except ray.exceptions.RayTaskError as err:
        cause = err.cause
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnavailableError) as err:
        raise ServiceUnavailableError(
            f"{what}: the service actor is not running ({type(err).__name__}). Start the service with "
            f"Client.connect() (it starts it on the local Ray) or check the Ray cluster."
        ) from err


def get_named_actor(name: str, namespace: str) -> ray.actor.ActorHandle:
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError as err:
        raise ServiceUnavailableError(
            f"the rayflow service actor {name!r} is not running in Ray namespace {namespace!r}; "
            f"start the service with Client.connect() (or rayflow.testing.WorkflowEnvironment.start_local())"
        ) from err
