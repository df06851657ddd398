"""Hostile and broken inputs: each is one clear SheetError line naming the file, exit code 2, no traceback."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sheet_builders import DECL, MAIN, sheet_xml, simple_xlsx, write_xlsx

from batchops.errors import EXIT_BAD_INPUT, SheetError
from batchops.sheets import read_table, xlsx_reader

DATA = Path(__file__).parent / "data"

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>&lol3;</t></si></sst>'
)


def refused(path: Path, **kwargs) -> str:
    """Read ``path`` expecting a SheetError; check its shape and return its one line."""
    with pytest.raises(SheetError) as info:
        read_table(path, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(path.name)
    assert info.value.exit_code == EXIT_BAD_INPUT
    return text


def _zip(path: Path, parts: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _plain(tmp_path: Path) -> Path:
    return simple_xlsx(tmp_path / "plain.xlsx", {1: ["id", "name"], 2: ["1", "a"], 3: ["2", "b"]})


# Each case builds a file in tmp_path and names the words its error must contain.
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing file": (lambda d: d / "nope.xlsx", "nope.xlsx: does not exist. Check the file name and folder."),
    "a folder": (lambda d: (d / "dir.xlsx").mkdir() or d / "dir.xlsx", "is a folder, not a file"),
    "zero bytes": (lambda d: _write(d / "z.xlsx", b""), "z.xlsx: is empty (0 bytes)."),
    "binary named xlsx": (
        lambda d: _write(d / "b.xlsx", bytes(range(256)) * 4),
        ("b.xlsx: is named .xlsx but is not a workbook (it is plain text or damaged). If it is a CSV export, "
         "rename it to .csv; otherwise save it again as .xlsx."),
    ),
    "csv text named xlsx": (lambda d: _write(d / "t.xlsx", b"id,name\n1,a\n"), "is named .xlsx but is not a workbook"),
    "a pdf": (lambda d: _write(d / "p.xlsx", b"%PDF-1.7\n..."), "p.xlsx: is a PDF document, not a spreadsheet."),
    "a png named csv": (lambda d: _write(d / "i.csv", b"\x89PNG\r\n\x1a\n\x00\x00"), "is a PNG image, not a spreadsheet"),
    "plain zip archive": (
        lambda d: _zip(d / "a.xlsx", {"readme.txt": "hello"}),
        ("a.xlsx: is a zip archive, not an Excel workbook. Open it in Excel or LibreOffice and save it as an "
         "Excel workbook (.xlsx)."),
    ),
    "word document": (lambda d: _zip(d / "w.xlsx", {"word/document.xml": "<w/>"}), "is a Word document, not an Excel"),
    "damaged opendocument spreadsheet": (
        lambda d: _zip(d / "o.ods", {"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}),
        ("o.ods: is an OpenDocument spreadsheet (.ods) that could not be read: it is damaged. Open it in LibreOffice "
         "and save it as Excel 2007-365 (.xlsx)."),
    ),
    "damaged binary workbook xlsb": (
        lambda d: _zip(d / "b.xlsb", {"xl/workbook.bin": b"\x00"}),
        "b.xlsb: is a binary Excel workbook (.xlsb) that could not be read: it is damaged.",
    ),
    "damaged old xls": (
        lambda d: _write(d / "old.xls", (DATA / "lo_from_csv.xls").read_bytes()[:1536]),
        ("old.xls: is an old Excel 97-2003 workbook (.xls) that could not be read: it is damaged. Open it in Excel or "
        "LibreOffice and save it as .xlsx."),
    ),
    "opendocument text": (
        lambda d: _zip(d / "t.ods", {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"}),
        "t.ods: is an OpenDocument file (application/vnd.oasis.opendocument.text), not a spreadsheet",
    ),
    "html saved as xls": (
        lambda d: _write(d / "export.xls", b"<html><body><table><tr><td>id</td></tr></table></body></html>"),
        "export.xls: is a web page (HTML), not an Excel workbook.",
    ),
    "excel 2003 xml": (
        lambda d: _write(d / "x.xls", b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>'),
        "is an Excel 2003 XML spreadsheet",
    ),
    "truncated workbook": (
        lambda d: _write(d / "cut.xlsx", _plain(d).read_bytes()[:300]),
        "cut.xlsx: is not a valid .xlsx workbook (the zip container is damaged)",
    ),
    "broken workbook xml": (
        lambda d: write_xlsx(d / "bw.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                             extra_parts={"xl/workbook.xml": "<workbook><sheets>"}),
        "bw.xlsx: has a damaged part xl/workbook.xml",
    ),
    "sheet part missing": (
        lambda d: _drop_part(_plain(d), "xl/worksheets/sheet1.xml"),
        "sheet 'Data': is damaged: the sheet's cells are missing",
    ),
    "xml bomb in shared strings": (
        lambda d: write_xlsx(d / "bomb.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                             extra_parts={"xl/sharedStrings.xml": BILLION_LAUGHS}),
        "bomb.xlsx: declares XML entities in xl/sharedStrings.xml (a possible XML bomb); it was not opened.",
    ),
    "doctype after a comment in the worksheet": (
        lambda d: write_xlsx(d / "c.xlsx", [("Data", "visible",
                             '<?xml version="1.0"?><!-- hi <a> --><!DOCTYPE x [<!ENTITY e "e">]><worksheet/>')]),
        "declares XML entities in xl/worksheets/sheet1.xml",
    ),
    "doctype in a utf-16 part": (
        lambda d: write_xlsx(d / "u.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                             extra_parts={"xl/styles.xml": '<?xml version="1.0" encoding="UTF-16"?>'
                                          '<!DOCTYPE s [<!ENTITY a "b">]><styleSheet/>'.encode("utf-16")}),
        "declares XML entities in xl/styles.xml",
    ),
    "zip bomb by compression ratio": (
        lambda d: write_xlsx(d / "zb.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                             extra_parts={"xl/media/blank.bin": b"\x00" * (12 * 1024 * 1024)}, compresslevel=9),
        "zb.xlsx: looks like a zip bomb: part xl/media/blank.bin inflates",
    ),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _drop_part(path: Path, name: str) -> Path:
    out = path.with_name("dropped.xlsx")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info.filename))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_one_clear_line(case, tmp_path, monkeypatch):
    build, expected = CASES[case]
    path = build(tmp_path)

    def never(*_a, **_k):  # pragma: no cover - only on failure
        raise AssertionError("calamine was asked to parse a file that should have been refused")

    if "bomb" in case or "doctype" in case:
        monkeypatch.setattr(xlsx_reader.CalamineWorkbook, "from_path", never)
    assert expected in refused(path)


def test_an_ods_bomb_is_refused_before_calamine_sees_it(tmp_path, monkeypatch):
    from batchops.sheets import book_reader

    def never(*_a, **_k):  # pragma: no cover - only on failure
        raise AssertionError("calamine was asked to parse a file that should have been refused")

    monkeypatch.setattr(book_reader.CalamineWorkbook, "from_path", never)
    path = _zip(tmp_path / "bomb.ods", {"mimetype": "application/vnd.oasis.opendocument.spreadsheet",
                                        "content.xml": BILLION_LAUGHS})
    assert refused(path) == ("bomb.ods: declares XML entities in content.xml (a possible XML bomb); it was not "
                             "opened. Save the workbook again from Excel or LibreOffice, or ask for a fresh copy.")


def test_encrypted_workbook_says_remove_the_password(tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _plain(tmp_path)
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as src, locked.open("wb") as dst:
        OOXMLFile(src).encrypt("secret", dst)
    assert refused(locked) == (
        "locked.xlsx: is protected with a password, so batchops cannot read it. Remove the password "
        "(File > Info > Protect Workbook > Encrypt with Password) and save it."
    )


def test_a_file_over_the_size_limit(tmp_path):
    assert refused(_plain(tmp_path), max_bytes=100).endswith(
        "more than the limit of 100 bytes. Split the rows into several smaller files."
    )


def test_a_package_over_the_unpacked_limit(tmp_path):
    text = refused(_plain(tmp_path), max_unpacked_bytes=500)
    assert "unpacks to" in text and text.endswith("Split the rows into several smaller workbooks.")


def test_too_many_rows_in_a_workbook(tmp_path):
    assert refused(_plain(tmp_path), max_rows=1) == (
        "plain.xlsx, sheet 'Data': has more than 1 data rows. Split the rows into several smaller files."
    )


def test_permission_denied(tmp_path, monkeypatch):
    path = _plain(tmp_path)
    real_open = Path.open

    def deny(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    assert refused(path) == (
        "plain.xlsx: cannot be read: permission denied. "
        "Check the file's permissions, or close it in any program that locks it."
    )


def test_calamine_failures_are_wrapped(tmp_path, monkeypatch):
    def fail(*_a, **_k):
        raise ValueError("unexpected end of file")

    monkeypatch.setattr(xlsx_reader.CalamineWorkbook, "from_path", fail)
    with pytest.raises(SheetError) as info:
        read_table(_plain(tmp_path))
    assert str(info.value) == (
        "plain.xlsx: is damaged and could not be read as a workbook. "
        "Open it in Excel or LibreOffice and save it again as .xlsx."
    )
    assert "unexpected end of file" not in str(info.value)  # a library's own words never reach the user
    assert isinstance(info.value.__cause__, ValueError)


def _formatted_rows(path: Path, n: int) -> Path:
    rows = "".join(
        f'<row r="{i}" s="1" customFormat="1"><c r="A{i}" s="1"/><c r="B{i}" s="1"/></row>' for i in range(3, n + 1)
    )
    xml = (f'{DECL}<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
           f'</row><row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c></row>{rows}</sheetData></worksheet>')
    return write_xlsx(path, [("Data", "visible", xml)], compresslevel=1)


def test_many_formatted_empty_rows_are_skipped_quickly(tmp_path):
    path = _formatted_rows(tmp_path / "fmt.xlsx", 100_000)
    start = time.perf_counter()
    table = read_table(path)
    assert time.perf_counter() - start < 2.0
    assert (table.rows, table.row_numbers) == ([["x"]], [2])


@pytest.mark.slow
def test_a_million_formatted_empty_rows_read_in_a_few_seconds(tmp_path):
    path = _formatted_rows(tmp_path / "million.xlsx", 1_048_576)
    start = time.perf_counter()
    table = read_table(path)
    assert time.perf_counter() - start < 5.0
    assert (table.rows, table.row_numbers) == ([["x"]], [2])
