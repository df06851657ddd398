"""The Errors report of a validation: a sheet in the workbook (with marked cells) or ``FILE.errors.csv``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .report import ValidationReport

ERRORS_SHEET = "Errors"
ERROR_HEADERS = ("sheet", "row", "cell", "column", "value", "severity", "code", "message")


def errors_csv_path(path: Path) -> Path:
    """Where a CSV input's error report goes: ``FILE.errors.csv`` beside it."""
    return path.with_name(path.name + ".errors.csv") if path.suffix.lower() != ".csv" \
        else path.with_suffix(".errors.csv")


def error_rows(report: ValidationReport, *, link: bool) -> Iterator[list[Any]]:
    """One row per issue, errors and warnings in sheet order; on xlsx the cell is a link to it."""
    from .sheets.xlsx_package import Link

    for issue in report.issues:
        cell: Any = issue.cell
        if link and issue.column is not None:
            cell = Link(issue.cell, report.sheet, issue.cell)
        yield [report.sheet, issue.row, cell, issue.header, issue.value, issue.severity.value, issue.code,
               issue.message]


def write_error_report(report: ValidationReport) -> Path | None:
    """Write the report beside (CSV) or into (xlsx) the file; returns where, or None when nothing to do.

    A second run replaces the first run's sheet and marks. A valid file gets its old marks cleared and
    an empty Errors sheet only if it had one; a valid file that never had errors is left untouched.
    """
    if report.kind == "csv":
        return _write_csv_report(report)
    return _write_xlsx_report(report)


def _write_csv_report(report: ValidationReport) -> Path | None:
    from .sheets.writer import write_csv

    target = errors_csv_path(report.path)
    if not report.issues:
        target.unlink(missing_ok=True)  # a stale report of an earlier run would mislead
        return None
    write_csv(target, list(ERROR_HEADERS), error_rows(report, link=False))
    return target


def _write_xlsx_report(report: ValidationReport) -> Path | None:
    from .sheets.marks import CellMark, apply_marks
    from .sheets.xlsx_package import Package, check_writable, put_report_sheet, write_report

    if not report.issues:
        # Valid now: take away an earlier run's marks and empty its Errors sheet; otherwise touch nothing.
        with Package(report.path) as package:
            changed = apply_marks(package, report.sheet, [])
            if package.find_sheet(ERRORS_SHEET) is not None:
                put_report_sheet(package, ERRORS_SHEET, list(ERROR_HEADERS), iter(()))
                changed = True
            if not changed:
                return None
            check_writable(report.path)
            return package.save()
    marks = [CellMark(i.row, i.column, f"{i.code}: {i.message}") for i in report.errors if i.column is not None]
    return write_report(report.path, sheet_name=ERRORS_SHEET, headers=list(ERROR_HEADERS),
                        rows=error_rows(report, link=True), marks_on=report.sheet, marks=marks)
