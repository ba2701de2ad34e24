"""Patch markers: how ``workflow.patched`` / ``deprecate_patch`` appear in history (internal).

As in Temporal, a patch is a MARKER_RECORDED event named ``core_patch`` whose details hold the patch id
and whether the patch is deprecated. Replaying, ``patched(id)`` is True when the workflow task being
replayed recorded that marker; a patch marker no command matches is skipped (the code dropped or
deprecated the patch).
"""

from __future__ import annotations

from collections.abc import Iterable

from rayflow.converter import DataConverter
from rayflow.proto.rayflow.v1 import command_pb2, history_pb2

__all__ = ["PATCH_MARKER_NAME", "command_patch", "event_patch", "patch_marker", "recorded_patch_ids"]

PATCH_MARKER_NAME = "core_patch"
_ID_KEY = "patch_id"
_DEPRECATED_KEY = "deprecated"
_CONVERTER = DataConverter.default  # the details are plain str/bool: always the default JSON encoding


def patch_marker(patch_id: str, *, deprecated: bool) -> command_pb2.Command:
    """The RecordMarker command of a patch."""
    attrs = command_pb2.RecordMarkerCommandAttributes(marker_name=PATCH_MARKER_NAME)
    attrs.details[_ID_KEY].CopyFrom(_CONVERTER.to_payloads([patch_id]))
    attrs.details[_DEPRECATED_KEY].CopyFrom(_CONVERTER.to_payloads([deprecated]))
    return command_pb2.Command(
        command_type=command_pb2.COMMAND_TYPE_RECORD_MARKER, record_marker_command_attributes=attrs
    )


def _details_patch_id(marker_name: str, details) -> str | None:  # noqa: ANN001 - a proto map
    if marker_name != PATCH_MARKER_NAME or _ID_KEY not in details:
        return None
    try:
        values = _CONVERTER.from_payloads(details[_ID_KEY])
    except Exception:  # noqa: BLE001 - not a marker this code wrote: treat as no patch
        return None
    return values[0] if values and isinstance(values[0], str) else None


def command_patch(command: command_pb2.Command) -> str | None:
    """The patch id of a patch marker command, else None."""
    if command.command_type != command_pb2.COMMAND_TYPE_RECORD_MARKER:
        return None
    attrs = command.record_marker_command_attributes
    return _details_patch_id(attrs.marker_name, attrs.details)


def event_patch(event: history_pb2.HistoryEvent) -> str | None:
    """The patch id of a patch MARKER_RECORDED event, else None."""
    if event.event_type != history_pb2.EVENT_TYPE_MARKER_RECORDED:
        return None
    attrs = event.marker_recorded_event_attributes
    return _details_patch_id(attrs.marker_name, attrs.details)


def recorded_patch_ids(events: Iterable[history_pb2.HistoryEvent]) -> set[str]:
    """The patch ids of the patch markers among the command events of one workflow task.

    ``events`` start after the task's WORKFLOW_TASK_STARTED; the scan stops at the next one.
    """
    found: set[str] = set()
    for event in events:
        if event.event_type == history_pb2.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            break
        patch_id = event_patch(event)
        if patch_id is not None:
            found.add(patch_id)
    return found
