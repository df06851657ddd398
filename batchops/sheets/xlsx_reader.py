"""Read one worksheet of an .xlsx workbook into a ``RawTable``: calamine for values, the XML for damage.

Values come from python-calamine (Rust), which is about ten times faster than openpyxl and hands back
raw types: a number stays a float, so validation can see that a 19-digit ID was already rounded.
The package is checked first (``xlsx_parts``), and formulas, error values and merged ranges are
found in the worksheet XML (``xlsx_damage``) because calamine does not report them.
"""

from __future__ import annotations

import bisect
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from batchops.errors import SheetError
from batchops.sheets.shape import header_text, is_blank, too_many_rows, unlabelled_column
from batchops.sheets.table import STAMP_SHEET, CellDamage, Damage, RawTable, Stamp, column_letter
from batchops.sheets.xlsx_damage import SheetMarks, scan_sheet
from batchops.sheets.xlsx_parts import SheetEntry, list_sheets, open_package, read_part, workbook_part
from batchops.sheets.xmltext import elements, root_prefix
from batchops.sheets.zipraw import RawZipReader, RawZipWriter

_VERIFY_CHUNK = 1024 * 1024


def read_xlsx(path: Path, sheet: str | None, *, max_rows: int, max_unpacked_bytes: int) -> RawTable:
    """Read the chosen sheet of the workbook at ``path``; every problem is a ``SheetError``."""
    with open_package(path, max_unpacked_bytes=max_unpacked_bytes) as zf:
        entries = list_sheets(zf, path)
        entry = choose_sheet(entries, sheet, path)
        if entry.part is None or entry.part not in zf.namelist():
            raise SheetError("is damaged: the sheet's cells are missing", path=path, sheet=entry.name)
        marks = SheetMarks()
        if _has_markers(zf, entry.part, path):  # else the part is never held in memory whole
            marks = scan_sheet(read_part(zf, entry.part, path))
        # calamine reads the shared strings itself; reading them once through zipfile checks their
        # CRC, so a part whose stream inflates past its declared size is caught here, not in Rust.
        for name in zf.namelist():
            if name.lower().endswith("sharedstrings.xml"):
                _verify_part(zf, name, path)
    with open_workbook(path, entries) as workbook:
        table = _read_values(workbook, path, entry.name, marks, max_rows)
        if any(e.name == STAMP_SHEET for e in entries):
            table.stamp = _read_stamp(workbook, table)
    return table


_FIX_RESAVE = "Open it in Excel or LibreOffice and save it again as .xlsx."


@contextmanager
def open_workbook(path: Path, entries: list[SheetEntry]) -> Iterator[CalamineWorkbook]:
    """python-calamine's workbook for the xlsx package at ``path``; its errors become ``SheetError``.

    calamine refuses a whole workbook that holds a sheet kind it does not know (an Excel 4 macro
    sheet), though batchops never reads such a sheet. Such a workbook is handed to calamine with
    those sheets left out of its sheet list, from a copy in memory (its parts copied, not inflated).
    """
    hidden = [i for i, e in enumerate(entries) if not e.readable]
    try:
        if hidden:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(_without_sheets(path, hidden)))
        else:
            workbook = CalamineWorkbook.from_path(str(path))
    except SheetError:
        raise
    except Exception as exc:  # calamine raises its own types and plain ValueError; never show their text
        raise SheetError("is damaged and could not be read as a workbook", path=path, fix=_FIX_RESAVE) from exc
    with workbook:
        yield workbook


def _without_sheets(path: Path, hidden: list[int]) -> bytes:
    """The package at ``path`` with the ``hidden`` sheet entries (by position) taken out of its sheet list."""
    out = io.BytesIO()
    with open(path, "rb") as f:
        reader = RawZipReader(f)
        book = workbook_part(reader.zip, path)
        writer = RawZipWriter(out)
        for info in reader.infolist():
            if info.filename != book:
                writer.copy(reader, info)
                continue
            text = reader.zip.read(info).decode("utf-8")
            p = root_prefix(text, "workbook")
            for m in reversed([m for i, m in enumerate(elements(text, p + "sheet")) if i in hidden]):
                text = text[: m.start()] + text[m.end() :]
            writer.write(book, [text.encode("utf-8")])
        writer.close()
    return out.getvalue()


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


# A prefilter: "<f" also hits <filterColumn>, which only costs the precise scan in xlsx_damage.
_MARKERS = (b"<f", b't="e"', b"mergeCell", b":f", b"t='e'")


def _has_markers(zf: zipfile.ZipFile, name: str, path: Path) -> bool:
    """Stream the worksheet part looking for any damage marker; reading it also checks its CRC."""
    tail = b""
    found = False
    try:
        with zf.open(name) as fh:
            while chunk := fh.read(8 * _VERIFY_CHUNK):
                window = tail + chunk
                if not found:
                    found = any(marker in window for marker in _MARKERS)
                tail = window[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SheetError(
            f"has a damaged part {name}", path=path, fix="Save the workbook again from Excel or LibreOffice."
        ) from exc
    return found


def _verify_part(zf: zipfile.ZipFile, name: str, path: Path) -> None:
    if name not in zf.namelist():
        return
    try:
        with zf.open(name) as fh:
            while fh.read(_VERIFY_CHUNK):
                pass
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SheetError(
            f"has a damaged part {name}", path=path, fix="Save the workbook again from Excel or LibreOffice."
        ) from exc


def _read_values(
    workbook: CalamineWorkbook, path: Path, sheet: str, marks: SheetMarks, max_rows: int
) -> RawTable:
    try:
        ws = workbook.get_sheet_by_name(sheet)
    except Exception as exc:  # calamine's own text ("Range is missing the expected row component") helps nobody
        raise SheetError(
            "is damaged: its cells could not be read", path=path, sheet=sheet, fix=_FIX_RESAVE
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
        kind="xlsx",
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
    errors = [(cell, d) for cell, d in cells if d.kind is Damage.ERROR_VALUE]
    shown = errors or cells
    listed = ", ".join(f"{column_letter(c)}{r} {d.detail}" for (r, c), d in shown[:5])
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    what = "formula errors" if errors else "formulas with no value"
    return SheetError(
        f"has no header row: its only cells hold {what} ({listed}{more})",
        path=path,
        sheet=sheet,
        fix="Fix or delete those formulas, replace them with their values (Copy, then Paste Special > "
        "Values), and put the column headers in the first row.",
    )


def _read_stamp(workbook: CalamineWorkbook, table: RawTable) -> Stamp | None:
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


__all__ = ["choose_sheet", "open_workbook", "read_xlsx"]
