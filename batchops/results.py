"""The Results report of an apply: a sheet in the workbook, or ``FILE.results.xlsx``/``FILE.results.csv``.

The workbook is changed by adding (or replacing) one sheet; its data sheet keeps every value. When the
workbook cannot be written (open in Excel, read-only, moved away), the results go beside it instead of
being lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import SheetError, WorkbookLocked
from .replay import ApplyOutcome
from .report import ValidationReport

RESULTS_SHEET = "Results"
RESULT_HEADERS = ("row", "key", "name", "status", "http_status", "code", "message", "attempts", "finished_at",
                  "reason")
"""``name``: what the read side knows the record by, when apply read it before its update."""


def sibling(path: Path, suffix: str) -> Path:
    """``FILE.results.xlsx`` beside ``FILE.xlsx``: the original name kept whole, so nothing is overwritten."""
    return path.with_name(f"{path.stem}{suffix}")


def result_headers(outcome: ApplyOutcome) -> list[str]:
    return list(RESULT_HEADERS) + (["request"] if outcome.dry_run else [])


def result_rows(outcome: ApplyOutcome) -> Iterator[list[Any]]:
    """One row per data row, in the file's order."""
    for r in outcome.results:
        row: list[Any] = [r.row, r.key, r.label, r.status.value, r.http_status, r.code, r.message, r.attempts,
                          r.finished_at, r.reason]
        if outcome.dry_run:
            row.append(json.dumps(r.request, ensure_ascii=False) if r.request is not None else "")
        yield row


def write_results(report: ValidationReport, outcome: ApplyOutcome) -> tuple[Path, str | None]:
    """Write the Results; returns where, and a warning when they could not go into the workbook itself."""
    from .sheets.writer import SheetSpec, write_csv, write_xlsx

    headers = result_headers(outcome)
    if report.kind == "csv":
        target = sibling(report.path, ".results.csv")
        write_csv(target, headers, result_rows(outcome))
        return target, None
    from .sheets.xlsx_package import add_sheet

    try:
        return add_sheet(report.path, RESULTS_SHEET, headers, result_rows(outcome)), None
    except (WorkbookLocked, SheetError) as exc:
        target = sibling(report.path, ".results.xlsx")
        text = [headers.index(name) for name in ("key", "name", "code")]
        write_xlsx(target, [SheetSpec(RESULTS_SHEET, headers, result_rows(outcome), text_columns=text)])
        return target, f"{exc} The results were written to {target.name} instead."
