"""The JSON shape of each piece a front end shows: an issue, a plan row, a row's result, a page of them.

Written once here; the step summaries (``steps.py``), the CLI's ``--json`` and a web page's API all use
these. A request is also given as HTTP text, as a person reads it (``apply --dry-run``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..apply.replay import RowResult
from ..checking.report import Issue
from ..reports.plan import PlanAction, RowPlan

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "issue_shape", "page", "plan_row_shape", "request_text", "result_shape"]

DEFAULT_PAGE = 100
MAX_PAGE = 1000
"""A page holds at most this many items: a 100,000-row file never goes to a page whole."""

T = TypeVar("T")


def issue_shape(issue: Issue) -> dict[str, Any]:
    """``{"row", "cell", "column", "value", "severity", "code", "message"}``; ``column`` is the header."""
    return {"row": issue.row, "cell": issue.cell, "column": issue.header, "value": issue.value,
            "severity": issue.severity.value, "code": issue.code, "message": issue.message}


def plan_row_shape(row: RowPlan) -> dict[str, Any]:
    """``{"row", "key", "label", "action", "message", "changes": [{"field", "before", "after"}]}``.

    ``label``: the name the read side knows the record by (``""`` when none). ``changes``: the fields that
    change for a row to change (or applied already); every field the row sets for a row that cannot be
    applied or was not read; those of a no-change row (all equal).
    """
    changes = row.changed if row.action in (PlanAction.CHANGE, PlanAction.APPLIED) else row.changes
    return {"row": row.row, "key": row.key, "label": row.label, "action": row.action.value, "message": row.message,
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in changes]}


def result_shape(result: RowResult) -> dict[str, Any]:
    """One row's result, the Results sheet's columns: ``{"row", "key", "label", "status", "http_status", "code",
    "message", "attempts", "finished_at", "reason"}`` (the sheet's ``name`` column is ``label``), plus
    ``request`` (masked) on a dry run."""
    shape: dict[str, Any] = {"row": result.row, "key": result.key, "label": result.label,
                             "status": result.status.value,
                             "http_status": result.http_status, "code": result.code, "message": result.message,
                             "attempts": result.attempts, "finished_at": result.finished_at,
                             "reason": result.reason}
    if result.request is not None:
        shape["request"] = result.request
    return shape


def page(items: Sequence[T], shape: Callable[[T], dict[str, Any]], *, key: str, offset: int = 0,
         limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """``{"total", "offset", "limit", key: [...]}``: the items from ``offset``, at most ``limit`` (capped)."""
    offset = max(0, offset)
    limit = max(0, min(limit, MAX_PAGE))
    return {"total": len(items), "offset": offset, "limit": limit,
            key: [shape(item) for item in items[offset:offset + limit]]}


def request_text(request: dict[str, Any], target: str) -> str:
    """A masked request as HTTP: ``POST https://host/path``, its own headers, the JSON body."""
    lines = [f"{request.get('method', 'POST')} {target.rstrip('/')}{request.get('path', '')}"]
    lines += [f"{name}: {value}" for name, value in (request.get("headers") or {}).items()]
    lines.append(json.dumps(request.get("body"), ensure_ascii=False))
    return "\n".join(lines)
