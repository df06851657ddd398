"""``read_table``: open any sheet a user hands us and return a ``RawTable``, or one clear ``SheetError``.

The file's first bytes decide how it is read, not its name: a zip is an xlsx, xlsb or ods package
(its parts say which), an OLE2 compound file is an .xls (or WPS .et) or a password-protected
workbook, an HTML page saved as ".xls" is named as such, and text is CSV. A spreadsheet name on
plain text is an error rather than a guess, because results would later be written back in the
wrong format.
"""

from __future__ import annotations

import os
from pathlib import Path

from batchops.errors import SheetError
from batchops.sheets.book_reader import read_book
from batchops.sheets.csv_reader import read_csv
from batchops.sheets.namespaces import EXCEL_2003_XML_NS
from batchops.sheets.table import RawTable
from batchops.sheets.xlsx_parts import open_package, package_kind
from batchops.sheets.xlsx_reader import read_xlsx

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 100 * MIB
"""Largest file read at all."""
DEFAULT_MAX_UNPACKED_BYTES = 500 * MIB
"""Largest total uncompressed size of an xlsx package (zip-bomb guard)."""
DEFAULT_MAX_ROWS = 1_000_000
"""Most data rows in one sheet (Excel itself stops at 1,048,576 rows)."""

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".ods", ".et"}

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OTHER_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
}
_FIX_SAVE_XLSX = "Open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx)."


def read_table(
    path: str | os.PathLike[str],
    sheet: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    encoding: str | None = None,
) -> RawTable:
    """Read the sheet at ``path`` (.xlsx or CSV) with raw cell values; raise ``SheetError`` if unusable.

    ``sheet`` names an xlsx worksheet; without it the first visible worksheet is read. A CSV file
    has no sheets, so a name given for one is ignored with a warning. ``encoding`` is a CSV file's
    encoding (default: found from its bytes, see ``sheets.encodings``); a workbook ignores it.
    """
    file = Path(path)
    size = _size(file)
    if size > max_bytes:
        raise SheetError(
            f"is {_size_text(size)}, more than the limit of {_size_text(max_bytes)}",
            path=file,
            fix="Split the rows into several smaller files.",
        )
    head = _read(file, 4096)
    if not head:
        raise SheetError("is empty (0 bytes)", path=file, fix="Save the sheet again and check it has rows.")
    if head.startswith(_ZIP_MAGIC):
        with open_package(file, max_unpacked_bytes=max_unpacked_bytes) as zf:
            kind = package_kind(zf, file)
            if kind == "xlsx":
                return read_xlsx(file, sheet, max_rows=max_rows, zf=zf)
            return read_book(file, kind, sheet, max_rows=max_rows, zf=zf)
    if head.startswith(_OLE2_MAGIC):
        _refuse_compound_file(file, _read(file, size))
        return read_book(file, "xls", sheet, max_rows=max_rows)
    for magic, what in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise SheetError(f"is {what}, not a spreadsheet", path=file, fix=_FIX_SAVE_XLSX)
    markup = _markup_kind(head)
    if markup:
        raise SheetError(f"is {markup}, not an Excel workbook", path=file, fix=_FIX_SAVE_XLSX)
    if file.suffix.lower() in SPREADSHEET_SUFFIXES:
        raise SheetError(
            f"is named {file.suffix} but is not a workbook (it is plain text or damaged)",
            path=file,
            fix="If it is a CSV export, rename it to .csv; otherwise save it again as .xlsx.",
        )
    table = read_csv(file, _read(file, size), max_rows=max_rows, encoding=encoding)
    if sheet is not None:
        table.warnings.append(f"A CSV file has no sheets; the sheet name '{sheet}' was ignored.")
    return table


def _size_text(size: int) -> str:
    return f"{size / MIB:,.1f} MiB" if size >= MIB else f"{size:,} bytes"


def _size(path: Path) -> int:
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise SheetError("does not exist", path=path, fix="Check the file name and folder.") from exc
    except OSError as exc:
        raise SheetError(f"cannot be read ({exc.strerror})", path=path) from exc
    if path.is_dir():
        raise SheetError("is a folder, not a file", path=path, fix="Name the spreadsheet file inside it.")
    return info.st_size


def _read(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except FileNotFoundError as exc:
        raise SheetError("disappeared while it was being read", path=path) from exc
    except PermissionError as exc:
        raise SheetError(
            "cannot be read: permission denied",
            path=path,
            fix="Check the file's permissions, or close it in any program that locks it.",
        ) from exc
    except OSError as exc:
        raise SheetError(f"cannot be read ({exc.strerror})", path=path) from exc


def _refuse_compound_file(path: Path, data: bytes) -> None:
    """An OLE2 compound file that is a password-protected workbook or another Office file is refused.

    Stream names sit in the directory as UTF-16 text; a search for them is enough to tell these apart
    from an .xls without a compound-file parser (a false hit only swaps one rejection for the other).
    """
    if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
        raise SheetError(
            "is protected with a password, so batchops cannot read it",
            path=path,
            fix="Remove the password (File > Info > Protect Workbook > Encrypt with Password) and save it.",
        )
    if "WordDocument".encode("utf-16-le") in data:
        raise SheetError("is a Word document, not a spreadsheet", path=path, fix=_FIX_SAVE_XLSX)
    if "PowerPoint Document".encode("utf-16-le") in data:
        raise SheetError("is a PowerPoint presentation, not a spreadsheet", path=path, fix=_FIX_SAVE_XLSX)


def _markup_kind(head: bytes) -> str | None:
    """'a web page (HTML)' or 'an Excel 2003 XML file' for markup saved under a spreadsheet name."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")):
        return "a web page (HTML)"
    if text.startswith(b"<?xml"):
        if EXCEL_2003_XML_NS.encode() in text or b"<workbook" in text:
            return "an Excel 2003 XML spreadsheet"
        return "an XML file"
    return None
