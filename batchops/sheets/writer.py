"""Streaming writers for exports and stand-alone reports: xlsx (xlsxwriter, constant memory) and CSV.

Every cell is written so that a spreadsheet program cannot damage it:

* Text stays text. A ``str`` is always written as a string, never parsed into a number, so IDs,
  phone numbers and SIP accounts keep leading zeros and all 19 digits. Text columns (every column
  unless ``SheetSpec.text_columns`` says otherwise) also carry the Text number format, so a value the
  user types there later stays text too; an ``int`` in a text column is written as its digits.
* Formula injection is neutralised. In xlsx a string is stored as a string and never evaluated, and
  one starting with ``= + - @``, tab or CR also gets Excel's quote-prefix flag (what typing a leading
  apostrophe does), so it stays text even when the cell is edited; the text itself is unchanged and
  reads back exactly. A CSV has no cell types, so there such a value gets a leading ``'`` (the OWASP
  advice); ``restore_csv_text`` takes it off again when batchops reads its own CSV back.
* CSV is UTF-8 with a BOM (so Excel picks the right encoding) and CRLF line ends (RFC 4180).

Both writers write a temporary file next to the target and rename it, so a crash never leaves half a
file behind, and keep memory flat whatever the row count: ``rows`` may be any iterator.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException

from .xlsx_package import FORMULA_TRIGGERS, auto_widths

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

_WIDTH_SAMPLE = 200
_EXACT_INT = 2**53  # beyond this a float cannot hold every integer: keep such numbers as text


@dataclass(frozen=True)
class SheetSpec:
    """One sheet to write: its name, header row and rows (any iterable, read once, streamed).

    ``text_columns``: 0-based columns formatted as Text; ``None`` means every column. ``widths``:
    column widths in characters; ``None`` sizes them from the header and the first rows.
    ``hidden``: the sheet's tab is hidden (lists for dropdowns, stamps).
    """

    name: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    text_columns: Collection[int] | None = None
    widths: Sequence[float] | None = None
    hidden: bool = False


def info_sheet(
    items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, name: str = "Info", hidden: bool = False
) -> SheetSpec:
    """A two-column ``key | value`` sheet (export source, SIP server, time, secrets warning)."""
    pairs = list(items.items() if isinstance(items, Mapping) else items)
    return SheetSpec(name, ["key", "value"], [[k, v] for k, v in pairs], hidden=hidden)


def neutralise_csv_text(text: str) -> str:
    """``text`` with ``'`` put before it when a spreadsheet would read it as a formula."""
    return CSV_GUARD + text if text.startswith(FORMULA_TRIGGERS) else text


def restore_csv_text(text: str) -> str:
    """Undo ``neutralise_csv_text``: drop a ``'`` that stands before a formula character."""
    if text.startswith(CSV_GUARD) and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT:
        return str(int(value))
    return str(value)


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


def _write_sheet(book: Any, spec: SheetSpec, formats: dict[str, Any]) -> None:
    ws = book.add_worksheet(spec.name)
    rows: Iterator[Sequence[Any]] = iter(spec.rows)
    sample = list(islice(rows, _WIDTH_SAMPLE))
    ncols = max([len(spec.headers)] + [len(r) for r in sample[:1]])
    all_text = spec.text_columns is None
    text_cols = set(spec.text_columns or ())
    widths = list(spec.widths) if spec.widths is not None else auto_widths(spec.headers, sample)
    for j in range(ncols):
        width = widths[j] if j < len(widths) else None
        ws.set_column(j, j, width, formats["text"] if all_text or j in text_cols else None)
    for j, header in enumerate(spec.headers):
        ws.write_string(0, j, str(header), formats["header"])
    ws.freeze_panes(1, 0)

    write_string, write_number, write_boolean = ws.write_string, ws.write_number, ws.write_boolean
    text, quoted, quoted_text = formats["text"], formats["quoted"], formats["quoted_text"]
    r = 0
    for r, row in enumerate(chain(sample, rows), start=1):
        for j, value in enumerate(row):
            if value is None:
                continue
            is_text_col = all_text or j in text_cols
            if isinstance(value, bool):
                write_boolean(r, j, value)
                continue
            if isinstance(value, (int, float)) and not is_text_col:
                if isinstance(value, float) and not math.isfinite(value):
                    value = str(value)
                elif abs(value) < _EXACT_INT:
                    write_number(r, j, value)
                    continue
            s = value if isinstance(value, str) else _as_text(value)
            if s.startswith(FORMULA_TRIGGERS):
                write_string(r, j, s, quoted_text if is_text_col else quoted)
            else:
                write_string(r, j, s, text if is_text_col else None)
    if spec.headers:
        ws.autofilter(0, 0, r, len(spec.headers) - 1)
    if spec.hidden:
        ws.hide()


def write_xlsx(path: str | Path, sheets: Sequence[SheetSpec]) -> Path:
    """Write ``sheets`` to a new workbook at ``path``, streaming (xlsxwriter constant-memory mode).

    The first visible sheet is the one that opens. Raises ``ValueError`` for a bad sheet name or
    when every sheet is hidden.
    """
    if not sheets or all(s.hidden for s in sheets):
        raise ValueError("a workbook needs at least one visible sheet")

    def write(tmp: str) -> None:
        # No automatic conversions: a string that looks like a number, formula or URL stays a string.
        book = xlsxwriter.Workbook(
            tmp,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "use_zip64": False,
            },
        )
        try:
            formats = {
                "header": book.add_format({"bold": True, "num_format": "@"}),
                "text": book.add_format({"num_format": "@"}),
                "quoted": book.add_format({"quote_prefix": True}),
                "quoted_text": book.add_format({"num_format": "@", "quote_prefix": True}),
            }
            first_visible = next(i for i, s in enumerate(sheets) if not s.hidden)
            for spec in sheets:
                _write_sheet(book, spec, formats)
            ws = book.worksheets()[first_visible]
            ws.activate()
            ws.set_first_sheet()
        except XlsxWriterException as exc:
            raise ValueError(str(exc)) from exc
        finally:
            book.close()

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
            return _as_text(value)  # a number is not a formula, even when negative
        return neutralise_csv_text(_as_text(value))

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
            out = csv.writer(f, lineterminator="\r\n")
            out.writerow([neutralise_csv_text(str(h)) for h in header])
            for row in rows:
                out.writerow([cell(v) for v in row])

    return _atomic(Path(path), write)
