"""Writing into a user's workbook: checked before it replaces the file, else the report goes beside it."""

from __future__ import annotations

import shutil
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from roundtrip_helpers import cli, rows_of
from sheet_builders import DECL, MAIN, REL, sheet_xml, write_xlsx

from batchops.checking.validation import validate_file
from batchops.errors import WriteCheckFailed
from batchops.reports.error_report import ERROR_HEADERS, write_error_report
from batchops.sheets import xlsx_package
from batchops.sheets.marks import CellMark
from batchops.sheets.writeback import add_sheet, write_report
from batchops.sheets.xlsx_package import Package

FOREIGN = Path(__file__).resolve().parents[1].parent / "shared" / "foreign-workbooks"
SETTINGS_HEADERS = ["id", "userId", "callType", "callerPresent", "callNumber", "callNumberDefault",
                    "callerPresentDefault"]
GOOD_ROW = ["1307145259662215123", "1307145259662215124", "0", "", "", "", ""]
BAD_ROW = ["1307145259662215125", "1307145259662215126", "7", "", "", "", ""]


def open_xlsx(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hand-built packages have no styles part
        return openpyxl.load_workbook(path)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def r_prefix_on_each_sheet(path: Path) -> Path:
    """Like the .NET writers of poi 59021 and 59746: ``x:`` for the main namespace and ``xmlns:r``
    declared on each ``<x:sheet>``, not on the root."""
    workbook = (f'\ufeff<?xml version="1.0" encoding="utf-8"?><x:workbook xmlns:x="{MAIN}"><x:sheets>'
                f'<x:sheet name="Data" sheetId="1" r:id="rId1" xmlns:r="{REL}" /></x:sheets></x:workbook>')
    return write_xlsx(path, [("Data", "visible", sheet_xml({1: ["id"], 2: ["1"]}))],
                      extra_parts={"xl/workbook.xml": workbook.encode("utf-8")})


def settings_book(path: Path, *rows: list[str]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(SETTINGS_HEADERS)
    for row in rows:
        ws.append(row)
    wb.create_sheet("Notes").append(["kept as it is"])
    wb.save(path)
    return path


# -- defect 1: the prefix of r:id ---------------------------------------------------------------------


def test_a_sheet_added_to_a_workbook_that_declares_r_on_each_sheet_is_bound(tmp_path):
    path = r_prefix_on_each_sheet(tmp_path / "dotnet.xlsx")
    add_sheet(path, "Results", ["row", "key"], [[2, "1"]])
    workbook = parts(path)["xl/workbook.xml"].decode("utf-8-sig")
    assert f'<x:sheet name="Results" sheetId="2" xmlns:r="{REL}" r:id="rId3"/>' in workbook
    assert open_xlsx(path).sheetnames == ["Data", "Results"]


@pytest.mark.parametrize("name", ["calamine__nonstandard-xml-ns-prefix.xlsx", "poi__59021.xlsx",
                                  "poi__59746_NoRowNums.xlsx"])
def test_the_three_workbooks_issue_11_found_destroyed_now_take_their_errors_sheet(name, tmp_path, capsys):
    if not FOREIGN.is_dir():
        pytest.skip(f"{FOREIGN} is not here (it holds other projects' test workbooks; CI has it)")
    path = tmp_path / name
    shutil.copyfile(FOREIGN / name, path)
    before = open_xlsx(path)
    assert cli("validate", path, "--operation", "agent-settings") == 2
    assert f"Report written to {path} (sheet 'Errors')" in capsys.readouterr().out
    after = open_xlsx(path)
    assert after.sheetnames == before.sheetnames + ["Errors"]
    data = before.sheetnames[0]
    assert list(after[data].values) == list(before[data].values)


# -- verify before replace ------------------------------------------------------------------------------


def test_a_write_that_fails_its_check_leaves_the_workbook_byte_for_byte_and_goes_beside(tmp_path, monkeypatch,
                                                                                         capsys):
    path = r_prefix_on_each_sheet(tmp_path / "dotnet.xlsx")
    original = path.read_bytes()
    # The defect of issue 11 put back: reuse whatever r: prefix appears anywhere in the text.
    monkeypatch.setattr(xlsx_package, "prefix_for", lambda _tag, _ns: "r:")
    assert cli("validate", path, "--operation", "agent-settings") == 2
    err = capsys.readouterr().err
    assert path.read_bytes() == original
    assert ("dotnet.xlsx: the written workbook failed its check: xl/workbook.xml is not well-formed XML "
            "(unbound prefix, line 1), so it was left as it was; the report was written to "
            "dotnet.errors.xlsx instead.") in " ".join(err.split())
    beside = open_xlsx(tmp_path / "dotnet.errors.xlsx")
    assert beside.sheetnames == ["Errors"]
    assert [c.value for c in beside["Errors"][1]] == list(ERROR_HEADERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dotnet.errors.xlsx", "dotnet.xlsx"]  # no temp left


def test_a_data_sheet_that_would_read_differently_is_refused(tmp_path):
    path = settings_book(tmp_path / "book.xlsx", GOOD_ROW)
    original = path.read_bytes()
    with Package(path) as package:
        part = package.find_sheet("Data").part
        text = package.read_bytes(part).replace(b"1307145259662215124", b"1307145259662215999")
        package.put(part, text)
        with pytest.raises(WriteCheckFailed, match="sheet 'Data' does not read back the same"):
            package.save()
    assert path.read_bytes() == original


def test_a_part_that_is_not_xml_is_refused_and_no_temporary_file_is_left(tmp_path):
    path = settings_book(tmp_path / "book.xlsx")
    original = path.read_bytes()
    with Package(path) as package:
        package.put("xl/styles.xml", b"<styleSheet><fonts></styleSheet>")
        with pytest.raises(WriteCheckFailed) as info:
            package.save()
    assert str(info.value) == ("book.xlsx: the written workbook failed its check: xl/styles.xml is not "
                               "well-formed XML (mismatched tag, line 1)")
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_every_other_part_is_copied_byte_for_byte(tmp_path):
    path = settings_book(tmp_path / "book.xlsx", BAD_ROW)
    before = parts(path)
    write_report(path, sheet_name="Errors", headers=["cell"], rows=[["C2"]], marks_on="Data",
                 marks=[CellMark(2, 2, "callType must be 0, 1 or 2")])
    after = parts(path)
    edited = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/styles.xml",
              "xl/worksheets/sheet1.xml"}  # the data sheet: only its end, where the highlight goes
    assert set(after) - set(before) == {"xl/worksheets/sheet3.xml", "xl/comments1.xml",
                                        "xl/drawings/vmlDrawing1.vml", "xl/worksheets/_rels/sheet1.xml.rels"}
    assert {n for n in before if before[n] != after.get(n)} == edited


# -- what stays and what goes --------------------------------------------------------------------------


def test_a_clean_validate_removes_the_stale_errors_sheet_and_marks_and_says_so(tmp_path, capsys):
    path = settings_book(tmp_path / "book.xlsx", BAD_ROW)
    assert cli("validate", path) == 2
    assert open_xlsx(path).sheetnames == ["Data", "Notes", "Errors"]
    wb = openpyxl.load_workbook(path)
    wb["Data"]["C2"] = "0"
    wb.save(path)
    capsys.readouterr()
    assert cli("validate", path) == 0
    out, err = capsys.readouterr()
    assert "Report written" not in out
    assert "Removed from book.xlsx: the Errors sheet and the cell marks of an earlier run." in err
    wb = open_xlsx(path)
    assert wb.sheetnames == ["Data", "Notes"]
    assert wb["Data"]["C2"].comment is None and not wb["Data"].conditional_formatting
    before = path.read_bytes()
    assert cli("validate", path) == 0
    assert path.read_bytes() == before  # nothing stale: the file is not touched at all


def test_a_users_own_errors_sheet_is_neither_replaced_nor_removed(tmp_path, capsys):
    path = settings_book(tmp_path / "book.xlsx", BAD_ROW)
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("Errors").append(["date", "what went wrong last week"])
    wb.save(path)
    original = path.read_bytes()
    assert cli("validate", path) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert path.read_bytes() == original
    assert ("book.xlsx: has a sheet 'Errors' of its own, which batchops does not overwrite; the report was "
            "written to book.errors.xlsx instead.") in err
    wb["Data"]["C2"] = "0"
    wb.save(path)
    assert cli("validate", path) == 0
    assert open_xlsx(path)["Errors"]["B1"].value == "what went wrong last week"
    assert not (tmp_path / "book.errors.xlsx").exists()  # the stale report beside it went too


def test_apply_dry_run_writes_no_errors_report(tmp_path, capsys):
    path = settings_book(tmp_path / "book.xlsx", BAD_ROW)
    original = path.read_bytes()
    assert cli("apply", path, "--dry-run") == 2
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]
    assert "Nothing was sent. Fix the errors. Or use --skip-invalid to send the valid rows." in capsys.readouterr().err


def test_removing_a_sheet_renumbers_sheet_scoped_names_and_the_active_tab(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb.create_sheet("Errors").append(list(ERROR_HEADERS))
    last = wb.create_sheet("Last")
    last.append(["x"])
    wb.active = 1
    path = tmp_path / "book.xlsx"
    wb.save(path)
    text = parts(path)["xl/workbook.xml"].decode()
    text = text.replace("<definedNames />", '<definedNames><definedName name="a" localSheetId="1">Errors!$A$1'
                        '</definedName><definedName name="b" localSheetId="2">Last!$A$1</definedName>'
                        "</definedNames>")
    assert 'name="b"' in text
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(tmp_path / "named.xlsx", "w") as out:
        for info in z.infolist():
            out.writestr(info, text if info.filename == "xl/workbook.xml" else z.read(info))
    with Package(tmp_path / "named.xlsx") as package:
        assert package.remove_sheet("errors") is True
        package.save()
    wb = openpyxl.load_workbook(tmp_path / "named.xlsx")
    assert wb.sheetnames == ["Data", "Last"]
    assert wb.active.title == "Data"
    assert list(wb["Last"].defined_names) == ["b"] and not wb["Data"].defined_names


# -- workbooks batchops reads but does not write into ----------------------------------------------------


def test_a_strict_open_xml_workbook_gets_its_validation_errors_and_a_report_beside_it(tmp_path, capsys):
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
    strict_rel = "http://purl.oclc.org/ooxml/officeDocument/relationships"
    headers = "".join(f'<c r="{chr(65 + j)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                      for j, h in enumerate(SETTINGS_HEADERS))
    row = "".join(f'<c r="{chr(65 + j)}2" t="inlineStr"><is><t>{v}</t></is></c>' for j, v in enumerate(BAD_ROW) if v)
    sheet = f'{DECL}<worksheet xmlns="{strict}"><sheetData><row r="1">{headers}</row><row r="2">{row}</row></sheetData></worksheet>'
    workbook = (f'{DECL}<workbook xmlns="{strict}" xmlns:r="{strict_rel}"><sheets>'
                '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    rels = (f'{DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{strict_rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    path = write_xlsx(tmp_path / "strict.xlsx", [("Data", "visible", sheet)],
                      extra_parts={"xl/workbook.xml": workbook, "xl/_rels/workbook.xml.rels": rels})
    original = path.read_bytes()
    assert cli("validate", path) == 2
    out, err = capsys.readouterr()
    assert "cell C2 (callType): error" in out
    assert ("strict.xlsx: is a Strict Open XML workbook, which batchops does not write into; the report was "
            "written to strict.errors.xlsx instead.") in " ".join(err.split())
    assert f"Report written to {tmp_path / 'strict.errors.xlsx'} (sheet 'Errors')" in out
    assert path.read_bytes() == original
    assert [r["cell"] for r in rows_of(tmp_path / "strict.errors.xlsx", "Errors")] == ["C2"]


def test_write_error_report_of_a_clean_csv_deletes_the_stale_one(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(",".join(SETTINGS_HEADERS) + "\n" + ",".join(GOOD_ROW) + "\n", encoding="utf-8")
    stale = tmp_path / "s.errors.csv"
    stale.write_text("old", encoding="utf-8")
    written = write_error_report(validate_file(path))
    assert written.path is None and not stale.exists()


def test_plan_and_apply_take_away_what_they_make_stale(sandbox, monkeypatch, tmp_path, capsys):
    from roundtrip_helpers import use_sandbox

    use_sandbox(sandbox, monkeypatch, tmp_path)
    record = sandbox.agent_settings()[0]
    path = tmp_path / "agents.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["id", "userId", "callType"])
    ws.append([record["id"], record["userId"], "7"])
    wb.save(path)
    assert cli("validate", path) == 2
    wb = openpyxl.load_workbook(path)
    wb["Data"]["C2"] = "2"
    wb.save(path)
    capsys.readouterr()
    assert cli("plan", path) == 0
    assert "Removed from agents.xlsx: the Errors sheet and the cell marks of an earlier run." in \
        capsys.readouterr().err
    assert open_xlsx(path).sheetnames == ["Data", "Plan"]
    assert cli("apply", path, "--dry-run", "--yes") == 0
    assert open_xlsx(path).sheetnames == ["Data", "Plan", "Results"]  # a dry run changed nothing the plan shows
    capsys.readouterr()
    assert cli("apply", path, "--yes") == 0
    out, err = capsys.readouterr()
    assert "Removed from agents.xlsx: the Plan sheet, which this run made out of date." in err
    assert f"Results written to {path} (sheet 'Results')" in out
    assert open_xlsx(path).sheetnames == ["Data", "Results"]
