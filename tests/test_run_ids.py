"""Run IDs: never wrapped, and a unique prefix is enough wherever one is taken (issue 10, item 4)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from rich.console import Console

from batchops.cli import run
from batchops.cli.audit_cmd import show_runs
from batchops.errors import JournalError
from batchops.journal import Journal, RowStatus

START = dt.datetime(2026, 12, 2, 10, 57, 57, tzinfo=dt.timezone.utc)


@pytest.fixture
def journal_with_runs(tmp_path):
    """Three finished runs: two started in the same second (their IDs share 16 characters), one a day later.
    Each has one row applied, with before and after values."""
    moments = iter([START, START, START + dt.timedelta(days=1)])
    now = [START]

    def clock() -> dt.datetime:
        return now[0]

    path = tmp_path / "journal.sqlite3"
    ids = []
    with Journal(path, clock=clock) as journal:
        for k in range(3):
            now[0] = next(moments)
            source = tmp_path / f"agents-{k}.xlsx"
            source.write_bytes(b"x" * (k + 1))
            started = journal.start_run(source, operation="agent-settings", target="http://127.0.0.1:1",
                                        sheet="Data", operator="ops.person.with.a.long.name")
            journal.add_rows(started.id, [(2, f"130714525966221516{k}", "h")])
            journal.mark_in_flight(started.id, 2, before={"id": f"130714525966221516{k}", "callNumber": "0755"})
            journal.record_result(started.id, 2, RowStatus.OK, http_status=200, code="0", message="ok",
                                  after={"id": f"130714525966221516{k}", "callNumber": "88001"})
            journal.finish_run(started.id)
            ids.append(started.id)
    return path, ids


def test_a_unique_prefix_names_the_run_everywhere_the_journal_takes_one(journal_with_runs):
    path, (first, second, third) = journal_with_runs
    assert first[:16] == second[:16] and third[:16] != first[:16]
    with Journal(path) as journal:
        assert journal.run(third[:10]).id == third
        assert journal.run(first).id == first
        assert [r.key for r in journal.rows(third[:12])] == ["1307145259662215162"]
        assert [r.run_id for r in journal.rows_for_audit(run_id=first[:17] if first[16] != second[16] else first)] \
            == [first]


def test_an_ambiguous_prefix_lists_the_runs_it_fits(journal_with_runs):
    path, (first, second, _) = journal_with_runs
    with Journal(path) as journal, pytest.raises(JournalError) as caught:
        journal.run(first[:16])
    newest_first = ", ".join(sorted([first, second], reverse=True))
    assert str(caught.value) == (f"journal.sqlite3: 2 runs start with {first[:16]}: {newest_first}. "
                                 "Give more of the run ID (`batchops runs` lists them).")


def test_an_unknown_id_suggests_the_nearest(journal_with_runs):
    path, (first, second, third) = journal_with_runs
    typo = third[:-1] + ("0" if third[-1] != "0" else "1")
    with Journal(path) as journal, pytest.raises(JournalError) as caught:
        journal.run(typo)
    assert str(caught.value) == (f"journal.sqlite3: The journal {path} has no run {typo}; the nearest is {third}. "
                                 "`batchops runs` lists the runs it holds; a run ID's first characters are enough "
                                 "when only one run starts with them.")
    with Journal(path) as journal, pytest.raises(JournalError) as caught:
        journal.run("1999")
    newest = ", ".join([third, *sorted([first, second], reverse=True)])
    assert f"has no run 1999; the newest are {newest}." in str(caught.value)
    with Journal(path) as journal, pytest.raises(JournalError, match=r"has no run \(empty\)"):
        journal.run("  ")


def test_cli_runs_audit_and_undo_take_a_prefix(journal_with_runs, tmp_path, capsys):
    path, (_, _, third) = journal_with_runs
    prefix = third[:12]
    assert run(["runs", prefix, "--journal", str(path), "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [third]
    assert run(["audit", "-o", str(tmp_path / "a.csv"), "--run", prefix, "--journal", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == 1  # callNumber 0755 -> 88001
    assert third in (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert run(["undo", prefix, "-o", str(tmp_path / "undo.xlsx"), "--journal", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == third
    assert run(["undo", third[:5], "-o", str(tmp_path / "undo2.xlsx"), "--journal", str(path)]) == 3
    assert f"3 runs start with {third[:5]}: {third}, " in capsys.readouterr().err


@pytest.mark.parametrize("width", [30, 50, 80, 100, 120, 160, 200, 250])
def test_run_ids_never_wrap_at_any_width(journal_with_runs, width):
    path, ids = journal_with_runs
    with Journal(path) as journal:
        found = journal.runs()
    for terminal in (True, False):
        buffer = io.StringIO()
        show_runs(Console(file=buffer, width=width, force_terminal=terminal, color_system=None), found)
        text = buffer.getvalue()
        for run_id in ids:
            assert re.search(rf"(^|[\s│┃|]){re.escape(run_id)}([\s│┃|]|$)", text, re.MULTILINE), (width, terminal, text)
