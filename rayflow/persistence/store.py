"""The Store interface and its records (internal).

Each history shard is the single writer of its executions. It calls ``acquire_shard`` when it
starts, which bumps the shard's ownership counter (``range_id``), and passes that counter to every
``write``: a write whose counter is no longer the stored one fails with ``ShardOwnershipLostError``
and changes nothing, so a stale shard actor (one that Ray restarted elsewhere) cannot corrupt
history. Payloads, events and mutable state are opaque bytes here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from rayflow.exceptions import RayflowError, ServiceUnavailableError

__all__ = [
    "NUM_SHARDS_KEY",
    "STATUS_RUNNING",
    "CurrentExecution",
    "ExecutionConflictError",
    "ExecutionRecord",
    "ExecutionSummary",
    "ExecutionWrite",
    "ShardOwnershipLostError",
    "Store",
    "StoreUnavailableError",
]

#: ``WorkflowExecutionStatus.RUNNING``: the only open status (kept as an int, the store is proto-agnostic).
STATUS_RUNNING = 1
#: Metadata key under which ``init_cluster`` keeps the shard count.
NUM_SHARDS_KEY = "num_shards"


class ShardOwnershipLostError(RayflowError):
    """Another owner acquired the shard since this one did (its ``range_id`` is stale); nothing was written."""


class ExecutionConflictError(RayflowError):
    """The write contradicts stored executions (an open run with this workflow id, an existing event id,
    or an update of an execution that does not exist); nothing of the call was written."""


class StoreUnavailableError(ServiceUnavailableError):
    """The store could not be reached, or the connection to it broke during the call (retryable: a
    ``ServiceUnavailableError``).

    The store reconnects by itself: a later call works once the server answers again.

    Attributes:
        unknown_outcome: True when the call was a write whose COMMIT may have reached the server (the
            connection broke while it was in flight): it may or may not have been written, so read it back
            before redoing it. False when nothing of the call can have been written.
    """

    def __init__(self, message: str, *, unknown_outcome: bool = False) -> None:
        super().__init__(message)
        self.unknown_outcome = unknown_outcome


@dataclass
class ExecutionWrite:
    """One change to one execution, part of an atomic ``Store.write``.

    Attributes:
        state: the serialized mutable state (replaces the stored one).
        status: ``WorkflowExecutionStatus`` value (1 = RUNNING).
        next_event_id: the id the next appended event will get.
        new_events: ``(event_id, serialized HistoryEvent)`` pairs to append.
        create: insert a new execution and make it the current run of ``(namespace, workflow_id)``;
            fails with ``ExecutionConflictError`` while that workflow id has an open current run.
        workflow_type, task_queue, start_time, close_time: kept for listing (times in epoch seconds;
            on updates, empty or zero values keep the stored ones).
        request_id: the start request id, kept on the current-execution row (for idempotent starts).
        build_ids: the run's BuildIds entries (Temporal's search attribute: ``"versioned:2.0"``,
            ``"unversioned"``, ``"pinned:dep.1"``, ...), kept for listing. On updates an empty tuple keeps
            the stored ones and a non-empty one replaces them. An entry must not contain ``"|"``: the write
            raises ``ValueError``.
    """

    namespace: str
    workflow_id: str
    run_id: str
    state: bytes
    status: int
    next_event_id: int
    new_events: list[tuple[int, bytes]] = field(default_factory=list)
    create: bool = False
    workflow_type: str = ""
    task_queue: str = ""
    start_time: float = 0.0
    close_time: float = 0.0
    request_id: str = ""
    build_ids: tuple[str, ...] = ()
    #: A closed run that still has work for its shard (reloaded with the open ones on restart).
    needs_attention: bool = False
    #: The external payloads the run's new events and its state reference, as ``(payload store URL, key)``
    #: pairs: added to the shard's payload index (kept until the run is deleted), which retention reads to
    #: delete an object only once no stored run references it.
    payload_refs: tuple[tuple[str, str], ...] = ()


@dataclass
class ExecutionRecord:
    """A stored execution: its mutable state and the fields the shard needs without decoding it."""

    namespace: str
    workflow_id: str
    run_id: str
    state: bytes
    status: int
    next_event_id: int


@dataclass
class ExecutionSummary:
    """The listing columns of a stored execution (no mutable state): what ``list_executions`` returns.

    ``start_time`` and ``close_time`` are epoch seconds (``close_time`` 0 while running); ``build_ids``
    are the run's BuildIds entries as last written (empty when none were).
    """

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: int
    start_time: float
    close_time: float
    next_event_id: int
    build_ids: tuple[str, ...] = ()


@dataclass
class CurrentExecution:
    """The current (latest started) run of a workflow id."""

    run_id: str
    status: int
    request_id: str


class Store(ABC):
    """Durable storage of cluster metadata, shard ownership, executions and their histories.

    Every method is a coroutine that never blocks the event loop. A ``write`` that returned has been
    committed; one that raised wrote nothing, except a ``StoreUnavailableError`` with ``unknown_outcome``
    (the connection broke while the commit was in flight). A backend on a server raises
    ``StoreUnavailableError`` from any method when the server cannot be reached.
    """

    # -- cluster metadata -------------------------------------------------------------------------
    @abstractmethod
    async def init_cluster(self, num_shards: int) -> int:
        """Fix the shard count on first use and return the stored one (later arguments are ignored)."""

    @abstractmethod
    async def get_metadata(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None``."""

    @abstractmethod
    async def put_metadata(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (replacing any previous value)."""

    # -- shards -----------------------------------------------------------------------------------
    @abstractmethod
    async def acquire_shard(self, shard_id: int) -> int:
        """Atomically bump and return the shard's ownership counter (1 on first acquisition)."""

    # -- executions -------------------------------------------------------------------------------
    @abstractmethod
    async def write(self, shard_id: int, range_id: int, writes: list[ExecutionWrite]) -> None:
        """Apply ``writes`` atomically, if ``range_id`` is still the shard's ownership counter.

        Raises:
            ShardOwnershipLostError: the shard was acquired by another owner (nothing written).
            ExecutionConflictError: a create while the workflow id has an open run, an event id that
                already exists, or an update of a missing execution (nothing written).
        """

    @abstractmethod
    async def get_execution(
        self, shard_id: int, namespace: str, workflow_id: str, run_id: str
    ) -> ExecutionRecord | None:
        """The stored execution, or ``None``."""

    @abstractmethod
    async def get_current_execution(self, shard_id: int, namespace: str, workflow_id: str) -> CurrentExecution | None:
        """The current run of ``(namespace, workflow_id)``, or ``None`` if it never ran on this shard."""

    @abstractmethod
    async def list_open_executions(self, shard_id: int) -> list[ExecutionRecord]:
        """Every execution of the shard that is RUNNING or still ``needs_attention``, oldest start first."""

    @abstractmethod
    async def list_open_executions_page(
        self, shard_id: int, after: tuple[str, str, str] | None = None, limit: int = 1000
    ) -> list[ExecutionRecord]:
        """One page of what ``list_open_executions`` returns, in key order instead: at most ``limit`` executions
        whose ``(namespace, workflow_id, run_id)`` comes after ``after`` (``None``: from the first). A starting
        shard reads its open executions page by page, so it never holds all of their states at once."""

    @abstractmethod
    async def list_executions(
        self,
        shard_id: int,
        namespace: str,
        *,
        status: int | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: float | None = None,
        start_time_max: float | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 100,
        build_id: str | None = None,
    ) -> list[ExecutionSummary]:
        """The shard's executions of ``namespace`` that match every given filter, newest first.

        Order is ``(start_time, run_id)`` descending. ``start_time_min <= start_time <= start_time_max``
        (epoch seconds, each bound optional); ``before`` is the ``(start_time, run_id)`` of the last row of
        the previous page: only rows after it in that order are returned. At most ``limit`` rows. Served
        from indexes: it stays fast however many executions the shard holds.

        ``build_id``: only executions whose ``build_ids`` contain exactly that entry (e.g. ``"versioned:2.0"``;
        no prefix or pattern matching). It is not indexed: the rows the other filters' index yields are
        scanned for it.
        """

    @abstractmethod
    async def count_executions(
        self,
        shard_id: int,
        namespace: str,
        *,
        status: int | None = None,
        workflow_type: str | None = None,
        task_queue: str | None = None,
        start_time_min: float | None = None,
        start_time_max: float | None = None,
        build_id: str | None = None,
    ) -> int:
        """How many of the shard's executions ``list_executions`` would return with these filters (all pages),
        ``build_id`` included."""

    @abstractmethod
    async def read_history(
        self,
        shard_id: int,
        namespace: str,
        workflow_id: str,
        run_id: str,
        first_event_id: int = 1,
        last_event_id: int | None = None,
    ) -> list[bytes]:
        """Serialized events with ``first_event_id <= event_id <= last_event_id``, in event id order."""

    # -- retention ------------------------------------------------------------------------------------
    @abstractmethod
    async def list_namespaces(self, shard_id: int) -> list[str]:
        """The namespaces that have executions on the shard, in byte order (an index skip scan: one lookup per
        namespace, however many executions there are)."""

    @abstractmethod
    async def list_closed_executions(
        self, shard_id: int, namespace: str, close_time_max: float, limit: int = 100
    ) -> list[ExecutionSummary]:
        """The shard's closed executions of ``namespace`` that closed before ``close_time_max`` (epoch seconds)
        and no longer need attention, oldest close first, at most ``limit``: what retention may delete. Served
        by an index on ``(namespace, close_time)``."""

    @abstractmethod
    async def list_payload_refs(
        self, shard_id: int, keys: Sequence[tuple[str, str, str]]
    ) -> list[tuple[tuple[str, str, str], str, str]]:
        """The payload index entries of these runs: ``((namespace, workflow_id, run_id), store URL, key)``."""

    @abstractmethod
    async def find_payload_references(
        self, shard_id: int, payload_keys: Sequence[str]
    ) -> list[tuple[str, tuple[str, str, str]]]:
        """Which of the shard's stored runs reference these payload keys: ``(key, (namespace, workflow_id,
        run_id))`` pairs (none for a key no run of the shard references)."""

    @abstractmethod
    async def delete_executions(
        self, shard_id: int, range_id: int, keys: Sequence[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]]:
        """Delete closed runs, atomically, if ``range_id`` is still the shard's ownership counter: each run's
        execution row, its history, its payload index entries, and its workflow id's current-execution row when
        that row points at it. A run that is RUNNING, still needs attention, or is missing is skipped (nothing
        of it is deleted). Returns the keys deleted, in the given order.

        Raises:
            ShardOwnershipLostError: the shard was acquired by another owner (nothing deleted).
        """

    @abstractmethod
    async def close(self) -> None:
        """Release connections and threads; the store cannot be used afterwards."""
