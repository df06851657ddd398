"""Header messages, helper columns and the operation a file is read as (issue 10, items 5 and 9)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from reliability_helpers import update_requests, use_sandbox, workbook

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, SILENCE_RULE
from batchops.checking.coerce import resolve_timezone
from batchops.checking.headers import match_headers, suggest
from batchops.checking.report import Severity
from batchops.checking.validation import validate_file, validate_table
from batchops.cli import run
from batchops.errors import InputError
from batchops.sheets.table import RawTable

UTC = resolve_timezone("UTC")


def table(headers, rows, *, name="agents.xlsx"):
    return RawTable(Path(name), "xlsx", "Data", 1, list(headers), list(range(len(headers))),
                    [list(r) for r in rows], list(range(2, len(rows) + 2)))


def messages(report, code):
    return [(i.cell, i.message) for i in report.issues if i.code == code]


# -- item 5: what an unknown header probably is --------------------------------------------------------


def test_a_header_like_two_columns_is_called_ambiguous_and_both_are_named():
    report = validate_table(table(["id", "userId", "Default number"], [["1", "2", "3"]]), AGENT_SETTINGS, UTC)
    assert messages(report, "unknown_column") == [(
        "C1", ("'Default number' is not a column of agent-settings. It could be 'callNumberDefault' (default "
              "softphone number) or 'callerPresentDefault' (default display number); rename it to the one you mean."))]


def test_suggestions_come_from_aliases_too_and_prefer_a_column_not_yet_in_the_file():
    assert suggest(AGENT_SETTINGS, "Default softphone").phrase() == \
        "Did you mean 'callNumberDefault' (default softphone number)?"
    assert suggest(AGENT_SETTINGS, "callNumbr").phrase() == "Did you mean 'callNumber'?"
    assert suggest(APPOINTMENT, "agent").phrase() == "Did you mean 'workNo' (agent id)?"
    assert suggest(CALLED_ROUTE, "Device").fields == ("devicetype", "deviceId")
    # callNumberDefault is already in the file: "Default number" then means the display number
    taken = suggest(AGENT_SETTINGS, "Default number", taken={"callNumberDefault"})
    assert taken.phrase() == "Did you mean 'callerPresentDefault' (default display number)?"
    # Chinese headers, character by character
    assert suggest(AGENT_SETTINGS, "默认号码").fields == ("callerPresentDefault", "callNumberDefault")


def test_a_deleted_mandatory_column_is_reported_at_the_header_row_and_rows_are_counted(tmp_path):
    rows = [[f"13071452596622151{i:02d}", "1", "12323"] for i in range(15)]
    path = workbook(tmp_path / "agents.xlsx", ["id", "callType", "callNumber"], rows)
    report = validate_file(path, operation="agent-settings")
    assert [(i.cell, i.header, i.code) for i in report.errors] == [("row 1", "userId", "missing_column")]
    assert report.errors[0].message == ("the header row has no column 'userId', which agent-settings needs; add a "
                                        "column headed 'userId' (or 'user id', '用户ID').")
    assert report.summary() == ("agents.xlsx, sheet 'Data': 15 rows for agent-settings; 1 error in the header "
                                "row (row 1), so no row was checked")


def test_two_numbers_with_a_space_are_one_error_that_says_commas():
    rows = [["1", "2", "88880001 88880002", "88880001 88880002"]]
    report = validate_table(table(["id", "userId", "callNumber", "callNumberDefault"], rows), AGENT_SETTINGS, UTC)
    assert [(i.cell, i.code, i.message) for i in report.errors] == [
        ("C2", "separator", ("'88880001 88880002' has a space between digits; separate the numbers with commas, "
                            "like 88880001,88880002, or remove the space if it is one number.")),
        ("D2", "separator", ("'88880001 88880002' has a space between digits; callNumberDefault takes one number: "
                            "digits without spaces.")),
    ]
    assert report.summary() == "agents.xlsx, sheet 'Data': 1 row for agent-settings; 2 errors in 1 row"


# -- item 5: which operation, without --operation -------------------------------------------------------


def test_one_bad_header_without_operation_is_checked_as_the_closest_operation(tmp_path):
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetyp", "deviceId"], [["1125397061153369092", "1", "5"]])
    report = validate_file(path)
    assert report.operation is CALLED_ROUTE
    assert [(i.cell, i.code, i.message) for i in report.errors] == [
        ("B1", "unknown_column", "'devicetyp' is not a column of called-route. Did you mean 'devicetype'?"),
        ("row 1", "missing_column", ("the header row has no column 'devicetype', which called-route needs; add a "
                                    "column headed 'devicetype' (or 'device type', '设备类型').")),
    ]
    assert report.notes[0] == ("the headers fit no operation exactly; they are closest to called-route and are "
                               "checked as called-route (pass --operation to choose another).")


def test_headers_no_operation_knows_are_named(tmp_path):
    path = workbook(tmp_path / "x.xlsx", ["Remarks?", "Phone"], [["a", "1"]])
    with pytest.raises(InputError) as caught:
        validate_file(path)
    assert str(caught.value).startswith("x.xlsx, sheet 'Data': the headers match no operation: none of "
                                        "'Remarks?', 'Phone' is a column batchops knows.")


def test_headers_far_from_every_operation_name_the_closest_and_what_it_lacks(tmp_path):
    path = workbook(tmp_path / "id.xlsx", ["id", "Name"], [["1", "a"]])
    with pytest.raises(InputError) as caught:
        validate_file(path)
    assert str(caught.value).startswith("id.xlsx, sheet 'Data': the headers match no operation; the closest is "
                                        "agent-settings, which also needs userId. Add those columns, pass "
                                        "--operation")


def test_headers_that_fit_two_operations_equally_ask_for_operation(tmp_path):
    path = workbook(tmp_path / "both.xlsx", ["id", "userId", "callNumber", "devicetype", "deviceId"],
                    [["1", "2", "3", "1", "5"]])
    with pytest.raises(InputError, match=r"the headers fit several operations \(agent-settings, called-route\)"):
        validate_file(path)
    assert validate_file(path, operation="called-route").notes == [
        ("2 column(s) are not columns of called-route and are ignored (nothing in them is sent): 'userId' (B), "
        "'callNumber' (C).")]


def test_validate_cli_without_operation_names_the_bad_header(tmp_path, capsys):
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumbr"], [["1", "2", "3"]])
    code = run(["validate", str(path), "--no-write"])
    out, err = capsys.readouterr()
    assert code == 2
    assert ("agents.xlsx, sheet 'Data', cell C1 (callNumbr): error [unknown_column] 'callNumbr' is not a column "
            "of agent-settings. Did you mean 'callNumber'?") in out
    assert "closest to agent-settings" in err


# -- item 9: helper columns -------------------------------------------------------------------------


def test_a_helper_column_is_ignored_with_one_note_and_a_close_one_stays_an_error():
    headers = ["id", "userId", "Agent name", "callNumbr", "Team"]
    report = validate_table(table(headers, [["1", "2", "Ann", "3", "A"]]), AGENT_SETTINGS, UTC)
    assert [(i.cell, i.code) for i in report.errors] == [("D1", "unknown_column")]
    assert [(i.cell, i.code, i.severity) for i in report.issues if i.code == "ignored_column"] == [
        ("C1", "ignored_column", Severity.NOTE), ("E1", "ignored_column", Severity.NOTE)]
    assert report.notes == [("2 column(s) are not columns of agent-settings and are ignored (nothing in them is "
                            "sent): 'Agent name' (C), 'Team' (E).")]


def test_helper_columns_keep_a_file_valid_and_are_not_in_its_records():
    headers = ["id", "Agent name", "userId", "callNumber", "workNo"]
    report = validate_table(table(headers, [["1", "Ann", "2", "3", "101"]]), AGENT_SETTINGS, UTC)
    assert report.ok and report.errors == [] and report.warnings == []
    assert report.records[0].texts == {"id": "1", "userId": "2", "callNumber": "3"}
    assert report.summary() == "agents.xlsx, sheet 'Data': 1 row for agent-settings; all rows valid"
    assert match_headers(SILENCE_RULE, ["silence_id", "Agent name"]).ignored == [1]


def test_a_helper_column_never_reaches_the_server(tmp_path, sandbox, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    record = sandbox.agent_settings()[0]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumber", "Agent name"],
                    [[record["id"], record["userId"], "075512345", "HELPER-VALUE-7731"]])
    code = run(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert ("Note: 1 column(s) are not columns of agent-settings and are ignored (nothing in them is sent): "
            "'Agent name' (D).") in err
    errors_sheet = [r for r in openpyxl.load_workbook(path)["Errors"].iter_rows(values_only=True)]
    assert errors_sheet[1][2:8] == ("D1", "Agent name", "Agent name", "note", "ignored_column",
                                    "'Agent name' is not a column of agent-settings: ignored, nothing in it is sent.")
    code = run(["apply", str(path), "--yes", "--journal", str(tmp_path / "j.sqlite3"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    sent = update_requests(sandbox)
    assert len(sent) == 1
    assert "HELPER-VALUE-7731" not in json.dumps(sent[0].body) and "Agent name" not in json.dumps(sent[0].body)
    assert sent[0].body["callNumber"] == ["075512345"]
