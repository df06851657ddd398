"""apply against a gateway that throttles: every row ok exactly once, the pace held back and remembered, and a
run that hears nothing but 429 stops with one clear line and the rest not-sent."""

from __future__ import annotations

import json

from reliability_helpers import results, settings_workbook, use_sandbox

from batchops.apply.replay import ApplyOptions, Replay
from batchops.checking.validation import validate_file
from batchops.cli import run
from batchops.journal import Journal
from batchops.settings import load_settings

API = ("agentsettings/update", "agentsettings/query")


def api_requests(sandbox) -> list:
    return [e for e in sandbox.request_log() if e.path.endswith(API)]


def test_a_run_finds_the_gateway_limit_and_every_row_is_ok_once(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(monkeypatch, sandbox)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 40)
    sandbox.set_faults(rate_limit=10, latency_ms=5)  # 10 requests/s on each path; 16 in flight would be 800/s
    journal = tmp_path / "j.sqlite3"
    code = run(["apply", str(path), "--yes", "--json", "--journal", str(journal), "--concurrency", "16"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0 and summary["counts"]["ok"] == 40
    assert [r["status"] for r in results(path)] == ["ok"] * 40
    assert sandbox.applied_counts() == {f"agentsettings:{i}": 1 for i in ids}  # exactly once, 429s and all
    refused = sum(1 for e in api_requests(sandbox) if e.status == 429)
    assert summary["throttled_answers"] == refused > 0  # the client counted every 429 it heard
    # Held back: the server let through about 10/s on each of the two paths, and the run settled there.
    assert summary["settled_rate"] is not None and 5 <= summary["settled_rate"] <= 40
    # The journal keeps it for the next run to the same target, and `runs` shows it.
    with Journal(journal) as j:
        assert j.settled_rate(sandbox.url) == summary["settled_rate"] or \
            round(j.settled_rate(sandbox.url) or 0, 1) == summary["settled_rate"]
    assert run(["runs", "--journal", str(journal)]) == 0
    assert f"throttled, settled at {summary['settled_rate']:,.1f} requests/s" in capsys.readouterr().out
    assert run(["runs", "--journal", str(journal), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["runs"][0]
    assert listed["throttled_answers"] == refused and round(listed["settled_rate"], 1) == summary["settled_rate"]


def test_the_next_run_starts_at_the_settled_rate(sandbox, monkeypatch, tmp_path):
    use_sandbox(monkeypatch, sandbox)
    path, _ = settings_workbook(tmp_path / "agents.xlsx", sandbox, 5)
    with Journal(tmp_path / "j.sqlite3") as journal:
        first = Replay(validate_file(path), load_settings(), journal=journal, options=ApplyOptions(force=True))
        first.run()
        assert first.limiter is not None and first.limiter.rate is None  # never throttled: nothing to keep
        run_id = journal.runs()[0].id
        journal.record_pace(run_id, sandbox.url, throttled=3, settled_rate=7.5)
        second = Replay(validate_file(path), load_settings(), journal=journal, options=ApplyOptions(force=True))
        outcome = second.run()
    assert second.limiter is not None and second.limiter.max_rate is None
    assert outcome.counts()["ok"] == 5 and outcome.settled_rate is not None  # started held back at 7.5/s


def test_a_run_that_hears_nothing_but_429_stops_and_says_what_to_change(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(monkeypatch, sandbox)
    monkeypatch.setenv("BATCHOPS_THROTTLE_TIMEOUT", "2")
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 30)
    sandbox.set_faults(throttle_rate=1.0, retry_after_seconds=1)  # every API answer is 429
    code = run(["apply", str(path), "--yes", "--no-before", "--journal", str(tmp_path / "j.sqlite3")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1
    assert ("Warning: the run stopped: the server answered nothing but 429 (too many requests) for 2 s. Run apply "
            "again later (rows already applied are skipped), ask for a higher API allowance, or raise "
            "throttle_timeout (BATCHOPS_THROTTLE_TIMEOUT).") in err
    statuses = [r["status"] for r in results(path)]
    assert statuses == ["not-sent"] * 30  # none failed for throttling; the next run sends them all
    assert sandbox.applied_counts() == {}
    sandbox.set_faults(throttle_rate=0.0)
    assert run(["apply", str(path), "--yes", "--no-before", "--journal", str(tmp_path / "j.sqlite3")]) == 0
    assert sandbox.applied_counts() == {f"agentsettings:{i}": 1 for i in ids}
