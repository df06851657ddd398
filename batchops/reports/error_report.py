"""The Errors report of a validation: a sheet in the workbook with the bad cells marked, or a file beside it.

* An xlsx workbook gets an Errors sheet (a link to each cell) and a highlight and comment on each
  bad cell, in one checked save (``sheets.writeback``). When it cannot be written, the report goes
  to ``FILE.errors.xlsx`` beside it; so does the report of an .xls, .xlsb or .ods workbook.
* A CSV file gets ``FILE.errors.csv``.
* A file without a single issue gets no report: the Errors sheet and cell marks of an earlier run
  are removed from it (and a stale report file beside it deleted), and ``ReportFile.removed`` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..checking.report import ValidationReport
from ..sheets.writeback import ReportFile

ERRORS_SHEET = "Errors"
ERROR_HEADERS = ("sheet", "row", "cell", "column", "value", "severity", "code", "message")


def errors_csv_path(path: Path) -> Path:
    """Where a CSV input's error report goes: ``FILE.errors.csv`` beside it."""
    return path.with_name(path.name + ".errors.csv") if path.suffix.lower() != ".csv" \
        else path.with_suffix(".errors.csv")


def errors_xlsx_path(path: Path) -> Path:
    """Where a workbook's error report goes when it cannot go into the workbook: ``FILE.errors.xlsx``."""
    from .results import sibling

    return sibling(path, ".errors.xlsx")


def error_rows(report: ValidationReport, *, link: bool) -> Iterator[list[Any]]:
    """One row per issue, errors and warnings in sheet order; on xlsx the cell is a link to it."""
    from ..sheets.sheet_xml import Link

    for issue in report.issues:
        cell: Any = issue.cell
        if link and issue.column is not None:
            cell = Link(issue.cell, report.sheet, issue.cell)
        yield [report.sheet, issue.row, cell, issue.header, issue.value, issue.severity.value, issue.code,
               issue.message]


def write_error_report(report: ValidationReport) -> ReportFile:
    """Write the report into (xlsx) or beside the file, or take an earlier run's away when there are no issues.

    A second run replaces the first run's sheet and marks.
    """
    if report.kind == "csv":
        return _write_csv_report(report)
    if not report.issues:
        return _remove_stale_report(report)
    return _write_workbook_report(report)


def _write_csv_report(report: ValidationReport) -> ReportFile:
    from ..sheets.writer import write_csv

    target = errors_csv_path(report.path)
    if not report.issues:
        target.unlink(missing_ok=True)  # a stale report of an earlier run would mislead
        return ReportFile(None)
    write_csv(target, list(ERROR_HEADERS), error_rows(report, link=False))
    return ReportFile(target)


def _write_workbook_report(report: ValidationReport) -> ReportFile:
    from ..sheets.marks import CellMark, apply_marks
    from ..sheets.writeback import claim_sheet, write_beside_or_into
    from ..sheets.writer import SheetSpec, write_xlsx
    from ..sheets.xlsx_package import Package, put_report_sheet

    marks = [CellMark(i.row, i.column, f"{i.code}: {i.message}") for i in report.errors if i.column is not None]
    headers = list(ERROR_HEADERS)

    def edit(package: Package) -> tuple[str, ...]:
        claim_sheet(package, ERRORS_SHEET, headers)
        apply_marks(package, report.sheet, marks)
        put_report_sheet(package, ERRORS_SHEET, headers, error_rows(report, link=True),
                         row_count=len(report.issues))
        return ()

    def beside(target: Path) -> None:
        write_xlsx(target, [SheetSpec(ERRORS_SHEET, headers, error_rows(report, link=False),
                                      text_columns=(2, 4, 7))])

    return write_beside_or_into(report.path, report.kind, sheet=ERRORS_SHEET, edit=edit,
                                beside=errors_xlsx_path(report.path), write_beside=beside)


def _remove_stale_report(report: ValidationReport) -> ReportFile:
    from ..sheets.writeback import remove_stale

    return remove_stale(report.path, report.kind, lambda package: remove_errors(package, report.sheet),
                        errors_xlsx_path(report.path))


def remove_errors(package: Any, sheet: str | None) -> tuple[str, ...]:
    """Take an earlier validation's Errors sheet and cell marks out of ``package``; what was removed.

    ``sheet``: the data sheet whose marks go (None: every worksheet's). Used by ``validate`` on a file
    without issues, and by ``plan`` and ``apply``, whose validation found none.
    """
    from ..sheets.marks import apply_marks
    from ..sheets.writeback import remove_report_sheet

    names = [sheet] if sheet is not None else [s.name for s in package.sheets() if s.part is not None]
    marked = False
    for name in names:
        if package.find_sheet(name) is not None and package.find_sheet(name).part is not None:
            marked = apply_marks(package, name, []) or marked
    removed = []
    if remove_report_sheet(package, ERRORS_SHEET, list(ERROR_HEADERS)):
        removed.append(f"the {ERRORS_SHEET} sheet")
    if marked:
        removed.append("the cell marks")
    return (" and ".join(removed) + " of an earlier run",) if removed else ()
