"""``batchops validate``: check a filled-in sheet before anything is sent."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..workflow import Job
from .app import app
from .options import (
    accept_lost_zeros_option,
    encoding_option,
    json_option,
    operation_option,
    sheet_option,
    timezone_option,
)
from .output import out, print_json
from .show import show_validation, show_written


@app.command()
@click.argument("file", type=click.Path(path_type=Path))  # the reader names a folder and says the fix
@operation_option
@sheet_option
@encoding_option
@timezone_option
@click.option("--no-write", is_flag=True, help="Leave the file untouched: no Errors sheet, no marks, no report file.")
@accept_lost_zeros_option
@json_option
def validate(file: Path, operation: str | None, sheet: str | None, encoding: str | None, timezone: str | None,
             no_write: bool, accept_lost_zeros: bool, as_json: bool) -> int:
    """Check FILE (.xlsx or .csv) against the operation's rules. Nothing is sent.

    Every bad cell is reported by sheet, row and column. An xlsx gets an Errors sheet with a link to
    each cell, and the cells are highlighted with a comment (an .xls, .xlsb or .ods, or a workbook that
    cannot be written, gets FILE.errors.xlsx beside it); a CSV gets FILE.errors.csv. A file without
    issues gets no report, and an earlier run's is taken away. Exit 0 when every row is valid, 2 when not.
    """
    job = Job(file, operation=operation, sheet=sheet, timezone=timezone, encoding=encoding,
              accept_lost_zeros=accept_lost_zeros)
    validation = job.validate()
    written = None if no_write else job.write_report()
    if written is not None:
        show_written(written)
    if as_json:
        print_json(validation.summary())
        return validation.exit_code
    show_validation(validation.report)
    if written is not None and written.path is not None:
        out.print(f"Report written to {escape(written.where())}")
    return validation.exit_code
