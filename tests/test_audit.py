"""batchops audit and runs: every row of a run, before and after values, run summary, and no secret."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from roundtrip_helpers import cli, cli_json, file_text, live_tokens, rows_of, sheet, use_sandbox

from batchops.journal import Journal, RowStatus
from batchops.reports.audit import CHANGE_HEADERS, CHANGES_SHEET, ROWS_SHEET, RUNS_SHEET, Masker


@pytest.fixture
def applied(sandbox, monkeypatch, tmp_path):
    """Two applied runs: agent settings (3 rows, one unknown) and one called route. Returns
    (journal path, agent-settings run id, route run id, the agent settings changed)."""
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    settings = sandbox.agent_settings()[:2]
    path = sheet(tmp_path / "agents.xlsx", "agent-settings", ["id", "userId", "callNumber", "callerPresent"], [
        [settings[0]["id"], settings[0]["userId"], "88001,88002", "0755123"],
        [settings[1]["id"], settings[1]["userId"], "88003", ""],
        ["1111111111111111111", "2222222222222222222", "88004", ""],
    ])
    assert cli("apply", path, "--yes") == 1  # the unknown record fails
    route = next(r for r in sandbox.routes() if r["editable"] == 0)
    routes = sheet(tmp_path / "routes.xlsx", "called-route", ["id", "devicetype", "deviceId"],
                   [[route["id"], "1", "6"]])
    assert cli("apply", routes, "--yes") == 0
    with Journal(journal) as j:
        runs = {r.operation: r.id for r in j.runs()}
    return journal, runs["agent-settings"], runs["called-route"], settings


def changes_of(path):
    """The Changes sheet's lines as dicts, the time column under ``time``."""
    return [{("time" if k.startswith("time (") else k): v for k, v in r.items()} for r in rows_of(path, CHANGES_SHEET)]


def test_audit_has_one_line_per_changed_field_with_before_after_and_a_date_time(applied, tmp_path):
    journal, agents_run, _, settings = applied
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--run", agents_run, "--timezone", "Asia/Shanghai") == 0
    lines = changes_of(out)
    with Journal(journal) as j:
        run = j.run(agents_run)
        finished = {r.row_number: r.finished_at for r in j.rows(agents_run)}
    first, second = settings
    assert [(x["record"], x["field"], x["before"], x["after"], x["result"]) for x in lines] == [
        (first["id"], "callerPresent", ",".join(first["callerPresent"]), "0755123", "ok"),
        (first["id"], "callNumber", ",".join(first["callNumber"]), "88001,88002", "ok"),
        (second["id"], "callNumber", ",".join(second["callNumber"]), "88003", "ok"),
        # an unknown record: nothing was read before, so every field the row sent is listed
        ("1111111111111111111", "userId", "(not read)", "2222222222222222222", "failed"),
        ("1111111111111111111", "callNumber", "(not read)", "88004", "failed"),
    ]
    assert list(rows_of(out, CHANGES_SHEET)[0]) == [*CHANGE_HEADERS[:-1], "time (Asia/Shanghai)"]
    assert lines[0]["name"].startswith(f"agentName {first['agentName']}")
    assert lines[3]["name"] is None and lines[3]["message"]
    assert {(x["run_id"], x["file_name"], x["operation"], x["operator"]) for x in lines} == {
        (agents_run, "agents.xlsx", "agent-settings", run.operator)}
    assert [x["row"] for x in lines] == [2, 2, 3, 4, 4]
    # a real date-time cell, the row's end in Shanghai time
    shanghai = dt.datetime.fromisoformat(finished[2]).astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert isinstance(lines[0]["time"], dt.datetime)
    assert abs((lines[0]["time"] - shanghai).total_seconds()) < 0.001
    summary = rows_of(out, RUNS_SHEET)
    assert [(s["run_id"], s["rows"], s["ok"], s["failed"]) for s in summary] == [(agents_run, 3, 2, 1)]
    assert isinstance(summary[0]["started_at (Asia/Shanghai)"], dt.datetime)
    assert ROWS_SHEET not in openpyxl.load_workbook(out, read_only=True).sheetnames


