"""Rules shared by the xlsx and CSV readers: what counts as blank, header text, unlabelled columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from batchops.errors import SheetError
from batchops.sheets.table import column_letter


def is_blank(value: Any) -> bool:
    """True for an empty cell: ``None``, ``""`` or text that is only whitespace (invisible to a user)."""
    return value is None or (isinstance(value, str) and (value == "" or value.isspace()))


def header_text(value: Any) -> str:
    """A header cell as one line of text; a number typed as a header keeps its digits (``2024`` not ``2024.0``).

    A line break typed into a header (Alt+Enter, to keep a column narrow) and runs of spaces count as one
    space: "Default⏎number" is the header "Default number", and every message naming it stays one line.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def unlabelled_column(
    path: Path, sheet: str | None, header_row: int, column: int, row: int, hint: str = ""
) -> SheetError:
    """The error for a column that holds data but has no header."""
    letter = column_letter(column)
    return SheetError(
        f"holds data (first in row {row}) but has no header in row {header_row}{hint}",
        path=path,
        sheet=sheet,
        column=letter,
        fix=f"Type a header in cell {letter}{header_row}, or delete the column.",
    )


def too_many_rows(path: Path, sheet: str | None, max_rows: int) -> SheetError:
    """The error for a sheet with more data rows than ``max_rows``."""
    return SheetError(
        f"has more than {max_rows:,} data rows",
        path=path,
        sheet=sheet,
        fix="Split the rows into several smaller files.",
    )
