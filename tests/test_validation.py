"""Validation of whole tables: every problem found in one pass, located by row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, SILENCE_RULE
from batchops.checking.coerce import resolve_timezone
from batchops.checking.validation import resolve_operation, validate_table
from batchops.errors import InputError
from batchops.sheets.table import CellDamage, Damage, RawTable, Stamp

UTC = resolve_timezone("UTC")
AGENT_HEADERS = list(AGENT_SETTINGS.columns)


def table(headers, rows, *, numbers=None, damage=None, stamp=None, kind="xlsx"):
    return RawTable(Path("agents.xlsx"), kind, "Data" if kind == "xlsx" else None, 1, list(headers),
                    list(range(len(headers))), [list(r) for r in rows],
                    numbers or list(range(2, len(rows) + 2)), damage or {}, stamp)


def errors(report):
    return [(i.cell, i.code) for i in report.errors]


def test_a_valid_sheet_has_no_issues_and_a_record_per_row():
    t = table(AGENT_HEADERS, [["1307145259662215169", "1660270845627002401", "1", "12323",
                               "12323,232343", "23232323", "1212121212"]])
    report = validate_table(t, AGENT_SETTINGS, UTC)
    assert report.ok and report.issues == []
    assert report.records[0].row == 2 and report.records[0].valid
    assert report.records[0].key == "1307145259662215169"
    assert report.summary() == "agents.xlsx, sheet 'Data': 1 row for agent-settings; all rows valid"


def test_every_error_of_every_row_is_reported_with_its_cell():
    rows = [
        [1.307145259662215e18, "1", "1", "1,2,3,4,5,6", "1234567890123456", None, None],
        ["7", "", "9", "12a", None, "12.5", None],
    ]
    report = validate_table(table(AGENT_HEADERS, rows, numbers=[2, 5]), AGENT_SETTINGS, UTC)
    assert errors(report) == [("A2", "rounded"), ("D2", "too_many"), ("E2", "item_too_long"),
                              ("B5", "required"), ("C5", "not_allowed"), ("D5", "item_not_digits"),
                              ("F5", "not_digits")]
    rounded = report.errors[0]
    assert rounded.value == "1.30714525966221E+18"
    assert "format the column as Text" in rounded.message
    assert [r.valid for r in report.records] == [False, False]


def test_duplicate_records_name_each_other():
    rows = [["1", "u", None, None, None, None, None], ["2", "u", None, None, None, None, None],
            ["1", "v", None, None, None, None, None]]
    report = validate_table(table(AGENT_HEADERS, rows), AGENT_SETTINGS, UTC)
    assert errors(report) == [("A2", "duplicate"), ("A4", "duplicate")]
    assert report.errors[0].message.startswith("row 4 updates the same record (id 1)")
    assert report.errors[1].message.startswith("row 2 updates the same record (id 1)")


def test_composite_key_duplicates_for_appointments():
    headers = ["vdnId", "appointId", "workNo"]
    rows = [["1", "A", "125"], ["2", "A", "125"], ["1", "A", "126"]]
    report = validate_table(table(headers, rows), APPOINTMENT, UTC)
    assert errors(report) == [("B2", "duplicate"), ("B4", "duplicate")]


def test_formula_error_value_and_merged_cells_are_rejected_by_cell():
    damage = {(2, 3): CellDamage(Damage.FORMULA, '=A2&"1"'), (3, 4): CellDamage(Damage.ERROR_VALUE, "#N/A"),
              (4, 1): CellDamage(Damage.MERGED, "B4:C4")}
    rows = [["1", "u", None, "5", None, None, None], ["2", "u", None, None, None, None, None],
            ["3", "u", None, None, None, None, None]]
    report = validate_table(table(AGENT_HEADERS, rows, damage=damage), AGENT_SETTINGS, UTC)
    assert errors(report) == [("D2", "formula"), ("E3", "error_value"), ("B4", "merged")]
    assert "Paste Values" in report.errors[0].message


def test_unknown_duplicated_and_missing_headers_stop_before_rows():
    report = validate_table(table(["ID", "callNumbr", "id"], [["1", "2", "3"]]), AGENT_SETTINGS, UTC)
    assert [(i.cell, i.code) for i in report.issues] == [("B1", "unknown_column"), ("C1", "duplicate_column"),
                                                         ("row 1", "missing_column")]
    assert "Did you mean 'callNumber'?" in report.issues[0].message
    assert report.records == []


def test_headers_only_is_an_error():
    report = validate_table(table(CALLED_ROUTE.columns, []), CALLED_ROUTE, UTC)
    assert [i.code for i in report.issues] == ["no_rows"]


def test_silence_rule_ranges_order_and_chinese_headers():
    headers = ["静默规则标识", "规则名称", "规则分数", "连续静默秒数", "静默次数", "call_from", "call_end"]
    rows = [["9", "规则一", "101", "0", "4", "1624430285", "1623911884"]]
    report = validate_table(table(headers, rows), SILENCE_RULE, UTC)
    assert errors(report) == [("C2", "out_of_range"), ("D2", "out_of_range"), ("F2", "order")]


def test_operation_comes_from_stamp_then_option_then_headers():
    t = table(CALLED_ROUTE.columns, [["1", "1", "1"]])
    assert resolve_operation(t, None) is CALLED_ROUTE
    assert resolve_operation(t, "called-route") is CALLED_ROUTE
    stamped = table(["id"], [["1"]], stamp=Stamp("agent-settings", AGENT_SETTINGS.fingerprint()))
    assert resolve_operation(stamped, None) is AGENT_SETTINGS
    with pytest.raises(InputError, match="is a 'agent-settings' template but --operation says 'called-route'"):
        resolve_operation(stamped, "called-route")
    with pytest.raises(InputError, match="the headers match no operation"):
        resolve_operation(table(["foo"], [["1"]]), None)
    with pytest.raises(InputError, match="unknown operation 'nope'"):
        resolve_operation(t, "nope")


def test_stale_stamp_is_noted():
    t = table(CALLED_ROUTE.columns, [["1", "1", "1"]], stamp=Stamp("called-route", "000000000000"))
    report = validate_table(t, CALLED_ROUTE, UTC)
    assert report.ok
    assert "older called-route template" in report.notes[0]


def test_number_cells_in_number_columns_hold_the_row_back_unless_accepted():
    rows = [["1", "u", None, None, None, 12323.0, None]]
    report = validate_table(table(AGENT_HEADERS, rows), AGENT_SETTINGS, UTC)
    assert not report.ok and report.lost_zero_rows == [2]
    assert [(e.cell, e.code) for e in report.errors] == [("F2", "lost_zero")]
    accepted = validate_table(table(AGENT_HEADERS, rows), AGENT_SETTINGS, UTC, accept_lost_zeros=True)
    assert accepted.ok
    assert [(w.cell, w.code) for w in accepted.warnings] == [("F2", "lost_zero")]
    assert accepted.records[0].texts["callNumberDefault"] == "12323"


def test_number_cells_in_id_columns_are_warnings():
    rows = [["1", 1660270845627.0, None, None, None, None, None]]
    report = validate_table(table(AGENT_HEADERS, rows), AGENT_SETTINGS, UTC)
    assert report.ok
    assert [(w.cell, w.code) for w in report.warnings] == [("B2", "number_cell")]
