"""Read one worksheet of an .xlsx workbook into a ``RawTable``: calamine for values, the XML for damage.

Values come from python-calamine (Rust), which is about ten times faster than openpyxl and hands back
raw types: a number stays a float, so validation can see that a 19-digit ID was already rounded.
The package is checked first (``xlsx_parts``), and formulas, error values and merged ranges are
found in the worksheet XML (``xlsx_damage``) because calamine does not report them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from python_calamine import CalamineWorkbook

from batchops.errors import SheetError
from batchops.sheets.sheet_values import FIX_RESAVE, choose_sheet, read_stamp, read_values
from batchops.sheets.table import STAMP_SHEET, RawTable
from batchops.sheets.xlsx_damage import SheetMarks, scan_sheet
from batchops.sheets.xlsx_parts import SheetEntry, list_sheets, read_part, workbook_part
from batchops.sheets.xmltext import elements, root_prefix
from batchops.sheets.zipraw import RawZipReader, RawZipWriter

_VERIFY_CHUNK = 1024 * 1024


def read_xlsx(path: Path, sheet: str | None, *, max_rows: int, zf: zipfile.ZipFile) -> RawTable:
    """Read the chosen sheet of the workbook at ``path``, whose package ``zf`` passed ``open_package``'s
    guards; every problem is a ``SheetError``."""
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
        table = read_values(workbook, path, entry.name, marks, max_rows)
        if any(e.name == STAMP_SHEET for e in entries):
            table.stamp = read_stamp(workbook, table)
    return table


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
        raise SheetError("is damaged and could not be read as a workbook", path=path, fix=FIX_RESAVE) from exc
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


__all__ = ["choose_sheet", "open_workbook", "read_xlsx"]
