"""batchops plan against the sandbox: before → after, the Plan sheet, rows that cannot succeed, nothing sent;
and apply's side of it: before-values read first, rows that change nothing skipped."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from roundtrip_helpers import cli, cli_json, rows_of, sheet, use_sandbox

from batchops.catalogue import APPOINTMENT, CALLED_ROUTE
from batchops.checking.validation import validate_file
from batchops.http.client import Client
from batchops.journal import Journal, RowStatus
from batchops.reports.plan import PLAN_HEADERS, PLAN_SHEET, PlanAction, make_plan
from batchops.settings import load_settings

UNKNOWN_ID = "1234567890123456789"
CALLED_ROUTE_QUERY_PATH = CALLED_ROUTE.read.listing.path


def name(route: dict) -> str:
    """What plan shows beside a route's ID: its access code, and its extension code when it has one."""
    return f"accessCode {route['accessCode']}" + (f", extCode {route['extCode']}" if route["extCode"] else "")


@pytest.fixture
def routes(sandbox, monkeypatch, tmp_path):
    """The sandbox ready, and a called-route workbook: one change, one no-change, one locked route, one
    unknown ID. Returns (path, changed route, unchanged route, locked route)."""
    use_sandbox(sandbox, monkeypatch, tmp_path)
    editable = [r for r in sandbox.routes() if r["editable"] == 0]
    changed, same = editable[0], editable[1]
    locked = next(r for r in sandbox.routes() if r["editable"] in (1, 3))
    new_type = "1" if changed["devicetype"] == 3 else "3"
    path = sheet(tmp_path / "routes.xlsx", "called-route", ["id", "devicetype", "deviceId"], [
        [changed["id"], new_type, "2"],
        [same["id"], same["devicetype"], same["deviceId"]],
        [locked["id"], locked["devicetype"], "4"],
        [UNKNOWN_ID, "1", "4"],
    ])
    return path, changed, same, locked


def test_plan_shows_before_and_after_and_writes_the_plan_sheet(routes, sandbox, capsys):
    path, changed, same, locked = routes
    capsys.readouterr()
    assert cli("plan", path) == 1  # some rows cannot be applied
    text = capsys.readouterr().out
    assert f"row 2 {named(changed)}: devicetype: {changed['devicetype']} -> " in text
    assert f"row 2 {named(changed)}: deviceId: {changed['deviceId']} -> 2" in text
    assert f"row 4 {named(locked)}: cannot: the called route {locked['id']} cannot be edited" in text
    assert f"row 5 {UNKNOWN_ID}: cannot: unknown ID" in text
    assert ("4 rows: 1 change (2 fields), 1 no change, 2 cannot, 0 unread, 0 applied already. Nothing was changed."
            in text)

    plan = rows_of(path, PLAN_SHEET)
    assert list(plan[0]) == list(PLAN_HEADERS)
    by_row = {}
    for line in plan:
        by_row.setdefault(line["row"], []).append(line)
    assert [(x["field"], x["before"], x["after"]) for x in by_row[2]] == [
        ("devicetype", str(changed["devicetype"]), "1" if changed["devicetype"] == 3 else "3"),
        ("deviceId", str(changed["deviceId"]), "2"),
    ]
    assert all(x["key"] == changed["id"] and x["action"] == "change" for x in by_row[2])
    assert {x["name"] for x in by_row[2]} == {name(changed)} and not by_row[5][0]["name"]
    assert [x["action"] for x in by_row[3]] == ["no-change"]
    assert {x["action"] for x in by_row[4]} == {"cannot"} and "editable" in by_row[4][0]["message"]
    assert [(x["action"], x["key"]) for x in by_row[5]] == [("cannot", UNKNOWN_ID)]
    assert "unknown ID" in by_row[5][0]["message"]
    # The data sheet is untouched: it still validates with the same four rows.
    assert [r.key for r in validate_file(path).records] == [changed["id"], same["id"], locked["id"], UNKNOWN_ID]


def named(route):
    """A route as plan names it: its ID, and the access and extension codes the read side knows it by."""
    codes = ", ".join(f"{name} {route[name]}" for name in ("accessCode", "extCode") if route.get(name))
    return f"{route['id']} ({codes})" if codes else route["id"]