def test_every_audit_sheet_has_a_filter_and_a_frozen_header(applied, tmp_path):
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--all") == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [CHANGES_SHEET, RUNS_SHEET, ROWS_SHEET]
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    assert book[CHANGES_SHEET]["M2"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_skipped_and_not_sent_rows_stay_out_of_the_changes_and_in_the_row_log(applied, tmp_path, sandbox):
    journal, agents_run, _, _ = applied
    again = cli("apply", tmp_path / "agents.xlsx", "--yes")  # rows 2 and 3 are applied already: skipped
    assert again == 1  # the unknown record fails again
    with Journal(journal) as j:
        rerun = next(r.id for r in j.runs() if r.operation == "agent-settings" and r.id != agents_run)
        assert j.run(rerun).counts["skipped"] == 2
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--run", rerun, "--all") == 0
    assert [(x["record"], x["field"], x["result"]) for x in changes_of(out)] == [
        ("1111111111111111111", "userId", "failed"), ("1111111111111111111", "callNumber", "failed")]
    log = rows_of(out, ROWS_SHEET)
    assert [(r["row"], r["status"]) for r in log] == [(2, "skipped"), (3, "skipped"), (4, "failed")]
    assert (log[0].get("fields"), log[2]["fields"]) == (None, "userId,callNumber")  # skipped rows keep no values
    assert not any("{" in str(v) for r in log for v in r.values())


def test_audit_holds_no_secret(applied, sandbox, tmp_path):
    journal, agents_run, _, _ = applied
    # A message that quotes a credential, written by some older tool: the audit masks it anyway.
    secret = sandbox.env()["BATCHOPS_APP_SECRET"]
    with Journal(journal) as j:
        run = j.start_run(tmp_path / "agents.xlsx", operation="agent-settings", target="http://x", sheet="s")
        j.add_rows(run.id, [(2, "k", "h")])
        j.mark_in_flight(run.id, 2, before={"sipPwd": "tYgj*mUh#Bel", "callNumber": "1", "agentName": secret})
        j.record_result(run.id, 2, RowStatus.FAILED, message=f"echo {secret} Bearer abc.def auth-v2/AK/x/y",
                        after={"id": "k", "callNumber": f"2{secret}"})
        j.finish_run(run.id)
    for name in ("audit.xlsx", "audit.csv"):
        out = tmp_path / name
        assert cli("audit", "-o", out, "--all") == 0
        text = file_text(out)
        if name.endswith(".csv"):
            text += file_text(tmp_path / "audit.runs.csv") + file_text(tmp_path / "audit.rows.csv")
        env = sandbox.env()
        for value in (secret, env["BATCHOPS_ISALES_SK"], "tYgj*mUh#Bel", *live_tokens(sandbox),
                      *(a["sipPwd"] for a in sandbox.agents()[:50])):
            assert value not in text
        assert not re.search(r"Bearer [^*\s]", text) and "auth-v2/AK" not in text
        assert agents_run in text and "****" in text
    planted = [x for x in changes_of(tmp_path / "audit.xlsx") if x["record"] == "k"]
    assert [(x["field"], x["before"], x["after"], x["name"]) for x in planted] == [
        ("callNumber", "1", "2****", "agentName ****")]


def test_audit_csv_writes_the_changes_and_the_run_summary_beside_it(applied, tmp_path):
    _, _, route_run, _ = applied
    out = tmp_path / "audit.csv"
    assert cli("audit", "-o", out, "--operation", "called-route", "--timezone", "UTC") == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join([*CHANGE_HEADERS[:-1], "time (UTC)"])
    fields = [line.split(",")[2] for line in lines[1:]]
    assert "deviceId" in fields and set(fields) <= {"devicetype", "deviceId"}
    assert all(route_run in line and re.search(r",\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", line) for line in lines[1:])
    summary = (tmp_path / "audit.runs.csv").read_text(encoding="utf-8-sig").splitlines()
    assert summary[1].startswith(f"{route_run},finished,called-route,routes.xlsx,")
    assert not (tmp_path / "audit.rows.csv").exists()


def test_audit_since_and_until(applied, tmp_path):
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--since", "2999-01-01") == 0
    assert rows_of(out, CHANGES_SHEET) == []
    assert cli("audit", "-o", out, "--until", "2999-01-01", "--since", "2000-01-01") == 0
    lines = changes_of(out)
    assert len([x for x in lines if x["operation"] == "agent-settings"]) == 5
    assert {x["field"] for x in lines if x["operation"] == "called-route"} >= {"deviceId"}


def test_audit_refuses_other_file_types_and_unknown_runs(applied, tmp_path, capsys):
    assert cli("audit", "-o", tmp_path / "audit.txt") == 2
    assert cli("audit", "-o", tmp_path / "audit.xlsx", "--run", "nope") == 3
    assert "has no run nope" in capsys.readouterr().err


def test_runs_lists_runs_with_counts(applied, capsys):
    _, agents_run, route_run, _ = applied
    code, result = cli_json(capsys, "runs")
    assert code == 0
    assert [(r["run_id"], r["rows"], r["ok"], r["failed"]) for r in result["runs"]] == [
        (route_run, 1, 1, 0), (agents_run, 3, 2, 1)]
    assert cli("runs", "--operation", "agent-settings") == 0
    text = capsys.readouterr().out
    assert f"{agents_run} " in text and "agent-settings agents.xlsx" in text and "3 rows (2 ok, 1 failed)" in text
    assert route_run not in text


def test_masker_keeps_ids_and_masks_credentials():
    masker = Masker(["s3cr3t-value"])
    assert masker.text("route 1307145259662215169 appointment 174729926098016859445364892091") == \
        "route 1307145259662215169 appointment 174729926098016859445364892091"
    assert masker.text("key s3cr3t-value and 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b") == "key **** and ****"
    assert (masker.value("sipPwd", "x"), masker.value("callNumber", ["1", "2"])) == ("****", "1,2")
