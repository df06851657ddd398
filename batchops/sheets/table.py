"""What a sheet reader hands to validation: raw cells, their Excel positions, and the damage found.

A reader never converts a value to text: a cell Excel stored as a number stays a float, so that
validation can tell an exact ID from one Excel has already rounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal


class Damage(str, Enum):
    """Kinds of cell that hold no trustworthy value."""

    FORMULA = "formula"
    ERROR_VALUE = "error_value"
    MERGED = "merged"


@dataclass(frozen=True)
class CellDamage:
    """A cell that must not be trusted: what is wrong and the text that shows it (formula, ``#N/A``, ``D4:E4``)."""

    kind: Damage
    detail: str


@dataclass(frozen=True)
class Stamp:
    """The hidden stamp a batchops template carries: which operation, and the catalogue fingerprint."""

    operation: str
    fingerprint: str
    version: str = ""


@dataclass
class RawTable:
    """One sheet (or CSV file) as read: headers and data rows with raw cell values.

    ``rows[i][j]`` is the raw value of header ``j`` in data row ``i``: ``str``, ``float``, ``int``,
    ``bool``, ``datetime``/``date``/``time`` or ``None`` for an empty cell. CSV cells are always
    ``str`` or ``None``. Blank rows are left out, but ``row_numbers`` keeps each row's real Excel row
    number (1-based; for a CSV the header is row 1). ``columns[j]`` is the 0-based sheet column of
    header ``j``. ``damage`` maps ``(row_number, column_index)`` to what is wrong with that cell.
    """

    path: Path
    kind: Literal["xlsx", "csv"]
    sheet: str | None
    header_row: int
    headers: list[str]
    columns: list[int]
    rows: list[list[Any]]
    row_numbers: list[int]
    damage: dict[tuple[int, int], CellDamage] = field(default_factory=dict)
    stamp: Stamp | None = None
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    """How a CSV file was decoded (``utf-8``, ``utf-8-sig``, ``gb18030``, ``utf-16``); None for xlsx."""
    delimiter: str | None = None
    """The delimiter a CSV file was read with; None for xlsx."""

    @property
    def display_sheet(self) -> str:
        """The sheet name to show a user; a CSV file's own name."""
        return self.sheet if self.sheet is not None else self.path.name


def column_letter(index: int) -> str:
    """Excel column letters for a 0-based column index (0 -> A, 27 -> AB)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str | bytes) -> int:
    """0-based column index of Excel column letters, either case (A -> 0, ab -> 27)."""
    text = letters.decode("ascii") if isinstance(letters, bytes) else letters
    n = 0
    for ch in text.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")  # Excel's last row, 1,048,576, has 7 digits


def cell_position(ref: str) -> tuple[int, int] | None:
    """``B5`` (or ``$B$5``) as (Excel row number, 0-based column); None when ``ref`` is not one cell."""
    m = _CELL_REF.fullmatch(ref.strip())
    if m is None:
        return None
    return int(m.group(2)), column_index(m.group(1))


STAMP_SHEET = "_batchops"
"""Name of the hidden sheet a template carries: rows of ``key | value`` (operation, fingerprint, version)."""