def test_plan_changes_nothing_on_the_server(routes, sandbox):
    path, changed, _, _ = routes
    before = sandbox.route(changed["id"])
    cli("plan", path)
    assert sandbox.applied_counts() == {}
    assert sandbox.route(changed["id"]) == before
    assert not sandbox.request_log(path_contains="modifyCalledRoute")
    assert sandbox.request_log(path_contains=CALLED_ROUTE_QUERY_PATH)  # it did read


def test_plan_json_counts_every_action(routes, capsys):
    path, changed, _, _ = routes
    code, result = cli_json(capsys, "plan", path)
    assert code == 1
    assert result["counts"] == {"change": 1, "no-change": 1, "cannot": 2, "unread": 0, "applied": 0}
    assert result["rows"][0]["changes"][1] == {"field": "deviceId", "before": str(changed["deviceId"]),
                                               "after": "2"}


def test_plan_says_which_rows_apply_skips_as_applied_and_which_were_changed_since(sandbox, monkeypatch, tmp_path,
                                                                                   capsys):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    first, second = [r for r in sandbox.routes() if r["editable"] == 0][:2]
    columns = ["id", "devicetype", "deviceId"]
    ours = sheet(tmp_path / "ours.xlsx", "called-route", columns,
                 [[first["id"], first["devicetype"], "2"], [second["id"], second["devicetype"], "4"]])
    assert cli("plan", ours) == 0 and not journal.exists()  # a plan creates no journal
    assert cli("apply", ours, "--yes") == 0
    # Someone changes the first route again in the console.
    sandbox.sandbox.state.data.routes[first["id"]]["deviceId"] = 3
    code, result = cli_json(capsys, "plan", ours)
    assert code == 0 and result["counts"] == {"change": 0, "no-change": 0, "cannot": 0, "unread": 0, "applied": 2}
    drifted, kept = result["rows"]
    assert "already applied in run" in drifted["message"] and "changed since elsewhere" in drifted["message"]
    assert drifted["changes"] == [{"field": "deviceId", "before": "3", "after": "2"}]
    assert "changed since" not in kept["message"] and kept["changes"] == []
    plan_sheet = rows_of(ours, PLAN_SHEET)
    assert [(r["row"], r["action"], r["field"]) for r in plan_sheet] == [(2, "applied", "deviceId"), (3, "applied", "")]
    # What apply does agrees: it skips both, sending nothing; --force plans (and sends) the change.
    code, forced = cli_json(capsys, "plan", ours, "--force")
    assert forced["counts"]["change"] == 1 and forced["counts"]["no-change"] == 1
    sent = len(sandbox.request_log("modifyCalledRoute"))
    assert cli("apply", ours, "--yes") == 0 and len(sandbox.request_log("modifyCalledRoute")) == sent


def test_an_unreadable_journal_is_a_warning_for_plan(routes, tmp_path, capsys):
    path = routes[0]
    (tmp_path / "journal.sqlite3").write_bytes(b"this is not a journal" * 100)
    assert cli("plan", path) == 1  # the same plan as without a journal: the locked route and the unknown ID
    err = capsys.readouterr().err
    assert "journal" in err and "applied already" in err and "Traceback" not in err


