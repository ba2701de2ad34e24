"""Matching (internal): task-queue partitions hosted by a fixed set of Ray actors.

``MatchingClient`` (client.py) owns placement and partition choice; ``MatchingActor`` (actor.py) hosts
partitions; ``TaskQueuePartition`` (partition.py) is one partition's backlog and long-pollers.
"""

from rayflow.service.matching.actor import MatchingActor
from rayflow.service.matching.client import MatchingClient

__all__ = ["MatchingActor", "MatchingClient"]
