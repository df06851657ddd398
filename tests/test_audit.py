"""batchops audit and runs: every row of a run, before and after values, run summary, and no secret."""

from __future__ import annotations

import re

import pytest
from roundtrip_helpers import cli, cli_json, file_text, live_tokens, rows_of, sheet, use_sandbox

from batchops.audit import AUDIT_HEADERS, AUDIT_SHEET, RUN_HEADERS, RUNS_SHEET, Masker
from batchops.journal import Journal, RowStatus


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


def test_audit_carries_every_row_of_the_run_with_before_and_after(applied, tmp_path):
    journal, agents_run, _, settings = applied
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--run", agents_run) == 0
    rows = rows_of(out, AUDIT_SHEET)
    with Journal(journal) as j:
        expected = j.rows(agents_run)
        run = j.run(agents_run)
    assert [(r["row"], r["key"], r["status"]) for r in rows] == [
        (e.row_number, e.key, e.status.value) for e in expected]
    assert list(rows[0]) == list(AUDIT_HEADERS)
    first = rows[0]
    assert (first["run_id"], first["operator"], first["host"], first["file_name"], first["file_sha256"]) == (
        run.id, run.operator, run.host, "agents.xlsx", run.file_sha256)
    assert first["operation"] == "agent-settings" and first["http_status"] == 200 and first["code"] == "0"
    assert f'"callNumber":"{",".join(settings[0]["callNumber"])}"' in first["before"]
    assert '"callNumber":"88001,88002"' in first["after"]
    assert rows[2]["status"] == "failed" and rows[2]["before"] is None  # unknown record: nothing to read
    summary = rows_of(out, RUNS_SHEET)
    assert list(summary[0]) == list(RUN_HEADERS)
    assert [(s["run_id"], s["rows"], s["ok"], s["failed"]) for s in summary] == [(agents_run, 3, 2, 1)]


def test_audit_holds_no_secret(applied, sandbox, tmp_path):
    journal, agents_run, _, _ = applied
    # A message that quotes a credential, written by some older tool: the audit masks it anyway.
    secret = sandbox.env()["BATCHOPS_APP_SECRET"]
    with Journal(journal) as j:
        run = j.start_run(tmp_path / "agents.xlsx", operation="agent-settings", target="http://x", sheet="s")
        j.add_rows(run.id, [(2, "k", "h")])
        j.mark_in_flight(run.id, 2, before={"sipPwd": "tYgj*mUh#Bel", "callNumber": "1"})
        j.record_result(run.id, 2, RowStatus.FAILED, message=f"echo {secret} Bearer abc.def auth-v2/AK/x/y")
        j.finish_run(run.id)
    for name in ("audit.xlsx", "audit.csv"):
        out = tmp_path / name
        assert cli("audit", "-o", out) == 0
        text = file_text(out)
        if name.endswith(".csv"):
            text += file_text(tmp_path / "audit.runs.csv")
        env = sandbox.env()
        for value in (secret, env["BATCHOPS_ISALES_SK"], "tYgj*mUh#Bel", *live_tokens(sandbox),
                      *(a["sipPwd"] for a in sandbox.agents()[:50])):
            assert value not in text
        assert not re.search(r"Bearer [^*\s]", text) and "auth-v2/AK" not in text
        assert agents_run in text and "****" in text


def test_audit_csv_writes_the_run_summary_beside_it(applied, tmp_path):
    _, _, route_run, _ = applied
    out = tmp_path / "audit.csv"
    assert cli("audit", "-o", out, "--operation", "called-route") == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join(AUDIT_HEADERS)
    assert len(lines) == 2 and lines[1].startswith(route_run)
    summary = (tmp_path / "audit.runs.csv").read_text(encoding="utf-8-sig").splitlines()
    assert summary[1].startswith(f"{route_run},finished,called-route,routes.xlsx,")


def test_audit_since_and_until(applied, tmp_path):
    out = tmp_path / "audit.xlsx"
    assert cli("audit", "-o", out, "--since", "2999-01-01") == 0
    assert rows_of(out, AUDIT_SHEET) == []
    assert cli("audit", "-o", out, "--until", "2999-01-01", "--since", "2000-01-01") == 0
    assert len(rows_of(out, AUDIT_SHEET)) == 4


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
    assert masker.json({"sipPwd": "x", "n": "1"}) == '{"n":"1","sipPwd":"****"}'
