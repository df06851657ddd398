"""The files uploaded to this server: where each is stored, what it is called, what checking it found.

A file is checked by the library's own reader and validation (``read_table``, ``resolve_operation``,
``validate_table``: what ``validate_file`` does, with the read table kept so that the data grid can page
through the cells the user typed). Pages of errors and of rows are cut here on the server: a
100,000-row file never goes to the browser whole.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..coerce import show_number
from ..errors import BatchopsError
from ..report import Issue, ValidationReport
from ..sheets.table import RawTable, column_letter

MAX_PAGE = 500
"""The most errors or rows one page may hold."""
DEFAULT_PAGE = 50


@dataclass
class FileEntry:
    """One uploaded file and what is known about it."""

    id: str
    name: str
    path: Path
    size: int
    operation: str | None = None
    sheet: str | None = None
    uploaded: float = field(default_factory=time.time)
    table: RawTable | None = None
    report: ValidationReport | None = None
    problem: str | None = None
    """Why the file could not be read at all (one line naming file, sheet and fix), or None."""
    seconds: float = 0.0


class FileRegistry:
    """Uploaded files by id (random, unguessable), newest last."""

    def __init__(self) -> None:
        self.files: dict[str, FileEntry] = {}

    def add(self, entry: FileEntry) -> FileEntry:
        self.files[entry.id] = entry
        return entry

    def get(self, file_id: str) -> FileEntry | None:
        return self.files.get(file_id)

    def recent(self, count: int = 10) -> list[FileEntry]:
        return sorted(self.files.values(), key=lambda f: f.uploaded, reverse=True)[:count]


def new_file_id() -> str:
    """An id for an uploaded file that nobody can guess (the token guards it anyway)."""
    return secrets.token_urlsafe(12)


def check(entry: FileEntry, timezone: str | None) -> FileEntry:
    """Read and validate the stored file with the library's code; a file that cannot be read is a problem."""
    from ..coerce import resolve_timezone
    from ..errors import InputError
    from ..sheets.reader import read_table
    from ..validation import resolve_operation, validate_table

    started = time.perf_counter()
    entry.table = entry.report = None
    entry.problem = None
    try:
        try:
            tz = resolve_timezone(timezone)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        table = read_table(entry.path, entry.sheet)
        op = resolve_operation(table, entry.operation)
        entry.report = validate_table(table, op, tz)
        entry.table = table
    except BatchopsError as exc:
        entry.problem = str(exc).replace(entry.path.name, entry.name)
    entry.seconds = time.perf_counter() - started
    return entry


def issue_json(issue: Issue) -> dict[str, Any]:
    """One issue as JSON, as ``batchops validate --json`` lists it."""
    return {"row": issue.row, "cell": issue.cell, "column": issue.header, "value": issue.value,
            "severity": issue.severity.value, "code": issue.code, "message": issue.message}


def select_issues(report: ValidationReport, column: str | None = None, code: str | None = None) -> list[Issue]:
    """The issues of ``report`` for one column (header text) and/or one kind (code)."""
    return [i for i in report.issues
            if (not column or i.header == column) and (not code or i.code == code)]


def page_bounds(offset: int | None, limit: int | None, total: int) -> tuple[int, int]:
    """A clamped ``(offset, limit)``: offset within the total, limit 1..MAX_PAGE."""
    limit = DEFAULT_PAGE if limit is None else max(1, min(MAX_PAGE, limit))
    offset = max(0, min(offset or 0, max(total - 1, 0)))
    return offset, limit


def facets(report: ValidationReport) -> tuple[list[str], list[str]]:
    """The columns and the kinds (codes) that have issues, for the error table's filters."""
    columns = sorted({i.header for i in report.issues if i.header})
    codes = sorted({i.code for i in report.issues})
    return columns, codes


def cell_text(value: Any) -> str:
    """A raw cell as the grid shows it: numbers as Excel shows them in a General cell, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return show_number(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
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


def grid_page(table: RawTable, report: ValidationReport | None, offset: int | None, limit: int | None,
              *, only_bad: bool = False) -> GridPage:
    """One page of the sheet's data rows, bad cells marked with their message."""
    bad_cells: dict[tuple[int, int], str] = {}
    bad_rows: dict[int, str] = {}
    for issue in (report.errors if report else ()):
        if issue.column is None:
            bad_rows.setdefault(issue.row, issue.message)
        else:
            bad_cells.setdefault((issue.row, issue.column), issue.message)
    indexes: Iterable[int] = range(len(table.rows))
    if only_bad:
        rows_with_problems = {r for r, _ in bad_cells} | set(bad_rows)
        indexes = [i for i, n in enumerate(table.row_numbers) if n in rows_with_problems]
    indexes = list(indexes)
    start, size = page_bounds(offset, limit, len(indexes))
    page = []
    for i in indexes[start:start + size]:
        number = table.row_numbers[i]
        cells = [(cell_text(value), bad_cells.get((number, table.columns[j])))
                 for j, value in enumerate(table.rows[i])]
        page.append((number, cells))
    return GridPage(headers=list(table.headers), letters=[column_letter(c) for c in table.columns], rows=page,
                    bad_rows={n: bad_rows[n] for n, _ in page if n in bad_rows},
                    offset=start, limit=size, total=len(indexes))


def file_json(entry: FileEntry) -> dict[str, Any]:
    """What ``POST /api/files`` and ``GET /api/files/{id}`` answer."""
    report = entry.report
    out: dict[str, Any] = {"id": entry.id, "name": entry.name, "size": entry.size, "problem": entry.problem,
                           "seconds": round(entry.seconds, 3)}
    if report is None:
        out.update({"operation": None, "sheet": None, "rows": 0, "valid": False, "error_count": 0})
        return out
    out.update({
        "operation": report.operation.name, "sheet": report.sheet, "kind": report.kind,
        "rows": len(report.records), "valid_rows": len(report.valid_records), "valid": report.ok,
        "error_count": len(report.errors), "warning_count": len(report.warnings),
        "rows_with_errors": len({i.row for i in report.errors}), "notes": report.notes,
    })
    return out
