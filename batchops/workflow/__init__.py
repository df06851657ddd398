"""The workflow every front end drives: a :class:`Job` takes a file through validate → plan → apply → report;
``tasks`` has the steps that start from the journal or the server (runs, audit, undo, export).

Each step returns what it found, with ``summary()``: the JSON shape the CLI prints with ``--json`` and a web
page's API returns. Confirming, printing and exit codes stay with the front end; cancelling is ``CancelToken``.
Names load on first use (PEP 562), so that a command that only lists runs does not import pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

_HOMES = {
    "DEFAULT_READ_CONCURRENCY": "job",
    "Job": "job",
    "CancelToken": "live",
    "RunProgress": "live",
    "RunState": "live",
    "rows_per_second": "live",
    "issue_shape": "shapes",
    "page": "shapes",
    "plan_row_shape": "shapes",
    "request_text": "shapes",
    "result_shape": "shapes",
    "Applied": "steps",
    "ApplyPreview": "steps",
    "Planned": "steps",
    "Validation": "steps",
    "Written": "steps",
    "Audited": "tasks",
    "Exported": "tasks",
    "RunList": "tasks",
    "UndoMade": "tasks",
    "configured_secrets": "tasks",
    "export_data": "tasks",
    "list_runs": "tasks",
    "make_audit": "tasks",
    "make_undo": "tasks",
    "refuse_to_replace": "tasks",
    "settings_if_any": "tasks",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())

if TYPE_CHECKING:
    from .job import DEFAULT_READ_CONCURRENCY, Job
    from .live import CancelToken, RunProgress, RunState, rows_per_second
    from .shapes import issue_shape, page, plan_row_shape, request_text, result_shape
    from .steps import Applied, ApplyPreview, Planned, Validation, Written
    from .tasks import (
        Audited,
        Exported,
        RunList,
        UndoMade,
        configured_secrets,
        export_data,
        list_runs,
        make_audit,
        make_undo,
        refuse_to_replace,
        settings_if_any,
    )

__all__ = [
    "DEFAULT_READ_CONCURRENCY",
    "Applied",
    "ApplyPreview",
    "Audited",
    "CancelToken",
    "Exported",
    "Job",
    "Planned",
    "RunList",
    "RunProgress",
    "RunState",
    "UndoMade",
    "Validation",
    "Written",
    "configured_secrets",
    "export_data",
    "issue_shape",
    "list_runs",
    "make_audit",
    "make_undo",
    "page",
    "plan_row_shape",
    "refuse_to_replace",
    "request_text",
    "result_shape",
    "rows_per_second",
    "settings_if_any",
]
