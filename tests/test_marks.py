"""Cell marks: highlight and comment the offending cells, replace them on the next run, clear them."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment

from batchops.errors import SheetError
from batchops.sheets.marks import CellMark, _sqref, clear_marks, mark_cells
from batchops.sheets.writeback import write_report
from batchops.sheets.xlsx_package import Link

DATA = Path(__file__).parent / "data" / "writeback"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A Data sheet of 40 rows with a user's comment on C4, and a second sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["id", "userId", "callType"])
    for i in range(40):
        ws.append([f"00{i}", "1307145259662215123", str(i % 3)])
    ws["C4"].comment = Comment("checked by Alice", "Alice")
    wb.create_sheet("Lists").append(["0", "1", "2"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def comments(path: Path, sheet: str = "Data") -> dict[str, str]:
    ws = openpyxl.load_workbook(path)[sheet]
    return {c.coordinate: c.comment.text for row in ws.iter_rows() for c in row if c.comment}


def highlighted(path: Path, sheet: str = "Data") -> list[str]:
    ws = openpyxl.load_workbook(path)[sheet]
    return [str(cf.sqref) for cf in ws.conditional_formatting]


def sheet_xml(path: Path, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(part)


def test_marked_cells_are_highlighted_and_commented(workbook: Path) -> None:
    mark_cells(
        workbook,
        "Data",
        [
            CellMark(3, 1, "19 digits, typed as a number"),
            CellMark(3, 1, "duplicate"),
            CellMark(60, 5, "beyond the data"),
        ],
    )
    assert comments(workbook) == {
        "B3": "batchops:\n19 digits, typed as a number\nduplicate",
        "C4": "checked by Alice",
        "F60": "batchops:\nbeyond the data",
    }
    ws = openpyxl.load_workbook(workbook)["Data"]
    (cf,) = ws.conditional_formatting
    assert str(cf.sqref) == "B3 F60"
    assert cf.rules[0].formula == ['"batchops-mark"<>""']
    assert cf.rules[0].dxf.fill.bgColor.rgb == "FFFFC7CE"
    assert ws["B3"].value == "1307145259662215123"  # values are never touched


def test_rows_of_the_data_sheet_are_copied_unchanged(workbook: Path) -> None:
    before = sheet_xml(workbook)
    mark_cells(workbook, "Data", [CellMark(5, 0, "bad")])
    after = sheet_xml(workbook)
    end = before.index(b"</sheetData>")
    assert after[:end] == before[:end]


def test_cell_with_a_user_comment_is_highlighted_but_keeps_its_comment(workbook: Path) -> None:
    mark_cells(workbook, "Data", [CellMark(4, 2, "callType must be 0, 1 or 2")])
    assert comments(workbook) == {"C4": "checked by Alice"}
    assert highlighted(workbook) == ["C4"]


def test_second_run_replaces_the_marks_of_the_first(workbook: Path) -> None:
    mark_cells(workbook, "Data", [CellMark(3, 1, "first"), CellMark(7, 0, "first")])
    mark_cells(workbook, "Data", [CellMark(9, 2, "second")])
    assert comments(workbook) == {"C4": "checked by Alice", "C9": "batchops:\nsecond"}
    assert highlighted(workbook) == ["C9"]
    vml = [n for n in zipfile.ZipFile(workbook).namelist() if n.endswith(".vml")]
    with zipfile.ZipFile(workbook) as z:
        shapes = re.findall(rb"<\w+:shape\b", z.read(vml[0]))
    assert len(shapes) == 2  # Alice's note and ours, nothing left over


def test_clear_marks_restores_the_sheet_and_leaves_an_unmarked_file_alone(workbook: Path) -> None:
    pristine = sheet_xml(workbook)
    mark_cells(workbook, "Data", [CellMark(3, 1, "bad")])
    assert clear_marks(workbook) is True
    assert comments(workbook) == {"C4": "checked by Alice"}
    assert highlighted(workbook) == []
    assert sheet_xml(workbook) == pristine
    before = workbook.read_bytes()
    assert clear_marks(workbook) is False
    assert workbook.read_bytes() == before


def test_clearing_our_only_comments_removes_the_comment_parts(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["id"])
    wb.save(path)
    pristine = {n: zipfile.ZipFile(path).read(n) for n in zipfile.ZipFile(path).namelist()}
    mark_cells(path, "Sheet", [CellMark(2, 0, "empty id")])
    assert comments(path, "Sheet") == {"A2": "batchops:\nempty id"}
    clear_marks(path, "Sheet")
    after = {n: zipfile.ZipFile(path).read(n) for n in zipfile.ZipFile(path).namelist()}
    assert set(after) == set(pristine)
    assert after["xl/worksheets/sheet1.xml"] == pristine["xl/worksheets/sheet1.xml"]


def test_errors_sheet_and_marks_in_one_save(workbook: Path) -> None:
    write_report(
        workbook,
        sheet_name="Errors",
        headers=["cell", "message"],
        rows=[[Link("B3", "Data", "B3"), "bad"]],
        marks_on="Data",
        marks=[CellMark(3, 1, "bad")],
    )
    write_report(
        workbook,
        sheet_name="Errors",
        headers=["cell", "message"],
        rows=[[Link("A5", "Data", "A5"), "worse"]],
        marks_on="Data",
        marks=[CellMark(5, 0, "worse")],
    )
    wb = openpyxl.load_workbook(workbook)
    assert wb.sheetnames == ["Data", "Lists", "Errors"]
    assert wb["Errors"]["A2"].hyperlink.location == "'Data'!A5"
    assert comments(workbook) == {"C4": "checked by Alice", "A5": "batchops:\nworse"}
    write_report(
        workbook, sheet_name="Errors", headers=["cell", "message"], rows=[], marks_on="Data", marks=[]
    )
    assert comments(workbook) == {"C4": "checked by Alice"} and highlighted(workbook) == []


def test_marks_saved_by_libreoffice_are_still_recognised(tmp_path: Path) -> None:
    # LibreOffice blanks every comment author; ours are known by their "batchops:" first line.
    path = tmp_path / "lo.xlsx"
    shutil.copy(DATA / "libreoffice_marked.xlsx", path)
    assert set(comments(path)) == {"A6", "B3", "C4"}
    mark_cells(path, "Data", [CellMark(10, 2, "new")])
    assert comments(path) == {"C4": "checked by Alice", "C10": "batchops:\nnew"}
    assert highlighted(path) == ["C10"]


def test_workbook_made_by_libreoffice_can_be_marked(tmp_path: Path) -> None:
    path = tmp_path / "lo.xlsx"
    shutil.copy(DATA / "libreoffice.xlsx", path)
    mark_cells(path, "Data", [CellMark(2, 0, "bad")])
    assert comments(path) == {"A2": "batchops:\nbad", "C4": "checked by Alice"}
    assert openpyxl.load_workbook(path)["Sum"]["A1"].value == "=COUNTA(Data!A:A)"


def test_more_notes_than_one_vml_block_holds(workbook: Path) -> None:
    marks = [CellMark(r, c, f"bad {r}") for r in range(2, 602) for c in (0, 1)]
    clear_marks(workbook)
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb.save(workbook)
    mark_cells(workbook, "Data", marks)
    assert len(comments(workbook)) == 1200
    with zipfile.ZipFile(workbook) as z:
        vml = z.read("xl/drawings/vmlDrawing1.vml").decode()
    assert 'data="1,2"' in vml
    assert len(set(re.findall(r'id="(_x0000_s\d+)"', vml))) == 1200


def test_ranges_merge_runs_of_rows() -> None:
    marks = [CellMark(r, 1, "") for r in (5, 6, 7, 9)] + [CellMark(3, 0, ""), CellMark(3, 0, "")]
    assert _sqref(marks) == "A3 B5:B7 B9"


def test_unknown_sheet_is_a_sheet_error(workbook: Path) -> None:
    with pytest.raises(SheetError, match="no worksheet 'Nope'"):
        mark_cells(workbook, "Nope", [CellMark(2, 0, "x")])
