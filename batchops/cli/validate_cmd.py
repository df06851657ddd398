"""``batchops validate``: check a filled-in sheet before anything is sent."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..error_report import write_error_report
from ..errors import EXIT_BAD_INPUT, EXIT_OK, WorkbookLocked
from ..validation import validate_file
from .app import app
from .options import accept_lost_zeros_option, json_option, operation_option, sheet_option, timezone_option
from .output import out, print_json, warning_line
from .show import show_validation


@app.command()
@click.argument("file", type=click.Path(path_type=Path))  # the reader names a folder and says the fix
@operation_option
@sheet_option
@timezone_option
@click.option("--no-write", is_flag=True, help="Leave the file untouched: no Errors sheet, no marks, no report file.")
@accept_lost_zeros_option
@json_option
def validate(file: Path, operation: str | None, sheet: str | None, timezone: str | None, no_write: bool,
             accept_lost_zeros: bool, as_json: bool) -> int:
    """Check FILE (.xlsx or .csv) against the operation's rules. Nothing is sent.

    Every bad cell is reported by sheet, row and column. An xlsx gets an Errors sheet with a link to
    each cell, and the cells are highlighted with a comment; a CSV gets FILE.errors.csv. Exit 0 when
    every row is valid, 2 when not.
    """
    report = validate_file(file, operation=operation, sheet=sheet, timezone=timezone,
                           accept_lost_zeros=accept_lost_zeros)
    written: Path | None = None
    if not no_write:
        try:
            written = write_error_report(report)
        except WorkbookLocked as exc:
            warning_line(escape(f"{exc} The report was not written; close the file and run validate again."))
    if as_json:
        print_json({
            "file": str(report.path), "sheet": report.sheet, "operation": report.operation.name,
            "rows": len(report.records), "valid_rows": len(report.valid_records),
            "errors": len(report.errors), "warnings": len(report.warnings), "ok": report.ok,
            "lost_zero_rows": report.lost_zero_rows,
            "report": str(written) if written else None,
            "issues": [{"row": i.row, "cell": i.cell, "column": i.header, "value": i.value,
                        "severity": i.severity.value, "code": i.code, "message": i.message}
                       for i in report.issues],
            "notes": report.notes,
        })
    else:
        show_validation(report)
        if written:
            out.print(f"Report written to {escape(str(written))}"
                      + (" (sheet 'Errors')" if written.suffix.lower() == ".xlsx" else ""))
    return EXIT_OK if report.ok else EXIT_BAD_INPUT
