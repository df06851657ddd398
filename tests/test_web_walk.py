"""The whole walk through the HTTP API against the sandbox: check, correct, plan, apply, results, audit, undo.

Every step is the library's Job; the answers are its summaries (the CLI's ``--json``).
"""

from __future__ import annotations

import openpyxl
import pytest
from roundtrip_helpers import cli_json, rows_of
from web_helpers import client_for, sandbox_rows, serving, settings_workbook, upload, wait_for_end

from batchops.workflow import Job


@pytest.fixture
def web(sandbox, monkeypatch, tmp_path):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    with serving(tmp_path) as running:
        yield running


def updates(sandbox) -> int:
    return len(sandbox.request_log("agentsettings/update"))


def test_the_whole_walk(web, sandbox, tmp_path):
    rows = sandbox_rows(sandbox, 30)
    flawed = [list(r) for r in rows]
    flawed[3][2] = "7"
    with client_for(web) as client:
        body = upload(client, settings_workbook(tmp_path / "team.xlsx", flawed)).json()
        file_id = body["id"]
        assert (body["valid"], body["error_count"], body["rows"], body["file"]) == (False, 1, 30, "team.xlsx")
        errors = client.get(f"/api/files/{file_id}/errors").json()
        assert [(e["row"], e["column"], e["value"]) for e in errors["errors"]] == [(5, "callType", "7")]
        refused = client.post(f"/api/files/{file_id}/plan")
        assert refused.status_code == 422  # nothing is read while rows are invalid

        fixed = upload(client, settings_workbook(tmp_path / "team-fixed.xlsx", rows), url=f"/api/files/{file_id}")
        assert fixed.json()["valid"] is True and fixed.json()["id"] == file_id

        assert 'id="apply-no-plan"' in client.get(f"/files/{file_id}/apply").text
        plan = client.post(f"/api/files/{file_id}/plan").json()
        assert plan["counts"]["change"] == 30 and plan["to_send"] == 30 and plan["file"] == "team-fixed.xlsx"
        assert plan["target"] == sandbox.url
        page = client.get(f"/api/files/{file_id}/plan", params={"limit": 5}).json()
        assert page["total"] == 30 and len(page["rows"]) == 5 and page["rows"][0]["action"] == "change"

        confirmation = client.get(f"/files/{file_id}/apply").text  # the plan's figures beside the question
        assert "the plan, when it read the current values: 30 rows change something (" in confirmation
        preview = client.get(f"/api/files/{file_id}/preview").json()
        assert (preview["to_send"], preview["target"], preview["already_applied"]) == (30, sandbox.url, 0)

        before = updates(sandbox)
        for body in ({}, {"confirm": False}, {"confirm": "yes", "concurrency": 4}):
            refused = client.post(f"/api/files/{file_id}/apply", json=body)
            assert refused.status_code == 400
            assert refused.json()["error"].startswith("nothing was sent: confirm with")
        assert updates(sandbox) == before

        started = client.post(f"/api/files/{file_id}/apply", json={"confirm": True, "concurrency": 4})
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        end = wait_for_end(client, run_id)
        assert end["state"] == "done" and end["counts"]["ok"] == 30 and end["done"] == 30
        journal_id = end["summary"]["run_id"]
        assert end["run_id"] == journal_id  # the page follows the journal's run id once it has one
        assert client.get(f"/api/runs/{run_id}").json()["state"] == "done"
        assert updates(sandbox) == before + 30

        results = client.get(f"/api/files/{file_id}/results", params={"limit": 1000}).json()
        assert [r["status"] for r in results["results"]] == ["ok"] * 30
        workbook = client.get(f"/api/files/{file_id}/workbook")
        target = tmp_path / "downloaded.xlsx"
        target.write_bytes(workbook.content)
        assert [r["status"] for r in rows_of(target, "Results")] == ["ok"] * 30

        listed = client.get("/api/runs").json()
        assert listed["runs"][0]["run_id"] == journal_id and listed["runs"][0]["ok"] == 30
        journal_rows = client.get(f"/api/runs/{journal_id}/rows", params={"limit": 3}).json()
        assert journal_rows["total"] == 30 and journal_rows["rows"][0]["status"] == "ok"

        audit = client.get("/api/audit", params={"run": journal_id})
        assert audit.status_code == 200
        (tmp_path / "audit.xlsx").write_bytes(audit.content)
        changes = rows_of(tmp_path / "audit.xlsx", "Changes")  # one line per field changed
        assert {c["row"] for c in changes} == set(range(2, 32)) and {c["result"] for c in changes} == {"ok"}
        undo = client.get(f"/api/runs/{journal_id}/undo")
        assert undo.status_code == 200
        (tmp_path / "undo.xlsx").write_bytes(undo.content)
        assert len(Job(tmp_path / "undo.xlsx").validate().report.valid_records) == 30

        again = client.post(f"/api/files/{file_id}/apply", json={"confirm": True})
        end = wait_for_end(client, again.json()["run_id"])
        assert end["counts"]["skipped"] == 30 and updates(sandbox) == before + 30  # nothing sent twice


