"""What Matching records, under the Temporal server's metric names (internal).

Polls are counted in plain dicts on the actor's loop and handed to Ray with the backlog gauges on one timer
(``GaugeSampler``): a poll costs no Ray call. Sticky and replica queues (one per worker replica) are reported
as ``__sticky__`` and ``__replica__`` so that their number does not multiply the series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rayflow.proto.rayflow.v1 import request_response_pb2 as RR
from rayflow.service.config import is_replica_queue, is_sticky_queue
from rayflow.telemetry import metrics as m

if TYPE_CHECKING:
    from rayflow.service.matching.partition import PartitionKey, TaskQueuePartition

_TASK_TYPES = {RR.TASK_QUEUE_TYPE_WORKFLOW: "Workflow", RR.TASK_QUEUE_TYPE_ACTIVITY: "Activity"}


def _queue_label(task_queue: str) -> str:
    if is_sticky_queue(task_queue):
        return "__sticky__"
    if is_replica_queue(task_queue):
        return "__replica__"
    return task_queue


class MatchingMetrics:
    """Poll outcomes and backlog of the partitions one Matching actor hosts.

    Args:
        partitions: the hosted partitions now (read on the sampler's timer, on the actor's loop).
    """

    def __init__(self, partitions: Callable[[], Iterable[TaskQueuePartition]]) -> None:
        self._partitions = partitions
        self._polls: dict[tuple[str, str, str, str], list[int]] = {}  # tags -> [success, timeouts]
        self._sampler: m.GaugeSampler | None = None

    def start(self) -> None:
        """Start the timer (idempotent; on the actor's loop)."""
        if self._sampler is None:
            self._sampler = m.GaugeSampler(self._sample)
            self._sampler.start()

    def _tags(self, key: PartitionKey) -> tuple[str, str, str, str]:
        return (key.namespace, _queue_label(key.task_queue), _TASK_TYPES.get(key.task_queue_type, "Unknown"),
                str(key.partition))

    def polled(self, key: PartitionKey, *, got_tasks: bool) -> None:
        """A poll returned: with tasks (``poll_success``) or empty (``poll_timeouts``)."""
        tags = self._tags(key)
        counts = self._polls.get(tags)
        if counts is None:
            counts = self._polls[tags] = [0, 0]
        counts[0 if got_tasks else 1] += 1

    def _sample(self) -> m.Sample:
        names = ("namespace", "taskqueue", "task_type", "partition")
        for tags, counts in self._polls.items():
            labels = dict(zip(names, tags, strict=True))
            if counts[0]:
                yield m.POLL_SUCCESS, labels, counts[0]
            if counts[1]:
                yield m.POLL_TIMEOUTS, labels, counts[1]
            counts[0] = counts[1] = 0
        backlog: dict[tuple[str, str, str, str], list[float]] = {}  # tags -> [count, age, sync matches]
        by_label: dict[tuple[str, str, str], int] = {}
        for part in list(self._partitions()):
            tags = self._tags(part.key)
            count, age, labels = part.backlog_stats()
            entry = backlog.setdefault(tags, [0, 0.0, 0])
            entry[0] += count
            entry[1] = max(entry[1], age)
            entry[2] += part.take_sync_matches()
            by_label.setdefault((tags[1], tags[2], ""), 0)  # the unlabelled series exists while the queue does
            for label, n in labels.items():
                label_key = (tags[1], tags[2], label)
                by_label[label_key] = by_label.get(label_key, 0) + n
        for tags, (count, age, sync) in backlog.items():
            labels = dict(zip(names, tags, strict=True))
            yield m.APPROXIMATE_BACKLOG_COUNT, labels, count
            yield m.APPROXIMATE_BACKLOG_AGE_SECONDS, labels, age
            if sync:
                yield m.POLL_SUCCESS_SYNC, labels, sync
        for (task_queue, task_type, label), n in by_label.items():
            yield m.BACKLOG_BY_LABEL, {"task_queue": task_queue, "task_type": task_type, "resource_label": label}, n
