"""Streaming xlsx and CSV writers: cells Excel cannot damage, formula injection neutralised, flat memory."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from batchops.sheets.writeback import add_sheet
from batchops.sheets.writer import (
    SheetSpec,
    info_sheet,
    neutralise_csv_text,
    restore_csv_text,
    write_csv,
    write_xlsx,
)
from batchops.sheets.xlsx_package import Link

ID19 = "1307145259662215123"


def test_ids_stay_text_with_leading_zeros_and_all_digits(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "agents.xlsx",
        [
            SheetSpec(
                "Agents",
                ["workNo", "sipAccount", "count"],
                [["0012", ID19, 3], [12, 1307145259662215123, 12345678901234567890]],
                text_columns={0, 1},
            )
        ],
    )
    ws = openpyxl.load_workbook(path)["Agents"]
    assert [c.value for c in ws[2]] == ["0012", ID19, 3]
    assert [c.value for c in ws[3]] == ["12", ID19, "12345678901234567890"]
    assert ws["A2"].data_type == "s" and ws["A2"].number_format == "@"
    assert ws["C2"].data_type == "n" and ws["C2"].number_format == "General"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C3"
    assert ws["A1"].font.b


@pytest.mark.parametrize("value", ["=1+1", "+8613800000000", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_kept_as_text_with_quote_prefix(tmp_path: Path, value: str) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("S", ["v", "w"], [[value, value]], text_columns={0})])
    ws = openpyxl.load_workbook(path)["S"]
    for cell in (ws["A2"], ws["B2"]):
        # openpyxl leaves Excel's escape of a CR (_x000D_) as it is; Excel and calamine decode it.
        assert cell.value == value.replace("\r", "_x000D_") and cell.data_type == "s" and cell.quotePrefix


def test_hidden_sheets_and_info_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "x.xlsx",
        [
            SheetSpec("_lists", ["v"], [["a"]], hidden=True),
            SheetSpec("Agents", ["workNo"], [["1"]]),
            info_sheet({"SIP server": "10.0.0.1", "port": 5060}),
        ],
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["_lists", "Agents", "Info"]
    assert wb["_lists"].sheet_state == "hidden"
    assert wb.active.title == "Agents"
    assert list(wb["Info"].values) == [("key", "value"), ("SIP server", "10.0.0.1"), ("port", "5060")]


def test_writer_refuses_all_hidden_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="visible"):
        write_xlsx(tmp_path / "x.xlsx", [SheetSpec("A", ["v"], [], hidden=True)])
    with pytest.raises(ValueError):
        write_xlsx(tmp_path / "x.xlsx", [SheetSpec("a/b", ["v"], [])])
    assert list(tmp_path.iterdir()) == []  # no half-written file


def test_xlsx_memory_stays_flat(tmp_path: Path) -> None:
    def rows(n: int) -> Iterator[list[str]]:
        for i in range(n):
            yield [f"{i:06d}", f"sip{i:08d}", "0" * 19, "agent name", "+86138000"]

    peaks = []
    for n in (3_000, 24_000):  # both past the first chunk of rows and of deflate input
        tracemalloc.start()
        write_xlsx(tmp_path / "big.xlsx", [SheetSpec("Agents", ["a", "b", "c", "d", "e"], rows(n))])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.2  # eight times the rows, the same memory


def test_csv_is_utf8_bom_crlf_and_neutralised(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "x.csv",
        ["id", "name", "n"],
        [["0012", "=cmd|' /C calc'!A0", -5], [ID19, '李雷, "quoted"', None], ["+86", "@x", 1.0]],
    )
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["id", "name", "n"],
        ["0012", "'=cmd|' /C calc'!A0", "-5"],
        [ID19, '李雷, "quoted"', ""],
        ["'+86", "'@x", "1"],
    ]


def test_csv_guard_round_trips() -> None:
    for text in ["=1", "+86", "-", "@", "\tx", "\rx", "plain", "'quoted", "", "'", "''", "'=x", "''-x", "'0012"]:
        assert restore_csv_text(neutralise_csv_text(text)) == text
    assert neutralise_csv_text("plain") == "plain"
    assert neutralise_csv_text("-1") == "'-1"
    assert neutralise_csv_text("'=x") == "''=x"  # an apostrophe of the value's own is kept
    assert neutralise_csv_text("'0012") == "'0012"


def test_a_typed_apostrophe_means_text_only_before_a_formula_character() -> None:
    assert restore_csv_text("'-call back") == "-call back"
    assert restore_csv_text("''=x") == "'=x"
    assert restore_csv_text("'0012") == "'0012"
    assert restore_csv_text("'tis") == "'tis"


def calamine_rows(path: Path, sheet: str) -> list[list[object]]:
    """A sheet's values as calamine (the reader batchops uses) decodes them."""
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


