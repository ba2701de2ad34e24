"""Build-id version sets of one task queue (Temporal's first worker-versioning design; internal, no I/O).

A queue's sets are ordered oldest first: the last set is the overall default (new workflows start on its
default build id), and within a set the last build id is the set's default (the workflows of that set run
their next tasks there). Build ids are never deleted. Every operation either returns new sets or raises a
``VersioningError`` that says what is wrong, and changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rayflow.exceptions import VersioningError


@dataclass(frozen=True)
class VersioningLimits:
    """Temporal's defaults: 100 build ids per queue across its sets, 10 sets, 255 characters per build id."""

    max_build_ids: int = 100
    max_sets: int = 10
    max_build_id_length: int = 255


@dataclass(frozen=True)
class VersionSets:
    """One task queue's version sets (``sets``: tuples of build ids), with a ``revision`` bumped by each change
    (the newest one wins when Matching actors compare)."""

    sets: tuple[tuple[str, ...], ...] = ()
    revision: int = 0
    updated_at: float = 0.0

    # -- reading -----------------------------------------------------------------------------------
    def set_index(self, build_id: str) -> int | None:
        for index, members in enumerate(self.sets):
            if build_id in members:
                return index
        return None

    def default_build_id(self) -> str | None:
        """The overall default: where new workflows start (None for a queue without versions)."""
        return self.sets[-1][-1] if self.sets else None

    def set_default(self, build_id: str) -> str | None:
        """The default build id of the set holding ``build_id`` (None if the queue does not know it)."""
        index = self.set_index(build_id)
        return None if index is None else self.sets[index][-1]

    def is_default_set(self, build_id: str) -> bool:
        return bool(self.sets) and build_id in self.sets[-1]

    def build_ids(self) -> list[str]:
        return [build_id for members in self.sets for build_id in members]

    # -- operations (Temporal's UpdateWorkerBuildIdCompatibility) -----------------------------------
    def add_new_default(self, build_id: str, limits: VersioningLimits) -> VersionSets:
        self._check_new(build_id, limits)
        if len(self.sets) + 1 > limits.max_sets:
            raise VersioningError(
                f"cannot add build id {build_id!r} in a new set: the queue already has {len(self.sets)} version "
                f"sets, the limit is {limits.max_sets}; add it compatible with an existing build id, merge sets, "
                f"or raise the service's max version sets"
            )
        return self._with((*self.sets, (build_id,)))

    def add_new_compatible(self, build_id: str, existing: str, promote_set: bool, limits: VersioningLimits
                           ) -> VersionSets:
        index = self._require(existing, "existing_compatible_build_id")
        self._check_new(build_id, limits)
        sets = list(self.sets)
        sets[index] = (*sets[index], build_id)
        if promote_set:
            sets.append(sets.pop(index))
        return self._with(tuple(sets))

    def promote_set(self, build_id: str) -> VersionSets:
        index = self._require(build_id, "build_id")
        sets = list(self.sets)
        sets.append(sets.pop(index))
        return self._with(tuple(sets))

    def promote_within_set(self, build_id: str) -> VersionSets:
        index = self._require(build_id, "build_id")
        sets = list(self.sets)
        sets[index] = (*[b for b in sets[index] if b != build_id], build_id)
        return self._with(tuple(sets))

    def merge_sets(self, primary: str, secondary: str) -> VersionSets:
        """The secondary's set joins the primary's, before its ids: the primary set keeps its place and
        default."""
        primary_index = self._require(primary, "primary_build_id")
        secondary_index = self._require(secondary, "secondary_build_id")
        if primary_index == secondary_index:
            return self
        sets = list(self.sets)
        sets[primary_index] = (*sets[secondary_index], *sets[primary_index])
        del sets[secondary_index]
        return self._with(tuple(sets))

    def _require(self, build_id: str, what: str) -> int:
        if not build_id:
            raise VersioningError(f"{what} is required")
        index = self.set_index(build_id)
        if index is None:
            known = ", ".join(repr(b) for b in self.build_ids()) or "none"
            raise VersioningError(
                f"build id {build_id!r} ({what}) is not in this task queue's version sets (known: {known})"
            )
        return index

    def _check_new(self, build_id: str, limits: VersioningLimits) -> None:
        if not build_id:
            raise VersioningError("build_id is required (a non-empty string)")
        if "|" in build_id:
            raise VersioningError(f"a build id cannot contain '|', got {build_id!r}")
        if len(build_id) > limits.max_build_id_length:
            raise VersioningError(
                f"build id {build_id[:40]!r}... is {len(build_id)} characters long; the limit is "
                f"{limits.max_build_id_length}"
            )
        if self.set_index(build_id) is not None:
            raise VersioningError(
                f"build id {build_id!r} is already in this task queue's version sets; versions cannot be added "
                f"twice (promote its set or the id within its set instead)"
            )
        count = len(self.build_ids())
        if count + 1 > limits.max_build_ids:
            raise VersioningError(
                f"cannot add build id {build_id!r}: the queue already has {count} build ids, the limit is "
                f"{limits.max_build_ids} (versions cannot be deleted; use a new task queue or raise the "
                f"service's max build ids)"
            )

    def _with(self, sets: tuple[tuple[str, ...], ...]) -> VersionSets:
        return VersionSets(sets, self.revision + 1, time.time())

    # -- wire ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"sets": [list(members) for members in self.sets], "revision": self.revision,
                "updated_at": self.updated_at}

    @staticmethod
    def from_dict(data: dict[str, Any] | None) -> VersionSets:
        if not data:
            return VersionSets()
        return VersionSets(tuple(tuple(str(b) for b in members) for members in data.get("sets", ())),
                           int(data.get("revision", 0)), float(data.get("updated_at", 0.0)))

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @staticmethod
    def from_bytes(data: bytes | None) -> VersionSets:
        return VersionSets.from_dict(json.loads(data) if data else None)


def apply_operation(sets: VersionSets, op: dict[str, Any], limits: VersioningLimits) -> VersionSets:
    """One operation as the client sends it: ``{"op": "add_new_default", "build_id": ...}`` and so on."""
    kind = op.get("op")
    if kind == "add_new_default":
        return sets.add_new_default(str(op.get("build_id") or ""), limits)
    if kind == "add_new_compatible":
        return sets.add_new_compatible(str(op.get("build_id") or ""), str(op.get("existing_compatible_build_id") or ""),
                                       bool(op.get("promote_set")), limits)
    if kind == "promote_set_by_build_id":
        return sets.promote_set(str(op.get("build_id") or ""))
    if kind == "promote_build_id_within_set":
        return sets.promote_within_set(str(op.get("build_id") or ""))
    if kind == "merge_sets":
        return sets.merge_sets(str(op.get("primary_build_id") or ""), str(op.get("secondary_build_id") or ""))
    raise VersioningError(
        f"unknown build id operation {kind!r}; use add_new_default, add_new_compatible, promote_set_by_build_id, "
        f"promote_build_id_within_set or merge_sets"
    )
