"""The rayflow error tree (one shallow tree, Temporal's names).

``RayflowError`` is the root. ``FailureError`` and its subclasses are failures that travel through
history (they convert to and from the ``Failure`` proto); the others are raised by the client or the
worker to the code that called them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from rayflow.common import RetryState, TimeoutType

__all__ = [
    "RayflowError",
    "FailureError",
    "ApplicationError",
    "ActivityError",
    "ChildWorkflowError",
    "SessionFailedError",
    "CancelledError",
    "TerminatedError",
    "TimeoutError",
    "ServerError",
    "WorkflowFailureError",
    "WorkflowAlreadyStartedError",
    "WorkflowNotFoundError",
    "WorkflowQueryFailedError",
    "WorkflowUpdateFailedError",
    "NondeterminismError",
    "PayloadError",
    "ServiceUnavailableError",
    "ConfigurationError",
    "VersioningError",
    "WorkerPlacementError",
    "RPCError",
]


def _restore_error(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class RayflowError(Exception):
    """Base of every error rayflow raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross processes (Ray actors): rebuild them without re-running custom __init__s.
        return _restore_error, (type(self), self.args, self.__dict__)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class FailureError(RayflowError):
    """A failure that is recorded in history and can cross processes.

    Attributes:
        failure: the ``Failure`` proto this error was built from, if any.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.failure: Any = None

    @property
    def cause(self) -> BaseException | None:
        return self.__cause__


class ApplicationError(FailureError):
    """An error raised by user code, with a type used by retry policies.

    Args:
        message: what went wrong.
        *details: JSON-able or picklable values carried with the error.
        type: the error type matched against ``RetryPolicy.non_retryable_error_types``; defaults to
            the class name of the exception that was converted (for plain raises) or ``None``.
        non_retryable: never retry this error, whatever the retry policy says.
        next_retry_delay: override the retry policy's interval for the next attempt.
    """

    def __init__(
        self,
        message: str,
        *details: Any,
        type: str | None = None,
        non_retryable: bool = False,
        next_retry_delay: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.details: Sequence[Any] = details
        self.type = type
        self.non_retryable = non_retryable
        self.next_retry_delay = next_retry_delay


class CancelledError(FailureError):
    """The workflow, activity or timer was cancelled."""

    def __init__(self, message: str = "cancelled", *details: Any) -> None:
        super().__init__(message)
        self.details: Sequence[Any] = details


class TerminatedError(FailureError):
    """The workflow was terminated."""


class TimeoutError(FailureError):  # noqa: A001 - Temporal's name, on purpose
    """A timeout fired.

    Attributes:
        type: which timeout (``TimeoutType``).
        last_heartbeat_details: the details of the last heartbeat of a timed-out activity.
    """

    def __init__(
        self, message: str, *, type: TimeoutType | None, last_heartbeat_details: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        self.type = type
        self.last_heartbeat_details = last_heartbeat_details


class ServerError(FailureError):
    """A failure produced by the service itself (e.g. a task that could not be run)."""

    def __init__(self, message: str, *, non_retryable: bool = False) -> None:
        super().__init__(message)
        self.non_retryable = non_retryable


class ActivityError(FailureError):
    """An activity failed for good; ``cause`` says why (``ApplicationError``, ``TimeoutError``, ...)."""

    def __init__(
        self,
        message: str,
        *,
        scheduled_event_id: int,
        started_event_id: int,
        identity: str,
        activity_type: str,
        activity_id: str,
        retry_state: RetryState | None,
    ) -> None:
        super().__init__(message)
        self.scheduled_event_id = scheduled_event_id
        self.started_event_id = started_event_id
        self.identity = identity
        self.activity_type = activity_type
        self.activity_id = activity_id
        self.retry_state = retry_state


class ChildWorkflowError(FailureError):
    """A child workflow did not complete; ``cause`` says how it ended (``ApplicationError``,
    ``CancelledError``, ``TerminatedError``, ``TimeoutError``)."""

    def __init__(
        self,
        message: str,
        *,
        namespace: str,
        workflow_id: str,
        run_id: str,
        workflow_type: str,
        initiated_event_id: int,
        started_event_id: int,
        retry_state: RetryState | None,
    ) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.workflow_type = workflow_type
        self.initiated_event_id = initiated_event_id
        self.started_event_id = started_event_id
        self.retry_state = retry_state


class SessionFailedError(FailureError):
    """A worker session (``workflow.session()``) failed: its replica is gone, or none could open it in time.

    Raised in workflow code, with the ``ActivityError`` that showed it as ``__cause__``; the workflow can
    catch it and open a new session.

    Attributes:
        session_id: the session's id.
        identity: the worker identity of the session's replica (``None`` if none was found).
    """

    def __init__(self, message: str, *, session_id: str | None = None, identity: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.identity = identity


class WorkflowFailureError(RayflowError):
    """Raised by ``handle.result()`` when the workflow did not complete; ``cause`` says how it ended."""

    def __init__(self, *, cause: BaseException) -> None:
        super().__init__(f"Workflow execution failed: {cause}")
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        assert self.__cause__ is not None
        return self.__cause__


class WorkflowAlreadyStartedError(RayflowError):
    """A workflow with this id is already running, or its id reuse policy forbids a new run of it."""

    def __init__(self, workflow_id: str, workflow_type: str, run_id: str | None = None, *,
                 message: str | None = None) -> None:
        super().__init__(
            message or f"Workflow execution already started: workflow id {workflow_id!r} is running "
            f"(run id {run_id}); wait for it to close, use another id, or get a handle to it with "
            f"client.get_workflow_handle({workflow_id!r})"
        )
        self.workflow_id = workflow_id
        self.workflow_type = workflow_type
        self.run_id = run_id


class WorkflowNotFoundError(RayflowError):
    """No workflow execution with this id (and run id) exists in the namespace."""


class WorkflowQueryFailedError(RayflowError):
    """A query was not answered: no handler of that name, its handler raised, or no worker answered in time."""


class WorkflowUpdateFailedError(RayflowError):
    """An update failed: its validator rejected it or its handler raised (the error is the ``__cause__``).

    The workflow itself keeps running.
    """


class NondeterminismError(RayflowError):
    """Workflow code issued different commands on replay than the history recorded."""


class PayloadError(RayflowError, TypeError):
    """A value could not be converted to or from a payload (e.g. an argument that cannot be serialized)."""


class ServiceUnavailableError(RayflowError):
    """The rayflow service could not be reached (not started, or its actors are gone)."""


class ConfigurationError(RayflowError, ValueError):
    """The settings cannot work where the program runs (e.g. SQLite data under a Ray job's temporary working
    directory, or a store other than the running service's); the message names the setting to change."""


class VersioningError(RayflowError, ValueError):
    """A worker-versioning operation that is not allowed (an unknown build id, a limit reached, a version a
    deployment has no workers for); nothing was changed. The message says what to do."""


class WorkerPlacementError(RayflowError):
    """Ray could not place a worker pool's replicas in time; the message names the missing resource or label."""


class RPCError(RayflowError):
    """A call to the rayflow gRPC frontend failed with a status that maps to no other rayflow error
    (UNAUTHENTICATED, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, INTERNAL, ...).

    ``status`` is the ``grpc.StatusCode``; the message says what to fix.
    """

    def __init__(self, message: str, status: Any) -> None:
        super().__init__(message)
        self.status = status
