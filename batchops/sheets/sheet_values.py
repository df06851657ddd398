"""A python-calamine sheet made into a ``RawTable``: header row, data rows, and the damage found.

Every workbook format reads through here (xlsx, and xls, xlsb, ods), so the same rules hold for all:
values keep their raw types (a number stays a float, so a rounded 19-digit ID is seen), blank rows
are skipped but keep their real row numbers, a column with data and no header is an error, and the
formulas, error values and merged ranges a format's scanner found (``SheetMarks``) are attached to
the cells they fall on. calamine itself reports an error value as an empty cell and a formula as its
last value, which is why each format has a scanner of its own.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from batchops.errors import SheetError
from batchops.sheets.shape import header_text, is_blank, too_many_rows, unlabelled_column
from batchops.sheets.table import STAMP_SHEET, CellDamage, Damage, RawTable, Stamp, column_letter
from batchops.sheets.xlsx_damage import PICTURE_NOTE, SheetMarks
from batchops.sheets.xlsx_parts import SheetEntry

__all__ = ["FIX_RESAVE", "choose_sheet", "read_stamp", "read_values"]

FIX_RESAVE = "Open it in Excel or LibreOffice and save it again as .xlsx."


def choose_sheet(entries: list[SheetEntry], wanted: str | None, path: Path) -> SheetEntry:
    """The named sheet, else the first visible worksheet (hidden sheets and the stamp never count)."""
    if wanted is None:
        for entry in entries:
            if entry.visible and entry.is_worksheet and entry.name != STAMP_SHEET:
                return entry
        raise SheetError(
            f"has no visible worksheet (sheets: {_sheet_list(entries)})",
            path=path,
            fix="Unhide the sheet with the rows, or name it with --sheet.",
        )
    match = next((e for e in entries if e.name == wanted), None)
    if match is None:  # Excel treats sheet names case-insensitively; so do we
        folded = wanted.strip().casefold()
        match = next((e for e in entries if e.name.strip().casefold() == folded), None)
    if match is None:
        raise SheetError(
            f"has no sheet '{wanted}'; its sheets are {_sheet_list(entries)}",
            path=path,
            fix="Pass one of those names to --sheet.",
        )
    if not match.is_worksheet:
        raise SheetError(
            f"is {_KIND_NAMES.get(match.kind, 'not a worksheet')}, not a sheet of cells",
            path=path,
            sheet=match.name,
            fix=f"Name the sheet with the rows with --sheet (worksheets: {_sheet_list(entries, cells_only=True)}).",
        )
    return match


_KIND_NAMES = {
    "chartsheet": "a chart sheet",
    "dialogsheet": "an Excel 5 dialog sheet",
    "xlMacrosheet": "an Excel 4 macro sheet",
    "xlIntlMacrosheet": "an Excel 4 macro sheet",
}


def _sheet_list(entries: list[SheetEntry], *, cells_only: bool = False) -> str:
    shown = [
        f"'{e.name}'" + ("" if e.visible else " (hidden)")
        for e in entries
        if e.name != STAMP_SHEET and (e.is_worksheet or not cells_only)
    ]
    return ", ".join(shown) or "none"


def read_values(
    workbook: CalamineWorkbook, path: Path, sheet: str, marks: SheetMarks, max_rows: int, kind: str = "xlsx"
) -> RawTable:
    """Sheet ``sheet`` of ``workbook`` as a ``RawTable`` of ``kind``, with ``marks`` on its data cells."""
    try:
        ws = workbook.get_sheet_by_name(sheet)
    except Exception as exc:  # calamine's own text ("Range is missing the expected row component") helps nobody
        raise SheetError(
            "is damaged: its cells could not be read", path=path, sheet=sheet, fix=FIX_RESAVE
        ) from exc
    if ws.start is None:
        raise _no_header(path, sheet, marks)
    first_col = ws.start[1]
    damaged_rows = {row for row, _col in marks.cells}
    header_row = 0
    headers: list[str] = []
    positions: list[int] = []  # positions in calamine's row list that have a header
    unlabelled: list[int] = []  # positions inside the used range that have none
    rows: list[list[Any]] = []
    row_numbers: list[int] = []
    seen = 0
    # python-calamine's iter_rows yields rows from sheet row 1, but columns from the first used
    # column; the tests pin this, and the count is checked at the end in case a release changes it.
    for index, cells in enumerate(ws.iter_rows()):
        seen += 1
        number = index + 1
        width = len(cells)
        first = cells[0]
        if first != "" and (first.__class__ is not str or not first.isspace()):
            blank = False  # the usual data row, decided by its first cell
        else:
            blank = cells.count("") == width or all(is_blank(v) for v in cells)
        if not header_row:
            if blank:
                continue
            header_row = number
            texts = [header_text(v) for v in cells]
            positions = [j for j, text in enumerate(texts) if text]
            headers = [texts[j] for j in positions]
            unlabelled = [j for j, text in enumerate(texts) if not text]
            continue
        if blank and number not in damaged_rows:
            continue
        for j in unlabelled:
            if not is_blank(cells[j]) or (number, first_col + j) in marks.cells:
                raise unlabelled_column(
                    path, sheet, header_row, first_col + j, number, _merge_hint(marks, header_row, first_col + j)
                )
        rows.append([None if cells[j] == "" else cells[j] for j in positions])
        row_numbers.append(number)
        if len(rows) > max_rows:
            raise too_many_rows(path, sheet, max_rows)
    if not header_row:
        raise _no_header(path, sheet, marks)
    end = ws.end
    if end is not None and seen != end[0] + 1:
        raise SheetError(
            "could not be read: this version of python-calamine lays out rows differently",
            path=path,
            sheet=sheet,
            fix="Install a python-calamine version within the range batchops declares.",
        )
    columns = [first_col + j for j in positions]
    table = RawTable(
        path=path,
        kind=kind,  # type: ignore[arg-type]
        sheet=sheet,
        header_row=header_row,
        headers=headers,
        columns=columns,
        rows=rows,
        row_numbers=row_numbers,
    )
    _check_unlabelled_damage(table, marks)
    _add_damage_beyond_values(table, marks, seen)
    table.damage = _damage_in_table(table, marks)
    return table


def _check_unlabelled_damage(table: RawTable, marks: SheetMarks) -> None:
    """A formula whose result is empty is invisible to calamine, but it is still content."""
    wanted = set(table.columns)
    stray = sorted((c, r) for r, c in marks.cells if r > table.header_row and c not in wanted)
    if stray:
        column, row = stray[0]
        raise unlabelled_column(
            table.path, table.sheet, table.header_row, column, row, _merge_hint(marks, table.header_row, column)
        )


def _add_damage_beyond_values(table: RawTable, marks: SheetMarks, last_row: int) -> None:
    """Rows past calamine's range that hold only formulas with empty results still get reported."""
    wanted = set(table.columns)
    extra = sorted({r for r, c in marks.cells if r > last_row and r > table.header_row and c in wanted})
    for number in extra:
        table.rows.append([None] * len(table.columns))
        table.row_numbers.append(number)