def test_apply_answers_what_the_cli_prints(web, sandbox, tmp_path, capsys):
    path = settings_workbook(tmp_path / "five.xlsx", sandbox_rows(sandbox, 5))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        run_id = client.post(f"/api/files/{file_id}/apply", json={"confirm": True}).json()["run_id"]
        summary = wait_for_end(client, run_id)["summary"]
    assert summary["file"] == "five.xlsx" and summary["results"] == "five.xlsx"  # no server path shown
    code, printed = cli_json(capsys, "apply", path, "--yes", "--journal", web.web.journal_path)
    assert code == 0 and printed["counts"]["skipped"] == 5  # the page's run is in the same journal
    assert set(summary) == set(printed) | {"id"}


def test_cancel_stops_an_apply_as_ctrl_c_does(web, sandbox, tmp_path):
    sandbox.set_faults(latency_ms=200)
    path = settings_workbook(tmp_path / "slow.xlsx", sandbox_rows(sandbox, 60))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        run_id = client.post(f"/api/files/{file_id}/apply", json={"confirm": True, "concurrency": 1}).json()["run_id"]
        assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
        end = wait_for_end(client, run_id)
        assert end["state"] == "cancelled"
        counts = end["summary"]["counts"]
        assert counts["ok"] < 60 and counts["ok"] + counts["not-sent"] == 60
        again = client.post(f"/api/files/{file_id}/apply", json={"confirm": True, "concurrency": 8}).json()["run_id"]
        sandbox.set_faults(latency_ms=0)
        end = wait_for_end(client, again)
    assert end["summary"]["counts"]["ok"] == 60 - counts["ok"]  # the rest, nothing twice
    assert max(sandbox.applied_counts().values()) == 1


def test_apply_without_settings_is_one_line_and_starts_nothing(tmp_path, sandbox):
    path = settings_workbook(tmp_path / "a.xlsx", sandbox_rows(sandbox, 2))
    with serving(tmp_path) as running, client_for(running) as client:
        file_id = upload(client, path).json()["id"]
        answer = client.post(f"/api/files/{file_id}/apply", json={"confirm": True})
        assert answer.status_code == 503
        assert answer.json()["error"].startswith(
            "3 settings are not set: the C1 gateway URL, the C1 app key and the C1 app secret. Set "
            "BATCHOPS_BASE_URL, BATCHOPS_APP_KEY and BATCHOPS_APP_SECRET, or base_url, app_key and app_secret in ")
        assert running.web.runs.unique() == []


