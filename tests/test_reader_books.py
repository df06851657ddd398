"""Workbooks that are not xlsx packages (.xls, WPS .et, .xlsb, .ods): read with the xlsx reader's guards,
reports written beside them."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from roundtrip_helpers import cli, rows_of

from batchops.errors import SheetError
from batchops.sheets import read_table
from batchops.sheets.table import CellDamage, Damage

DATA = Path(__file__).parent / "data"
FOREIGN = Path(__file__).resolve().parents[1].parent / "shared" / "foreign-workbooks"


def foreign(name: str) -> Path:
    if not FOREIGN.is_dir():
        pytest.skip(f"{FOREIGN} is not here (it holds other projects' test workbooks; CI has it)")
    return FOREIGN / name


def plain(value: object) -> object:
    """A number as the xlsx reader hands it (calamine gives an .xls integer as an int)."""
    return float(value) if type(value) is int else value


@pytest.mark.parametrize("name", ["lo_agents.xls", "lo_agents.ods"])
def test_an_xls_and_an_ods_read_exactly_as_the_same_workbook_saved_as_xlsx(name):
    xlsx = read_table(DATA / "lo_agents.xlsx")
    other = read_table(DATA / name)
    assert other.kind == name.rsplit(".", 1)[1]
    assert (other.sheet, other.header_row, other.headers, other.row_numbers) == (
        xlsx.sheet, xlsx.header_row, xlsx.headers, xlsx.row_numbers)  # the hidden Notes sheet is skipped
    assert [[plain(v) for v in row] for row in other.rows] == xlsx.rows
    assert other.rows[1][1] == 1.30714525966222e18  # a 19-digit ID typed as a number stays a float: seen as rounded
    assert other.stamp == xlsx.stamp
    expected = dict(xlsx.damage)
    if name.endswith(".xls"):  # a formula's text is stored compiled in .xls
        expected[(6, 2)] = CellDamage(Damage.FORMULA, "=…")
    assert other.damage == expected


def test_a_wps_et_file_is_an_xls_inside(tmp_path):
    path = tmp_path / "agents.et"
    shutil.copyfile(DATA / "lo_agents.xls", path)
    assert read_table(path).headers == read_table(DATA / "lo_agents.xls").headers


def test_formula_error_in_a_wps_et_file_is_named():
    table = read_table(foreign("sheetjs__wps_fn.et"))
    assert table.damage == {(2, 2): CellDamage(Damage.FORMULA, "=…"), (3, 2): CellDamage(Damage.ERROR_VALUE, "#VALUE!")}


def test_an_xlsb_header_in_a_merged_range_is_named():
    with pytest.raises(SheetError) as info:
        read_table(foreign("sheetjs__2013_apachepoi_Tables.xlsx.xlsb"), "Exp4")
    assert str(info.value) == (
        "sheetjs__2013_apachepoi_Tables.xlsx.xlsb, sheet 'Exp4', column B: holds data (first in row 4) but has no "
        "header in row 1 (its header cell is part of the merged range A1:J1; unmerge it). Type a header in cell "
        "B1, or delete the column."
    )


def test_xlsb_formulas_and_their_errors_are_found():
    from batchops.sheets.binary_damage import scan_xlsb

    path = foreign("poi__testVarious.xlsb")
    with zipfile.ZipFile(path) as zf:
        marks = scan_xlsb(zf, path, "mySheet1")
    assert marks.cells == {(13, 1): CellDamage(Damage.FORMULA, "=…"), (14, 1): CellDamage(Damage.ERROR_VALUE, "#NAME?"),
                           (15, 1): CellDamage(Damage.FORMULA, "=…")}


def test_a_damaged_compound_file_never_reaches_calamine(tmp_path, monkeypatch):
    from batchops.sheets import book_reader

    def never(*_a, **_k):  # pragma: no cover - only on failure
        raise AssertionError("calamine was given a damaged .xls (it can allocate without bound on one)")

    monkeypatch.setattr(book_reader.CalamineWorkbook, "from_path", never)
    data = bytearray((DATA / "lo_agents.xls").read_bytes())
    data[0x2C:0x30] = (0).to_bytes(4, "little")  # no sector allocation table at all
    path = tmp_path / "broken.xls"
    path.write_bytes(bytes(data))
    with pytest.raises(SheetError) as info:
        read_table(path)
    assert str(info.value) == ("broken.xls: is an old Excel 97-2003 workbook (.xls) that could not be read: it is "
                               "damaged. Open it in Excel or LibreOffice and save it as .xlsx.")


def test_the_xls_report_goes_beside_it_and_the_output_says_where(tmp_path, capsys):
    path = tmp_path / "agents.xls"
    shutil.copyfile(DATA / "lo_agents.xls", path)
    original = path.read_bytes()
    assert cli("validate", path) == 2
    out, err = capsys.readouterr()
    assert path.read_bytes() == original
    assert ("agents.xls: is an old Excel 97-2003 workbook (.xls), which batchops does not write into; the report "
            "was written to agents.xls.errors.xlsx instead.") in " ".join(err.split())
    assert f"Report written to {tmp_path / 'agents.xls.errors.xlsx'} (sheet 'Errors')" in out
    cells = {r["cell"]: r["code"] for r in rows_of(tmp_path / "agents.xls.errors.xlsx", "Errors")}
    assert {cells["C6"], cells["D6"], cells["E6"], cells["D5"], cells["B3"]} == {
        "formula", "error_value", "merged", "rounded"}  # the .xls reader's guards, as the xlsx reader's
    assert openpyxl.load_workbook(tmp_path / "agents.xls.errors.xlsx").sheetnames == ["Errors"]


def test_a_clean_ods_gets_no_report_and_a_stale_one_beside_it_is_removed(tmp_path):
    from batchops.sheets.writer import SheetSpec, write_xlsx

    source = tmp_path / "routes.xlsx"
    write_xlsx(source, [SheetSpec("Data", ["id", "devicetype", "deviceId"], [["1307145259662215123", "1", "2"]])])
    work = tmp_path / "ods"
    work.mkdir()
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed (it makes the .ods here)")
    import subprocess

    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    "ods", "--outdir", str(work), str(source)], check=True, capture_output=True, timeout=120)
    path = work / "routes.ods"
    stale = work / "routes.ods.errors.xlsx"
    stale.write_bytes(b"old")
    assert cli("validate", path, "--operation", "called-route") == 0
    assert not stale.exists()
