"""The check a written workbook must pass before it may replace the user's file.

batchops writes into the user's own workbook, often their only copy, so a write that produces a
file Excel cannot open destroys their work. Every save of an edited package (``Package.save``) is
therefore written to a temporary file and checked here; only a package that passes replaces the
original, and one that fails leaves the original byte for byte as it was (the caller then puts the
report beside it). The checks, cheapest first:

1. **The zip**: it lists exactly the parts expected, and every part batchops did not edit was copied
   with the same CRC and sizes as in the original.
2. **Every changed XML part parses**, namespace-aware, so an unbound prefix (``r:id`` where ``r`` is
   declared on some other element) or a stray ``<`` fails here. Parts are parsed while they are
   written (``PartChecks.wrap``), so a large part is not inflated a second time. A report sheet
   batchops generated is parsed whole up to ``SAMPLE_BYTES`` and then as its frame, the rows past
   that limit skipped but the last chunk parsed: its rows come in whole-row chunks from one template
   whose only variable content, the cell text, is escaped by ``xmltext.escape_text`` (property
   tested), while the frame is where the package's namespaces meet. This keeps the check at a few
   per cent of writing a 100,000-row Results sheet. Edited parts of the user's (a marked data sheet)
   are always parsed whole.
3. **The readers open it**: batchops' own (the package guards, the sheet list, python-calamine) and
   openpyxl (read-only, every worksheet set up). openpyxl's shared-strings table is only parsed
   when it changed: an unchanged one is byte for byte the one the original had.
4. **The data reads back cell for cell**: every sheet that was there before and was not replaced
   reads the same values. When neither its part nor what its values depend on changed (shared
   strings, the existing cell formats, the 1904 date system, which part the sheet name points to),
   this holds by construction and is not read again; otherwise both files are read with
   python-calamine and compared cell by cell (a marked data sheet always is).

A failed check raises ``WriteCheckFailed`` with one line naming the part and what is wrong.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any
from xml.parsers import expat

from batchops.errors import SheetError, WriteCheckFailed

from .table import column_letter

__all__ = ["SAMPLE_BYTES", "Expected", "PartChecks", "verify_written"]

SAMPLE_BYTES = 2 * 1024 * 1024
"""How much of a generated report sheet is parsed before only its frame and last chunk are."""

_XML_SUFFIXES = (".xml", ".rels", ".vml")
_DATE1904 = re.compile(r"""<(?:\w+:)?workbookPr\b[^>]*\bdate1904\s*=\s*["'](?:1|true)["']""")


def is_xml_part(name: str) -> bool:
    """Whether the part ``name`` holds XML (by its name, as the package's content types do)."""
    return name.lower().endswith(_XML_SUFFIXES)


class _RefusedDoctype(Exception):
    """A written part declares a DTD; batchops never writes one, so the part is not ours to trust."""


class _XmlCheck:
    """Namespace-aware well-formedness of one part, fed chunk by chunk as it is written."""

    def __init__(self, name: str, sampled: bool) -> None:
        self.name = name
        self.sampled = sampled
        self.error: str | None = None
        self._parsed = 0
        self._pending: bytes | None = None
        self._parser = expat.ParserCreate(namespace_separator=" ")
        self._parser.StartDoctypeDeclHandler = self._doctype

    @staticmethod
    def _doctype(*_args: Any) -> None:
        raise _RefusedDoctype

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk; a sampled part holds one back, so that its last chunk is always parsed."""
        if self.error is not None:
            return
        if not self.sampled:
            self._parse(chunk, final=False)
            return
        if self._pending is not None and self._parsed < SAMPLE_BYTES:
            self._parse(self._pending, final=False)
        self._pending = chunk

    def close(self) -> str | None:
        """Finish the part; the problem in one line, or None when it parsed."""
        if self.error is None:
            self._parse(self._pending or b"", final=True)
        return self.error

    def _parse(self, data: bytes, *, final: bool) -> None:
        if self.error is not None:
            return
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            self.error = f"{self.name} is not well-formed XML ({expat.ErrorString(exc.code)}, line {exc.lineno})"
        except _RefusedDoctype:
            self.error = f"{self.name} declares a DTD"
        self._parsed += len(data)


@dataclass
class PartChecks:
    """The parse checks of the parts a save writes, run while their chunks stream into the zip."""

    original_parses: Any = None
    """``name -> bool``: whether the original part was well-formed (an edited part only has to be as
    good as the part it replaces: old Excel writes VML drawings that are not XML)."""
    problems: list[str] = field(default_factory=list)

    def wrap(self, name: str, chunks: Iterable[bytes], *, sampled: bool = False) -> Iterator[bytes]:
        """Pass ``chunks`` through unchanged, parsing them on the way when the part is XML."""
        if not is_xml_part(name):
            yield from chunks
            return
        check = _XmlCheck(name, sampled)
        for chunk in chunks:
            check.feed(chunk)
            yield chunk
        error = check.close()
        if error is not None and (self.original_parses is None or self.original_parses(name)):
            self.problems.append(error)


def parses(data: bytes) -> bool:
    """Whether ``data`` is well-formed, namespace-aware XML (no DTD)."""
    check = _XmlCheck("", sampled=False)
    check.feed(data)
    return check.close() is None


@dataclass(frozen=True)
class SheetContext:
    """What a sheet's values depend on: when none of it changed, neither did a single value.

    The part itself, the shared strings, the cell formats (a number shows as a date through its
    cell format, which points at a number format) and the workbook's 1904 date system. Edits only
    ever append cell formats, so the formats the sheet could use are the ones that existed before.
    """

    part: str | None
    part_changed: bool
    strings: str | None
    strings_changed: bool
    cell_formats: tuple[str, ...]
    number_formats: tuple[str, ...]
    date1904: bool

    @classmethod
    def of(cls, *, part: str | None, part_changed: bool, strings: str | None, strings_changed: bool,
           styles: str | None, workbook_text: str) -> SheetContext:
        """The context from the parts' texts."""
        from .xmltext import StylesEditor

        editor = StylesEditor(styles) if styles else None
        return cls(
            part=part,
            part_changed=part_changed,
            strings=strings,
            strings_changed=strings_changed,
            cell_formats=tuple(editor.items("cellXfs")) if editor else (),
            number_formats=tuple(editor.items("numFmts")) if editor else (),
            date1904=bool(_DATE1904.search(workbook_text)),
        )

    def reads_like(self, before: SheetContext) -> bool:
        """Whether a sheet with this context (after) must read exactly as with ``before``."""
        return (
            not self.part_changed
            and not self.strings_changed
            and (self.part, self.strings, self.date1904) == (before.part, before.strings, before.date1904)
            and self.cell_formats[: len(before.cell_formats)] == before.cell_formats
            and self.number_formats[: len(before.number_formats)] == before.number_formats
        )


@dataclass
class Expected:
    """What the written package must hold, from the package that wrote it."""

    parts: set[str]
    """Every part name of the written package."""
    copied: set[str]
    """The parts copied from the original without being inflated: their CRC and sizes must match."""
    sheets: list[str]
    """The sheet names, in tab order, after the edit."""
    worksheets: list[str]
    """The sheets that are worksheets with a part (openpyxl must list each of them)."""
    same_cells: dict[str, tuple[SheetContext, SheetContext]]
    """Sheets that existed before and must read back cell for cell, with their context before and after."""
    edited_cells: set[str]
    """Of those, the sheets whose own part was rewritten (marks): always read back and compared."""
    strings_changed: bool = False
    """Whether the shared-strings part was rewritten (then openpyxl parses it too)."""


def verify_written(original: Path, written: Path, expected: Expected, checks: PartChecks) -> None:
    """Raise ``WriteCheckFailed`` unless ``written`` is a sound copy of ``original`` with the edits."""
    if checks.problems:
        _fail(checks.problems[0])
    _check_zip(original, written, expected)
    _check_batchops_reader(written, expected)
    _check_openpyxl(written, expected)
    for name, (before, after) in expected.same_cells.items():
        if name in expected.edited_cells or not after.reads_like(before):
            _check_same_cells(original, written, name)


def _fail(reason: str) -> None:
    raise WriteCheckFailed(f"the written workbook failed its check: {reason}")


def _check_zip(original: Path, written: Path, expected: Expected) -> None:
    try:
        with zipfile.ZipFile(original) as before, zipfile.ZipFile(written) as after:
            old = {i.filename: i for i in before.infolist()}
            new = {i.filename: i for i in after.infolist()}
            if len(new) != len(after.infolist()):
                _fail("a part is stored twice")
    except zipfile.BadZipFile as exc:
        raise WriteCheckFailed("the written workbook failed its check: the zip is damaged") from exc
    if set(new) != expected.parts:
        missing = sorted(expected.parts - set(new))
        extra = sorted(set(new) - expected.parts)
        _fail(f"parts missing {missing} or unexpected {extra}")
    for name in expected.copied:
        a, b = old[name], new[name]
        if (a.CRC, a.file_size, a.compress_size) != (b.CRC, b.file_size, b.compress_size):
            _fail(f"{name} was not copied unchanged")


def _check_batchops_reader(written: Path, expected: Expected) -> None:
    from .xlsx_parts import list_sheets, open_package
    from .xlsx_reader import open_workbook

    try:
        with open_package(written, max_unpacked_bytes=1 << 40) as zf:
            entries = list_sheets(zf, written)
        names = [e.name for e in entries]
        if names != expected.sheets:
            _fail(f"batchops reads the sheets {names}, expected {expected.sheets}")
        with open_workbook(written, entries) as workbook:
            calamine_names = list(workbook.sheet_names)
    except SheetError as exc:
        raise WriteCheckFailed(f"the written workbook failed its check: batchops cannot read it ({exc.message})") from exc
    missing = [n for n in expected.worksheets if n not in calamine_names]
    if missing:
        _fail(f"python-calamine does not find the sheets {missing}")


def _check_openpyxl(written: Path, expected: Expected) -> None:
    from openpyxl.reader.excel import ExcelReader

    class _Reader(ExcelReader):  # type: ignore[misc]
        def read_strings(self) -> None:
            if expected.strings_changed:  # unchanged strings are byte for byte the original's
                super().read_strings()

    try:
        with open(written, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it skips
            reader = _Reader(f, read_only=True, data_only=True, keep_links=False)
            try:
                reader.read()
                names = reader.wb.sheetnames
            finally:
                reader.archive.close()
    except Exception as exc:
        raise WriteCheckFailed(
            f"the written workbook failed its check: openpyxl cannot open it ({type(exc).__name__})"
        ) from exc
    missing = [n for n in expected.worksheets if n not in names]
    if missing:
        _fail(f"openpyxl does not find the sheets {missing}")


def _check_same_cells(original: Path, written: Path, sheet: str) -> None:
    """Read ``sheet`` from both files with python-calamine and compare every cell."""
    from .xlsx_parts import list_sheets, open_package
    from .xlsx_reader import open_workbook

    def rows(path: Path) -> Iterator[list[Any]]:
        with open_package(path, max_unpacked_bytes=1 << 40) as zf:
            entries = list_sheets(zf, path)
        with open_workbook(path, entries) as workbook:
            ws = workbook.get_sheet_by_name(sheet)
            start = ws.start or (0, 0)
            yield [start]
            yield from ws.iter_rows()

    try:
        for number, (a, b) in enumerate(zip_longest(rows(original), rows(written)), start=0):
            if a != b:
                where = _first_difference(a, b, number)
                _fail(f"sheet '{sheet}' does not read back the same ({where})")
    except WriteCheckFailed:
        raise
    except Exception as exc:
        raise WriteCheckFailed(
            f"the written workbook failed its check: sheet '{sheet}' cannot be read back ({type(exc).__name__})"
        ) from exc


def _first_difference(a: list[Any] | None, b: list[Any] | None, number: int) -> str:
    if number == 0:
        return "its used range starts elsewhere"
    if a is None or b is None:
        return f"row {number} is {'missing' if b is None else 'extra'}"
    for j, (x, y) in enumerate(zip_longest(a, b)):
        if x != y:
            return f"cell {column_letter(j)}{number} of the used range"
    return f"row {number}"
