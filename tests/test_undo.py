"""batchops undo: apply → undo → plan → apply puts the sandbox back; nothing is dropped silently."""

from __future__ import annotations

import openpyxl
from roundtrip_helpers import cli, cli_json, rows_of, sheet, use_sandbox

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE
from batchops.checking.validation import validate_file
from batchops.journal import Journal
from batchops.reports.templates import stamp_rows
from batchops.reports.undo import UNDO_SHEET
from batchops.sheets.table import STAMP_SHEET


def _last_run(journal_path) -> str:
    with Journal(journal_path) as journal:
        return journal.runs()[0].id


def test_undo_plan_apply_puts_the_original_values_back(sandbox, monkeypatch, tmp_path, capsys):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    originals = [dict(s) for s in sandbox.agent_settings()[:3]]
    path = sheet(tmp_path / "agents.xlsx", "agent-settings",
                 ["id", "userId", "callType", "callNumber", "callNumberDefault"],
                 [[s["id"], s["userId"], "2", f"7700{i},7701{i}", f"7700{i}"] for i, s in enumerate(originals)])
    assert cli("apply", path, "--yes") == 0
    assert sandbox.agent_setting(originals[0]["id"])["callNumber"] == ["77000", "77010"]
    run_id = _last_run(journal)

    undo = tmp_path / "undo.xlsx"
    assert cli("undo", run_id, "-o", undo) == 0
    # The template layout and stamp: validation takes it like any template.
    wb = openpyxl.load_workbook(undo)
    assert wb.sheetnames[0] == AGENT_SETTINGS.name and wb[STAMP_SHEET].sheet_state == "hidden"
    assert [tuple(r) for r in wb[STAMP_SHEET].iter_rows(values_only=True)] == stamp_rows(AGENT_SETTINGS)
    report = validate_file(undo)
    assert report.ok and report.operation is AGENT_SETTINGS and not report.notes
    assert [r.key for r in report.records] == [s["id"] for s in originals]

    code, plan = cli_json(capsys, "plan", undo)
    assert code == 0 and plan["counts"]["change"] == 3
    assert {"field": "callNumber", "before": "77000,77010", "after": ",".join(originals[0]["callNumber"])} in \
        plan["rows"][0]["changes"]
    assert sandbox.agent_setting(originals[0]["id"])["callNumber"] == ["77000", "77010"]  # plan sent nothing

    assert cli("apply", undo, "--yes") == 0
    for original in originals:
        now = sandbox.agent_setting(original["id"])
        for name in ("callType", "callNumber", "callNumberDefault", "callerPresent", "userId"):
            assert now[name] == original[name], name


def test_undo_of_a_called_route_run(sandbox, monkeypatch, tmp_path):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    route = next(r for r in sandbox.routes() if r["editable"] == 0)
    path = sheet(tmp_path / "routes.xlsx", "called-route", ["id", "devicetype", "deviceId"],
                 [[route["id"], "3" if route["devicetype"] == 1 else "1", "9"]])
    assert cli("apply", path, "--yes") == 0
    undo = tmp_path / "undo.xlsx"
    assert cli("undo", _last_run(journal), "-o", undo) == 0
    assert validate_file(undo).operation is CALLED_ROUTE
    assert cli("apply", undo, "--yes") == 0
    assert sandbox.route(route["id"]) == route


def test_rows_without_before_values_are_listed_not_dropped(sandbox, monkeypatch, tmp_path, capsys):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    route = next(r for r in sandbox.routes() if r["editable"] == 0)
    path = sheet(tmp_path / "routes.xlsx", "called-route", ["id", "devicetype", "deviceId"],
                 [[route["id"], route["devicetype"], "11"]])
    assert cli("apply", path, "--yes", "--no-before") == 0
    run_id = _last_run(journal)
    code, result = cli_json(capsys, "undo", run_id, "-o", tmp_path / "undo.xlsx")
    assert code == 0 and result["rows"] == 0
    assert result["left_out"] == [{"row": 2, "key": route["id"], "field": "",
                                   "reason": result["left_out"][0]["reason"]}]
    assert "not captured" in result["left_out"][0]["reason"]
    info = [r for r in openpyxl.load_workbook(tmp_path / "undo.xlsx")[UNDO_SHEET].iter_rows(values_only=True)]
    assert ("undo of run", run_id, None, None) in info
    assert any(r[0] == "2" and r[1] == route["id"] and "not captured" in r[3] for r in info)


def test_an_empty_earlier_value_is_named(sandbox, monkeypatch, tmp_path, capsys):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    manual = next(a for a in sandbox.appointments() if a["callType"] == 1 and a["remark"] == "")
    path = sheet(tmp_path / "appointments.xlsx", "appointment", ["vdnId", "appointId", "userAccount", "remark"],
                 [[manual["vdnId"], manual["appointId"], manual["userAccount"], "call after 9"]])
    assert cli("apply", path, "--yes") == 0
    capsys.readouterr()
    undo = tmp_path / "undo.xlsx"
    assert cli("undo", _last_run(journal), "-o", undo) == 0
    err = capsys.readouterr().err
    assert f"row 2 (1/{manual['appointId']}), remark is not put back: remark was empty before" in err
    rows = rows_of(undo, APPOINTMENT.name)
    assert rows == [{"vdnId": str(manual["vdnId"]), "appointId": manual["appointId"],
                     "userAccount": manual["userAccount"], "workNo": None, "appointTime": None, "remark": None}]


def test_undo_refuses_an_unknown_run_and_an_existing_file(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    assert cli("undo", "no-such-run", "-o", tmp_path / "undo.xlsx") == 3
    assert "has no run no-such-run" in capsys.readouterr().err
    (tmp_path / "taken.xlsx").write_bytes(b"x")
    assert cli("undo", "no-such-run", "-o", tmp_path / "taken.xlsx") == 2
    assert cli("undo", "no-such-run", "-o", tmp_path / "undo.csv") == 2
    assert "it is an .xlsx workbook" in capsys.readouterr().err


def test_a_later_change_of_the_same_record_is_named(sandbox, monkeypatch, tmp_path, capsys):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    route = next(r for r in sandbox.routes() if r["editable"] == 0)
    devices = sandbox.skill_queues() if route["devicetype"] == 1 else sandbox.ivrs()
    for n, device in enumerate([d for d in devices if d != route["deviceId"]][:2]):
        path = sheet(tmp_path / f"routes{n}.xlsx", "called-route", ["id", "devicetype", "deviceId"],
                     [[route["id"], route["devicetype"], device]])
        assert cli("apply", path, "--yes") == 0
    with Journal(journal) as j:
        later, first = (r.id for r in j.runs())
    code, result = cli_json(capsys, "undo", first, "-o", tmp_path / "undo.xlsx")
    assert code == 0 and result["rows"] == 1
    assert result["notes"] == [(f"row 2 ({route['id']}) was changed again by the later run {later}: applying "
                               "this file overwrites that change as well")]