AWKWARD = ["a\rb", "ctl\x01\x1f", "_x0041_", "lone \ud800", " lead", "trail ", "two\nlines", "&<>\"'", "李雷"]


def test_awkward_text_reads_back_exactly(tmp_path: Path) -> None:
    # CR and control characters as _xHHHH_, a literal _x0041_ protected, a lone surrogate escaped.
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("S", ["v"], [[v] for v in AWKWARD])])
    # A lone surrogate is not text UTF-8 can hold: written escaped, rather than failing the export.
    expected = [v.replace("\ud800", "_xD800_") for v in AWKWARD]
    assert [row[0] for row in calamine_rows(path, "S")[1:]] == expected


def test_cell_types_in_text_and_other_columns(tmp_path: Path) -> None:
    row = [5.0, 2.5, True, float("inf"), 2**60, None, 7]
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("S", list("abcdefg"), [row, row], text_columns={0, 1})])
    ws = openpyxl.load_workbook(path)["S"]
    assert [c.value for c in ws[2]] == ["5", "2.5", True, "inf", str(2**60), None, 7]
    assert [ws.cell(2, j).number_format for j in (1, 2, 7)] == ["@", "@", "General"]
    assert ws.column_dimensions["A"].number_format == "@"  # typed later, a value stays text too


def test_the_package_has_no_formula_and_no_shared_strings(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("S", ["v"], [["=1+1"], [ID19]])])
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        sheet = zf.read("xl/worksheets/sheet1.xml")
    assert names[0] == "[Content_Types].xml" and "xl/sharedStrings.xml" not in names
    assert b"<f>" not in sheet and b't="inlineStr"' in sheet


def test_only_the_first_visible_sheet_is_selected(tmp_path: Path) -> None:
    sheets = [SheetSpec("_stamp", ["k"], [], hidden=True), SheetSpec("Data", ["v"], []), info_sheet({})]
    path = write_xlsx(tmp_path / "x.xlsx", sheets)
    wb = openpyxl.load_workbook(path)
    assert [bool(ws.sheet_view.tabSelected) for ws in wb] == [False, True, False]
    assert wb.active.title == "Data" and wb["_stamp"].sheet_state == "hidden"


def test_repeated_sheet_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="used twice"):
        write_xlsx(tmp_path / "x.xlsx", [SheetSpec("Data", ["v"], []), SheetSpec("DATA", ["v"], [])])
    assert list(tmp_path.iterdir()) == []


def test_links_and_a_report_sheet_added_later(tmp_path: Path) -> None:
    # apply writes its Results sheet into an exported workbook: the two writers must agree.
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("Data", ["v"], [[Link("go", "Data", "A1")]])])
    add_sheet(path, "Results", ["row", "status"], [[2, "ok"]])
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Data", "Results"] and wb["Data"]["A2"].hyperlink.location == "'Data'!A1"
    with zipfile.ZipFile(path) as zf:
        app = zf.read("docProps/app.xml").decode()
    assert "<vt:i4>2</vt:i4>" in app and "<vt:lpstr>Results</vt:lpstr>" in app


LIBREOFFICE_CSV = "csv:Text - txt - csv (StarCalc):44,34,76"
"""Comma, double quotes, UTF-8."""


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_every_cell_as_written(tmp_path: Path) -> None:
    values = ["0012", ID19, "=1+1", "-call back", "+8613800000000", "@SUM(A1)", '=HYPERLINK("http://x","y")']
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("Data", ["v", "n"], [[v, 1] for v in values])])
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", LIBREOFFICE_CSV,
         "--outdir", str(tmp_path / "out"), str(path)],
        check=True, capture_output=True, timeout=120,
    )
    with open(tmp_path / "out" / "x.csv", encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [["v", "n"], *([v, "1"] for v in values)]
