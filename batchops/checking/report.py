"""Validation results as data: every problem in a file, and every row with its typed values.

Row problems are data, not exceptions (csvkit's ``Error(line_number, row, msg)``; pandera's
``failure_cases``): validation collects them all and the CLI decides how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from ..sheets.table import column_letter
from .coerce import LOST_ZERO

if TYPE_CHECKING:
    from ..catalogue import Operation


class Severity(str, Enum):
    """How much an issue matters: an error stops the row, a warning asks for a look, a note only informs."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where (Excel row, 0-based sheet column), the cell's text, a short code, the fix."""

    row: int
    column: int | None
    header: str
    value: str
    code: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def column_letter(self) -> str:
        return column_letter(self.column) if self.column is not None else ""

    @property
    def cell(self) -> str:
        """The cell reference (``B5``), or ``row 5`` when the problem is the whole row."""
        return f"{self.column_letter}{self.row}" if self.column is not None else f"row {self.row}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(slots=True)
class InputRow:
    """One data row of the input file: its Excel row number, record key, the canonical text of each non-empty
    cell, and whether it is valid.

    ``coerce.typed_values(operation, row.texts)`` gives the JSON values a valid row sends. (The record a
    server holds is another thing, read by ``readers.py``.)
    """

    row: int
    key: str
    texts: dict[str, str]
    valid: bool


@dataclass
class ValidationReport:
    """Everything validation found in one sheet."""

    path: Path
    sheet: str
    kind: str
    operation: Operation
    timezone: tzinfo
    records: list[InputRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)  # field name → 0-based sheet column
    headers: dict[str, str] = field(default_factory=dict)  # field name → header text as in the file
    header_row: int = 1
    notes: list[str] = field(default_factory=list)
    data_rows: int | None = None
    """Data rows in the sheet, also when a header problem left them unchecked (then ``records`` is empty)."""

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when nothing stops the file from being applied."""
        return not any(i.severity is Severity.ERROR for i in self.issues)

    @property
    def valid_records(self) -> list[InputRow]:
        return [r for r in self.records if r.valid]

    @property
    def invalid_rows(self) -> int:
        return sum(1 for r in self.records if not r.valid)

    @property
    def lost_zero_rows(self) -> list[int]:
        """Rows with a number Excel may have stripped of its leading zeros (errors, or warnings when accepted)."""
        return sorted({i.row for i in self.issues if i.code == LOST_ZERO})

    @property
    def header_errors(self) -> list[Issue]:
        """Errors of the header row itself (a column missing, repeated or misspelt): no row is checked."""
        return [i for i in self.errors if i.row == self.header_row and i.code in HEADER_CODES]

    def summary(self) -> str:
        """One line: how many rows, how many errors in how many rows, how many warnings."""
        errors = self.errors
        where = self.path.name if self.kind == "csv" else f"{self.path.name}, sheet '{self.sheet}'"
        rows = self.data_rows if self.data_rows is not None else len(self.records)
        text = f"{where}: {plural(rows, 'row')} for {self.operation.name}; "
        if self.header_errors:
            text += f"{plural(len(self.header_errors), 'error')} in the header row (row {self.header_row}), " \
                    "so no row was checked"
        elif errors:
            text += f"{plural(len(errors), 'error')} in {plural(len({i.row for i in errors}), 'row')}"
        else:
            text += "all rows valid"
        if self.warnings:
            text += f", {plural(len(self.warnings), 'warning')}"
        return text


HEADER_CODES = frozenset({"unknown_column", "duplicate_column", "missing_column"})
"""Issue codes of the header row: with any of them, no data row is checked."""


def plural(n: int, word: str) -> str:
    """``1 row``, ``2 rows``: counts a user reads."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"
