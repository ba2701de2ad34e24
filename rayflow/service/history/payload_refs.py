"""The external payloads a write references, for the shard's payload index (internal).

Every store write of an execution carries the ``(payload store URL, key)`` of each external payload reference
in its new events and in its state (``ExecutionWrite.payload_refs``); the store keeps them by run until the run
is deleted. Retention (retention.py) deletes an object only once no stored run references it: one reference may
be in several runs' histories (a child's result in its parent's, a continue-as-new input in the next run's, a
value a client or worker passed on by identity).

Cheap on the hot path: a serialized message is walked only when its bytes hold the reference encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from google.protobuf.message import Message

from rayflow._payload_visitor import collect_payloads
from rayflow.payload_store import ENCODING_EXTERNAL, ExternalRef

logger = logging.getLogger(__name__)

__all__ = ["external_refs"]


def external_refs(serialized: Iterable[tuple[bytes, Message]]) -> tuple[tuple[str, str], ...]:
    """The ``(store URL, key)`` of every external payload inside these ``(bytes, message)`` pairs (each message
    with its serialized form), once each."""
    found: dict[str, str] = {}
    for data, message in serialized:
        if ENCODING_EXTERNAL not in data:
            continue
        for payload in collect_payloads(message):
            if payload.metadata.get("encoding") != ENCODING_EXTERNAL:
                continue
            try:
                ref = ExternalRef.from_json(payload.data)
            except Exception as err:  # not ours to judge: the worker that reads it reports it
                logger.warning("an external payload reference cannot be read (%s): not indexed", err)
                continue
            found.setdefault(ref.key, ref.store)
    return tuple((store, key) for key, store in found.items())
