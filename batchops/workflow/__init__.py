"""The workflow every front end drives: a :class:`Job` takes a file through validate → plan → apply → report.

Each step returns what it found, with ``summary()``: the JSON shape the CLI prints with ``--json`` and a web
page's API returns. Confirming, printing and exit codes stay with the front end; cancelling is ``Cancel``.
"""

from __future__ import annotations

from .job import DEFAULT_READ_CONCURRENCY, Job
from .live import Cancel, RunProgress, RunState, rows_per_second
from .shapes import issue_shape, page, plan_row_shape, request_text, result_shape
from .steps import Applied, ApplyPreview, Planned, Validation, Written

__all__ = [
    "DEFAULT_READ_CONCURRENCY",
    "Applied",
    "ApplyPreview",
    "Cancel",
    "Job",
    "Planned",
    "RunProgress",
    "RunState",
    "Validation",
    "Written",
    "issue_shape",
    "page",
    "plan_row_shape",
    "request_text",
    "result_shape",
    "rows_per_second",
]
