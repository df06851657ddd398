"""Reading .xlsx workbooks: raw values, real row numbers, damage, sheets and the template stamp."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font
from sheet_builders import sheet_xml, simple_xlsx, write_xlsx

from batchops.errors import SheetError
from batchops.sheets import STAMP_SHEET, CellDamage, Damage, Stamp, read_table

DATA = Path(__file__).parent / "data"


@pytest.fixture
def workbook(tmp_path: Path):
    """Save an openpyxl workbook made by ``build(ws)`` and return its path."""

    def make(build, name: str = "book.xlsx") -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Data"
        build(ws)
        path = tmp_path / name
        wb.save(path)
        return path

    return make


# --- A workbook written by LibreOffice (tests/data/README.md says how it was made) -------------


def test_libreoffice_workbook_skips_the_hidden_first_sheet_and_keeps_raw_types():
    table = read_table(DATA / "lo_agents.xlsx")
    assert table.kind == "xlsx"
    assert table.sheet == "Agents"
    assert table.header_row == 1
    assert table.headers == ["id", "userId", "callType", "callerPresent", "callNumber", "phone", "updated"]
    assert table.columns == [0, 1, 2, 3, 4, 5, 6]
    assert table.row_numbers == [2, 3, 5, 6]  # row 4 is blank, and keeps its number
    first, second = table.rows[0], table.rows[1]
    assert first == ["00123", "1307145259662215123", 1.0, "123,456", "13800138000", 13800138000.0,
                     dt.datetime(2024, 5, 1, 13, 30)]
    # A numeric cell stays a float: the 19-digit ID LibreOffice stored with 15 digits is visible as such.
    assert second[0] == 12323.0 and isinstance(second[0], float)
    assert second[1] == 1.30714525966222e18 and isinstance(second[1], float)
    assert second[4] is None
    assert second[6] == dt.date(2024, 5, 2)


def test_libreoffice_workbook_reports_formulas_error_values_and_merged_cells():
    damage = read_table(DATA / "lo_agents.xlsx").damage
    assert damage == {
        (5, 3): CellDamage(Damage.MERGED, "D5:E5"),
        (5, 4): CellDamage(Damage.MERGED, "D5:E5"),
        (6, 2): CellDamage(Damage.FORMULA, "=1+1"),
        (6, 3): CellDamage(Damage.ERROR_VALUE, "#N/A"),
        (6, 4): CellDamage(Damage.ERROR_VALUE, "#DIV/0!"),
    }


def test_libreoffice_workbook_carries_the_template_stamp():
    stamp = read_table(DATA / "lo_agents.xlsx").stamp
    assert stamp == Stamp(operation="agent-settings", fingerprint="3f2a9c", version="1")


def test_libreoffice_csv_import_with_text_columns_keeps_leading_zeros():
    table = read_table(DATA / "lo_from_csv.xlsx")
    assert table.headers == ["id", "userId", "callType", "callNumber", "phone"]
    assert table.row_numbers == [2, 3, 5]
    assert table.rows[0] == ["00123", "1307145259662215123", 1.0, "123,456", 13800138000.0]
    assert table.rows[2][0] == "00999"


def test_openpyxl_and_libreoffice_workbooks_read_the_same(workbook):
    def build(ws):
        ws.append(["id", "userId", "callType", "callNumber", "phone"])
        ws.append(["00123", "1307145259662215123", 1, "123,456", 13800138000])
        ws.append(["12323", "1307145259662215123", 2, "7", 13800138001])
        ws.append([])
        ws.append(["00999", "42", 0, "1,2,3", 13800138002])

    mine, theirs = read_table(workbook(build)), read_table(DATA / "lo_from_csv.xlsx")
    assert (mine.headers, mine.rows, mine.row_numbers) == (theirs.headers, theirs.rows, theirs.row_numbers)


# --- Sheets ----------------------------------------------------------------------------------


def test_a_named_sheet_is_read_even_when_hidden_and_names_match_case_insensitively():
    assert read_table(DATA / "lo_agents.xlsx", sheet="Notes").headers == [
        "This hidden sheet comes first; the reader must skip it."
    ]
    assert read_table(DATA / "lo_agents.xlsx", sheet="agents").sheet == "Agents"


def test_an_unknown_sheet_lists_the_sheets_there_are():
    with pytest.raises(SheetError) as info:
        read_table(DATA / "lo_agents.xlsx", sheet="Agentz")
    assert str(info.value) == (
        "lo_agents.xlsx: has no sheet 'Agentz'; its sheets are 'Notes' (hidden), 'Agents'. "
        "Pass one of those names to --sheet."
    )


def test_very_hidden_sheets_are_skipped_and_no_visible_sheet_is_an_error(tmp_path):
    rows = sheet_xml({1: ["id"], 2: ["x"]})
    path = write_xlsx(tmp_path / "b.xlsx", [("Secret", "veryHidden", rows), ("Shown", "visible", rows)])
    assert read_table(path).sheet == "Shown"
    path = write_xlsx(tmp_path / "c.xlsx", [("Secret", "veryHidden", rows), ("Other", "hidden", rows)])
    with pytest.raises(SheetError, match=r"has no visible worksheet \(sheets: 'Secret' \(hidden\), 'Other' \(hidden\)\)"):
        read_table(path)


def test_a_visible_stamp_sheet_is_never_taken_for_the_data(tmp_path):
    stamp = sheet_xml({1: ["operation", "called-route"], 2: ["fingerprint", "ab12"], 3: ["version", 2.0]})
    data = sheet_xml({1: ["id", "devicetype"], 2: ["7", 1.0]})
    path = write_xlsx(tmp_path / "s.xlsx", [(STAMP_SHEET, "visible", stamp), ("Rows", "visible", data)])
    table = read_table(path)
    assert table.sheet == "Rows"
    assert table.stamp == Stamp("called-route", "ab12", "2")


def test_a_stamp_without_an_operation_is_a_warning(tmp_path):
    stamp = sheet_xml({1: ["fingerprint", "ab12"]})
    path = write_xlsx(tmp_path / "s.xlsx", [("Rows", "visible", sheet_xml({1: ["id"]})), (STAMP_SHEET, "hidden", stamp)])
    table = read_table(path)
    assert table.stamp is None
    assert table.warnings == ["The template stamp sheet '_batchops' names no operation."]


# --- Layout ----------------------------------------------------------------------------------


def test_data_away_from_a1_keeps_real_row_numbers_and_column_indexes(workbook):
    def build(ws):
        ws["C3"], ws["D3"] = " id ", "name"
        ws["C4"], ws["D4"] = "a", "b"
        ws["D7"] = "only d"

    table = read_table(workbook(build))
    assert (table.header_row, table.headers, table.columns) == (3, ["id", "name"], [2, 3])
    assert table.rows == [["a", "b"], [None, "only d"]]
    assert table.row_numbers == [4, 7]


def test_headers_only_is_zero_rows_not_an_error(workbook):
    table = read_table(workbook(lambda ws: ws.append(["id", "userId"])))
    assert (table.headers, table.rows, table.row_numbers) == (["id", "userId"], [], [])


def test_an_empty_sheet_has_no_header_row(workbook):
    with pytest.raises(SheetError) as info:
        read_table(workbook(lambda ws: None))
    assert str(info.value) == (
        "book.xlsx, sheet 'Data': has no header row: the sheet is empty. "
        "Put the column headers in the first row and the data below them."
    )


def test_a_column_with_data_but_no_header_is_named(workbook):
    def build(ws):
        ws.append(["id", None, "name"])
        ws.append(["1", None, "x"])
        ws.append(["2", "stray", "y"])

    with pytest.raises(SheetError) as info:
        read_table(workbook(build))
    assert str(info.value) == (
        "book.xlsx, sheet 'Data', column B: holds data (first in row 3) but has no header in row 1. "
        "Type a header in cell B1, or delete the column."
    )


def test_empty_header_columns_without_data_are_ignored(workbook):
    def build(ws):
        ws.append(["id", None, "name"])
        ws.append(["1", None, "x"])

    table = read_table(workbook(build))
    assert (table.headers, table.columns, table.rows) == (["id", "name"], [0, 2], [["1", "x"]])


def test_a_merged_header_says_so(workbook):
    def build(ws):
        ws.append(["id", "name", None])
        ws.append(["1", "x", "y"])
        ws.merge_cells("B1:C1")

    with pytest.raises(SheetError, match=r"column C: .*part of the merged range B1:C1; unmerge it"):
        read_table(workbook(build))


def test_duplicated_and_numeric_headers_are_given_faithfully(workbook):
    def build(ws):
        ws.append(["id", "id ", 2024, "  "])
        ws.append(["1", "2", "3"])

    table = read_table(workbook(build))
    assert table.headers == ["id", "id", "2024"]


def test_trailing_formatted_rows_and_whitespace_only_rows_are_left_out(workbook):
    def build(ws):
        ws.append(["id"])
        ws.append(["1"])
        ws.append(["   "])
        ws.append(["2"])
        for row in range(5, 3000):
            ws.cell(row, 1).font = Font(bold=True)
            ws.cell(row, 9).font = Font(bold=True)

    table = read_table(workbook(build))
    assert (table.rows, table.row_numbers, table.columns) == ([["1"], ["2"]], [2, 4], [0])


def test_a_ten_thousand_character_cell_is_read_whole(workbook):
    long = "x" * 10_000

    def build(ws):
        ws.append(["remark"])
        ws.append([long])

    assert read_table(workbook(build)).rows == [[long]]


def test_values_keep_their_raw_types(workbook):
    def build(ws):
        ws.append(["text", "number", "flag", "when", "time"])
        ws.append(["0012", 1.307145259662215e18, True, dt.datetime(2024, 1, 2, 3, 4, 5), dt.time(9, 30)])

    row = read_table(workbook(build)).rows[0]
    assert row == ["0012", 1.307145259662215e18, True, dt.datetime(2024, 1, 2, 3, 4, 5), dt.time(9, 30)]
    assert isinstance(row[1], float)


# --- Damage ----------------------------------------------------------------------------------


def test_formulas_without_cached_values_are_found_even_past_the_last_value(tmp_path):
    rows = {1: ["id", "n"], 2: ["a", 1.0], 9: [None, ("f", "SUM(B2:B3)")]}
    table = read_table(simple_xlsx(tmp_path / "f.xlsx", rows))
    assert table.row_numbers == [2, 9]
    assert table.rows[1] == [None, None]
    assert table.damage == {(9, 1): CellDamage(Damage.FORMULA, "=SUM(B2:B3)")}


def test_formula_text_is_unescaped_and_shared_formulas_take_the_masters_text(tmp_path):
    xml = sheet_xml(
        {1: ["id", "n"], 2: ["a", 1.0]},
        extra_rows='<row r="3"><c r="A3"><f t="shared" ref="A3:A4" si="0">B2&amp;"&lt;x&gt;"</f><v>1</v></c></row>'
        '<row r="4"><c r="A4"><f t="shared" si="0"/><v>1</v></c></row>',
    )
    table = read_table(write_xlsx(tmp_path / "s.xlsx", [("Data", "visible", xml)]))
    assert table.damage == {
        (3, 0): CellDamage(Damage.FORMULA, '=B2&"<x>"'),
        (4, 0): CellDamage(Damage.FORMULA, '=B2&"<x>"'),
    }


def test_error_values_are_found(tmp_path):
    rows = {1: ["id", "n"], 2: ["a", ("e", "#REF!")], 3: [("e", "#N/A"), 2.0]}
    table = read_table(simple_xlsx(tmp_path / "e.xlsx", rows))
    assert table.damage == {
        (2, 1): CellDamage(Damage.ERROR_VALUE, "#REF!"),
        (3, 0): CellDamage(Damage.ERROR_VALUE, "#N/A"),
    }
    assert table.rows == [["a", None], [None, 2.0]]


def test_cells_without_references_are_positioned_by_counting(tmp_path):
    xml = (
        f'<worksheet xmlns="{"http://schemas.openxmlformats.org/spreadsheetml/2006/main"}"><sheetData>'
        '<row><c t="inlineStr"><is><t>id</t></is></c><c t="inlineStr"><is><t>n</t></is></c></row>'
        '<row><c t="inlineStr"><is><t>a</t></is></c><c><f>1+1</f><v>2</v></c></row>'
        '<row><c t="e"><v>#N/A</v></c><c><v>3</v></c></row>'
        "</sheetData></worksheet>"
    )
    table = read_table(write_xlsx(tmp_path / "n.xlsx", [("Data", "visible", xml)]))
    assert table.rows == [["a", 2.0], [None, 3.0]]
    assert table.damage == {
        (2, 1): CellDamage(Damage.FORMULA, "=1+1"),
        (3, 0): CellDamage(Damage.ERROR_VALUE, "#N/A"),
    }


def test_prefixed_spreadsheetml_is_scanned_too(tmp_path):
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = (
        f'<x:worksheet xmlns:x="{ns}"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>id</x:t></x:is></x:c></x:row>'
        '<x:row r="2"><x:c r="A2"><x:f>1+1</x:f><x:v>2</x:v></x:c></x:row>'
        '</x:sheetData><x:mergeCells><x:mergeCell ref="A3:A4"/></x:mergeCells></x:worksheet>'
    )
    table = read_table(write_xlsx(tmp_path / "p.xlsx", [("Data", "visible", xml)]))
    assert table.damage == {(2, 0): CellDamage(Damage.FORMULA, "=1+1")}


def test_a_tall_merge_marks_only_the_data_rows_it_covers(tmp_path):
    rows = {1: ["id", "name"], **{i: [str(i), "n"] for i in range(2, 6)}}
    tail = '<mergeCells count="1"><mergeCell ref="B3:B1048576"/></mergeCells>'
    damage = read_table(simple_xlsx(tmp_path / "m.xlsx", rows, tail=tail)).damage
    assert sorted(damage) == [(3, 1), (4, 1), (5, 1)]
    assert damage[(3, 1)] == CellDamage(Damage.MERGED, "B3:B1048576")


def test_an_empty_merge_outside_the_headers_is_ignored(tmp_path):
    tail = '<mergeCells count="1"><mergeCell ref="E2:F3"/></mergeCells>'
    table = read_table(simple_xlsx(tmp_path / "m.xlsx", {1: ["id"], 2: ["1"]}, tail=tail))
    assert (table.rows, table.damage) == ([["1"]], {})


def test_the_common_case_scans_no_cells(tmp_path, monkeypatch):
    from batchops.sheets import xlsx_damage

    def boom(*_a, **_k):  # pragma: no cover - called only on failure
        raise AssertionError("per-cell scan ran on a sheet without markers")

    monkeypatch.setattr(xlsx_damage, "_scan_cells_by_reference", boom)
    monkeypatch.setattr(xlsx_damage, "_scan_cells_by_position", boom)
    table = read_table(simple_xlsx(tmp_path / "plain.xlsx", {1: ["id"], 2: ["fine"]}))
    assert table.damage == {}


def test_a_macro_enabled_workbook_is_read_and_its_macros_never_run(tmp_path):
    # .xlsm is the same package with a vbaProject part; calamine reads values only.
    path = simple_xlsx(tmp_path / "macros.xlsm", {1: ["id"], 2: ["7"]}, extra_parts={"xl/vbaProject.bin": b"\x00" * 64})
    assert read_table(path).rows == [["7"]]


def test_zip_entries_read_in_any_order(tmp_path):
    src = simple_xlsx(tmp_path / "a.xlsx", {1: ["id"], 2: ["x"]})
    dst = tmp_path / "b.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in reversed(zin.infolist()):
            zout.writestr(info, zin.read(info.filename))
    assert read_table(dst).rows == [["x"]]


# --- Spreadsheets people actually have (issue 11): each defect by name, and built here -------------

FOREIGN = Path(__file__).resolve().parents[1].parent / "shared" / "foreign-workbooks"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def foreign(name: str) -> Path:
    if not FOREIGN.is_dir():
        pytest.skip(f"{FOREIGN} is not here (it holds other projects' test workbooks; CI has it)")
    return FOREIGN / name


def _moved(path: Path, folder: str) -> Path:
    """A copy of ``path`` whose workbook part lives in ``folder`` (``""``: the package root)."""
    out = path.with_name("moved.xlsx")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            name = info.filename
            if name.startswith("xl/"):
                name = (folder + "/" if folder else "") + name[3:]
            if name == "_rels/.rels":
                data = data.replace(b'Target="xl/workbook.xml"', f'Target="{folder}/workbook.xml"'.encode()
                                    if folder else b'Target="workbook.xml"')
            if name.endswith("[Content_Types].xml"):
                data = data.replace(b'PartName="/xl/', f'PartName="/{folder}/'.encode() if folder else b'PartName="/')
            zout.writestr(name, data)
    return out


@pytest.mark.parametrize("folder", ["", "wtf"])
def test_a_workbook_part_where_the_package_relationships_put_it_is_read(tmp_path, folder):
    path = _moved(simple_xlsx(tmp_path / "book.xlsx", {1: ["id", "name"], 2: ["1", "a"]}), folder)
    table = read_table(path)
    assert (table.sheet, table.headers, table.rows) == ("Data", ["id", "name"], [["1", "a"]])


@pytest.mark.parametrize("name", ["calamine__minimal_package.xlsx", "sheetjs__wtf_path.xlsx"])
def test_issue_11_workbooks_with_their_workbook_part_elsewhere_are_not_called_a_zip(name):
    with pytest.raises(SheetError) as info:  # they are read: what stops them is their own layout
        read_table(foreign(name))
    assert "zip archive" not in str(info.value) and "holds data" in str(info.value)


def _with_macro_sheet(tmp_path: Path) -> Path:
    workbook = ('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                f'xmlns:r="{REL}"><sheets><sheet name="Macro1" sheetId="2" r:id="rId2"/>'
                '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rels = (f'<?xml version="1.0"?><Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet" '
            'Target="macrosheets/sheet1.xml"/></Relationships>')
    return write_xlsx(tmp_path / "macro.xlsm", [("Data", "visible", sheet_xml({1: ["id"], 2: ["7"]}))],
                      extra_parts={"xl/workbook.xml": workbook, "xl/_rels/workbook.xml.rels": rels,
                                   "xl/macrosheets/sheet1.xml": sheet_xml({1: [("f", "HALT()")]})})


def test_a_workbook_with_an_excel_4_macro_sheet_reads_its_worksheets(tmp_path):
    path = _with_macro_sheet(tmp_path)
    table = read_table(path)
    assert (table.sheet, table.headers, table.rows) == ("Data", ["id"], [["7"]])
    with pytest.raises(SheetError) as info:
        read_table(path, "Macro1")
    assert str(info.value) == ("macro.xlsm, sheet 'Macro1': is an Excel 4 macro sheet, not a sheet of cells. "
                               "Name the sheet with the rows with --sheet (worksheets: 'Data').")


@pytest.mark.parametrize("name", ["poi__xlmmacro.xlsm", "sheetjs__BlankSheetTypes.xlsm"])
def test_issue_11_macro_and_dialog_sheet_workbooks_are_read_and_no_library_text_reaches_the_user(name):
    with pytest.raises(SheetError) as info:
        read_table(foreign(name))
    text = str(info.value)
    assert text == f"{name}, sheet 'Sheet1': has no header row: the sheet is empty. Put the column headers in the " \
                   "first row and the data below them."
    assert "Unrecognized" not in text and "save it as .xlsx" not in text


def test_a_column_of_formula_errors_is_named_not_called_empty(tmp_path):
    path = simple_xlsx(tmp_path / "errors.xlsx", {1: [("e", "#DIV/0!")], 2: [("e", "#NAME?")], 3: [("e", "#REF!")]})
    with pytest.raises(SheetError) as info:
        read_table(path)
    assert str(info.value) == (
        "errors.xlsx, sheet 'Data': has no header row: its only cells hold error values (A1 #DIV/0!, A2 #NAME?, "
        "A3 #REF!). Fix or delete those formulas, or replace them with their values (Copy, then Paste Special > "
        "Values). Put the column headers in the first row and the data below them."
    )


def test_issue_11_calamine_errors_names_its_error_cells():
    with pytest.raises(SheetError) as info:
        read_table(foreign("calamine__errors.xlsx"))
    assert "its only cells hold error values (A1 #DIV/0!, A2 #NAME?, A3 #VALUE!, A4 #NULL!, A5 #REF! and 2 more)" \
        in str(info.value)


def test_a_picture_placed_in_a_cell_is_called_a_picture(tmp_path):
    sheet = sheet_xml({}, extra_rows='<row r="1"><c r="A1" t="e" vm="1"><v>#VALUE!</v></c></row>')
    path = write_xlsx(tmp_path / "pic.xlsx", [("Data", "visible", sheet)])
    with pytest.raises(SheetError) as info:
        read_table(path)
    assert str(info.value) == (
        "pic.xlsx, sheet 'Data': has no header row: its only cells hold pictures placed in cells (A1). batchops "
        "reads text and numbers, not pictures. Put the column headers in the first row and the data below them."
    )


def test_a_damaged_package_relationship_part_is_named(tmp_path):
    path = simple_xlsx(tmp_path / "book.xlsx", {1: ["id"]}, extra_parts={"_rels/.rels": "CORRUPTED"})
    with pytest.raises(SheetError) as info:
        read_table(path)
    assert str(info.value) == ("book.xlsx: has a damaged part _rels/.rels. Open it in Excel or LibreOffice and save "
                               "it as an Excel workbook (.xlsx).")
