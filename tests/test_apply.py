"""`batchops apply` end to end against the sandbox on a loopback port, with real xlsx files and journal."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from batchops.cli import run


@pytest.fixture
def env(sandbox, monkeypatch):
    """The sandbox's BATCHOPS_* variables, as a user would export them."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox.env()


@pytest.fixture
def journal(tmp_path):
    return tmp_path / "journal.sqlite3"


def workbook(path: Path, headers: list[str], rows: list[list[object]]) -> Path:
    """A plain workbook as a user might make it: headers, then rows; strings stay strings."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def results(path: Path) -> list[dict]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Results"].iter_rows(values_only=True))
    wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def apply(path: Path, journal: Path, *extra: str) -> int:
    return run(["apply", str(path), "--yes", "--journal", str(journal), *extra])


def bodies(sandbox, fragment: str) -> list[dict]:
    return [e.body for e in sandbox.request_log(fragment) if e.method == "POST"]


def body_for(sandbox, fragment: str, key: str, value: str) -> dict:
    """The body sent for one record (requests run concurrently, so the log's order is not the file's)."""
    found = [b for b in bodies(sandbox, fragment) if b.get(key) == value]
    assert len(found) == 1, found
    return found[0]


def test_agent_settings_lists_arrive_as_arrays_of_strings(sandbox, env, journal, tmp_path):
    records = sandbox.agent_settings()[:3]
    rows = [[r["id"], r["userId"], "2", "07551234,07551235", "0123", "0123", "07551234"] for r in records]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callType", "callerPresent", "callNumber",
                                              "callNumberDefault", "callerPresentDefault"], rows)
    assert apply(path, journal) == 0
    assert body_for(sandbox, "agentsettings/update", "id", records[0]["id"]) == {"id": records[0]["id"], "userId": records[0]["userId"], "callType": "2",
                       "callerPresent": ["07551234", "07551235"], "callNumber": ["0123"],
                       "callNumberDefault": "0123", "callerPresentDefault": "07551234"}
    stored = sandbox.agent_setting(records[2]["id"])
    assert stored["callerPresent"] == ["07551234", "07551235"] and stored["callNumberDefault"] == "0123"
    assert [r["status"] for r in results(path)] == ["ok", "ok", "ok"]
    assert [r["row"] for r in results(path)] == [2, 3, 4]


def test_called_route_device_fields_arrive_as_integers(sandbox, env, journal, tmp_path):
    routes = [r for r in sandbox.routes() if r["editable"] not in (1, 3)][:2]
    queue = min(sandbox.skill_queues())
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"],
                    [[r["id"], "1", str(queue)] for r in routes])
    assert apply(path, journal) == 0
    assert body_for(sandbox, "modifyCalledRoute", "id", routes[0]["id"]) == {"id": routes[0]["id"], "devicetype": 1, "deviceId": queue}
    assert sandbox.route(routes[1]["id"])["deviceId"] == queue


def test_appointment_time_is_sent_as_integer_milliseconds_in_the_given_zone(sandbox, env, journal, tmp_path):
    manual = [a for a in sandbox.appointments() if a["callType"] == 1][:2]
    path = workbook(tmp_path / "appoint.xlsx", ["vdnId", "appointId", "userAccount", "appointTime", "remark"],
                    [[str(a["vdnId"]), a["appointId"], a["userAccount"], "2026-12-01 09:30", "回访"] for a in manual])
    assert apply(path, journal, "--timezone", "Asia/Shanghai") == 0
    expected = int(datetime(2026, 12, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1000)
    assert body_for(sandbox, "appoint/update", "appointId", manual[0]["appointId"]) == {"appointId": manual[0]["appointId"], "userAccount": manual[0]["userAccount"],
                       "appointTime": expected, "remark": "回访"}
    assert sandbox.appointment(manual[1]["vdnId"], manual[1]["appointId"])["appointTime"] == expected


def test_silence_rule_is_nested_and_numbers_are_numbers(sandbox, env, journal, tmp_path):
    rule = sandbox.silence_rules()[0]
    staff = sandbox.sentences()[0]["sentence_id"]
    path = workbook(tmp_path / "rules.xlsx",
                    ["silence_id", "name", "score", "seconds", "times", "call_from", "call_end", "before_staff"],
                    [[rule["silence_id"], "新规则", "90", "12", "3", "1623911884", "1624430285", staff]])
    assert apply(path, journal) == 0
    body = bodies(sandbox, "updateSilenceRule")[0]
    assert body == {"setting": {"silence_id": rule["silence_id"], "name": "新规则", "score": 90, "seconds": 12,
                                "times": 3, "other": {"call_from": 1623911884, "call_end": 1624430285}},
                    "exception": {"before": {"staff": [staff]}}}
    assert sandbox.silence_rule(rule["silence_id"])["score"] == 90


def test_business_failures_are_failed_rows_and_exit_1(sandbox, env, journal, tmp_path):
    locked = next(r for r in sandbox.routes() if r["editable"] in (1, 3))
    free = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
    queue = min(sandbox.skill_queues())
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"],
                    [[free["id"], "1", str(queue)], [locked["id"], "1", str(queue)], ["1", "1", str(queue)]])
    assert apply(path, journal) == 1
    got = results(path)
    assert [r["status"] for r in got] == ["ok", "failed", "failed"]
    assert got[1]["http_status"] == 200 and got[1]["code"] not in ("0", None) and got[1]["message"]
    assert sandbox.applied_counts() == {f"route:{free['id']}": 1}


def test_invalid_rows_send_nothing_and_exit_2(sandbox, env, journal, tmp_path, capsys):
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"], [["1", "2", "5"], ["2", "1", "5"]])
    assert apply(path, journal) == 2
    assert sandbox.request_log("modifyCalledRoute") == []
    assert "cell B2 (devicetype)" in capsys.readouterr().out


def test_skip_invalid_sends_the_valid_rows_and_marks_the_others(sandbox, env, journal, tmp_path):
    free = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"],
                    [["9", "2", "5"], [free["id"], "3", str(min(sandbox.ivrs()))]])
    assert apply(path, journal, "--skip-invalid") == 1
    assert [r["status"] for r in results(path)] == ["invalid", "ok"]
    assert "not_allowed" in results(path)[0]["message"]


def test_dry_run_sends_nothing_and_shows_each_request(sandbox, env, journal, tmp_path):
    free = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"], [[free["id"], "1", "2"]])
    assert apply(path, journal, "--dry-run") == 0
    assert sandbox.request_log("modifyCalledRoute") == []
    row = results(path)[0]
    assert row["status"] == "not-sent"
    assert json.loads(row["request"])["body"] == {"id": free["id"], "devicetype": 1, "deviceId": 2}


def test_no_terminal_and_no_yes_refuses_to_send(sandbox, env, journal, tmp_path, capsys):
    free = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"], [[free["id"], "1", "2"]])
    assert run(["apply", str(path), "--journal", str(journal)]) == 2
    assert "Pass --yes" in capsys.readouterr().err
    assert sandbox.request_log("modifyCalledRoute") == []


def test_second_apply_skips_what_is_applied_and_force_sends_again(sandbox, env, journal, tmp_path):
    free = [r for r in sandbox.routes() if r["editable"] not in (1, 3)][:2]
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"],
                    [[r["id"], "1", "2"] for r in free])
    assert apply(path, journal) == 0
    assert apply(path, journal) == 0
    assert [r["status"] for r in results(path)] == ["skipped", "skipped"]
    assert all(n == 1 for n in sandbox.applied_counts().values())
    assert apply(path, journal, "--force") == 0
    assert all(n == 2 for n in sandbox.applied_counts().values())


def test_missing_setting_is_one_line_and_exit_3(tmp_path, journal, capsys):
    path = workbook(tmp_path / "routes.xlsx", ["id", "devicetype", "deviceId"], [["1", "1", "2"]])
    assert apply(path, journal) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and "BATCHOPS_BASE_URL" in err and len(err.splitlines()) == 1


def test_csv_results_go_beside_the_file(sandbox, env, journal, tmp_path):
    free = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
    path = tmp_path / "routes.csv"
    path.write_text(f"id,devicetype,deviceId\n{free['id']},1,2\n", encoding="utf-8")
    assert apply(path, journal, "--json") == 0
    out = (tmp_path / "routes.results.csv").read_text(encoding="utf-8-sig").splitlines()
    assert out[0].startswith("row,key,name,status")
    assert out[1].startswith(f"2,{free['id']},accessCode {free['accessCode']}")
    assert ",ok," in out[1]


def test_secrets_never_reach_output_results_or_journal(sandbox, env, journal, tmp_path, capsys):
    records = sandbox.agent_settings()[:2]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumber"],
                    [[r["id"], r["userId"], "123"] for r in records])
    manual = [a for a in sandbox.appointments() if a["callType"] == 1][:1]
    appoint = workbook(tmp_path / "appoint.xlsx", ["vdnId", "appointId", "workNo"],
                       [[str(a["vdnId"]), a["appointId"], a["workNo"]] for a in manual])
    assert apply(path, journal) == 0
    assert apply(appoint, journal, "--json") == 0
    assert run(["apply", str(path), "--yes", "--dry-run", "--journal", str(journal), "--force"]) == 0
    captured = capsys.readouterr()
    secrets = [env["BATCHOPS_APP_SECRET"], env["BATCHOPS_ISALES_SK"]]
    secrets += [a["sipPwd"] for a in sandbox.agents()[:50]]
    blobs = [captured.out, captured.err]
    for file in tmp_path.rglob("*"):
        if file.is_file():
            blobs.append(file.read_bytes().decode("latin-1"))
    with sqlite3.connect(journal) as db:
        blobs.append(repr(db.execute("SELECT * FROM rows").fetchall()))
        blobs.append(repr(db.execute("SELECT * FROM runs").fetchall()))
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob
        assert "Bearer " not in blob


def test_a_journal_that_fails_mid_run_stops_it_and_loses_nothing(sandbox, env, journal, tmp_path, monkeypatch,
                                                                   capsys):
    from batchops.errors import JournalError
    from batchops.journal import Journal

    records = sandbox.agent_settings()[:40]
    rows = [[r["id"], r["userId"], f"0755{i:07d}"] for i, r in enumerate(records)]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumber"], rows)
    real = Journal.record_result
    seen: list[int] = []

    def failing(self, run_id, row_number, status, **kw):
        seen.append(row_number)
        if len(seen) == 10:
            raise JournalError("The journal cannot be written: disk full.", fix="Free some space.")
        return real(self, run_id, row_number, status, **kw)

    monkeypatch.setattr(Journal, "record_result", failing)
    code = apply(path, journal, "--no-before", "--concurrency", "4")
    err = capsys.readouterr().err
    assert code == 3 and "disk full" in err and "Traceback" not in err
    monkeypatch.setattr(Journal, "record_result", real)
    # The next run sends what the journal does not know as applied, and nothing it does know twice.
    assert apply(path, journal, "--no-before") == 0
    statuses = [r["status"] for r in results(path)]
    assert statuses.count("ok") + statuses.count("skipped") == 40
    times = [sandbox.applied_count(f"agentsettings:{r['id']}") for r in records]
    assert set(times) <= {1, 2}
    assert times.count(2) == 1  # only the row whose result never reached the journal is sent again


def test_a_row_whose_in_flight_mark_fails_is_not_sent(sandbox, env, journal, tmp_path, monkeypatch, capsys):
    from batchops.errors import JournalError
    from batchops.journal import Journal

    records = sandbox.agent_settings()[:40]
    rows = [[r["id"], r["userId"], f"0755{i:07d}"] for i, r in enumerate(records)]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumber"], rows)
    real = Journal.mark_many_in_flight
    marked: list[int] = []

    def failing(self, run_id, rows):
        if marked:
            raise JournalError("The journal cannot be written: disk full.", fix="Free some space.")
        marked.extend(r for r, _ in rows)
        return real(self, run_id, rows)

    monkeypatch.setattr(Journal, "mark_many_in_flight", failing)
    assert apply(path, journal, "--no-before", "--concurrency", "4") == 3
    assert "disk full" in capsys.readouterr().err
    sent = {e.body["id"] for e in sandbox.request_log("agentsettings/update")}
    assert sent <= {records[r - 2]["id"] for r in marked}  # nothing left without its mark committed first
    monkeypatch.setattr(Journal, "mark_many_in_flight", real)
    assert apply(path, journal, "--no-before") == 0
    assert all(sandbox.applied_count(f"agentsettings:{r['id']}") == 1 for r in records)
