"""The library workflow (``batchops.workflow``) against the sandbox: each step's summary, the counts of plan,
preview and apply agreeing, paging, cancelling (before and during a run), and an apply from an event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from roundtrip_helpers import sheet, use_sandbox

from batchops.apply.replay import ApplyOptions
from batchops.errors import ValidationFailed
from batchops.journal import Journal
from batchops.workflow import CancelToken, Job, RunState

HEADERS = ["id", "devicetype", "deviceId"]


def route_rows(sandbox: Any, count: int) -> list[dict[str, Any]]:
    return [r for r in sandbox.routes() if r["editable"] == 0][:count]


def moved(sandbox: Any, route: dict[str, Any]) -> list[str]:
    """A row that points ``route`` at a skill queue other than its own."""
    queue = next(q for q in sorted(sandbox.skill_queues()) if not (route["devicetype"] == 1 and route["deviceId"] == q))
    return [route["id"], "1", str(queue)]


def same(route: dict[str, Any]) -> list[str]:
    return [route["id"], str(route["devicetype"]), str(route["deviceId"])]


@pytest.fixture
def mixed(sandbox, monkeypatch, tmp_path):
    """A called-route workbook whose rows are: applied already (by an earlier run of this file), no change,
    two changes. Returns (path, journal)."""
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    a, b, c, d = route_rows(sandbox, 4)
    path = sheet(tmp_path / "routes.xlsx", "called-route", HEADERS, [moved(sandbox, a)])
    Job(path, journal_path=journal).apply(ApplyOptions(read_before=True))
    sheet(path, "called-route", HEADERS, [moved(sandbox, a), same(b), moved(sandbox, c), moved(sandbox, d)])
    return path, journal


def test_validation_summary_and_pages_of_issues(tmp_path):
    path = sheet(tmp_path / "routes.xlsx", "called-route", HEADERS,
                 [["1", "2", "5"], ["2", "1", "x"], ["3", "9", "y"], ["4", "1", "5"]])
    validation = Job(path).validate()
    summary = validation.summary()
    assert {k: summary[k] for k in ("ok", "exit_code", "file", "sheet", "kind", "operation", "rows", "valid_rows",
                                    "invalid_rows", "errors", "warnings", "report")} == {
        "ok": False, "exit_code": 2, "file": str(path), "sheet": "called-route", "kind": "xlsx",
        "operation": "called-route", "rows": 4, "valid_rows": 1, "invalid_rows": 3, "errors": 4, "warnings": 0,
        "report": None}
    assert summary["issues"][1] == {
        "row": 3, "cell": "C3", "column": "deviceId", "value": "x", "severity": "error", "code": "not_integer",
        "message": "'x' is not a whole number; deviceId takes a whole number from 1 to 2147483647."}
    assert "issues" not in validation.summary(issues=False)
    first = validation.issues_page(0, 2)
    assert (first["total"], first["offset"], first["limit"], len(first["errors"])) == (4, 0, 2, 2)
    assert first["errors"] + validation.issues_page(2, 2)["errors"] == summary["issues"]
    assert validation.issues_page(4, 2)["errors"] == []
    device_ids = validation.issues_page(column="deviceId")
    assert device_ids["total"] == 2 and {e["cell"] for e in device_ids["errors"]} == {"C3", "C4"}
    assert validation.issues_page(limit=10**6)["limit"] == 1000


def test_plan_and_apply_refuse_an_invalid_file_and_say_why(tmp_path):
    path = sheet(tmp_path / "routes.xlsx", "called-route", HEADERS, [["1", "2", "5"]])
    job = Job(path)
    with pytest.raises(ValidationFailed) as refused:
        job.plan()
    assert refused.value.report is job.report
    with pytest.raises(ValidationFailed):
        job.apply(ApplyOptions())


def test_plan_preview_and_apply_count_the_same_rows(sandbox, mixed):
    path, journal = mixed
    job = Job(path, journal_path=journal)
    planned = job.plan()
    assert planned.counts == {"change": 2, "no-change": 1, "cannot": 0, "unread": 0, "applied": 1}
    assert planned.to_send == 2 and planned.exit_code == 0
    options = ApplyOptions(read_before=True)
    quick = job.preview(options)
    assert quick.summary() == {
        "file": str(path), "sheet": "called-route", "kind": "xlsx", "operation": "called-route",
        "target": sandbox.url, "dry_run": False, "rows": 4, "invalid": 0, "already_applied": 1,
        "no_change": None, "cannot": None, "unread": None, "to_send": 3, "read": False, "skips_no_change": True,
        "lost_zero_rows": {"held": [], "accepted": []}}
    read = job.preview(options, read=True)
    assert (read.to_send, read.no_change, read.already_applied, read.cannot, read.read) == (2, 1, 1, 0, True)
    to_send = read.rows_page()
    assert to_send["total"] == 2 and [r["row"] for r in to_send["rows"]] == [4, 5]
    assert all(r["action"] == "change" and r["label"].startswith("accessCode ") for r in to_send["rows"])
    assert quick.rows_to_send() == []  # nothing read, nothing to list
    before = sum(sandbox.applied_counts().values())
    applied = job.apply(options)
    summary = applied.summary()
    assert summary["counts"] == {"ok": 2, "failed": 0, "invalid": 0, "skipped": 2, "not-sent": 0}
    assert summary["skipped"] == {"already-applied": 1, "no-change": 1}
    assert summary["sent"] == read.to_send == sum(sandbox.applied_counts().values()) - before
    assert (summary["state"], summary["interrupted"], summary["exit_code"]) == ("done", False, 0)
    assert summary["rows_per_second"] is None  # two rows say nothing about speed
    assert job.progress.snapshot()["counts"] == summary["counts"]


def test_plan_rows_come_a_page_at_a_time_by_action(sandbox, mixed):
    path, journal = mixed
    planned = Job(path, journal_path=journal).plan()
    changes = planned.rows_page(action="change")
    assert changes["total"] == 2 and [r["row"] for r in changes["rows"]] == [4, 5]
    assert planned.rows_page(1, 1)["rows"] == [planned.summary()["rows"][1]]
    assert "rows" not in planned.summary(rows=False)


def test_write_report_writes_the_last_steps_sheet(sandbox, mixed):
    import openpyxl

    path, journal = mixed
    job = Job(path, journal_path=journal)
    job.plan()
    assert job.write_report().path == path
    job.apply(ApplyOptions(read_before=True))
    written = job.write_report()
    assert written.path == path and written.warning is None
    assert job.applied is not None and job.applied.summary()["results"] == str(path)
    names = openpyxl.load_workbook(path, read_only=True).sheetnames
    # The run changed what the plan showed, so its Plan sheet goes in the same save as the Results.
    assert "Plan" not in names and "Results" in names
    assert written.note == f"Removed from {path.name}: the Plan sheet, which this run made out of date."


def agents_file(sandbox: Any, path: Path, count: int) -> tuple[Path, list[dict[str, Any]]]:
    records = sandbox.agent_settings()[:count]
    rows = [[r["id"], r["userId"], f"0755{i:07d}"] for i, r in enumerate(records)]
    return sheet(path, "agent-settings", ["id", "userId", "callNumber"], rows), records


def test_cancel_before_the_run_sends_nothing_and_the_next_run_sends_all(sandbox, monkeypatch, tmp_path):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, records = agents_file(sandbox, tmp_path / "agents.xlsx", 6)
    cancel = CancelToken()
    cancel.cancel()
    job = Job(path, journal_path=journal)
    applied = job.apply(ApplyOptions(), cancel=cancel)
    summary = applied.summary()
    assert (summary["state"], summary["interrupted"], summary["exit_code"]) == ("cancelled", True, 130)
    assert summary["counts"]["not-sent"] == 6 and sandbox.applied_counts() == {}
    assert job.progress.snapshot()["state"] == "cancelled"
    with Journal(journal) as j:
        assert [r.status.value for r in j.runs()] == ["interrupted"]
    again = Job(path, journal_path=journal).apply(ApplyOptions())
    assert again.summary()["counts"]["ok"] == 6
    assert all(sandbox.applied_count(f"agentsettings:{r['id']}") == 1 for r in records)


def test_cancel_during_the_run_finishes_calls_in_flight_and_the_rest_is_sent_next_time(sandbox, monkeypatch,
                                                                                        tmp_path):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, records = agents_file(sandbox, tmp_path / "agents.xlsx", 30)
    cancel = CancelToken()
    seen: list[int] = []

    def on_progress(result: Any) -> None:  # a page's Cancel button, pressed after the fifth row
        seen.append(result.row)
        if len(seen) == 5:
            threading.Thread(target=cancel.cancel).start()

    job = Job(path)
    applied = job.apply(ApplyOptions(concurrency=2, read_before=False), on_progress=on_progress, cancel=cancel)
    counts = applied.summary()["counts"]
    assert applied.state is RunState.CANCELLED and applied.exit_code == 130
    assert counts["ok"] >= 5 and counts["not-sent"] > 0 and counts["ok"] + counts["not-sent"] == 30
    sent = {k for k, n in sandbox.applied_counts().items() if n}
    assert len(sent) == counts["ok"], "every call that went out was answered and recorded"
    rest = Job(path).apply(ApplyOptions(read_before=False)).summary()["counts"]
    assert rest == {"ok": counts["not-sent"], "failed": 0, "invalid": 0, "skipped": counts["ok"], "not-sent": 0}
    assert all(sandbox.applied_count(f"agentsettings:{r['id']}") == 1 for r in records)


def test_aapply_runs_on_the_callers_event_loop_without_blocking_it(sandbox, monkeypatch, tmp_path):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = agents_file(sandbox, tmp_path / "agents.xlsx", 8)
    job = Job(path)

    async def main() -> tuple[dict[str, Any], bool, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        threads: set[int] = set()
        first_row = asyncio.Event()

        def on_progress(result: Any) -> None:
            threads.add(threading.get_ident())
            first_row.set()

        running = asyncio.ensure_future(job.aapply(ApplyOptions(concurrency=1), on_progress=on_progress))
        await first_row.wait()  # this coroutine runs while the apply is under way: the loop is free
        mid_run, done_already = job.progress.snapshot(), running.done()
        applied = await running
        assert threads == {threading.get_ident()} and loop.is_running()  # on this loop, not a loop of its own
        return mid_run, done_already, applied.summary()

    mid_run, done_already, summary = asyncio.run(main())
    assert mid_run["state"] == "running" and 1 <= mid_run["done"] < 8 and not done_already
    assert summary["counts"]["ok"] == 8 and summary["state"] == "done"


def test_cancelling_the_awaiting_task_cancels_the_run_and_still_records_it(sandbox, monkeypatch, tmp_path):
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = agents_file(sandbox, tmp_path / "agents.xlsx", 20)
    job = Job(path, journal_path=journal)

    async def main() -> None:
        first_row = asyncio.Event()
        running = asyncio.ensure_future(job.aapply(ApplyOptions(concurrency=1),
                                                   on_progress=lambda result: first_row.set()))
        await first_row.wait()
        running.cancel()  # the page went away: its request handler is cancelled
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(main())
    assert job.applied is not None
    summary = job.applied.summary()
    assert (summary["state"], summary["stopped"], summary["exit_code"]) == ("cancelled", "cancelled", 130)
    assert summary["counts"]["ok"] >= 1 and summary["counts"]["ok"] + summary["counts"]["not-sent"] == 20
    with Journal(journal) as j:
        assert [r.status.value for r in j.runs()] == ["interrupted"]
    assert sum(sandbox.applied_counts().values()) == summary["counts"]["ok"]


def test_the_library_reads_before_values_by_default_as_the_cli_does(sandbox, monkeypatch, tmp_path):
    assert ApplyOptions().read_before is True  # `batchops apply` reads unless --no-before
    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, records = agents_file(sandbox, tmp_path / "agents.xlsx", 3)
    applied = Job(path, journal_path=journal).apply(ApplyOptions())
    assert applied.summary()["counts"]["ok"] == 3
    with Journal(journal) as j:
        rows = j.rows(applied.outcome.run_id)
    assert [r.before["callNumber"] for r in rows] == [",".join(r["callNumber"]) for r in records]  # audit, undo


def test_a_plan_is_cancelled_as_a_run_is_no_half_plan_and_the_earlier_one_kept(sandbox, monkeypatch, tmp_path):
    from batchops.errors import Interrupted

    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = agents_file(sandbox, tmp_path / "agents.xlsx", 40)
    job = Job(path, journal_path=journal)
    first = job.plan()
    cancel = CancelToken()

    def on_read(done: int, total: int) -> None:  # a page's Cancel button, pressed as the first record is read
        if done == 1:
            cancel.cancel()

    reads_before = len(sandbox.request_log("agentsettings/query"))
    with pytest.raises(Interrupted) as stopped:
        job.plan(concurrency=2, on_read=on_read, cancel=cancel)
    assert str(stopped.value) == "cancelled after reading 1 of 40 record(s): nothing was planned."
    assert len(sandbox.request_log("agentsettings/query")) - reads_before == 1  # no other read was started
    assert job.planned is first  # the earlier plan is kept; no half plan replaces it
    with pytest.raises(Interrupted, match="after reading 0 of 40"):  # cancelled before it starts
        job.preview(ApplyOptions(), read=True, cancel=cancel)
    assert len(sandbox.request_log("agentsettings/query")) - reads_before == 1


def test_cancelled_reads_under_way_finish_and_none_starts_after(tmp_path):
    """``read_current`` with a reader the test holds: reads from the sixth on wait until the Cancel is done."""
    from batchops.catalogue import AGENT_SETTINGS
    from batchops.checking.report import InputRow
    from batchops.errors import Interrupted
    from batchops.remote.current import read_current

    records = [InputRow(n, str(n), {"id": str(n), "userId": str(n)}, True) for n in range(2, 42)]
    cancel, release = CancelToken(), threading.Event()
    started: list[tuple[str, bool]] = []
    lock = threading.Lock()

    class HeldReader:
        def read(self, op: Any, texts: dict[str, str]) -> dict[str, str]:
            with lock:
                started.append((texts["id"], release.is_set()))
                count = len(started)
            if count > 5:
                assert release.wait(30)
            return {"id": texts["id"], "userId": texts["userId"]}

    def on_read(done: int, total: int) -> None:
        if done == 5:
            cancel.cancel()  # pending reads are dropped here, while the two workers are held
            release.set()

    with pytest.raises(Interrupted) as stopped:
        read_current(None, AGENT_SETTINGS, records, concurrency=2, on_read=on_read, reader=HeldReader(),
                     cancel=cancel)
    assert 5 <= len(started) <= 7  # the five read, and at most the two workers' reads under way
    assert not [row for row, after in started if after], "no read started after the cancel"
    assert str(stopped.value) == f"cancelled after reading {len(started)} of 40 record(s): nothing was planned."
