"""Find formula cells, error values and merged ranges in a worksheet part.

calamine hands back a formula's cached value as if it were typed, and an error value as an empty
cell, so the worksheet XML is the only place that shows them. The scan is a byte search: a sheet
without ``<f``, ``t="e"`` or ``<mergeCell`` (the common case) costs three ``bytes.find`` calls; only
the cells around each marker are looked at. A part whose cells lack the optional ``r="B7"``
attribute falls back to a full positional parse.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

from batchops.sheets.table import CellDamage, Damage, column_index

Cell = tuple[int, int]
"""(Excel row number, 0-based column index)."""

# Row numbers of at most 7 digits (Excel's last row is 1,048,576): int() refuses 4,301 digits and more.
_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})["']""")
_ERROR_TYPE = re.compile(rb"""\bt\s*=\s*["']e["']""")
_SI = re.compile(rb"""\bsi\s*=\s*["'](\d+)["']""")
_MERGE = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})(?::([A-Za-z]{1,3})([0-9]{1,7}))?["']"""
)
_VM = re.compile(rb"""\bvm\s*=\s*["']\d+["']""")
_ROW = re.compile(r"[0-9]{1,7}")
_TAG_BREAK = (b" ", b">", b"\t", b"\r", b"\n", b"/")
PICTURE_NOTE = " (a picture placed in the cell)"
"""Excel stores a picture placed in a cell as the error #VALUE! with value metadata (``vm``)."""
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")


@dataclass
class SheetMarks:
    """What the worksheet XML shows that the values do not."""

    cells: dict[Cell, CellDamage] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    """Merged ranges as (first row, first column, last row, last column, "D4:E4"); rows 1-based."""


def scan_sheet(data: bytes) -> SheetMarks:
    """Formulas, error values and merged ranges of one worksheet part."""
    root = _ROOT.search(data, 0, 4096)
    prefix = root.group(1) or b"" if root else b""
    marks = SheetMarks()
    merges_at = data.find(b"<" + prefix + b"mergeCell")
    if merges_at >= 0:
        for m in _MERGE.finditer(data, merges_at):
            r1, c1 = int(m.group(2)), column_index(m.group(1))
            r2, c2 = (int(m.group(4)), column_index(m.group(3))) if m.group(3) else (r1, c1)
            ref = m.group(0).split(b"ref", 1)[1].strip(b" =\"'").decode("ascii")
            marks.merges.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2), ref.upper()))
    # Merges come after </sheetData>; cells live before it.
    end = data.find(b"</" + prefix + b"sheetData>")
    end = len(data) if end < 0 else end
    if not _has_cell_markers(data, prefix, end):
        return marks
    try:
        marks.cells = _scan_cells_by_reference(data, prefix, end)
    except _NoReference:
        marks.cells = _scan_cells_by_position(data)
    return marks


def _has_cell_markers(data: bytes, prefix: bytes, end: int) -> bool:
    return (
        _find_formula(data, prefix, 0, end) >= 0
        or data.find(b't="e"', 0, end) >= 0
        or data.find(b"t='e'", 0, end) >= 0
    )


def _find_formula(data: bytes, prefix: bytes, start: int, end: int) -> int:
    """Position of the next ``<f`` element (not ``<foo``) before ``end``, or -1."""
    tag = b"<" + prefix + b"f"
    pos = data.find(tag, start, end)
    while pos >= 0:
        after = data[pos + len(tag) : pos + len(tag) + 1]
        if after in _TAG_BREAK:
            return pos
        pos = data.find(tag, pos + 1, end)
    return -1


class _NoReference(Exception):
    """A marked cell has no ``r`` attribute: positions must be counted from the start."""


