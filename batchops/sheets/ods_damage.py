"""Formulas, error values and merged ranges in one table of an OpenDocument spreadsheet (.ods).

As for xlsx, python-calamine hands back a formula's last value as if it were typed and an error as
an empty cell, so ``content.xml`` is read for them: a cell with ``table:formula``, one whose value
type is ``error`` (LibreOffice's ``calcext:value-type``), and one that spans other cells. Positions
are counted as the format stores them: a row or cell may stand for many (``number-rows-repeated``,
``number-columns-repeated``), and a covered cell takes a column too. A table without any of these
(the common case) is found by a byte search before anything is parsed.
"""

from __future__ import annotations

import zipfile

from defusedxml import ElementTree as SafeET

from .namespaces import ODF_CALCEXT_NS, ODF_OFFICE_NS, ODF_TABLE_NS, ODF_TEXT_NS
from .table import CellDamage, Damage, column_letter
from .xlsx_damage import SheetMarks

__all__ = ["scan_ods"]

_T = f"{{{ODF_TABLE_NS}}}"
_TABLE, _ROW, _CELL, _COVERED = _T + "table", _T + "table-row", _T + "table-cell", _T + "covered-table-cell"
_NAME, _FORMULA = _T + "name", _T + "formula"
_ROWS_REPEATED, _COLS_REPEATED = _T + "number-rows-repeated", _T + "number-columns-repeated"
_COLS_SPANNED, _ROWS_SPANNED = _T + "number-columns-spanned", _T + "number-rows-spanned"
_VALUE_TYPE = f"{{{ODF_CALCEXT_NS}}}value-type"
_OFFICE_VALUE_TYPE = f"{{{ODF_OFFICE_NS}}}value-type"
_P = f"{{{ODF_TEXT_NS}}}p"
_MARKERS = (b"formula=", b'value-type="error"', b"-spanned=")
_MAX_REPEAT = 16_384  # a sheet's width; a repeat beyond it is padding to the end of the sheet


def scan_ods(zf: zipfile.ZipFile, sheet: str) -> SheetMarks:
    """The damage in table ``sheet`` of the .ods package ``zf`` (already past the package guards)."""
    marks = SheetMarks()
    with zf.open("content.xml") as probe:
        found = False
        tail = b""
        while chunk := probe.read(1 << 20):
            window = tail + chunk
            if any(m in window for m in _MARKERS):
                found = True
                break
            tail = window[-24:]
    if not found:
        return marks
    with zf.open("content.xml") as content:
        _walk(content, sheet, marks)
    return marks


def _walk(content: object, sheet: str, marks: SheetMarks) -> None:
    in_table = False
    row = col = 0  # row: 1-based number of the current row; col: 0-based next column
    before = 0  # how many cells were marked before the current row
    for event, el in SafeET.iterparse(content, events=("start", "end")):
        tag = el.tag
        if tag == _TABLE:
            if event == "start":
                in_table = el.get(_NAME) == sheet
                row = 0
            elif in_table:
                return
            continue
        if not in_table:
            if event == "end" and tag in (_ROW, _CELL, _COVERED):
                el.clear()
            continue
        if tag == _ROW:
            if event == "start":
                row += 1
                col = 0
                before = len(marks.cells)
            else:
                repeat = _count(el.get(_ROWS_REPEATED))
                if repeat > 1 and len(marks.cells) > before:  # the same formulas on every repeated row
                    cells = [(c, d) for (r, c), d in marks.cells.items() if r == row]
                    for extra in range(1, min(repeat, _MAX_REPEAT)):
                        marks.cells.update({(row + extra, c): d for c, d in cells})
                row += repeat - 1
                el.clear()
        elif tag in (_CELL, _COVERED) and event == "end":
            repeat = _count(el.get(_COLS_REPEATED))
            if tag == _CELL:
                for extra in range(min(repeat, _MAX_REPEAT) if _damaged(el) else 1):
                    _mark(el, row, col + extra, marks)
            col += repeat
            el.clear()


def _damaged(el: object) -> bool:
    get = el.get  # type: ignore[attr-defined]
    return bool(get(_FORMULA) or get(_VALUE_TYPE) == "error")


def _mark(el: object, row: int, col: int, marks: SheetMarks) -> None:
    get = el.get  # type: ignore[attr-defined]
    if get(_VALUE_TYPE) == "error" or get(_OFFICE_VALUE_TYPE) == "error":
        text = "".join(p.text or "" for p in el.iter(_P)).strip()  # type: ignore[attr-defined]
        marks.cells[(row, col)] = CellDamage(Damage.ERROR_VALUE, text or "#VALUE!")
    elif get(_FORMULA):
        formula = get(_FORMULA)
        marks.cells[(row, col)] = CellDamage(Damage.FORMULA, "=" + formula.split(":=", 1)[-1].lstrip("="))
    across, down = _count(get(_COLS_SPANNED)), _count(get(_ROWS_SPANNED))
    if across > 1 or down > 1:
        ref = f"{column_letter(col)}{row}:{column_letter(col + across - 1)}{row + down - 1}"
        marks.merges.append((row, col, row + down - 1, col + across - 1, ref))


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) > 0 else 1
