"""The journal: real SQLite files in tmp_path, real processes for the lock race and the SIGKILL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import signal
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from batchops.errors import JournalError, RunLocked
from batchops.http.calls import PreparedCall
from batchops.journal import (
    SCHEMA_VERSION,
    Action,
    Journal,
    Reason,
    RowStatus,
    RunStatus,
    content_hash,
    default_journal_path,
    file_sha256,
)

TARGET = "https://service.example.com"
OP = "agentsettings"
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as a second `batchops apply` would be


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(journal_path: Path) -> Any:
    with Journal(journal_path) as j:
        yield j


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "agents.xlsx"
    path.write_bytes(b"pretend workbook")
    return path


def rows_of(*pairs: tuple[str, dict[str, Any]], first: int = 2) -> list[tuple[int, str, str]]:
    """(row_number, key, content_hash) for rows starting at Excel row ``first``."""
    return [(first + i, key, content_hash(values)) for i, (key, values) in enumerate(pairs)]


def apply(journal: Journal, run_id: str, decisions: Any, outcome: dict[str, RowStatus] | None = None) -> None:
    """Play a run: every row to send goes in flight, then ends ok (or as ``outcome`` says, by key)."""
    journal.add_rows(run_id, decisions)
    for d in decisions:
        if d.action is Action.SEND:
            journal.mark_in_flight(run_id, d.row_number, request={"path": "/x", "body": {"id": d.key}})
            status = (outcome or {}).get(d.key, RowStatus.OK)
            journal.record_result(run_id, d.row_number, status, http_status=200, code="0", attempts=1)


# -- file, permissions, schema ------------------------------------------------------------------------


def test_default_path_is_in_the_user_data_directory() -> None:
    assert default_journal_path() == Path(platformdirs.user_data_dir("batchops")) / "journal.sqlite3"


def test_a_new_journal_is_private_in_wal_mode_at_the_current_schema(journal_path: Path, sheet: Path) -> None:
    with Journal(journal_path) as journal:
        journal.start_run(sheet, operation=OP, target=TARGET)
        assert stat.S_IMODE(journal_path.parent.stat().st_mode) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE(Path(f"{journal_path}{suffix}").stat().st_mode) == 0o600, suffix
        locks = Path(f"{journal_path}.locks")
        assert stat.S_IMODE(locks.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in locks.iterdir())
    conn = sqlite3.connect(journal_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_reopening_keeps_the_runs_and_migrates_nothing_twice(journal_path: Path, sheet: Path) -> None:
    with Journal(journal_path) as journal:
        run = journal.start_run(sheet, operation=OP, target=TARGET)
        journal.finish_run(run.id)
    with Journal(journal_path) as journal:
        assert [r.id for r in journal.runs()] == [run.id]


def test_a_journal_from_a_newer_batchops_is_refused(journal_path: Path) -> None:
    Journal(journal_path).close()
    conn = sqlite3.connect(journal_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer batchops") as caught:
        Journal(journal_path)
    assert caught.value.path == journal_path
    assert "--journal PATH" in str(caught.value)


def test_a_corrupt_journal_is_named_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(JournalError) as caught:
        Journal(path)
    message = str(caught.value)
    assert str(path) in message
    assert "damaged" in message and "journal.sqlite3.broken" in message and "--journal PATH" in message


def test_an_unwritable_location_is_named_with_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    with pytest.raises(JournalError) as caught:
        Journal(blocker / "journal.sqlite3")
    assert str(blocker) in str(caught.value) and "--journal PATH" in str(caught.value)


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root writes through permissions")
def test_a_read_only_journal_is_named_with_the_fix(journal_path: Path, sheet: Path) -> None:
    Journal(journal_path).close()
    journal_path.chmod(0o400)
    journal_path.parent.chmod(0o500)
    try:
        with pytest.raises(JournalError, match="--journal PATH"), Journal(journal_path) as journal:
            journal.start_run(sheet, operation=OP, target=TARGET)
    finally:
        journal_path.parent.chmod(0o700)


# -- content hash -------------------------------------------------------------------------------------


def test_content_hash_is_canonical() -> None:
    assert content_hash({"a": "1", "b": [1, 2]}) == content_hash({"b": (1, 2), "a": "1"})
    assert content_hash({"n": 1.0}) == content_hash({"n": 1})
    assert content_hash({"n": float("nan")}) == content_hash({"n": None})
    assert content_hash({"d": dt.date(2026, 11, 22)}) == content_hash({"d": "2026-11-22"})
    assert content_hash({"a": "1"}) != content_hash({"a": "2"})
    assert content_hash({"a": "1"}) != content_hash({"a": 1})
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash({}))


# -- runs and rows ------------------------------------------------------------------------------------


def test_a_run_records_who_what_where(journal: Journal, sheet: Path) -> None:
    run = journal.start_run(
        sheet,
        operation=OP,
        target=TARGET + "/",
        sheet="Agents",
        operator="alice",
        options={"dry_run": False, "force": False, "concurrency": 8},
    )
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run.id)
    assert (run.file_name, run.file_path, run.file_sha256) == ("agents.xlsx", str(sheet), file_sha256(sheet))
    assert (run.sheet, run.operation, run.target, run.operator) == ("Agents", OP, TARGET, "alice")
    assert run.host and run.pid == os.getpid() and run.version
    assert run.options == {"dry_run": False, "force": False, "concurrency": 8}
    assert run.status is RunStatus.RUNNING and run.finished_at is None and run.notices == ()


def test_rows_move_through_their_states_and_the_run_counts_them(journal: Journal, sheet: Path) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(
        run.id, [(2, "A1", "h1"), (3, "A2", "h2"), (4, "A3", "h3"), (5, "A4", "h4"), (6, "A5", "h5")]
    )
    journal.mark_in_flight(run.id, 2, request={"body": {"workNo": "A1"}}, before={"skill": "old"})
    journal.record_result(
        run.id,
        2,
        RowStatus.OK,
        http_status=200,
        code="0",
        message="success",
        attempts=2,
        after={"skill": "new"},
    )
    journal.mark_in_flight(run.id, 3)
    journal.record_result(run.id, 3, "failed", http_status=400, code="10-001", message="bad id", attempts=1)
    journal.record_result(run.id, 4, RowStatus.INVALID, message="workNo is empty")
    journal.mark_in_flight(run.id, 5)  # left in flight: unknown outcome
    done = journal.finish_run(run.id, RunStatus.INTERRUPTED)
    assert done.status is RunStatus.INTERRUPTED and done.finished_at
    assert {k: v for k, v in done.counts.items() if v} == {
        "ok": 1,
        "failed": 1,
        "invalid": 1,
        "in_flight": 1,
        "not-sent": 1,
    }
    rows = {r.row_number: r for r in journal.rows(run.id)}
    assert (rows[2].before, rows[2].after, rows[2].attempts, rows[2].code) == (
        {"skill": "old"},
        {"skill": "new"},
        2,
        "0",
    )
    assert rows[2].request == {"body": {"workNo": "A1"}}
    assert rows[5].outcome_unknown and rows[6].status is RowStatus.NOT_SENT


def test_impossible_transitions_are_refused(journal: Journal, sheet: Path) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run.id, [(2, "A1", "h1")])
    with pytest.raises(JournalError, match="'pending' and cannot become 'ok'"):
        journal.record_result(run.id, 2, RowStatus.OK)
    journal.mark_in_flight(run.id, 2)
    with pytest.raises(JournalError, match="'in_flight' and cannot become 'in_flight'"):
        journal.mark_in_flight(run.id, 2)
    with pytest.raises(JournalError, match="cannot become 'not-sent'"):  # it may have been sent
        journal.record_result(run.id, 2, RowStatus.NOT_SENT)
    with pytest.raises(JournalError, match="has no row 9"):
        journal.mark_in_flight(run.id, 9)


def test_each_transition_is_committed_as_it_happens(
    journal: Journal, journal_path: Path, sheet: Path
) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run.id, [(2, "A1", "h1")])
    journal.mark_in_flight(run.id, 2)
    other = sqlite3.connect(journal_path)  # another process's view: sees only what is committed
    assert other.execute("SELECT status FROM rows").fetchone()[0] == "in_flight"
    journal.record_result(run.id, 2, RowStatus.OK)
    assert other.execute("SELECT status FROM rows").fetchone()[0] == "ok"
    other.close()


def test_rows_marked_in_flight_together_commit_together_and_unsent_ones_go_back(
    journal: Journal, journal_path: Path, sheet: Path
) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run.id, [(2, "A1", "h1"), (3, "A2", "h2"), (4, "A3", "h3")])
    journal.mark_many_in_flight(run.id, [(2, {"body": {"id": "A1"}}), (3, None), (4, None)])
    other = sqlite3.connect(journal_path)
    assert [s for (s,) in other.execute("SELECT status FROM rows ORDER BY row_number")] == ["in_flight"] * 3
    journal.record_result(run.id, 2, RowStatus.OK)
    journal.release_unsent(run.id, [3, 4])  # stopped before sending them
    journal.record_result(run.id, 3, RowStatus.NOT_SENT)
    journal.finish_run(run.id)
    assert [s for (s,) in other.execute("SELECT status FROM rows ORDER BY row_number")] == ["ok", "not-sent",
                                                                                          "not-sent"]
    other.close()
    with pytest.raises(JournalError, match="cannot become 'in_flight'|no longer|is 'finished'"):
        journal.mark_many_in_flight(run.id, [(2, None)])


def test_a_batch_with_a_row_that_cannot_go_in_flight_marks_none(journal: Journal, sheet: Path) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run.id, [(2, "A1", "h1"), (3, "A2", "h2")])
    journal.mark_in_flight(run.id, 3)
    with pytest.raises(JournalError, match="'in_flight' and cannot become 'in_flight'"):
        journal.mark_many_in_flight(run.id, [(2, None), (3, None)])
    assert [r.status for r in journal.rows(run.id)] == [RowStatus.PENDING, RowStatus.IN_FLIGHT]


# -- resume -------------------------------------------------------------------------------------------


def test_resume_skips_applied_retries_failed_and_sends_the_rest(journal: Journal, sheet: Path) -> None:
    first = rows_of(("A1", {"v": 1}), ("A2", {"v": 2}), ("A3", {"v": 3}))
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    plan = journal.plan_resume(sheet, OP, TARGET, first)
    assert [d.reason for d in plan.decisions] == [Reason.NEW] * 3 and plan.earlier_runs == []
    journal.add_rows(run.id, plan.decisions)
    journal.mark_in_flight(run.id, 2)
    journal.record_result(run.id, 2, RowStatus.OK)
    journal.mark_in_flight(run.id, 3)
    journal.record_result(run.id, 3, RowStatus.FAILED, http_status=400)
    journal.finish_run(run.id)  # A3 never reached: not-sent

    plan = journal.plan_resume(sheet, OP, TARGET, first)
    assert [(d.action, d.reason) for d in plan.decisions] == [
        (Action.SKIP, Reason.ALREADY_APPLIED),
        (Action.SEND, Reason.RETRY_FAILED),
        (Action.SEND, Reason.NEW),
    ]
    assert plan.decisions[0].message == f"already applied in run {run.id}"
    assert [r.id for r in plan.earlier_runs] == [run.id]
    forced = journal.plan_resume(sheet, OP, TARGET, first, force=True)
    assert all(d.action is Action.SEND and d.reason is Reason.FORCED for d in forced.decisions)


def test_resume_matches_content_not_row_numbers_when_the_file_was_edited(
    journal: Journal, sheet: Path
) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    apply(
        journal,
        run.id,
        journal.plan_resume(sheet, OP, TARGET, rows_of(("A1", {"v": 1}), ("A2", {"v": 2}))).decisions,
    )
    journal.finish_run(run.id)
    sheet.write_bytes(b"edited: a row inserted above, A2 changed")
    edited = rows_of(("A0", {"v": 0}), ("A1", {"v": 1}), ("A2", {"v": 22}))  # every row number moved
    run2 = journal.start_run(sheet, operation=OP, target=TARGET)
    plan = journal.plan_resume(sheet, OP, TARGET, edited)
    assert [(d.row_number, d.key, d.action, d.reason) for d in plan.decisions] == [
        (2, "A0", Action.SEND, Reason.NEW),
        (3, "A1", Action.SKIP, Reason.ALREADY_APPLIED),
        (4, "A2", Action.SEND, Reason.CHANGED),
    ]
    journal.add_rows(run2.id, plan.decisions)
    assert journal.rows(run2.id)[1].status is RowStatus.SKIPPED
    assert journal.rows(run2.id)[1].message == f"already applied in run {run.id}"


def test_a_change_undone_and_redone_is_sent_again(journal: Journal, sheet: Path) -> None:
    for values in ({"v": "A"}, {"v": "B"}):  # A applied, then B applied over it
        run = journal.start_run(sheet, operation=OP, target=TARGET)
        apply(journal, run.id, journal.plan_resume(sheet, OP, TARGET, rows_of(("K", values))).decisions)
        journal.finish_run(run.id)
    plan = journal.plan_resume(sheet, OP, TARGET, rows_of(("K", {"v": "A"})))
    assert (plan.decisions[0].action, plan.decisions[0].reason) == (Action.SEND, Reason.CHANGED)


def test_another_target_or_operation_is_another_change(journal: Journal, sheet: Path) -> None:
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    apply(journal, run.id, journal.plan_resume(sheet, OP, TARGET, rows_of(("K", {"v": 1}))).decisions)
    journal.finish_run(run.id)
    rows = rows_of(("K", {"v": 1}))
    assert journal.plan_resume(sheet, OP, TARGET + "/", rows).decisions[0].action is Action.SKIP
    assert journal.plan_resume(sheet, OP, "https://other.example.com", rows).decisions[0].reason is Reason.NEW
    assert journal.plan_resume(sheet, "calledroute", TARGET, rows).decisions[0].reason is Reason.NEW


def test_unknown_outcomes_are_resent_unless_the_content_was_applied_anyway(
    journal: Journal, sheet: Path
) -> None:
    rows = rows_of(("K1", {"v": 1}), ("K2", {"v": 2}))
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    apply(journal, run.id, journal.plan_resume(sheet, OP, TARGET, rows[:1]).decisions)  # K1 ok
    journal.finish_run(run.id)
    run2 = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run2.id, journal.plan_resume(sheet, OP, TARGET, rows, force=True).decisions)
    journal.mark_in_flight(run2.id, 2)
    journal.mark_in_flight(run2.id, 3)
    journal.finish_run(run2.id, RunStatus.INTERRUPTED)
    plan = journal.plan_resume(sheet, OP, TARGET, rows)
    # K1: ok, then in flight with the same content: it holds that content either way.
    assert (plan.decisions[0].action, plan.decisions[0].reason) == (Action.SKIP, Reason.ALREADY_APPLIED)
    assert (plan.decisions[1].action, plan.decisions[1].reason) == (Action.SEND, Reason.RESEND_UNKNOWN)
    assert plan.decisions[1].message == f"resent after unknown outcome (in flight when run {run2.id} stopped)"


# -- secrets ------------------------------------------------------------------------------------------

SECRETS = {
    "app_secret": "APPSECRET-9f8e7d6c5b4a",
    "token": "TOKEN-0a1b2c3d4e5f60718293",
    "sip": "SIPPWD-Zx9Yw8Vu7",
    "sk": "SKSECRET-11223344556677",
    "bearer": "BEARERTOKEN-abcdef123456",
    "loose": "LOOSEKEY-q1w2e3r4t5y6",
    "echoed": "ECHOED-secret-value-42",
}


def test_no_secret_reaches_the_journal_file(journal_path: Path, sheet: Path) -> None:
    with Journal(journal_path, secret_values=[SECRETS["echoed"]]) as journal:
        run = journal.start_run(
            sheet,
            operation=OP,
            target=TARGET,
            options={"profile": "prod", "app_secret": SECRETS["app_secret"]},
        )
        journal.add_rows(run.id, [(2, "A1", "h1"), (3, "A2", "h2")])
        journal.mark_in_flight(
            run.id,
            2,
            request={
                "method": "POST",
                "headers": {"Authorization": f"Bearer {SECRETS['bearer']}", "X-APP-Key": "app-key-id"},
                "body": {
                    "app_secret": SECRETS["app_secret"],
                    "AccessToken": SECRETS["token"],
                    "agents": [{"workNo": "1001", "sipPwd": SECRETS["sip"]}],
                    "sk": SECRETS["sk"],
                    "newSipPassword2": SECRETS["loose"],
                },
            },
            before={"sipPwd": SECRETS["sip"]},
        )
        journal.record_result(
            run.id,
            2,
            RowStatus.OK,
            message=f"server echoed {SECRETS['echoed']}",
            after={"x_auth_token_v2": SECRETS["token"]},
        )
        journal.mark_in_flight(
            run.id,
            3,
            request=PreparedCall(
                family="c1",
                method="POST",
                path="/x",
                body={"sipPwd": SECRETS["sip"]},
                headers={"Authorization": f"Bearer {SECRETS['bearer']}"},
            ),
        )
        stored = journal.rows(run.id)[0].request
        assert (
            stored["headers"]["X-APP-Key"] == "app-key-id" and stored["body"]["agents"][0]["workNo"] == "1001"
        )
        journal.finish_run(run.id)
        files = list(journal_path.parent.iterdir())
        blob = b"".join(p.read_bytes() for p in files if p.is_file())  # the database, -wal and -shm
    assert any(p.name.endswith("-wal") for p in files)
    for name, secret in SECRETS.items():
        assert secret.encode() not in blob, name


# -- the lock on the input file -----------------------------------------------------------------------


def test_a_second_run_on_the_same_file_is_refused_with_who_where_when(
    journal_path: Path, sheet: Path, tmp_path: Path
) -> None:
    with Journal(journal_path) as first, Journal(journal_path) as second:
        run = first.start_run(sheet, operation=OP, target=TARGET, operator="alice")
        with pytest.raises(RunLocked) as caught:
            second.start_run(sheet, operation=OP, target=TARGET)
        message = str(caught.value)
        for part in (run.id, "alice", run.host, f"pid {os.getpid()}", run.started_at, "Wait for that run"):
            assert part in message
        copy = tmp_path / "copy of agents.xlsx"  # same bytes elsewhere: the same file
        copy.write_bytes(sheet.read_bytes())
        with pytest.raises(RunLocked):
            second.start_run(copy, operation=OP, target=TARGET)
        other = tmp_path / "other.xlsx"
        other.write_bytes(b"another workbook")
        second.finish_run(second.start_run(other, operation=OP, target=TARGET).id)  # other files run freely
        first.finish_run(run.id)
        assert second.start_run(sheet, operation=OP, target=TARGET).status is RunStatus.RUNNING


def _set_holder(journal_path: Path, run_id: str, *, host: str, heartbeat: dt.datetime) -> None:
    conn = sqlite3.connect(journal_path)
    conn.execute(
        "UPDATE runs SET host = ?, heartbeat_at = ? WHERE id = ?", (host, heartbeat.isoformat(), run_id)
    )
    conn.commit()
    conn.close()


def test_a_run_on_another_host_holds_the_file_until_its_heartbeat_is_stale(
    journal_path: Path, sheet: Path
) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with Journal(journal_path) as journal:
        run = journal.start_run(sheet, operation=OP, target=TARGET)
        journal.add_rows(run.id, [(2, "K", "h")])
        journal.mark_in_flight(run.id, 2)
        journal._open_runs.clear()  # forget it, as if it belonged to someone else
        journal._release_os_locks(run.id)
    _set_holder(journal_path, run.id, host="elsewhere", heartbeat=now - dt.timedelta(minutes=3))
    with Journal(journal_path) as journal, pytest.raises(RunLocked, match="on elsewhere"):
        journal.start_run(sheet, operation=OP, target=TARGET)
    _set_holder(journal_path, run.id, host="elsewhere", heartbeat=now - dt.timedelta(minutes=11))
    with Journal(journal_path) as journal:
        new = journal.start_run(sheet, operation=OP, target=TARGET)
        assert len(new.notices) == 1
        assert new.notices[0].startswith(f"Took over the lock of run {run.id}")
        assert (
            "no heartbeat from elsewhere" in new.notices[0] and "1 row(s) it had in flight" in new.notices[0]
        )
        assert journal.run(run.id).status is RunStatus.INTERRUPTED


def _race(journal_path: str, sheet: str, barrier: Any, results: Any, release: Any) -> None:
    journal = Journal(journal_path)
    barrier.wait()
    try:
        run = journal.start_run(sheet, operation=OP, target=TARGET)
    except RunLocked as exc:
        results.put(("locked", str(exc)))
        journal.close()
        return
    results.put(("won", run.id))
    release.wait(10)
    journal.finish_run(run.id)
    journal.close()


def test_processes_racing_for_one_file_let_exactly_one_through(journal_path: Path, sheet: Path) -> None:
    Journal(journal_path).close()  # created and migrated up front, as the first apply would have done
    n = 4
    barrier, results, release = SPAWN.Barrier(n), SPAWN.Queue(), SPAWN.Event()
    procs = [
        SPAWN.Process(target=_race, args=(str(journal_path), str(sheet), barrier, results, release))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=20) for _ in range(n)]
    release.set()
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    won = [detail for kind, detail in outcomes if kind == "won"]
    locked = [detail for kind, detail in outcomes if kind == "locked"]
    assert len(won) == 1 and len(locked) == n - 1
    assert all("agents.xlsx is being applied by run" in m or "under way on this machine" in m for m in locked)
    assert any(won[0] in m for m in locked)  # the refusal names the winner
    with Journal(journal_path) as journal:
        assert [r.status for r in journal.runs()] == [RunStatus.FINISHED]


# -- crash recovery -----------------------------------------------------------------------------------


def _doomed(journal_path: str, sheet: str, ready: Any) -> None:
    """Applies rows 2-6 of a ten-row file, sends row 7, and waits to be killed before it answers."""
    journal = Journal(journal_path)
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    rows = rows_of(*[(f"K{i}", {"v": i}) for i in range(10)])
    decisions = journal.plan_resume(sheet, OP, TARGET, rows).decisions
    journal.add_rows(run.id, decisions)
    for d in decisions[:5]:
        journal.mark_in_flight(run.id, d.row_number)
        journal.record_result(run.id, d.row_number, RowStatus.OK, http_status=200)
    journal.mark_in_flight(run.id, decisions[5].row_number)
    ready.set()
    signal.pause()


def _kill_mid_run(journal_path: Path, sheet: Path) -> None:
    ready = SPAWN.Event()
    child = SPAWN.Process(target=_doomed, args=(str(journal_path), str(sheet), ready))
    child.start()
    assert ready.wait(20), "the child never got going"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_after_a_kill_the_next_run_takes_over_and_resends_only_the_unknown(
    journal_path: Path, sheet: Path
) -> None:
    _kill_mid_run(journal_path, sheet)
    with Journal(journal_path) as journal:
        (dead,) = journal.runs()
        assert dead.status is RunStatus.RUNNING  # nobody has noticed yet
        run = journal.start_run(sheet, operation=OP, target=TARGET)
        assert len(run.notices) == 1 and run.notices[0].startswith(f"Took over the lock of run {dead.id}")
        assert "is gone" in run.notices[0] and "1 row(s) it had in flight" in run.notices[0]
        dead = journal.run(dead.id)
        assert dead.status is RunStatus.INTERRUPTED and dead.finished_at
        assert {k: v for k, v in dead.counts.items() if v} == {"ok": 5, "in_flight": 1, "pending": 4}

        rows = rows_of(*[(f"K{i}", {"v": i}) for i in range(10)])
        plan = journal.plan_resume(sheet, OP, TARGET, rows)
        assert [d.reason for d in plan.decisions] == (
            [Reason.ALREADY_APPLIED] * 5 + [Reason.RESEND_UNKNOWN] + [Reason.NEW] * 4
        )
        apply(journal, run.id, plan.decisions)
        journal.finish_run(run.id)
        assert journal.plan_resume(sheet, OP, TARGET, rows).to_send == []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_crashed_run_on_another_file_is_marked_interrupted(
    journal_path: Path, sheet: Path, tmp_path: Path
) -> None:
    _kill_mid_run(journal_path, sheet)
    other = tmp_path / "other.xlsx"
    other.write_bytes(b"another workbook")
    with Journal(journal_path) as journal:
        run = journal.start_run(other, operation=OP, target=TARGET)
        assert len(run.notices) == 1 and run.notices[0].startswith("Marked as interrupted run")
        dead = next(r for r in journal.runs() if r.id != run.id)
        assert dead.status is RunStatus.INTERRUPTED
        assert journal.recover_stale_runs() == []  # the live one is left alone
        assert journal.run(run.id).status is RunStatus.RUNNING


# -- audit queries ------------------------------------------------------------------------------------


def test_runs_and_audit_rows_filter_by_time_operation_and_run(journal_path: Path, sheet: Path) -> None:
    clock_now = [dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.timezone.utc)]

    def clock() -> dt.datetime:
        return clock_now[0]

    with Journal(journal_path, clock=clock) as journal:
        first = journal.start_run(sheet, operation=OP, target=TARGET)
        apply(journal, first.id, journal.plan_resume(sheet, OP, TARGET, rows_of(("A", {"v": 1}))).decisions)
        journal.finish_run(first.id)
        clock_now[0] = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
        second = journal.start_run(sheet, operation="calledroute", target=TARGET)
        apply(
            journal,
            second.id,
            journal.plan_resume(
                sheet, "calledroute", TARGET, rows_of(("B", {"v": 1}), ("C", {"v": 2}))
            ).decisions,
            outcome={"C": RowStatus.FAILED},
        )
        journal.finish_run(second.id)

        assert [r.id for r in journal.runs()] == [second.id, first.id]
        assert [r.id for r in journal.runs(since=dt.date(2026, 11, 15))] == [second.id]
        assert [r.id for r in journal.runs(until="2026-11-10")] == [first.id]  # a date includes its day
        assert [r.id for r in journal.runs(operation=OP)] == [first.id]
        assert journal.runs(since="2026-11-21") == []
        assert journal.run(second.id).counts["failed"] == 1

        audit = journal.rows_for_audit()
        assert not isinstance(audit, list)  # streamed
        everything = list(audit)
        assert [(a.run_id, a.key, a.status.value) for a in everything] == [
            (first.id, "A", "ok"),
            (second.id, "B", "ok"),
            (second.id, "C", "failed"),
        ]
        assert everything[0].as_dict()["operator"] == first.operator
        assert everything[0].as_dict()["file_sha256"] == file_sha256(sheet)
        assert [a.key for a in journal.rows_for_audit(run_id=second.id, statuses=["failed"])] == ["C"]
        assert [a.key for a in journal.rows_for_audit(since="2026-11-20", operation="calledroute")] == [
            "B",
            "C",
        ]
        with pytest.raises(JournalError, match="no run nope"):
            journal.run("nope")


def test_a_run_taken_over_cannot_send_more(journal_path: Path, sheet: Path) -> None:
    with Journal(journal_path) as journal:
        run = journal.start_run(sheet, operation=OP, target=TARGET)
        journal.add_rows(run.id, [(2, "K", "h"), (3, "L", "h2")])
        journal.mark_in_flight(run.id, 2)
        conn = sqlite3.connect(journal_path)  # what a taking-over run does to it
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (run.id,))
        conn.commit()
        conn.close()
        with pytest.raises(RunLocked, match="another run took its file over"):
            journal.mark_in_flight(run.id, 3)
        journal.record_result(run.id, 2, RowStatus.OK)  # an answer already on its way is still recorded


def test_closing_with_a_run_under_way_marks_it_interrupted(journal_path: Path, sheet: Path) -> None:
    journal = Journal(journal_path)
    run = journal.start_run(sheet, operation=OP, target=TARGET)
    journal.add_rows(run.id, [(2, "K", "h")])
    journal.close()
    with Journal(journal_path) as journal:
        assert journal.run(run.id).status is RunStatus.INTERRUPTED
        assert journal.rows(run.id)[0].status is RowStatus.NOT_SENT
        assert journal.start_run(sheet, operation=OP, target=TARGET).notices == ()  # lock was freed


def test_a_read_only_journal_error_says_the_fix() -> None:
    from batchops.journal import _error

    error = _error(
        sqlite3.OperationalError("attempt to write a readonly database"), Path("/j/x.sqlite3"), "x"
    )
    assert "Cannot write the journal /j/x.sqlite3 while x" in str(error)
    assert "Check that you may write to /j" in str(error) and "--journal PATH" in str(error)
    assert "disk holding" in str(
        _error(sqlite3.OperationalError("database or disk is full"), Path("/j"), "x")
    )


def test_an_existing_journal_readable_by_others_is_made_private(journal_path: Path) -> None:
    Journal(journal_path).close()
    journal_path.chmod(0o644)
    Journal(journal_path).close()
    assert stat.S_IMODE(journal_path.stat().st_mode) == 0o600


def test_the_writer_keeps_order_reports_the_first_failure_and_still_tries_later_writes() -> None:
    import threading

    from batchops.errors import JournalError
    from batchops.journal import JournalWriter

    done: list[tuple[int, str]] = []

    def write(n: int) -> None:
        if n == 3:
            raise JournalError(f"write {n} failed")
        done.append((n, threading.current_thread().name))

    writer = JournalWriter()
    futures = [writer.submit(write, n) for n in range(6)]
    assert [f.exception() is None for f in futures] == [True, True, True, False, True, True]
    assert [n for n, _ in done] == [0, 1, 2, 4, 5]  # in order; the writes after the failure were still tried
    assert all(name.startswith("batchops-journal") for _, name in done)
    with pytest.raises(JournalError, match="write 3"):
        writer.raise_error()
    with pytest.raises(JournalError, match="write 3"):
        writer.close()
