"""apply under stress, against the sandbox: kills at several points, faults, two runs at once, Ctrl-C.

Every test ends the same way: every row accounted for in the Results sheet and in the journal, and the
sandbox's applied counts exact — one per row, more only for a row whose outcome was unknown (in flight at a
kill, or an answer lost and the call retried), and never more than the attempts that row's sending made.
test_apply_faults.py has the 503/429/expiring-token mix and one SIGKILL at about a quarter of a run.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from reliability_helpers import (
    applied_total,
    apply_args,
    assert_no_traceback,
    child_env,
    in_flight_keys,
    journal_rows,
    journal_runs,
    results,
    settings_workbook,
    start_apply,
    update_requests,
    use_sandbox,
    wait_until,
)

from batchops.cli import run

ROWS = 60


def _key(record_id: str) -> str:
    return f"agentsettings:{record_id}"


def _apply(path: Path, journal: Path, *extra: str) -> int:
    return run(["apply", str(path), "--yes", "--journal", str(journal), *extra])


def assert_complete(path: Path, journal: Path, sandbox, ids: list[str], *, may_repeat: set[str] = frozenset(),
                    statuses: frozenset[str] = frozenset({"ok", "skipped"})) -> list[dict]:
    """Every row accounted for: Results in row order, the journal's last word on each row, exact counts."""
    got = results(path)
    assert [r["row"] for r in got] == list(range(2, len(ids) + 2)), "one Results row per data row, in order"
    assert [r["key"] for r in got] == ids
    assert {r["status"] for r in got} <= statuses, {r["status"] for r in got}
    last: dict[int, dict] = {}
    for row in journal_rows(journal):
        last[row["row_number"]] = row
    assert sorted(last) == list(range(2, len(ids) + 2)), "every row is in the journal"
    assert {r["status"] for r in last.values()} <= statuses | {"skipped"}
    assert all(r["status"] != "in_flight" for r in last.values()), "no outcome left unknown"
    assert all(run["status"] != "running" for run in journal_runs(journal)), "no run left running"
    counts = sandbox.applied_counts()
    ok = {r["key"] for r in got if r["status"] in ("ok", "skipped")}
    assert {k for k in counts} == {_key(i) for i in ok}, "exactly the rows reported ok were applied"
    repeated = {k.split(":", 1)[1] for k, n in counts.items() if n > 1}
    assert repeated <= set(may_repeat), f"applied more than once without cause: {repeated - set(may_repeat)}"
    assert all(n <= 2 for n in counts.values())
    return got


# -- kill and resume ------------------------------------------------------------------------------------


def _kill_at(sandbox, tmp_path: Path, fraction: float, *extra: str) -> tuple[Path, Path, list[str], set[str]]:
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, ROWS)
    journal = tmp_path / "journal.sqlite3"
    sandbox.set_faults(latency_ms=60)
    child = start_apply(sandbox, path, journal, "--concurrency", "4", *extra)
    try:
        if fraction == 0:
            # Killed after the run started and reads went out, before any update was sent.
            wait_until(lambda: len(sandbox.request_log("agentsettings/query")) >= 4, what="the first reads")
        else:
            wait_until(lambda: applied_total(sandbox) >= int(ROWS * fraction), what=f"{fraction:.0%} applied")
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    at_kill = applied_total(sandbox)
    if fraction == 0:
        assert at_kill == 0 and update_requests(sandbox) == []
    else:
        assert int(ROWS * fraction) <= at_kill < ROWS, "the kill must land where it was aimed"
    runs = journal_runs(journal)
    assert [r["status"] for r in runs] == ["running"], "a killed run is left running in the journal"
    in_flight = in_flight_keys(journal)
    time.sleep(0.2)  # requests the dead process left in flight finish on the server
    return path, journal, ids, in_flight


@pytest.mark.parametrize("fraction", [
    pytest.param(0.0, id="0%-while-reading"),
    pytest.param(0.3, id="30%"),
    pytest.param(0.9, id="90%", marks=pytest.mark.slow),
])
def test_sigkill_then_apply_again_applies_every_row_once(fraction, sandbox, tmp_path):
    extra = () if fraction == 0 else ("--no-before",)
    path, journal, ids, in_flight = _kill_at(sandbox, tmp_path, fraction, *extra)
    applied_before = {k for k in sandbox.applied_counts()}
    sandbox.set_faults(latency_ms=0)
    again = subprocess.run(apply_args(path, journal, *extra), env=child_env(sandbox), check=False, capture_output=True,
                           text=True, timeout=90)
    assert_no_traceback(again.stdout, again.stderr)
    assert again.returncode == 0, again.stderr
    assert "marked interrupted" in again.stderr or "Took over the lock" in again.stderr, again.stderr
    got = assert_complete(path, journal, sandbox, ids, may_repeat=in_flight)
    skipped = {r["key"] for r in got if r["status"] == "skipped"}
    ok_in_first = {r["record_key"] for r in journal_rows(journal) if r["status"] == "ok"
                   and r["run_status"] == "interrupted"}
    assert skipped == ok_in_first, "rows the killed run finished are skipped, nothing else"
    assert {_key(i) for i in ok_in_first} <= applied_before
    runs = journal_runs(journal)
    assert [r["status"] for r in runs] == ["interrupted", "finished"]


