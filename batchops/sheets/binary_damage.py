"""Formulas, error values and merged ranges in the binary formats: .xls (BIFF8) and .xlsb.

python-calamine reads both, but hands back an error value as an empty cell and a formula as its last
value, as it does for xlsx. The xlsx scanner looks at the sheet's XML; these look at the sheet's
records, which carry the same facts: a formula record per formula cell (its result an error or a
value), an error record per typed error, and merged-range records. Only those records are decoded.
A formula's text would need a decompiler, so it is shown as ``=…``.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from .cfb import read_stream
from .table import CellDamage, Damage, column_letter
from .xlsx_damage import SheetMarks
from .xlsx_parts import workbook_part
from .xmltext import Rels, rels_part

__all__ = ["ERROR_CODES", "FORMULA_TEXT", "scan_xls", "scan_xlsb", "workbook_stream"]

ERROR_CODES = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!",
               0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
FORMULA_TEXT = "=…"
"""How a formula of a binary workbook is shown: its text is stored compiled."""

# BIFF8 record types
_BOF, _EOF, _BOUNDSHEET, _FORMULA, _BOOLERR, _MERGEDCELLS = 0x0809, 0x000A, 0x0085, 0x0006, 0x0205, 0x00E5


def workbook_stream(data: bytes) -> bytes:
    """The workbook stream of an .xls file's bytes; ``ValueError`` when it is not a readable BIFF5/8 workbook.

    python-calamine is only handed an .xls that passes this: a damaged compound file can make it
    allocate memory without bound (calamine's own test file ``OOM_alloc.xls`` is one).
    """
    stream = read_stream(data, ("Workbook", "Book"))
    if len(stream) < 8 or struct.unpack_from("<H", stream)[0] != _BOF:
        raise ValueError("the workbook stream does not start with a BIFF5/8 BOF record")
    return stream


def scan_xls(stream: bytes, sheet: str) -> SheetMarks:
    """The damage in sheet ``sheet`` of an .xls workbook stream (BIFF8; BIFF5 names read as Latin-1)."""
    offset = _sheet_offset(stream, sheet)
    marks = SheetMarks()
    for kind, body in _biff_records(stream, offset):
        if kind == _EOF:
            break
        if kind == _FORMULA and len(body) >= 14:
            row, col = struct.unpack_from("<HH", body)
            result = body[6:14]
            if result[6:8] == b"\xff\xff" and result[0] == 2:
                marks.cells[(row + 1, col)] = CellDamage(Damage.ERROR_VALUE, ERROR_CODES.get(result[2], "#VALUE!"))
            else:
                marks.cells[(row + 1, col)] = CellDamage(Damage.FORMULA, FORMULA_TEXT)
        elif kind == _BOOLERR and len(body) >= 8 and body[7]:
            row, col = struct.unpack_from("<HH", body)
            marks.cells[(row + 1, col)] = CellDamage(Damage.ERROR_VALUE, ERROR_CODES.get(body[6], "#VALUE!"))
        elif kind == _MERGEDCELLS and len(body) >= 2:
            (count,) = struct.unpack_from("<H", body)
            for i in range(min(count, (len(body) - 2) // 8)):
                r1, r2, c1, c2 = struct.unpack_from("<HHHH", body, 2 + 8 * i)
                marks.merges.append(_merge(r1, c1, r2, c2))
    return marks


def _biff_records(stream: bytes, offset: int):  # type: ignore[no-untyped-def]
    """(record type, body) from ``offset`` to the end of the stream."""
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _sheet_offset(stream: bytes, sheet: str) -> int:
    """Where the substream of sheet ``sheet`` starts, from the BOUNDSHEET records of the globals."""
    biff8 = True
    for kind, body in _biff_records(stream, 0):
        if kind == _EOF:
            break
        if kind == _BOF and len(body) >= 2:
            biff8 = struct.unpack_from("<H", body)[0] == 0x0600
        elif kind == _BOUNDSHEET and len(body) >= 8:
            (position,) = struct.unpack_from("<I", body)
            count = body[6]
            if not biff8:  # BIFF5: a byte string in the workbook's code page
                name = body[7 : 7 + count].decode("latin-1")
            elif body[7] & 1:  # a 16-bit name
                name = body[8 : 8 + 2 * count].decode("utf-16-le", "replace")
            else:  # a compressed one: the low bytes only
                name = body[8 : 8 + count].decode("latin-1")
            if name == sheet:
                return position
    raise ValueError(f"no sheet record for {sheet!r}")


# --- xlsb ----------------------------------------------------------------------------------------

_BRT_ROW_HDR, _BRT_CELL_ERROR, _BRT_FMLA_ERROR, _BRT_MERGE_CELL, _BRT_BUNDLE_SH = 0x00, 0x03, 0x0B, 0xB0, 0x9C
_BRT_FORMULAS = (0x08, 0x09, 0x0A)  # string, number and boolean results


def scan_xlsb(zf: zipfile.ZipFile, path: Path, sheet: str) -> SheetMarks:
    """The damage in sheet ``sheet`` of the .xlsb package ``zf`` (already past the package guards)."""
    book = workbook_part(zf, path)
    rels = Rels(book, zf.read(rels_part(book)).decode("utf-8")) if rels_part(book) in zf.namelist() else Rels(book, None)
    rid = None
    for kind, body in _xlsb_records(zf.read(book)):
        if kind == _BRT_BUNDLE_SH and len(body) >= 12:
            relation, at = _wide_string(body, 8)
            name, _ = _wide_string(body, at)
            if name == sheet:
                rid = relation
                break
    rel = rels.get(rid or "")
    if rel is None:
        raise ValueError(f"no sheet record for {sheet!r}")
    marks = SheetMarks()
    row = 0
    for kind, body in _xlsb_records(zf.read(rels.part_of(rel))):
        if kind == _BRT_ROW_HDR and len(body) >= 4:
            (row,) = struct.unpack_from("<I", body)
        elif kind in (_BRT_CELL_ERROR, _BRT_FMLA_ERROR) and len(body) >= 9:
            (col,) = struct.unpack_from("<I", body)
            marks.cells[(row + 1, col)] = CellDamage(Damage.ERROR_VALUE, ERROR_CODES.get(body[8], "#VALUE!"))
        elif kind in _BRT_FORMULAS and len(body) >= 8:
            (col,) = struct.unpack_from("<I", body)
            marks.cells[(row + 1, col)] = CellDamage(Damage.FORMULA, FORMULA_TEXT)
        elif kind == _BRT_MERGE_CELL and len(body) >= 16:
            r1, r2, c1, c2 = struct.unpack_from("<IIII", body)
            marks.merges.append(_merge(r1, c1, r2, c2))
    return marks


def _xlsb_records(data: bytes):  # type: ignore[no-untyped-def]
    """(record type, body): both are 7-bit variable-length numbers, type in up to 2 bytes, size in up to 4."""
    pos, end = 0, len(data)
    while pos < end:
        kind = data[pos]
        pos += 1
        if kind & 0x80 and pos < end:
            kind = (kind & 0x7F) | ((data[pos] & 0x7F) << 7)
            pos += 1
        size = shift = 0
        for _ in range(4):
            if pos >= end:
                return
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        yield kind, data[pos : pos + size]
        pos += size


def _wide_string(body: bytes, at: int) -> tuple[str | None, int]:
    """An XLWideString (or its nullable form) at ``at``, and where the next field starts."""
    (count,) = struct.unpack_from("<I", body, at)
    if count == 0xFFFFFFFF:
        return None, at + 4
    end = at + 4 + 2 * count
    return body[at + 4 : end].decode("utf-16-le", "replace"), end


def _merge(r1: int, c1: int, r2: int, c2: int) -> tuple[int, int, int, int, str]:
    """A merged range as ``SheetMarks.merges`` holds it, from 0-based rows and columns."""
    ref = f"{column_letter(c1)}{r1 + 1}:{column_letter(c2)}{r2 + 1}"
    return (r1 + 1, c1, r2 + 1, c2, ref)
