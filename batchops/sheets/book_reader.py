"""Read the workbooks that are not xlsx packages: .xls (and WPS .et, an .xls inside), .xlsb and .ods.

python-calamine reads all three; the values go through the same ``sheet_values.read_values`` as an
xlsx sheet's, so the same guards hold (raw types, blank rows, unlabelled columns), and each format's
scanner (``binary_damage``, ``ods_damage``) finds the formulas, error values and merged ranges that
calamine does not report. batchops does not write into these formats: reports go beside them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from python_calamine import CalamineWorkbook, PasswordError

from batchops.errors import SheetError

from .binary_damage import scan_xls, scan_xlsb, workbook_stream
from .ods_damage import scan_ods
from .sheet_values import choose_sheet, read_stamp, read_values
from .table import STAMP_SHEET, RawTable
from .xlsx_damage import SheetMarks
from .xlsx_parts import SheetEntry

__all__ = ["FORMATS", "read_book"]

FORMATS = {
    "xls": "an old Excel 97-2003 workbook (.xls)",
    "xlsb": "a binary Excel workbook (.xlsb)",
    "ods": "an OpenDocument spreadsheet (.ods)",
}
_FIX = {
    "xls": "Open it in Excel or LibreOffice and save it as .xlsx.",
    "xlsb": "Open it in Excel and save it as Excel Workbook (.xlsx).",
    "ods": "Open it in LibreOffice and save it as Excel 2007-365 (.xlsx).",
}
# calamine's enum members are not hashable: matched by their names.
_KINDS = {"WorkSheet": "worksheet", "ChartSheet": "chartsheet", "DialogSheet": "dialogsheet",
          "MacroSheet": "xlMacrosheet", "Vba": "vba"}
_STATES = {"Visible": "visible", "Hidden": "hidden", "VeryHidden": "veryHidden"}


def read_book(path: Path, kind: str, sheet: str | None, *, max_rows: int,
              zf: zipfile.ZipFile | None = None) -> RawTable:
    """Read the chosen sheet of the ``kind`` workbook at ``path``; ``zf``: its package, for xlsb and ods."""
    stream = b""
    try:
        if kind == "xls":
            stream = workbook_stream(path.read_bytes())  # checked before calamine sees it
        workbook = CalamineWorkbook.from_path(str(path))
    except PasswordError as exc:
        raise SheetError(
            "is protected with a password, so batchops cannot read it",
            path=path,
            fix="Remove the password and save it again.",
        ) from exc
    except Exception as exc:  # calamine's own types and plain ValueError: never show their text
        raise SheetError(f"is {FORMATS[kind]} that could not be read: it is damaged", path=path,
                         fix=_FIX[kind]) from exc
    with workbook:
        entries = [SheetEntry(m.name, _STATES.get(_member(m.visible), "visible"), None,
                              _KINDS.get(_member(m.typ), "other"))
                   for m in workbook.sheets_metadata]
        entry = choose_sheet(entries, sheet, path)
        marks, warning = _scan(path, kind, entry.name, zf, stream)
        table = read_values(workbook, path, entry.name, marks, max_rows, kind)
        if warning:
            table.warnings.append(warning)
        if any(e.name == STAMP_SHEET for e in entries):
            table.stamp = read_stamp(workbook, table)
    return table


def _member(value: object) -> str:
    """``SheetTypeEnum.WorkSheet`` → ``WorkSheet``."""
    return str(value).rsplit(".", 1)[-1]


def _scan(path: Path, kind: str, sheet: str, zf: zipfile.ZipFile | None,
          stream: bytes) -> tuple[SheetMarks, str | None]:
    """The sheet's damage; when the scan itself fails, no damage and a warning that it was not checked."""
    try:
        if kind == "xls":
            return scan_xls(stream, sheet), None
        assert zf is not None
        return (scan_xlsb(zf, path, sheet) if kind == "xlsb" else scan_ods(zf, sheet)), None
    except Exception:  # noqa: BLE001 - calamine read the values; only the check for formulas is lost
        return SheetMarks(), (f"batchops could not check sheet '{sheet}' for formulas, error values and merged "
                              "cells; check that its cells hold plain values, or save it as .xlsx.")