def _damage_in_table(table: RawTable, marks: SheetMarks) -> dict[tuple[int, int], CellDamage]:
    """Keep the damage that falls on data cells; spread merged ranges over the data cells they cover."""
    wanted = set(table.columns)
    present = set(table.row_numbers)
    damage = {cell: d for cell, d in marks.cells.items() if cell[0] in present and cell[1] in wanted}
    numbers = table.row_numbers
    for r1, c1, r2, c2, ref in marks.merges:
        cols = [c for c in table.columns if c1 <= c <= c2]
        if not cols:
            continue
        # Only the data rows inside the range: a merge down to row 1,048,576 costs no more than its rows.
        lo = bisect.bisect_left(numbers, max(r1, table.header_row + 1))
        hi = bisect.bisect_right(numbers, r2)
        for number in numbers[lo:hi]:
            for c in cols:
                damage.setdefault((number, c), CellDamage(Damage.MERGED, ref))
    return damage


def _merge_hint(marks: SheetMarks, header_row: int, column: int) -> str:
    for r1, c1, r2, c2, ref in marks.merges:
        if r1 <= header_row <= r2 and c1 <= column <= c2:
            return f" (its header cell is part of the merged range {ref}; unmerge it)"
    return ""


def _no_header(path: Path, sheet: str, marks: SheetMarks) -> SheetError:
    """No row with a value: the sheet is empty, or its only cells are formulas without a usable result."""
    if not marks.cells:
        return SheetError(
            "has no header row: the sheet is empty",
            path=path,
            sheet=sheet,
            fix="Put the column headers in the first row and the data below them.",
        )
    cells = sorted(marks.cells.items())
    pictures = [(cell, d) for cell, d in cells if d.detail.endswith(PICTURE_NOTE)]
    errors = [(cell, d) for cell, d in cells if d.kind is Damage.ERROR_VALUE and not d.detail.endswith(PICTURE_NOTE)]
    shown = errors or pictures or cells
    if shown is pictures:
        listed = ", ".join(f"{column_letter(c)}{r}" for (r, c), _d in shown[:5])
        what, fix = "pictures placed in cells", "batchops reads text and numbers, not pictures. "
    else:
        listed = ", ".join(f"{column_letter(c)}{r} {d.detail}" for (r, c), d in shown[:5])
        what = "error values" if errors else "formulas with no value"
        fix = "Fix or delete those formulas, or replace them with their values (Copy, then Paste Special > Values). "
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return SheetError(
        f"has no header row: its only cells hold {what} ({listed}{more})",
        path=path,
        sheet=sheet,
        fix=fix + "Put the column headers in the first row and the data below them.",
    )


def read_stamp(workbook: CalamineWorkbook, table: RawTable) -> Stamp | None:
    """The template stamp, if the hidden stamp sheet holds an operation; a damaged stamp is a warning."""
    try:
        cells = workbook.get_sheet_by_name(STAMP_SHEET).to_python()
    except Exception:  # noqa: BLE001 - a stamp we cannot read is reported, not fatal: validation can still run
        table.warnings.append(f"The template stamp sheet '{STAMP_SHEET}' could not be read.")
        return None
    values: dict[str, str] = {}
    for row in cells:
        if len(row) >= 2 and not is_blank(row[0]):
            values[header_text(row[0]).casefold()] = header_text(row[1])
    if not values.get("operation"):
        table.warnings.append(f"The template stamp sheet '{STAMP_SHEET}' names no operation.")
        return None
    return Stamp(
        operation=values["operation"],
        fingerprint=values.get("fingerprint", ""),
        version=values.get("version", ""),
    )