# -- faults -----------------------------------------------------------------------------------------------


def test_timeouts_and_lost_answers_are_retried_and_counted_exactly(sandbox, tmp_path, monkeypatch):
    use_sandbox(monkeypatch, sandbox)
    monkeypatch.setenv("BATCHOPS_TIMEOUT", "1")
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 20)
    sandbox.set_faults(timeout_hold_seconds=3)
    sandbox.queue_fault("timeout", count=2, path_contains="agentsettings/update")
    sandbox.queue_fault("lost_response", count=1, path_contains="agentsettings/update")
    journal = tmp_path / "j.sqlite3"
    assert _apply(path, journal, "--concurrency", "4", "--no-before") == 0
    got = results(path)
    retried = {r["key"] for r in got if r["attempts"] > 1}
    assert len(retried) >= 2, "the timed-out calls were retried"
    assert_complete(path, journal, sandbox, ids, may_repeat=retried, statuses=frozenset({"ok"}))
    counts = sandbox.applied_counts()
    assert sum(counts.values()) == len(ids) + 1, "only the lost answer's update was applied twice"
    assert sum(1 for r in got for _ in range(r["attempts"] - 1)) == 3, "one retry per fault"


def test_server_goes_away_and_comes_back_mid_run(sandbox, tmp_path, monkeypatch):
    use_sandbox(monkeypatch, sandbox)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, ROWS)
    sandbox.set_faults(latency_ms=20)
    journal = tmp_path / "j.sqlite3"

    def bounce():
        wait_until(lambda: applied_total(sandbox) >= 15, what="a quarter of the rows")
        sandbox.restart(down_for=0.5)

    thread = threading.Thread(target=bounce)
    thread.start()
    try:
        code = _apply(path, journal, "--concurrency", "4", "--no-before")
    finally:
        thread.join(30)
    assert code == 0
    got = results(path)
    assert applied_total(sandbox) < ROWS + 8 and 15 <= min(applied_total(sandbox), ROWS)
    retried = {r["key"] for r in got if r["attempts"] > 1}
    assert retried, "calls during the outage were retried"
    assert_complete(path, journal, sandbox, ids, may_repeat=retried, statuses=frozenset({"ok"}))
    counts = sandbox.applied_counts()
    attempts = {r["key"]: r["attempts"] for r in got}
    assert all(n <= attempts[k.split(":", 1)[1]] for k, n in counts.items())


def test_token_expiry_mid_run_renews_once_and_loses_nothing(sandbox, tmp_path, monkeypatch):
    use_sandbox(monkeypatch, sandbox)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, ROWS)
    sandbox.set_faults(latency_ms=10)
    journal = tmp_path / "j.sqlite3"

    def expire():
        wait_until(lambda: applied_total(sandbox) >= 20, what="a third of the rows")
        sandbox.expire_tokens()

    thread = threading.Thread(target=expire)
    thread.start()
    try:
        code = _apply(path, journal, "--concurrency", "4", "--no-before")
    finally:
        thread.join(30)
    assert code == 0
    assert_complete(path, journal, sandbox, ids, statuses=frozenset({"ok"}))
    assert sandbox.applied_counts() == {_key(i): 1 for i in ids}
    log = sandbox.request_log()
    assert any(e.status == 401 for e in log), "the expired token was refused"
    assert sum(1 for e in log if "tokenByAkSk" in e.path) == 2, "one renewal, not one per call"