def test_an_export_runs_with_progress_and_downloads(web, sandbox, tmp_path):
    with client_for(web) as client:
        started = client.post("/api/exports", json={"what": "called-routes"})
        assert started.status_code == 202
        end = wait_for_end(client, started.json()["run_id"])
        assert end["state"] == "done" and end["summary"]["rows"] == len(sandbox.routes())
        file = client.get(end["summary"]["download"])
        assert file.status_code == 200
        (tmp_path / "routes.xlsx").write_bytes(file.content)
        assert Job(tmp_path / "routes.xlsx").validate().report.operation.name == "called-route"
        assert client.post("/api/exports", json={"what": "everything"}).status_code == 400
        bad = client.post("/api/exports", json={"what": "appointments"})
        end = wait_for_end(client, bad.json()["run_id"])
        assert end["state"] == "stopped" and end["error"].startswith("exporting appointments needs vdnId")
    wb = openpyxl.load_workbook(tmp_path / "routes.xlsx")
    assert wb.sheetnames[0] == "called-route"


def test_no_secret_reaches_a_page_or_an_answer_along_the_walk(web, sandbox, tmp_path):
    secrets = [sandbox.options.app_secret, sandbox.options.isales_sk]
    path = settings_workbook(tmp_path / "s.xlsx", sandbox_rows(sandbox, 5))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        texts = [client.post(f"/api/files/{file_id}/plan").text]
        run_id = client.post(f"/api/files/{file_id}/apply", json={"confirm": True}).json()["run_id"]
        end = wait_for_end(client, run_id)
        journal_id = end["summary"]["run_id"]
        for url in ("/", "/runs", f"/files/{file_id}", f"/files/{file_id}/plan", f"/files/{file_id}/apply",
                    f"/runs/{run_id}", f"/runs/{journal_id}?journal=1", f"/api/runs/{run_id}", "/api/runs",
                    f"/api/runs/{journal_id}/rows", f"/api/files/{file_id}/plan", f"/api/files/{file_id}/results",
                    f"/api/files/{file_id}/preview", "/api/target"):
            answer = client.get(url)
            assert answer.status_code == 200, url
            texts.append(answer.text)
        texts.append(str(end))
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_agent_settings_export_from_the_page(web, sandbox, tmp_path):
    with client_for(web) as client:
        end = wait_for_end(client, client.post("/api/exports", json={"what": "agent-settings"}).json()["run_id"])
        assert end["state"] == "done" and end["summary"]["rows"] > 0
        assert end["summary"]["operation"] == "agent-settings"


def test_a_nightly_csv_goes_the_same_way_with_its_reports_beside_it(web, sandbox, tmp_path):
    import csv

    routes = [r for r in sandbox.routes() if r["editable"] not in (1, 3)][:4]
    queues = sorted(sandbox.skill_queues())
    path = tmp_path / "routes.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "devicetype", "deviceId"])
        writer.writerow([routes[0]["id"], 7, queues[0]])  # devicetype 7 is not allowed
        for route in routes[1:]:
            writer.writerow([route["id"], 1, queues[0]])
    with client_for(web) as client:
        body = upload(client, path).json()
        assert (body["kind"], body["operation"], body["valid"]) == ("csv", "called-route", False)
        report = client.get(f"/api/files/{body['id']}/report/errors")
        assert report.status_code == 200 and "devicetype" in report.text
        assert 'filename="routes.errors.csv"' in report.headers["content-disposition"]
        path.write_text(path.read_text(encoding="utf-8").replace(",7,", ",1,"), encoding="utf-8")
        file_id = upload(client, path, url=f"/api/files/{body['id']}").json()["id"]
        end = wait_for_end(client, client.post(f"/api/files/{file_id}/apply", json={"confirm": True}).json()["run_id"])
        assert end["summary"]["counts"]["ok"] + end["summary"]["counts"]["skipped"] == 4
        results = client.get(f"/api/files/{file_id}/report/results")
        assert results.status_code == 200
        assert [r["status"] for r in csv.DictReader(results.text.splitlines())] == ["ok"] * 4


