"""Temporal's list-filter syntax, as far as rayflow's visibility answers it (internal).

``WorkflowType='X' AND ExecutionStatus='Running' AND TaskQueue='q'`` becomes the keyword filters of
``Client.list_workflows``. One parser for ``rayflow workflow list --query`` and the web UI's query box.
"""

from __future__ import annotations

import re
from typing import Any

from rayflow.common import WorkflowExecutionStatus

__all__ = ["ListQueryError", "parse_list_query", "status_name"]

_QUERY_KEYS = {"workflowtype": "workflow_type", "executionstatus": "status", "taskqueue": "task_queue"}


class ListQueryError(ValueError):
    """A list-filter query rayflow cannot answer; the message names the term and the supported syntax."""


def status_name(status: WorkflowExecutionStatus) -> str:
    """Temporal's spelling of a status in queries: ``ContinuedAsNew``, ``TimedOut``, ``Running``."""
    return status.name.title().replace("_", "")


def parse_list_query(text: str, *, source: str = "query") -> dict[str, Any]:
    """``Key='value' AND ...`` over WorkflowType, ExecutionStatus and TaskQueue, as list_workflows filters.

    ``source`` names where the text came from in error messages (the CLI says ``--query``).

    Raises:
        ListQueryError: a term that is not ``Key='value'`` over those keys, or a status that does not exist.
    """
    filters: dict[str, Any] = {}
    if not text.strip():
        return filters
    for term in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = re.fullmatch(r"\s*(\w+)\s*=\s*(['\"])(.*)\2\s*", term)
        if not match or match.group(1).lower() not in _QUERY_KEYS:
            raise ListQueryError(
                f"{source} term {term!r} is not supported; use WorkflowType='X', "
                f"ExecutionStatus='Running' or TaskQueue='q', joined by AND"
            )
        key, value = _QUERY_KEYS[match.group(1).lower()], match.group(3)
        if key == "status":
            try:
                value = WorkflowExecutionStatus[re.sub(r"(?<!^)(?=[A-Z])", "_", value).upper().replace("__", "_")]
            except KeyError:
                names = ", ".join(status_name(s) for s in WorkflowExecutionStatus)
                raise ListQueryError(f"ExecutionStatus {value!r} is not a status; one of {names}") from None
        filters[key] = value
    return filters
