"""A spreadsheet package before any value is read: zip-bomb and XML-bomb guards, its kind, the sheet list.

Everything here works on the zip with the standard library, so a hostile file is rejected before
calamine (or openpyxl later) parses a single element. Errors are ``SheetError`` with the fix.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from batchops.errors import SheetError
from batchops.sheets.namespaces import (
    MAIN_NS,
    ODS_MIMETYPE,
    PKG_REL_NS,
    REL_NS,
    STRICT_MAIN_NS,
    STRICT_REL_NS,
)
from batchops.sheets.xmltext import rels_part, resolve

DEFAULT_MAX_RATIO = 1000
"""A part that inflates more than this many times its compressed size is treated as a zip bomb.

Deflate cannot exceed about 1032:1, so only a crafted run of identical bytes gets near it; real
worksheet XML compresses about 10:1 (a million formatted empty rows included).
"""

_RATIO_FLOOR = 10 * 1024 * 1024  # small parts may compress absurdly well (a run of blanks); ignore those
_PROLOG_CHUNK = 64 * 1024
_PROLOG_LIMIT = 4 * 1024 * 1024  # a prolog (declaration, comments) this long is not from any spreadsheet tool

_FIX_SAVE_XLSX = "Open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx)."


SHEET_KINDS = ("worksheet", "chartsheet", "dialogsheet")
"""The sheet relationship types python-calamine knows; it refuses a workbook with any other
(an Excel 4 macro sheet: ``xlMacrosheet``, ``xlIntlMacrosheet``), so those are hidden from it."""


@dataclass(frozen=True)
class SheetEntry:
    """One sheet as listed in the workbook part, with the zip part holding its cells."""

    name: str
    state: str  # "visible", "hidden" or "veryHidden"
    part: str | None  # e.g. "xl/worksheets/sheet1.xml"; None when the relationship is missing
    kind: str  # the relationship type's last word: "worksheet", "chartsheet", "xlMacrosheet" ...

    @property
    def visible(self) -> bool:
        """Whether Excel shows this sheet's tab."""
        return self.state not in ("hidden", "veryHidden")

    @property
    def is_worksheet(self) -> bool:
        """A sheet of cells (not a chart, dialog or macro sheet)."""
        return self.kind == "worksheet"

    @property
    def readable(self) -> bool:
        """Whether python-calamine accepts this kind of sheet in a workbook."""
        return self.kind in SHEET_KINDS


def open_package(path: Path, *, max_unpacked_bytes: int) -> zipfile.ZipFile:
    """Open ``path`` as a zip and check it is a safe xlsx package; the caller closes it."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise SheetError(
            "is not a valid .xlsx workbook (the zip container is damaged)",
            path=path,
            fix=_FIX_SAVE_XLSX,
        ) from exc
    try:
        _check_sizes(zf, path, max_unpacked_bytes)
        for info in zf.infolist():
            if _is_xml_part(info.filename):
                _check_prolog(zf, info, path)
        package_kind(zf, path)  # after the prologs: it parses _rels/.rels
    except BaseException:
        zf.close()
        raise
    return zf


def _check_sizes(zf: zipfile.ZipFile, path: Path, max_unpacked_bytes: int) -> None:
    """Reject by declared total size and by compression ratio (a bomb can lie about one, not both).

    Reading a part through ``zipfile`` stops at the declared size and fails the CRC when the stream
    holds more, so declared sizes are also what bounds the parts we read ourselves.
    """
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > DEFAULT_MAX_RATIO * max(info.compress_size, 1):
            raise SheetError(
                f"looks like a zip bomb: part {info.filename} inflates "
                f"{info.file_size // max(info.compress_size, 1):,} times",
                path=path,
                fix="The file was not opened; ask whoever sent it for the original workbook.",
            )
    if total > max_unpacked_bytes:
        raise SheetError(
            f"unpacks to {_mib(total)}, more than the limit of {_mib(max_unpacked_bytes)}",
            path=path,
            fix="Split the rows into several smaller workbooks.",
        )


def package_kind(zf: zipfile.ZipFile, path: Path) -> str:
    """``"xlsx"``, ``"xlsb"`` or ``"ods"`` for a spreadsheet package; ``SheetError`` saying what any other zip is."""
    names = set(zf.namelist())
    if "mimetype" in names:
        mimetype = zf.read("mimetype")[:100].decode("ascii", "replace").strip()
        if mimetype.startswith(ODS_MIMETYPE):
            return "ods"
        raise SheetError(f"is an OpenDocument file ({mimetype}), not a spreadsheet", path=path, fix=_FIX_SAVE_XLSX)
    book = workbook_part(zf, path)
    if (book.endswith(".bin") and book in names) or "xl/workbook.bin" in names:
        return "xlsb"
    if book not in names:
        if "word/document.xml" in names:
            what = "a Word document"
        elif "ppt/presentation.xml" in names:
            what = "a PowerPoint presentation"
        elif any(n.endswith((".iwa", "Index.zip", "BuildVersionHistory.plist")) for n in names):
            what = "an Apple Numbers file"
        else:
            what = "a zip archive"
        fix = "Export it from Numbers as Excel (.xlsx)." if "Numbers" in what else _FIX_SAVE_XLSX
        raise SheetError(f"is {what}, not an Excel workbook", path=path, fix=fix)
    return "xlsx"


def _is_xml_part(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".xml", ".rels", ".vml")) or lower == "[content_types].xml"


def _check_prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    """Reject a part that declares a DTD or entities: the only way to build an XML bomb.

    A DOCTYPE may only appear in the prolog, before the root element, so reading up to the root
    element is enough; that keeps this check at a few kilobytes per part however big the part is.
    """
    prefix = b""
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_PROLOG_CHUNK)
                prefix += chunk
                verdict = _prolog_verdict(prefix)
                if verdict is not None or not chunk or len(prefix) > _PROLOG_LIMIT:
                    break
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted zip entry; NotImplementedError: an unknown compression method.
        raise SheetError(
            f"has a damaged or unreadable part {info.filename}", path=path, fix=_FIX_SAVE_XLSX
        ) from exc
    if verdict is None and chunk:
        verdict = "dtd"  # a prolog megabytes long: nothing legitimate looks like this
    if verdict == "dtd":
        raise SheetError(
            f"declares XML entities in {info.filename} (a possible XML bomb); it was not opened",
            path=path,
            fix="Save the workbook again from Excel or LibreOffice, or ask for a fresh copy.",
        )


def _prolog_verdict(data: bytes) -> str | None:
    """``"dtd"`` if the prolog holds ``<!DOCTYPE``/``<!ENTITY``, ``"ok"`` at the root element, else None."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and (data[0] == 0 or data[1] == 0)):
        text = data.decode("utf-16", "ignore").encode("utf-8")  # rare, but a bomb could hide in UTF-16
    else:
        text = data
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    pos = 0
    while True:
        pos = text.find(b"<", pos)
        if pos < 0 or pos + 4 > len(text):
            return None
        if text.startswith(b"<?", pos):
            end = text.find(b"?>", pos)
            if end < 0:
                return None
            pos = end + 2
        elif text.startswith(b"<!--", pos):
            end = text.find(b"-->", pos)
            if end < 0:
                return None
            pos = end + 3
        elif text.startswith(b"<!", pos):
            return "dtd"
        else:
            return "ok"