@pytest.mark.parametrize("where", ["update calls", pytest.param("everything", marks=pytest.mark.slow)])
def test_total_outage_stops_on_the_retry_budget_without_hammering(where, sandbox, tmp_path, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 200)
    if where == "everything":  # the token call fails too: no update ever leaves
        sandbox.set_faults(error_rate=1.0, token_faults=True)
    else:
        sandbox.queue_fault("error", count=1_000_000, path_contains="agentsettings/update")
    journal = tmp_path / "j.sqlite3"
    started = time.monotonic()
    code = _apply(path, journal, "--concurrency", "4", "--no-before")
    captured = capsys.readouterr()
    assert_no_traceback(captured.out, captured.err)
    assert code == 3, "nothing got through: a connection failure, exit 3"
    assert time.monotonic() - started < 30
    got = results(path)
    statuses = [r["status"] for r in got]
    assert len(statuses) == 200 and set(statuses) <= {"failed", "not-sent"}
    failed = [r for r in got if r["status"] == "failed"]
    # The first calls use up their own cap of 5 attempts; the run's budget (20 retries, +0.5 a call) stops the
    # rest: a handful of rows tried, the others never sent.
    assert len(failed) <= 12 and all("503" in r["message"] for r in failed), failed
    assert statuses.count("not-sent") >= 188
    requests = [e for e in sandbox.request_log() if e.status == 503]
    assert {e.path for e in sandbox.request_log() if e.status != 503} <= {"/apigovernance/api/oauth/tokenByAkSk"}
    assert len(requests) <= 20 + 1.5 * len(failed) + 4, f"{len(requests)} requests to a server that is down"
    assert sandbox.applied_counts() == {}
    warnings = [line for line in captured.err.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "retry budget ran out" in warnings[0], captured.err
    last = {r["row_number"]: r["status"] for r in journal_rows(journal)}
    assert len(last) == 200 and set(last.values()) <= {"failed", "not-sent"}
    assert [r["status"] for r in journal_runs(journal)] == ["failed"]
    # The outage ends: the next run sends every row once.
    sandbox.reset()  # clears the faults; nothing was applied, so the data is as it was
    use_sandbox(monkeypatch, sandbox)
    assert _apply(path, journal, "--concurrency", "8", "--no-before") == 0
    assert_complete(path, journal, sandbox, ids, statuses=frozenset({"ok"}))
    assert sandbox.applied_counts() == {_key(i): 1 for i in ids}


def test_two_runs_on_one_file_the_second_refuses(sandbox, tmp_path, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 40)
    journal = tmp_path / "j.sqlite3"
    sandbox.set_faults(latency_ms=50)
    first = start_apply(sandbox, path, journal, "--concurrency", "2", "--no-before")
    try:
        wait_until(lambda: applied_total(sandbox) >= 2, what="the first run under way")
        code = _apply(path, journal, "--no-before")
        captured = capsys.readouterr()
        sent_by_second = len(update_requests(sandbox))
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert_no_traceback(captured.out, captured.err, out, err)
    assert code == 3
    errors = [line for line in captured.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, captured.err
    assert "agents.xlsx is being applied by run" in errors[0] and f"(pid {first.pid})" in errors[0]
    assert "Wait for that run to finish" in errors[0]
    assert sent_by_second < 40
    assert first.returncode == 0, err
    assert_complete(path, journal, sandbox, ids, statuses=frozenset({"ok"}))
    assert sandbox.applied_counts() == {_key(i): 1 for i in ids}
    assert len(journal_runs(journal)) == 1, "the refused run left no trace in the journal"


def test_ctrl_c_finishes_calls_in_flight_writes_everything_and_resumes(sandbox, tmp_path):
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, ROWS)
    journal = tmp_path / "j.sqlite3"
    sandbox.set_faults(latency_ms=80)
    child = start_apply(sandbox, path, journal, "--concurrency", "4", "--no-before")
    try:
        wait_until(lambda: applied_total(sandbox) >= 15, what="a quarter of the rows")
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert_no_traceback(out, err)
    assert child.returncode == 130, err
    got = results(path)
    statuses = [r["status"] for r in got]
    assert set(statuses) == {"ok", "not-sent"}, statuses
    ok = {r["key"] for r in got if r["status"] == "ok"}
    assert sandbox.applied_counts() == {_key(i): 1 for i in ok}, "the calls in flight finished and were recorded"
    assert 15 <= len(ok) < ROWS
    assert [r["status"] for r in journal_runs(journal)] == ["interrupted"]
    assert in_flight_keys(journal) == set()
    assert {r["status"] for r in journal_rows(journal)} == {"ok", "not-sent"}
    # A second apply finishes the rest.
    sandbox.set_faults(latency_ms=0)
    again = subprocess.run(apply_args(path, journal, "--no-before"), env=child_env(sandbox), check=False, capture_output=True,
                           text=True, timeout=90)
    assert again.returncode == 0, again.stderr
    got = assert_complete(path, journal, sandbox, ids)
    assert {r["key"] for r in got if r["status"] == "skipped"} == ok
    assert sandbox.applied_counts() == {_key(i): 1 for i in ids}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_long_run_through_every_fault_killed_and_resumed(tmp_path):
    """1,000 rows through 503s, 429s, timeouts and a token that expires every 2 s; SIGKILL at half; resume."""
    from batchops.sandbox import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(agents=1200)) as sandbox:
        _long_run(sandbox, tmp_path)


def _long_run(sandbox, tmp_path: Path) -> None:
    n = 1000
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, n)
    journal = tmp_path / "j.sqlite3"
    sandbox.set_faults(error_rate=0.05, throttle_rate=0.03, timeout_rate=0.01, retry_after_seconds=1,
                       timeout_hold_seconds=2, token_ttl=2, latency_ms=10)
    env = {**child_env(sandbox), "BATCHOPS_TIMEOUT": "1"}
    args = apply_args(path, journal, "--concurrency", "16", "--no-before")
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: applied_total(sandbox) >= n // 2, timeout=200, what="half the rows")
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    in_flight = in_flight_keys(journal)
    time.sleep(0.5)
    again = subprocess.run(args, env=env, check=False, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert_complete(path, journal, sandbox, ids, may_repeat=in_flight)
    assert sum(sandbox.applied_counts().values()) <= n + len(in_flight)
