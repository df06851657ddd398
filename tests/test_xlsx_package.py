"""Report sheets written into a workbook by editing its package: content, fidelity, saving."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.comments import Comment
from python_calamine import CalamineWorkbook

from batchops.errors import SheetError, WorkbookLocked
from batchops.sheets.writeback import add_sheet, write_report
from batchops.sheets.xlsx_package import Link, Package, check_writable

DATA = Path(__file__).parent / "data" / "writeback"
HEADERS = ["row", "key", "status", "http_status", "message"]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A small openpyxl workbook: a Data sheet with text IDs and a Lists sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["id", "userId", "callType"])
    for i in range(30):
        ws.append([f"00{i}", "1307145259662215123", str(i % 3)])
    wb.create_sheet("Lists").append(["0", "1", "2"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def result_rows(n: int) -> list[list[object]]:
    return [[i + 2, f"00{i}", "ok", 200, "Success"] for i in range(n)]


def test_results_sheet_is_added_last_and_other_parts_are_untouched(workbook: Path) -> None:
    before = parts(workbook)
    add_sheet(workbook, "Results", HEADERS, iter(result_rows(30)))
    after = parts(workbook)
    edited = {
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "[Content_Types].xml",
        "xl/styles.xml",
        "docProps/app.xml",
    }
    assert set(after) == set(before) | {"xl/worksheets/sheet3.xml"}
    for name in set(before) - edited:
        assert after[name] == before[name], name
    wb = openpyxl.load_workbook(workbook)
    assert wb.sheetnames == ["Data", "Lists", "Results"]
    assert [c.value for c in wb["Data"]["A"]][:3] == ["id", "000", "001"]
    assert wb["Data"]["B2"].value == "1307145259662215123"
    with zipfile.ZipFile(workbook) as z:
        assert z.testzip() is None


def test_results_sheet_layout(workbook: Path) -> None:
    rows = [
        [2, "1307145259662215123", "ok", 200, None],
        [3, "0012", "failed", 503, '=HYPERLINK("http://x")'],
        [4, 12345678901234567890, "invalid", None, "  spaced\nline & <tag>"],
        [5, Link("B5", "Data", "B5"), "skipped", 1.5, True],
    ]
    add_sheet(workbook, "Results", HEADERS, rows)
    ws = openpyxl.load_workbook(workbook)["Results"]
    assert [c.value for c in ws[1]] == HEADERS
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E5"
    assert ws.column_dimensions["B"].width >= len("1307145259662215123")
    assert [c.value for c in ws[2]][:4] == [2, "1307145259662215123", "ok", 200]
    assert ws["B3"].value == "0012" and ws["B3"].data_type == "s"
    assert ws["E3"].value == '=HYPERLINK("http://x")' and ws["E3"].data_type == "s"
    assert ws["E3"].quotePrefix
    assert ws["B4"].value == "12345678901234567890"
    assert ws["E4"].value == "  spaced\nline & <tag>"
    assert ws["B5"].value == "B5" and ws["B5"].hyperlink.location == "'Data'!B5"
    assert ws["D5"].value == 1.5 and ws["E5"].value is True


def test_replacing_keeps_position_and_id_and_drops_what_only_it_used(workbook: Path) -> None:
    add_sheet(workbook, "Results", HEADERS, result_rows(5))
    add_sheet(workbook, "Other", ["x"], [["y"]])
    wb = openpyxl.load_workbook(workbook)
    wb["Results"]["A1"].comment = Comment("note", "Bob")
    wb["Results"]["H1"] = "=1+1"
    wb.save(workbook)
    with zipfile.ZipFile(workbook) as z:
        n_before = len(z.namelist())
    add_sheet(workbook, "RESULTS", HEADERS, result_rows(2))
    wb = openpyxl.load_workbook(workbook)
    assert wb.sheetnames == ["Data", "Lists", "RESULTS", "Other"]
    assert wb["RESULTS"].max_row == 3 and wb["RESULTS"]["A1"].comment is None
    names = parts(workbook)
    assert not any("comment" in n for n in names) and len(names) < n_before
    assert not any("calcChain" in n for n in names)


def test_second_run_does_not_grow_styles(workbook: Path) -> None:
    add_sheet(workbook, "Results", HEADERS, result_rows(3))
    styles = parts(workbook)["xl/styles.xml"]
    add_sheet(workbook, "Results", HEADERS, result_rows(3))
    assert parts(workbook)["xl/styles.xml"] == styles


def test_workbook_made_by_libreoffice_can_be_written_back(tmp_path: Path) -> None:
    path = tmp_path / "lo.xlsx"
    shutil.copy(DATA / "libreoffice.xlsx", path)
    before = openpyxl.load_workbook(DATA / "libreoffice.xlsx")
    add_sheet(path, "Results", HEADERS, result_rows(3))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == before.sheetnames + ["Results"]
    for name in before.sheetnames:
        assert list(wb[name].values) == list(before[name].values)
    assert wb["Data"]["C4"].comment.text == before["Data"]["C4"].comment.text


def test_app_properties_list_the_new_sheet(tmp_path: Path) -> None:
    path = tmp_path / "xw.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Data").write_string(0, 0, "id")
    book.define_name("Ids", "=Data!$A:$A")
    book.close()
    add_sheet(path, "Errors", ["row"], [[1]])
    app = parts(path)["docProps/app.xml"].decode()
    assert "<vt:lpstr>Data</vt:lpstr><vt:lpstr>Errors</vt:lpstr>" in app
    assert "<vt:i4>2</vt:i4>" in app
    assert openpyxl.load_workbook(path).sheetnames == ["Data", "Errors"]


def test_dest_leaves_the_source_untouched(workbook: Path, tmp_path: Path) -> None:
    before = workbook.read_bytes()
    out = add_sheet(workbook, "Results", HEADERS, result_rows(2), dest=tmp_path / "book.results.xlsx")
    assert workbook.read_bytes() == before
    assert openpyxl.load_workbook(out).sheetnames[-1] == "Results"


def test_file_mode_is_kept_and_no_temporary_file_is_left(workbook: Path) -> None:
    os.chmod(workbook, 0o640)
    add_sheet(workbook, "Results", HEADERS, result_rows(2))
    assert stat.S_IMODE(workbook.stat().st_mode) == 0o640
    assert sorted(p.name for p in workbook.parent.iterdir()) == ["book.xlsx"]


def test_workbook_open_in_excel_is_locked(workbook: Path) -> None:
    (workbook.parent / ("~$" + workbook.name)).write_bytes(b"owner")
    before = workbook.read_bytes()
    with pytest.raises(WorkbookLocked, match="open in Excel"):
        add_sheet(workbook, "Results", HEADERS, result_rows(2))
    assert workbook.read_bytes() == before


def test_read_only_workbook_is_locked(workbook: Path) -> None:
    os.chmod(workbook, 0o444)
    with pytest.raises(WorkbookLocked, match="read-only"):
        check_writable(workbook)


def test_not_a_workbook_is_a_sheet_error(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(SheetError, match="not an xlsx workbook"):
        add_sheet(path, "Results", HEADERS, [])


def test_bad_sheet_name_and_report_over_marked_sheet_are_refused(workbook: Path) -> None:
    with pytest.raises(ValueError, match="sheet name"):
        add_sheet(workbook, "a/b", HEADERS, [])
    with pytest.raises(ValueError, match="cannot replace"):
        write_report(workbook, sheet_name="Data", headers=HEADERS, rows=[], marks_on="data", marks=[])


def test_package_lists_sheets(workbook: Path) -> None:
    with Package(workbook) as package:
        sheets = package.sheets()
    assert [(s.name, s.index, s.part) for s in sheets] == [
        ("Data", 0, "xl/worksheets/sheet1.xml"),
        ("Lists", 1, "xl/worksheets/sheet2.xml"),
    ]


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1, max_size=30
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_TEXT, min_size=1, max_size=5))
def test_any_text_reads_back_exactly(workbook: Path, tmp_path: Path, values: list[str]) -> None:
    # Characters XML cannot hold travel as Excel's _xHHHH_ escapes, which Excel, LibreOffice and
    # calamine decode (openpyxl does not, so it is not the judge here).
    out = add_sheet(workbook, "Results", ["value"], [[v] for v in values], dest=tmp_path / "out.xlsx")
    got = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Results").to_python(skip_empty_area=False)
    assert [str(r[0]) for r in got[1:]] == values


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_written_workbook(workbook: Path, tmp_path: Path) -> None:
    write_report(
        workbook,
        sheet_name="Errors",
        headers=["cell", "message"],
        rows=[[Link("B3", "Data", "B3"), "=bad"]],
        marks_on="Data",
        marks=[],
    )
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(workbook)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with open(tmp_path / "book.csv", encoding="utf-8", errors="replace") as f:
        rows = list(csv.reader(f))
    assert rows[1] == ["000", "1307145259662215123", "0"] and len(rows) == 31