def read_part(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """The bytes of one part; a missing or damaged part is a ``SheetError``."""
    try:
        return zf.read(name)
    except KeyError as exc:
        raise SheetError(f"is missing its part {name}", path=path, fix=_FIX_SAVE_XLSX) from exc
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SheetError(f"has a damaged part {name}", path=path, fix=_FIX_SAVE_XLSX) from exc


def workbook_part(zf: zipfile.ZipFile, path: Path) -> str:
    """The workbook part, where the package's ``_rels/.rels`` puts it (usually ``xl/workbook.xml``).

    Excel always writes ``xl/workbook.xml``, but the package format lets a writer put it anywhere
    and point to it from ``_rels/.rels``; Excel, LibreOffice and openpyxl follow that pointer.
    """
    names = set(zf.namelist())
    if "_rels/.rels" not in names:
        return "xl/workbook.xml"
    root = _parse(read_part(zf, "_rels/.rels", path), "_rels/.rels", path)
    for rel in root.iter(f"{{{PKG_REL_NS}}}Relationship"):
        if rel.get("Type", "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
            return resolve("", rel.get("Target", ""))
    return "xl/workbook.xml"


def list_sheets(zf: zipfile.ZipFile, path: Path) -> list[SheetEntry]:
    """The sheets in workbook order, each with its state, part and kind."""
    book = workbook_part(zf, path)
    workbook = _parse(read_part(zf, book, path), book, path)
    rels_name = rels_part(book)
    targets: dict[str, tuple[str, str]] = {}
    if rels_name in zf.namelist():
        rels = _parse(read_part(zf, rels_name, path), rels_name, path)
        for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship"):
            targets[rel.get("Id", "")] = (resolve(book, rel.get("Target", "")), rel.get("Type", ""))
    entries = []
    for ns, rel_ns in ((MAIN_NS, REL_NS), (STRICT_MAIN_NS, STRICT_REL_NS)):
        for node in workbook.iter(f"{{{ns}}}sheet"):
            sheet_part, rel_type = targets.get(node.get(f"{{{rel_ns}}}id", ""), (None, ""))
            entries.append(
                SheetEntry(
                    name=node.get("name", ""),
                    state=node.get("state", "visible"),
                    part=sheet_part,
                    kind=rel_type.rsplit("/", 1)[-1],
                )
            )
    return entries


def _parse(data: bytes, name: str, path: Path) -> Element:
    try:
        return SafeET.fromstring(data)
    except Exception as exc:  # defusedxml and expat raise several unrelated types
        raise SheetError(f"has a damaged part {name}", path=path, fix=_FIX_SAVE_XLSX) from exc


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MiB"