def test_a_file_does_one_step_at_a_time(web, sandbox, tmp_path):
    import threading

    sandbox.set_faults(latency_ms=300)
    path = settings_workbook(tmp_path / "one.xlsx", sandbox_rows(sandbox, 3))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        first: dict = {}
        planning = threading.Thread(target=lambda: first.update(
            answer=client.post(f"/api/files/{file_id}/plan", json={"concurrency": 1})))
        planning.start()
        while not sandbox.request_log("agentsettings/query"):  # the plan is reading: the file is busy
            threading.Event().wait(0.01)
        assert client.get(f"/api/files/{file_id}").json()["reading"]["total"] == 3  # the page's bar
        second = client.post(f"/api/files/{file_id}/plan")
        applying = client.post(f"/api/files/{file_id}/apply", json={"confirm": True})
        planning.join(60)
    assert second.status_code == 409 and applying.status_code == 409
    assert second.json() == {"error": "this file is being planned or replaced; wait for that to end."}
    assert first["answer"].status_code == 200
    with client_for(web) as client:
        assert "reading" not in client.get(f"/api/files/{file_id}").json()


def test_audit_and_undo_of_a_run_the_journal_does_not_have_are_404(web):
    with client_for(web) as client:
        assert client.get("/api/audit").status_code == 404  # no journal yet
        assert client.get("/api/runs/nope/undo").json() == {"error": "no such run."}
        assert client.get("/runs/nope").status_code == 404


