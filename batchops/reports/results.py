"""The Results report of an apply: a sheet in the workbook, or ``FILE.results.xlsx``/``FILE.results.csv``.

The workbook is changed by adding (or replacing) one sheet, in one checked save; its data sheet keeps
every value. When the workbook cannot be written (open in Excel, read-only, moved away, not an xlsx
package, or the written file failed its check), the results go beside it instead of being lost.

The same save takes away what the run made stale: the Plan sheet, once the run has sent anything
(its "before" values are no longer the server's; ``plan`` makes a fresh one), and an earlier
validation's Errors sheet and cell marks when this validation found no errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..apply.replay import ApplyOutcome
from ..checking.report import ValidationReport
from ..sheets.writeback import ReportFile

RESULTS_SHEET = "Results"
RESULT_HEADERS = ("row", "key", "name", "status", "http_status", "code", "message", "attempts", "finished_at",
                  "reason")
"""``name``: what the read side knows the record by, when apply read it before its update."""


def sibling(path: Path, suffix: str) -> Path:
    """``book.results.xlsx`` beside ``book.xlsx`` (or ``book.csv``); beside any other file its whole name is
    kept (``book.xls.results.xlsx``), so that the reports of ``book.xls`` and ``book.xlsx`` in one folder
    never overwrite each other."""
    base = path.stem if path.suffix.lower() in (".xlsx", ".csv") else path.name
    return path.with_name(f"{base}{suffix}")


def result_headers(outcome: ApplyOutcome) -> list[str]:
    """The Results sheet's header row (a dry run adds the request each row would send)."""
    return list(RESULT_HEADERS) + (["request"] if outcome.dry_run else [])


def result_rows(outcome: ApplyOutcome) -> Iterator[list[Any]]:
    """One row per data row, in the file's order."""
    for r in outcome.results:
        row: list[Any] = [r.row, r.key, r.label, r.status.value, r.http_status, r.code, r.message, r.attempts,
                          r.finished_at, r.reason]
        if outcome.dry_run:
            row.append(json.dumps(r.request, ensure_ascii=False) if r.request is not None else "")
        yield row


def write_results(report: ValidationReport, outcome: ApplyOutcome) -> ReportFile:
    """Write the Results into the workbook (or beside it, saying why); ``FILE.results.csv`` for a CSV."""
    from ..sheets.writer import SheetSpec, write_csv, write_xlsx

    headers = result_headers(outcome)
    if report.kind == "csv":
        target = sibling(report.path, ".results.csv")
        write_csv(target, headers, result_rows(outcome))
        return ReportFile(target)
    from ..sheets.writeback import claim_sheet, remove_report_sheet, write_beside_or_into
    from ..sheets.xlsx_package import Package, put_report_sheet
    from .error_report import remove_errors
    from .plan import PLAN_HEADERS, PLAN_SHEET

    def edit(package: Package) -> tuple[str, ...]:
        claim_sheet(package, RESULTS_SHEET, headers)
        removed: tuple[str, ...] = ()
        if report.ok:
            removed += remove_errors(package, report.sheet)
        if not outcome.dry_run and outcome.sent and remove_report_sheet(package, PLAN_SHEET, PLAN_HEADERS):
            removed += (f"the {PLAN_SHEET} sheet, which this run made out of date",)
        put_report_sheet(package, RESULTS_SHEET, headers, result_rows(outcome), row_count=len(outcome.results))
        return removed

    def beside(target: Path) -> None:
        text = [headers.index(name) for name in ("key", "name", "code")]
        write_xlsx(target, [SheetSpec(RESULTS_SHEET, headers, result_rows(outcome), text_columns=text)])

    return write_beside_or_into(report.path, report.kind, sheet=RESULTS_SHEET, edit=edit,
                                beside=sibling(report.path, ".results.xlsx"), write_beside=beside)
