"""The files uploaded to this server: where each is stored, its client name, and the library ``Job`` on it.

Every step on a file is the ``Job``'s (validate, plan, preview, apply, write_report), the same as the
CLI's; this module only keeps the jobs by id and cuts the data grid into pages. The grid shows the cells
as the job's validation read them (``Job(keep_table=True)``): a 100,000-row file never goes to the browser
whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checking.coerce import show_number
from ..errors import BatchopsError
from ..sheets.table import RawTable, column_letter
from ..workflow import CancelToken, Job, Validation

MAX_PAGE = 500
"""The most rows one page of the grid may hold."""
DEFAULT_PAGE = 50
TABLES_KEPT = 2
"""Files whose sheet stays in memory as read, for their data grid: a 100,000-row sheet is about 100 MB."""


@dataclass
class FileEntry:
    """One uploaded file: where it is stored, the client's name (display only), its job."""

    id: str
    name: str
    path: Path
    size: int
    job: Job
    uploaded: float = field(default_factory=time.time)
    problem: str | None = None
    """Why the file could not be read at all (one line naming file, sheet and fix), or None."""
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    reading: tuple[int, int] | None = None
    """``(done, total)`` records read while a plan reads current values, for the page's progress bar."""
    step: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    """Held while a step (a plan, a correction) works on the job: a job does one thing at a time."""
    plan_cancel: CancelToken | None = field(default=None, repr=False)
    """The cancel token of the plan being read, if one is: the page's Cancel, as a run's."""

    @property
    def validation(self) -> Validation | None:
        return self.job.validation

    def shown(self, text: str) -> str:
        """A library message with the stored file's made-up name replaced by the client's."""
        return text.replace(str(self.path), self.name).replace(self.path.name, self.name)

    def table(self) -> RawTable:
        """The sheet as the job's validation read it (raw cells), for the data grid."""
        from ..sheets.reader import read_table

        with self._lock:
            if self.job.table is None:  # not kept (a file checked before): read it once more
                self.job.table = read_table(self.path, self.job.sheet)
            return self.job.table


class FileRegistry:
    """Uploaded files by id (random, unguessable), newest last."""

    def __init__(self) -> None:
        self.files: dict[str, FileEntry] = {}

    def add(self, entry: FileEntry) -> FileEntry:
        """Keep ``entry``; older files let go of their read sheet (the grid reads it again if asked)."""
        self.files[entry.id] = entry
        for older in self.recent(len(self.files))[TABLES_KEPT:]:
            older.job.table = None
        return entry

    def get(self, file_id: str) -> FileEntry | None:
        return self.files.get(file_id)

    def recent(self, count: int = 10) -> list[FileEntry]:
        return sorted(self.files.values(), key=lambda f: f.uploaded, reverse=True)[:count]


def new_file_id() -> str:
    """An id for an uploaded file that nobody can guess (the token guards it anyway)."""
    return secrets.token_urlsafe(12)


def check(entry: FileEntry) -> FileEntry:
    """Validate the stored file with the job and write its Errors sheet, as ``batchops validate`` does."""
    started = time.perf_counter()
    entry.problem = None
    try:
        entry.job.validate()
        entry.job.write_report()
    except BatchopsError as exc:
        entry.problem = entry.shown(str(exc))
    entry.seconds = time.perf_counter() - started
    return entry


def file_json(entry: FileEntry) -> dict[str, Any]:
    """What ``POST /api/files`` answers: the validation summary (``validate --json`` without the issue list,
    which ``/errors`` pages) with the file's ``id`` and client ``name``; ``valid`` and ``error_count`` name
    ``ok`` and ``errors`` as the API documents them; ``accept_lost_zeros``, the job's choice; ``reading``
    while a plan reads. Server paths are not shown: ``file`` is the name."""
    out: dict[str, Any] = {"id": entry.id, "name": entry.name, "size": entry.size}
    if entry.reading is not None:
        cancelling = entry.plan_cancel is not None and entry.plan_cancel.cancelled
        out["reading"] = {"done": entry.reading[0], "total": entry.reading[1], "cancel_requested": cancelling}
    out["accept_lost_zeros"] = entry.job.accept_lost_zeros
    if entry.validation is None:
        return {**out, "ok": False, "valid": False, "problem": entry.problem}
    summary = entry.validation.summary(issues=False)
    summary["file"] = entry.name
    summary["report"] = entry.name if summary.get("report") else None
    if summary.get("report_warning"):
        summary["report_warning"] = entry.shown(summary["report_warning"])
    return {**out, **summary, "valid": summary["ok"], "error_count": summary["errors"],
            "seconds": round(entry.seconds, 3)}


def page_bounds(offset: int | None, limit: int | None, total: int) -> tuple[int, int]:
    """A clamped ``(offset, limit)``: offset within the total, limit 1..MAX_PAGE."""
    limit = DEFAULT_PAGE if limit is None else max(1, min(MAX_PAGE, limit))
    offset = max(0, min(offset or 0, max(total - 1, 0)))
    return offset, limit


def facets(validation: Validation) -> tuple[list[str], list[str]]:
    """The columns and the kinds (codes) that have issues, for the error table's filters."""
    issues = validation.report.issues
    return sorted({i.header for i in issues if i.header}), sorted({i.code for i in issues})


def cell_text(value: Any) -> str:
    """A raw cell as the grid shows it: numbers as Excel shows them in a General cell, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return show_number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class GridPage:
    """Some rows of the data grid: headers, each row's Excel number and cells, which cells are bad."""

    headers: list[str]
    letters: list[str]
    rows: list[tuple[int, list[tuple[str, str | None]]]]
    """``(excel_row, [(text, message or None), …])``: a message marks a bad cell."""
    bad_rows: dict[int, str]
    offset: int
    limit: int
    total: int

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "limit": self.limit, "headers": self.headers,
                "columns": self.letters,
                "rows": [{"row": n, "error": self.bad_rows.get(n),
                          "cells": [{"value": text, "error": message} for text, message in cells]}
                         for n, cells in self.rows]}


def grid_page(entry: FileEntry, offset: int | None, limit: int | None, *, only_bad: bool = False) -> GridPage:
    """One page of the sheet's data rows, bad cells marked with their message."""
    table = entry.table()
    errors = entry.validation.report.errors if entry.validation else []
    bad_cells: dict[tuple[int, int], str] = {}
    bad_rows: dict[int, str] = {}
    for issue in errors:
        if issue.column is None:
            bad_rows.setdefault(issue.row, issue.message)
        else:
            bad_cells.setdefault((issue.row, issue.column), issue.message)
    indexes: Iterable[int] = range(len(table.rows))
    if only_bad:
        with_problems = {r for r, _ in bad_cells} | set(bad_rows)
        indexes = [i for i, n in enumerate(table.row_numbers) if n in with_problems]
    indexes = list(indexes)
    start, size = page_bounds(offset, limit, len(indexes))
    rows = []
    for i in indexes[start:start + size]:
        number = table.row_numbers[i]
        rows.append((number, [(cell_text(value), bad_cells.get((number, table.columns[j])))
                              for j, value in enumerate(table.rows[i])]))
    return GridPage(headers=list(table.headers), letters=[column_letter(c) for c in table.columns], rows=rows,
                    bad_rows={n: bad_rows[n] for n, _ in rows if n in bad_rows}, offset=start, limit=size,
                    total=len(indexes))