def test_plan_of_a_csv_goes_beside_it(sandbox, monkeypatch, tmp_path):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    route = next(r for r in sandbox.routes() if r["editable"] == 0)
    path = tmp_path / "routes.csv"
    path.write_text(f"id,devicetype,deviceId\n{route['id']},{route['devicetype']},5\n", encoding="utf-8")
    assert cli("plan", path) == 0
    plan = list(csv.reader((tmp_path / "routes.plan.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert plan[0] == list(PLAN_HEADERS)
    assert plan[1][:7] == ["2", route["id"], name(route), "change", "deviceId", str(route["deviceId"]), "5"]


def test_an_invalid_file_is_not_read(sandbox, monkeypatch, tmp_path):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path = sheet(tmp_path / "bad.xlsx", "called-route", ["id", "devicetype", "deviceId"], [["12x", "7", "1"]])
    assert cli("plan", path) == 2
    assert not sandbox.request_log(path_contains=CALLED_ROUTE_QUERY_PATH)


def test_automatic_appointment_cannot_be_planned(sandbox, monkeypatch, tmp_path):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    automatic = next(a for a in sandbox.appointments() if a["callType"] == 2)
    manual = next(a for a in sandbox.appointments() if a["callType"] == 1)
    path = sheet(tmp_path / "appointments.xlsx", "appointment", ["vdnId", "appointId", "userAccount", "remark"], [
        [automatic["vdnId"], automatic["appointId"], automatic["userAccount"], "moved"],
        [manual["vdnId"], manual["appointId"], manual["userAccount"], "call after 9"],
    ])
    report = validate_file(path)
    from batchops.http.client import Client

    with Client(load_settings(env=sandbox.env())) as client:
        plan = make_plan(report, client, concurrency=2)
    assert plan.operation is APPOINTMENT
    first, second = plan.rows
    assert first.action is PlanAction.CANNOT and "automatic" in first.message
    assert second.action is PlanAction.CHANGE
    assert [(c.field, c.before, c.after) for c in second.changed] == [("remark", manual["remark"], "call after 9")]


# --- apply: before-values and "no change" -------------------------------------------------------------


def test_apply_skips_rows_that_change_nothing_and_journals_before_values(routes, sandbox, tmp_path):
    path, changed, _, locked = routes
    assert cli("apply", path, "--yes") == 1  # the locked route and the unknown ID fail on the server
    assert sandbox.applied_counts() == {f"route:{changed['id']}": 1}
    results = {r["row"]: r for r in rows_of(path, "Results")}
    assert results[3]["status"] == "skipped" and results[3]["message"] == "no change"
    assert results[2]["status"] == "ok"
    with Journal(tmp_path / "journal.sqlite3") as journal:
        run = journal.runs()[0]
        rows = {r.row_number: r for r in journal.rows(run.id)}
    # the fields the row sets, and the facts the record is known by (the audit names it with them)
    assert rows[2].before == {"id": changed["id"], "devicetype": str(changed["devicetype"]),
                              "deviceId": str(changed["deviceId"]), "accessCode": changed["accessCode"]}
    assert rows[2].after["deviceId"] == "2"
    assert rows[3].status is RowStatus.SKIPPED
    assert {name: rows[3].before[name] for name in rows[3].after} == rows[3].after
    assert rows[4].before["deviceId"] == str(locked["deviceId"])  # read, sent, refused
    assert rows[5].before is None and rows[5].after["id"] == UNKNOWN_ID  # no such record to read


def test_apply_no_before_reads_nothing(routes, sandbox, tmp_path):
    path, changed, same, _ = routes
    assert cli("apply", path, "--yes", "--no-before") == 1
    assert not sandbox.request_log(path_contains=CALLED_ROUTE_QUERY_PATH)
    assert sandbox.applied_counts() == {f"route:{changed['id']}": 1, f"route:{same['id']}": 1}
    with Journal(tmp_path / "journal.sqlite3") as journal:
        rows = journal.rows(journal.runs()[0].id)
    assert all(r.before is None for r in rows)
    assert CALLED_ROUTE.key == ("id",)


class _Client:
    """Reads answer ``read_status`` (or raise ``read_error``); updates succeed."""

    budget_exhausted = False

    def __init__(self, read_status: int = 200, read_error: Exception | None = None) -> None:
        self.read_status, self.read_error, self.sent = read_status, read_error, 0

    def send(self, call):
        from batchops.http.calls import CallResult

        if self.read_error is not None:
            raise self.read_error
        return CallResult(self.read_status, {"returnCode": "1"}, "server error")

    async def asend(self, call):
        from batchops.http.calls import CallResult

        self.sent += 1
        return CallResult(200, {"returnCode": "0", "returnDesc": "ok"}, "")

    def stop_retrying(self) -> None:
        pass


def _replay(routes, tmp_path, client):
    from batchops.apply.replay import ApplyOptions, Replay

    path = routes[0]
    journal = Journal(tmp_path / "j.sqlite3")
    settings = load_settings(env={"BATCHOPS_BASE_URL": "http://x", "BATCHOPS_APP_KEY": "k",
                                  "BATCHOPS_APP_SECRET": "s3cret-value"})
    try:
        outcome = Replay(validate_file(path), settings, journal=journal, client=client,
                         options=ApplyOptions(read_before=True, concurrency=2)).run()
        rows = journal.rows(outcome.run_id)
    finally:
        journal.close()
    return outcome, rows


def test_apply_sends_a_row_whose_record_could_not_be_read(routes, tmp_path):
    client = _Client(read_status=500)
    outcome, rows = _replay(routes, tmp_path, client)
    assert client.sent == 4 and outcome.counts()["ok"] == 4
    assert all(r.before is None and r.after is not None for r in rows)


def test_apply_stops_when_reading_is_refused(routes, tmp_path):
    from batchops.errors import AuthError

    client = _Client(read_error=AuthError("the server refused the credentials"))
    outcome, rows = _replay(routes, tmp_path, client)
    assert client.sent == 0 and outcome.exit_code() == 3
    assert outcome.counts()["not-sent"] == 4
    assert {r.status for r in rows} == {RowStatus.NOT_SENT}
    assert "authentication failed" in outcome.results[0].message


def test_an_unedited_export_of_called_routes_plans_as_no_change_with_exit_0(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    locked = [r for r in sandbox.routes() if r["editable"] in (1, 3)]
    assert locked  # the export holds routes that must not be edited
    path = tmp_path / "routes.xlsx"
    assert cli("export", "called-routes", "-o", path) == 0
    capsys.readouterr()
    code, result = cli_json(capsys, "plan", path)
    assert code == 0
    assert result["counts"]["no-change"] == len(sandbox.routes())
    assert result["counts"]["cannot"] == result["counts"]["change"] == 0


def test_untouched_automatic_appointments_are_no_change_and_apply_agrees(sandbox, monkeypatch, tmp_path, capsys):
    """Only rows that would change something that cannot be changed are 'cannot'; plan and apply agree."""
    use_sandbox(sandbox, monkeypatch, tmp_path)
    appointments = sandbox.appointments(2)
    automatic = [a for a in appointments if a["callType"] == 2]
    manual = next(a for a in appointments if a["callType"] == 1)
    edited_automatic = automatic[0]
    path = tmp_path / "appointments.xlsx"
    assert cli("export", "appointments", "--vdn", "2", "-o", path) == 0
    book = openpyxl.load_workbook(path)
    ws = book[APPOINTMENT.name]
    column = APPOINTMENT.columns.index("remark") + 1
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 2).value in (manual["appointId"], edited_automatic["appointId"]):
            ws.cell(r, column).value = "moved to Friday"
    book.save(path)

    report = validate_file(path)
    with Client(load_settings()) as client:
        plan = make_plan(report, client)
    actions = {r.key.split("/")[1]: r.action for r in plan.rows}
    assert actions[manual["appointId"]] is PlanAction.CHANGE
    assert actions[edited_automatic["appointId"]] is PlanAction.CANNOT
    assert [a for a in automatic[1:] if actions[a["appointId"]] is not PlanAction.NO_CHANGE] == []
    assert plan.counts() == {"change": 1, "no-change": len(appointments) - 2, "cannot": 1, "unread": 0,
                             "applied": 0}
    cannot = next(r for r in plan.rows if r.action is PlanAction.CANNOT)
    assert [(c.field, c.after) for c in cannot.changed] == [("remark", "moved to Friday")]

    assert cli("apply", path, "--yes") == 1  # the edited automatic appointment is refused
    with Journal(tmp_path / "journal.sqlite3") as journal:
        statuses = {r.row_number: r.status for r in journal.rows(journal.runs()[0].id)}
    by_action = {r.row: r.action for r in plan.rows}
    skipped = {row for row, status in statuses.items() if status is RowStatus.SKIPPED}
    assert skipped == {row for row, action in by_action.items() if action is PlanAction.NO_CHANGE}
    assert sandbox.appointment(2, manual["appointId"])["remark"] == "moved to Friday"
