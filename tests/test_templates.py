"""Templates: derived from the catalogue, committed up to date, readable by batchops and Excel-safe."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchops import __version__
from batchops.catalogue import OPERATIONS, Kind
from batchops.checking.validation import validate_file
from batchops.cli import run
from batchops.reports.templates import (
    LISTS_SHEET,
    MAX_MESSAGE,
    MAX_TITLE,
    clip,
    data_sheet_name,
    write_all_templates,
    write_template,
)
from batchops.sheets.reader import read_table
from batchops.sheets.table import STAMP_SHEET

TEMPLATES = Path(__file__).parent.parent / "templates"
OPS = list(OPERATIONS.values())


def workbook_content(path: Path) -> dict[str, Any]:
    """What a template says, independent of bytes: sheets, cells, column formats, checks, panes."""
    wb = openpyxl.load_workbook(path)
    content: dict[str, Any] = {"properties": (wb.properties.title, wb.properties.subject)}
    for ws in wb.worksheets:
        content[ws.title] = {
            "state": ws.sheet_state,
            "cells": [list(row) for row in ws.iter_rows(values_only=True)],
            "columns": sorted((d.min, d.max, d.width, d.number_format) for d in ws.column_dimensions.values()),
            "validations": sorted(
                (str(dv.sqref), dv.type, dv.operator, dv.formula1, dv.formula2, dv.promptTitle, dv.prompt,
                 dv.errorTitle, dv.error)
                for dv in ws.data_validations.dataValidation
            ),
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
        }
    return content


def validations(path: Path, sheet: str) -> dict[str, Any]:
    """Data validations of a sheet by their range (``A1``, ``A2:A1048576``)."""
    ws = openpyxl.load_workbook(path)[sheet]
    return {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_committed_template_is_up_to_date(op, tmp_path):
    fresh = write_template(op, tmp_path / f"{op.name}.xlsx")
    committed = TEMPLATES / f"{op.name}.xlsx"
    assert committed.exists(), f"templates/{op.name}.xlsx is missing; run `make templates`"
    assert workbook_content(committed) == workbook_content(fresh), (
        f"templates/{op.name}.xlsx is out of date with the catalogue; run `make templates` and commit it"
    )


def test_regenerated_templates_are_byte_identical(tmp_path):
    first = write_all_templates(tmp_path / "a")
    second = write_all_templates(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_every_operation_has_a_committed_template_and_nothing_else():
    assert sorted(p.name for p in TEMPLATES.glob("*.xlsx")) == sorted(f"{name}.xlsx" for name in OPERATIONS)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_template_reads_back_with_headers_and_stamp(op):
    table = read_table(TEMPLATES / f"{op.name}.xlsx")
    assert table.sheet == data_sheet_name(op)
    assert table.headers == list(op.columns)
    assert table.rows == []
    assert (table.stamp.operation, table.stamp.fingerprint, table.stamp.version) == (
        op.name, op.fingerprint(), __version__)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_sheets_order_and_visibility(op):
    wb = openpyxl.load_workbook(TEMPLATES / f"{op.name}.xlsx")
    states = {ws.title: ws.sheet_state for ws in wb.worksheets}
    assert wb.sheetnames[0] == op.name and wb.active.title == op.name
    assert states[op.name] == "visible" and states["Instructions"] == "visible"
    assert states[STAMP_SHEET] == "hidden"
    assert (LISTS_SHEET in states) == any(f.choices for f in op.fields)
    if LISTS_SHEET in states:
        assert states[LISTS_SHEET] == "hidden"
    ws = wb[op.name]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert all(ws.cell(1, j + 1).font.b for j in range(len(op.fields)))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_header_and_column_states_its_limits(op):
    path = TEMPLATES / f"{op.name}.xlsx"
    checks = validations(path, op.name)
    for j, f in enumerate(op.fields):
        letter = chr(ord("A") + j)
        for ref in (f"{letter}1", f"{letter}2:{letter}1048576"):
            dv = checks[ref]
            assert dv.showInputMessage
            assert dv.promptTitle.startswith(f.name)
            assert len(dv.promptTitle) <= MAX_TITLE and len(dv.prompt) <= MAX_MESSAGE
            assert f.rules()[:40] in dv.prompt
            assert ("Mandatory" if f.required else "Optional") in dv.prompt


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_columns_excel_could_damage_are_formatted_as_text(op):
    ws = openpyxl.load_workbook(TEMPLATES / f"{op.name}.xlsx")[op.name]
    for j, f in enumerate(op.fields):
        fmt = next(d.number_format for d in ws.column_dimensions.values() if d.min <= j + 1 <= d.max)
        if f.kind in (Kind.ID, Kind.NUMBER, Kind.NUMBER_LIST, Kind.ID_LIST, Kind.TEXT):
            assert fmt == "@", f.name
        if f.kind in (Kind.CODE, Kind.INTEGER):
            assert fmt == "General", f.name  # Excel's dropdown and whole-number checks need numbers


@pytest.mark.parametrize("op", [o for o in OPS if any(f.choices for f in o.fields)], ids=lambda op: op.name)
def test_dropdowns_come_from_the_hidden_lists_sheet(op):
    path = TEMPLATES / f"{op.name}.xlsx"
    wb = openpyxl.load_workbook(path)
    checks = validations(path, op.name)
    for j, f in enumerate(op.fields):
        if not f.choices:
            continue
        letter = chr(ord("A") + j)
        dv = checks[f"{letter}2:{letter}1048576"]
        assert dv.type == "list" and dv.errorStyle in (None, "stop")
        sheet, cells = dv.formula1.split("!")
        assert sheet == LISTS_SHEET
        values = [c.value for row in wb[sheet][cells.replace("$", "")] for c in row]
        assert values == list(f.choice_values)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_integer_ranges_are_enforced_by_excel(op):
    checks = validations(TEMPLATES / f"{op.name}.xlsx", op.name)
    for j, f in enumerate(op.fields):
        if f.kind is Kind.INTEGER:
            letter = chr(ord("A") + j)
            dv = checks[f"{letter}2:{letter}1048576"]
            assert (dv.type, dv.operator, dv.formula1, dv.formula2) == (
                "whole", None, str(f.minimum), str(f.maximum))  # "between" is the default operator


def test_the_called_route_dropdown_and_score_range():
    route = validations(TEMPLATES / "called-route.xlsx", "called-route")["B2:B1048576"]
    assert route.formula1 == "Lists!$A$2:$A$3"
    score = validations(TEMPLATES / "silence-rule.xlsx", "silence-rule")["C2:C1048576"]
    assert (score.formula1, score.formula2, score.error) == ("1", "100", "score takes a whole number from 1 to 100.")


def test_remark_check_forbids_the_characters_the_server_rejects():
    remark = validations(TEMPLATES / "appointment.xlsx", "appointment")["F2:F1048576"]
    assert remark.type == "custom"
    assert remark.formula1 == ('AND(LEN(F2)<=200,ISERROR(FIND("<",F2)),ISERROR(FIND(">",F2)),'
                               'ISERROR(FIND("\'",F2)),ISERROR(FIND("""",F2)))')


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_instructions_describe_every_column(op):
    ws = openpyxl.load_workbook(TEMPLATES / f"{op.name}.xlsx")["Instructions"]
    rows = [tuple(v or "" for v in row) for row in ws.iter_rows(values_only=True)]
    text = "\n".join(" ".join(row) for row in rows)
    for f in op.fields:
        assert (f.name, "mandatory" if f.required else "optional", f.description, f.rules()) in [
            row[:4] for row in rows]
    assert "empty optional cells are not sent" in text
    assert op.doc in text and op.fingerprint() in text
    has_lists = any(f.kind in (Kind.NUMBER_LIST, Kind.ID_LIST) for f in op.fields)
    assert ("separated by commas" in text) == has_lists
    has_times = any(f.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S) for f in op.fields)
    assert ("time zone" in text) == has_times


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_a_template_filled_with_the_documented_examples_is_valid(op, tmp_path):
    path = tmp_path / f"{op.name}.xlsx"
    wb = openpyxl.load_workbook(TEMPLATES / f"{op.name}.xlsx")
    ws = wb[op.name]
    for j, f in enumerate(op.fields):
        if f.example:
            ws.cell(2, j + 1).value = int(f.example) if f.kind in (Kind.CODE, Kind.INTEGER) else f.example
    wb.save(path)
    report = validate_file(path, timezone="Asia/Shanghai")
    assert report.operation is op
    assert [(i.cell, i.code) for i in report.issues] == []
    assert not any("older" in note for note in report.notes)


