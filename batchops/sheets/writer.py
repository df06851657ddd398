"""Streaming writers for exports and stand-alone reports: xlsx (generated directly, see xlsx_book) and CSV.

Every cell is written so that a spreadsheet program cannot damage it:

* Text stays text. A ``str`` is always written as a string, never parsed into a number, so IDs,
  phone numbers and SIP accounts keep leading zeros and all 19 digits. Text columns (every column
  unless ``SheetSpec.text_columns`` says otherwise) also carry the Text number format, so a value the
  user types there later stays text too; an ``int`` in a text column is written as its digits.
* Formula injection is neutralised. In xlsx a string is stored as a string and never evaluated, and
  one starting with ``= + - @``, tab or CR also gets Excel's quote-prefix flag (what typing a leading
  apostrophe does), so it stays text even when the cell is edited; the text itself is unchanged and
  reads back exactly. A CSV has no cell types, so there such a value gets a leading ``'`` (the OWASP
  advice); the CSV reader takes it off again (see "The apostrophe rule" below).
* CSV is UTF-8 with a BOM (so Excel picks the right encoding) and CRLF line ends (RFC 4180).

Both writers write a temporary file next to the target and rename it, so a crash never leaves half a
file behind, and keep memory flat whatever the row count: ``rows`` may be any iterator.

The apostrophe rule (CSV only; the one place it is written down)
-----------------------------------------------------------------
A leading ``'`` in a CSV value is a *text marker* when what follows it, after any further
apostrophes, starts with a formula character (``= + - @``, tab, CR): reading takes exactly one ``'``
off (``'=1+1`` → ``=1+1``, ``'-call back`` → ``-call back``). Writing adds one ``'`` to exactly those
values, so every value makes the round trip unchanged, a value that itself starts with ``'=`` too
(``'=x`` is written ``''=x``). This is also what the apostrophe means to a person: Excel treats a
typed leading ``'`` as "this is text", never as part of the value, so a user who types ``'-5`` into
a CSV by hand means the text ``-5``. Any other leading ``'`` is data and is kept (``'0012`` stays
``'0012``, which validation then names rather than guessing): only the spreadsheet's formula
guard is taken off, never an apostrophe that could belong to the text.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sheet_xml import FORMULA_TRIGGERS, CellStyles, plain_text, sheet_xml
from .xlsx_book import BookSheet, write_book

__all__ = [
    "CSV_GUARD",
    "SheetSpec",
    "info_sheet",
    "neutralise_csv_text",
    "restore_csv_text",
    "write_csv",
    "write_xlsx",
]

CSV_GUARD = "'"
"""Put before a CSV value that a spreadsheet would take for a formula."""


@dataclass(frozen=True)
class SheetSpec:
    """One sheet to write: its name, header row and rows (any iterable, read once, streamed).

    ``text_columns``: 0-based columns formatted as Text; ``None`` means every column. ``widths``:
    column widths in characters; ``None`` sizes them from the header and the first rows.
    ``hidden``: the sheet's tab is hidden (lists for dropdowns, stamps). ``read_only_columns``: context to
    read beside the data, not to edit (shaded header, grey Text cells), with ``read_only_note`` (title,
    text) shown when one of their cells is selected.
    """

    name: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    text_columns: Collection[int] | None = None
    widths: Sequence[float] | None = None
    hidden: bool = False
    read_only_columns: Collection[int] = ()
    read_only_note: tuple[str, str] | None = None


def info_sheet(
    items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, name: str = "Info", hidden: bool = False
) -> SheetSpec:
    """A two-column ``key | value`` sheet (export source, SIP server, time, secrets warning)."""
    pairs = list(items.items() if isinstance(items, Mapping) else items)
    return SheetSpec(name, ["key", "value"], [[k, v] for k, v in pairs], hidden=hidden)


def neutralise_csv_text(text: str) -> str:
    """``text`` with ``'`` put before it when a spreadsheet would read it as a formula.

    A text of apostrophes before a formula character gets one more, so that ``restore_csv_text``
    gives back exactly ``text`` (see "The apostrophe rule" in the module docstring).
    """
    return CSV_GUARD + text if text.lstrip(CSV_GUARD).startswith(FORMULA_TRIGGERS) else text


def restore_csv_text(text: str) -> str:
    """Undo ``neutralise_csv_text``: drop the one ``'`` that marks a formula-like value as text."""
    if text.startswith(CSV_GUARD) and text.lstrip(CSV_GUARD).startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def _atomic(path: Path, write: Callable[[str], None]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- xlsx ------------------------------------------------------------------------------------


def _book_sheet(spec: SheetSpec) -> BookSheet:
    def content(styles: CellStyles, selected: bool) -> Iterable[bytes]:
        return sheet_xml(
            spec.headers, spec.rows, styles, spec.widths, text_columns=spec.text_columns, selected=selected,
            read_only=spec.read_only_columns, read_only_note=spec.read_only_note,
        )

    return BookSheet(spec.name, spec.hidden, content)


def write_xlsx(path: str | Path, sheets: Sequence[SheetSpec]) -> Path:
    """Write ``sheets`` to a new workbook at ``path``, streaming (see ``batchops.sheets.xlsx_book``).

    The first visible sheet is the one that opens. Raises ``ValueError`` for a bad or repeated sheet
    name, or when every sheet is hidden; nothing is left at ``path`` then.
    """
    book = [_book_sheet(spec) for spec in sheets]
    if not book or all(s.hidden for s in book):
        raise ValueError("a workbook needs at least one visible sheet")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            write_book(f, book)

    return _atomic(Path(path), write)


# --- CSV -------------------------------------------------------------------------------------


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV as Excel wants it: UTF-8 with BOM, CRLF, formula-like values neutralised."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return plain_text(value)  # a number is not a formula, even when negative
        return neutralise_csv_text(plain_text(value))

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
            out = csv.writer(f, lineterminator="\r\n")
            out.writerow([neutralise_csv_text(str(h)) for h in header])
            for row in rows:
                out.writerow([cell(v) for v in row])

    return _atomic(Path(path), write)