def test_a_throttled_run_says_so_live_and_every_row_is_ok_once(web, sandbox, tmp_path):
    import json

    sandbox.set_faults(rate_limit=10, latency_ms=5)  # 10 requests/s on each path
    path = settings_workbook(tmp_path / "many.xlsx", sandbox_rows(sandbox, 40))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        run_id = client.post(f"/api/files/{file_id}/apply", json={"confirm": True, "concurrency": 16}).json()["run_id"]
        seen, kind = [], None
        with client.stream("GET", f"/api/runs/{run_id}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if kind == "end":
                        break
    end = seen[-1]
    assert end["summary"]["counts"]["ok"] == 40 and end["summary"]["throttled_answers"] > 0
    assert any(e.get("held_back") for e in seen)  # the page said the server held the run back
    assert max(sandbox.applied_counts().values()) == 1


def test_a_plan_being_read_is_cancelled_from_the_page(web, sandbox, tmp_path):
    import threading

    sandbox.set_faults(latency_ms=200)
    path = settings_workbook(tmp_path / "many.xlsx", sandbox_rows(sandbox, 40))
    with client_for(web) as client:
        file_id = upload(client, path).json()["id"]
        assert client.post(f"/api/files/{file_id}/plan/cancel").json() == {
            "error": "no plan is being read for this file."}
        answer: dict = {}
        planning = threading.Thread(target=lambda: answer.update(
            plan=client.post(f"/api/files/{file_id}/plan", json={"concurrency": 1})))
        planning.start()
        while not sandbox.request_log("agentsettings/query"):  # the plan is reading
            threading.Event().wait(0.01)
        cancelled = client.post(f"/api/files/{file_id}/plan/cancel")
        planning.join(60)
        reads = len(sandbox.request_log("agentsettings/query"))
        assert cancelled.status_code == 202 and cancelled.json()["reading"]["cancel_requested"] is True
        assert answer["plan"].status_code == 409
        assert answer["plan"].json()["error"] == (
            f"The plan was cancelled after reading {reads} of 40 record(s): nothing was planned.")
        assert reads < 40
        assert client.get(f"/api/files/{file_id}/plan").status_code == 404  # no half plan
        assert "reading" not in client.get(f"/api/files/{file_id}").json()
        page = client.get(f"/files/{file_id}/plan").text
        assert 'id="plan-cancel"' in page
        sandbox.set_faults(latency_ms=0)
        assert client.post(f"/api/files/{file_id}/plan").json()["counts"]["change"] == 40  # and again, whole


def test_numbers_that_lost_their_leading_zeros_are_accepted_on_the_page_through_the_job(web, sandbox, tmp_path):
    zero_led = [r for r in sandbox.agent_settings() if r["callerPresentDefault"].startswith("0")][:2]
    path = tmp_path / "resaved.csv"  # what Excel writes back: the zeros of every number gone
    path.write_text("id,userId,callerPresentDefault\n" + "".join(
        f"{r['id']},{r['userId']},{r['callerPresentDefault'].lstrip('0')}\n" for r in zero_led), encoding="utf-8")
    with client_for(web) as client:
        body = upload(client, path).json()
        file_id = body["id"]
        assert body["valid"] is True and body["accept_lost_zeros"] is False  # nothing in the file shows it
        plan = client.post(f"/api/files/{file_id}/plan").json()
        assert (plan["counts"]["cannot"], plan["to_send"]) == (2, 0)
        page = client.get(f"/files/{file_id}/plan").text
        assert "2 rows would set a number to the current one without its leading zero" in page
        assert 'id="lost-zeros-choice" data-accept="true" data-then="plan"' in page
        preview = client.get(f"/api/files/{file_id}/preview").json()
        assert preview["to_send"] == 2  # not read: counted as the journal sees them

        for wrong in ({}, {"accept_lost_zeros": "yes"}):
            refused = client.post(f"/api/files/{file_id}/check", json=wrong)
            assert refused.status_code == 400 and "accept_lost_zeros" in refused.json()["error"]
        checked = client.post(f"/api/files/{file_id}/check", json={"accept_lost_zeros": True}).json()
        assert checked["accept_lost_zeros"] is True and checked["valid"] is True
        plan = client.post(f"/api/files/{file_id}/plan").json()
        assert (plan["counts"]["change"], plan["to_send"]) == (2, 2)
        end = wait_for_end(client, client.post(f"/api/files/{file_id}/apply", json={"confirm": True}).json()["run_id"])
        assert end["summary"]["counts"]["ok"] == 2 and end["summary"]["lost_zero_rows"]["held"] == []
    stored = {r["id"]: r["callerPresentDefault"] for r in sandbox.agent_settings()}
    assert [stored[r["id"]] for r in zero_led] == [r["callerPresentDefault"].lstrip("0") for r in zero_led]


def test_a_number_cell_is_refused_then_accepted_on_the_check_page(web, tmp_path):
    from web_helpers import SETTINGS_HEADERS, settings_rows

    from batchops.sheets.writer import SheetSpec, write_xlsx

    rows: list[list] = [list(r) for r in settings_rows(2)]
    rows[1][6] = 7773217  # typed into a General cell: Excel keeps no leading zero
    path = tmp_path / "typed.xlsx"
    write_xlsx(path, [SheetSpec("agent-settings", SETTINGS_HEADERS, rows, text_columns=range(6))])
    with client_for(web) as client:
        body = upload(client, path).json()
        assert (body["valid"], body["lost_zero_rows"]) == (False, {"held": [3], "accepted": []})
        page = client.get(f"/files/{body['id']}").text
        assert "1 row hold a number Excel probably stripped of its leading zero" in page
        assert 'data-accept="true"' in page
        checked = client.post(f"/api/files/{body['id']}/check", json={"accept_lost_zeros": True}).json()
        assert (checked["valid"], checked["lost_zero_rows"], checked["warnings"]) == (
            True, {"held": [], "accepted": [3]}, 1)
        page = client.get(f"/files/{body['id']}").text
        assert "You accepted numbers Excel may have stripped of their leading zeros as they are (1 row here)" in page
        assert 'data-accept="false"' in page
        again = client.post(f"/api/files/{body['id']}/check", json={"accept_lost_zeros": False}).json()
        assert (again["valid"], again["accept_lost_zeros"]) == (False, False)