def test_a_stale_stamp_is_reported(tmp_path):
    path = tmp_path / "old.xlsx"
    wb = openpyxl.load_workbook(TEMPLATES / "called-route.xlsx")
    wb[STAMP_SHEET]["B2"] = "000000000000"  # the fingerprint of some older catalogue
    ws = wb["called-route"]
    ws.append(["1125397061153369092", 1, 7])
    wb.save(path)
    report = validate_file(path)
    assert report.ok
    assert report.notes == [
        ("this file was made from an older called-route template (its limits or dropdowns may be out of "
        "date); it is checked against the current rules. `batchops template called-route` makes a new one.")
    ]


def test_clip_keeps_excel_limits_and_cuts_at_a_word():
    assert clip("short", 32) == "short"
    text = "word " * 100
    clipped = clip(text, 255)
    assert len(clipped) <= 255 and clipped.endswith("word…")


def test_cli_writes_one_template(tmp_path, capsys):
    target = tmp_path / "route.xlsx"
    assert run(["template", "called-route", "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Wrote {target}: called-route template with 3 columns (id, devicetype, deviceId)")
    assert workbook_content(target) == workbook_content(TEMPLATES / "called-route.xlsx")


def test_cli_never_replaces_a_file_without_force(tmp_path, capsys):
    target = tmp_path / "route.xlsx"
    target.write_bytes(b"my filled-in rows")
    assert run(["template", "called-route", "-o", str(target)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"Error: '{target}' already exists. Pass --force to replace it, or choose another -o.")
    assert target.read_bytes() == b"my filled-in rows"
    assert run(["template", "called-route", "-o", str(target), "--force"]) == 0
    assert read_table(target).headers == ["id", "devicetype", "deviceId"]


def test_cli_writes_every_template_into_a_folder(tmp_path, capsys):
    assert run(["template", "--all", "-o", str(tmp_path / "t")]) == 0
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == sorted(f"{n}.xlsx" for n in OPERATIONS)
    assert capsys.readouterr().out.count("Wrote ") == len(OPERATIONS)


@pytest.mark.parametrize(
    "args, message",
    [
        (["template"], ("Error: name an operation (agent-settings, called-route, appointment, silence-rule) "
                       "or pass --all.")),
        (["template", "called-route", "--all"], "Error: give OP or --all, not both."),
        (["template", "nope"], ("Error: Invalid value for '[OP]': 'nope' is not one of 'agent-settings', "
                               "'called-route', 'appointment', 'silence-rule'.")),
    ],
)
def test_cli_usage_errors(args, message, capsys):
    assert run(args) == 2
    assert capsys.readouterr().err.strip() == message


def test_cli_rejects_a_non_xlsx_name_and_a_missing_folder(tmp_path, capsys):
    assert run(["template", "called-route", "-o", str(tmp_path / "route.csv")]) == 2
    assert "templates are .xlsx workbooks" in capsys.readouterr().err
    assert run(["template", "called-route", "-o", str(tmp_path / "no" / "route.xlsx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_help_lists_every_operation(capsys):
    assert run(["template", "--help"]) == 0
    help_text = capsys.readouterr().out
    for op in OPS:
        assert op.name in help_text and op.title in help_text


LO_FILLED = Path(__file__).parent / "data" / "lo_filled"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_a_template_filled_in_libreoffice_still_validates(op):
    """tests/data/lo_filled: templates typed into and saved by LibreOffice (see its README)."""
    path = LO_FILLED / f"{op.name}.xlsx"
    table = read_table(path)
    assert table.headers == list(op.columns)
    assert (table.stamp.operation, table.stamp.fingerprint) == (op.name, op.fingerprint()), (
        "rebuild tests/data/lo_filled with make.sh after changing the template")
    report = validate_file(path, timezone="Asia/Shanghai")
    assert [(i.cell, i.code) for i in report.issues] == []
    assert report.ok and len(report.records) >= 2


def test_typing_into_the_template_in_libreoffice_keeps_ids_and_leading_zeros():
    report = validate_file(LO_FILLED / "agent-settings.xlsx", timezone="Asia/Shanghai")
    first, _, third, fourth = report.records
    assert first.texts == {"id": "1307145259662215169", "userId": "1660270845627002401", "callType": "1",
                           "callerPresent": "075512345678", "callNumber": "12323,232343",
                           "callNumberDefault": "012323", "callerPresentDefault": "075512345678"}
    assert third.key == "0001307145259662215171" and third.texts["callNumber"] == "00123"
    assert fourth.texts["callNumber"] == "12323,232343,34543"
    wb = openpyxl.load_workbook(LO_FILLED / "agent-settings.xlsx")
    assert {ws.title: ws.sheet_state for ws in wb.worksheets} == {
        "agent-settings": "visible", "Instructions": "visible", LISTS_SHEET: "hidden", STAMP_SHEET: "hidden"}


@pytest.mark.slow  # about 5 s: starts LibreOffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_template_with_headers_and_stamp(tmp_path):
    """Convert the committed template with LibreOffice: the headers and the stamp come through."""
    profile = tmp_path / "profile"
    source = tmp_path / "called-route.xlsx"
    shutil.copy(TEMPLATES / "called-route.xlsx", source)
    out = tmp_path / "out"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "xlsx",
                    "--outdir", str(out), str(source)], check=True, capture_output=True, timeout=60)
    table = read_table(out / "called-route.xlsx")
    assert table.headers == ["id", "devicetype", "deviceId"]
    assert table.stamp.fingerprint == OPERATIONS["called-route"].fingerprint()