def _scan_cells_by_reference(data: bytes, prefix: bytes, end: int) -> dict[Cell, CellDamage]:
    cells: dict[Cell, CellDamage] = {}
    shared: dict[bytes, str] = {}  # shared-formula index -> the master's formula text
    cell_open = b"<" + prefix + b"c"
    f_close = b"</" + prefix + b"f>"
    pos = _find_formula(data, prefix, 0, end)
    while pos >= 0:
        cell = _cell_at(data, cell_open, pos)
        tag_end = data.find(b">", pos)
        tag = data[pos:tag_end]
        if tag.endswith(b"/"):
            text = ""  # a shared-formula child: the text lives on the master cell
        else:
            close = data.find(f_close, tag_end)
            text = html.unescape(data[tag_end + 1 : close].decode("utf-8", "replace"))
        si = _SI.search(tag)
        if si and text:
            shared[si.group(1)] = text
        elif si:
            text = shared.get(si.group(1), "")
        cells[cell] = CellDamage(Damage.FORMULA, f"={text}" if text else "a shared formula")
        pos = _find_formula(data, prefix, tag_end, end)
    for marker in (b't="e"', b"t='e'"):
        pos = data.find(marker, 0, end)
        while pos >= 0:
            start = data.rfind(b"<", 0, pos)
            if data.startswith(cell_open, start) and data.find(b">", start, pos) < 0:
                cell = _cell_at(data, cell_open, pos)
                text = _error_text(data, prefix, pos) or "#VALUE!"
                if _VM.search(data, start, data.find(b">", pos)):
                    text += PICTURE_NOTE
                cells[cell] = CellDamage(Damage.ERROR_VALUE, text)
            pos = data.find(marker, pos + 1, end)
    return cells


def _cell_at(data: bytes, cell_open: bytes, pos: int) -> Cell:
    """The ``r`` reference of the cell whose start tag precedes ``pos``."""
    start = data.rfind(cell_open, 0, pos)
    while start >= 0 and data[start + len(cell_open) : start + len(cell_open) + 1] not in _TAG_BREAK:
        start = data.rfind(cell_open, 0, start)  # skip <cols>, <customSheetView> and the like
    if start < 0:
        raise _NoReference
    m = _REF.search(data, start, data.find(b">", start))
    if m is None:
        raise _NoReference
    return int(m.group(2)), column_index(m.group(1))


def _error_text(data: bytes, prefix: bytes, pos: int) -> str:
    v_open, v_close = b"<" + prefix + b"v>", b"</" + prefix + b"v>"
    cell_close = data.find(b"</" + prefix + b"c>", pos)
    v = data.find(v_open, pos, cell_close)
    if v < 0:
        return ""
    return html.unescape(data[v + len(v_open) : data.find(v_close, v)].decode("utf-8", "replace")).strip()


def _scan_cells_by_position(data: bytes) -> dict[Cell, CellDamage]:
    """Slow path for writers that omit ``r``: walk every row and cell, counting positions."""
    cells: dict[Cell, CellDamage] = {}
    row_number, col = 0, -1
    for event, elem in SafeET.iterparse(io.BytesIO(data), events=("start", "end")):
        local = elem.tag.rsplit("}", 1)[-1]
        if local == "row" and event == "start":
            ref = elem.get("r")
            row_number, col = (int(ref) if ref and _ROW.fullmatch(ref) else row_number + 1), -1
        elif local == "c" and event == "end":
            ref = elem.get("r")
            m = re.match(r"([A-Za-z]+)([0-9]{1,7})", ref or "")
            col = column_index(m.group(1)) if m else col + 1
            children = {ch.tag.rsplit("}", 1)[-1]: ch for ch in elem}
            if elem.get("t") == "e":
                value = children.get("v")
                text = ((value.text or "").strip() if value is not None else "") or "#VALUE!"
                cells[(row_number, col)] = CellDamage(Damage.ERROR_VALUE, text + (PICTURE_NOTE if elem.get("vm") else ""))
            elif "f" in children:
                text = children["f"].text or ""
                cells[(row_number, col)] = CellDamage(Damage.FORMULA, f"={text}" if text else "a shared formula")
            elem.clear()
        elif local == "row":
            elem.clear()
    return cells
