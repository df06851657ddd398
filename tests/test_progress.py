"""The apply bar: it stops where the sending stopped (a Ctrl-C does not fill it), counts skipped rows too, and
shows the run's one rate, saying when the server's throttling holds the run back."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from batchops.apply.replay import RowResult, Status
from batchops.cli import progress as progress_module
from batchops.cli.progress import RowProgress


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(progress_module, "err", Console(file=screen, force_terminal=True, width=160))
    return screen


def rows(*statuses: Status) -> list[RowResult]:
    return [RowResult(i + 2, str(i), s, attempts=1 if s in (Status.OK, Status.FAILED) else 0)
            for i, s in enumerate(statuses)]


def test_a_stopped_run_leaves_the_bar_where_the_sending_stopped(terminal: io.StringIO) -> None:
    held = {"back": False}
    with RowProgress(10, enabled=True, rate=lambda: 9.8, held_back=lambda: held["back"]) as bar:
        for r in rows(Status.OK, Status.OK, Status.SKIPPED, Status.FAILED, Status.OK):
            bar(r)
        assert bar._progress is not None
        task = bar._progress.tasks[0]
        assert task.fields["rate"] == "9.8 rows/s"
        held["back"] = True
        for r in rows(*[Status.NOT_SENT] * 5):  # Ctrl-C: the rest not sent
            bar(r)
        assert task.completed == 5 and task.total == 10  # not 10/10 as if done
        assert (task.fields["ok"], task.fields["failed"], task.fields["skipped"]) == (3, 1, 1)
    shown = terminal.getvalue()
    assert "3 ok" in shown and "1 failed" in shown and "1 skipped" in shown
    assert bar.counts["not-sent"] == 5


def test_the_bar_says_when_the_server_holds_the_run_back(terminal: io.StringIO) -> None:
    with RowProgress(4, enabled=True, rate=lambda: 9.8, held_back=lambda: True) as bar:
        bar(rows(Status.OK)[0])
        assert bar._progress is not None
        assert bar._progress.tasks[0].fields["rate"] == "throttled by the server: 9.8 rows/s"
    with RowProgress(4, enabled=True, rate=lambda: None, held_back=lambda: True) as bar:
        bar(rows(Status.OK)[0])  # too few rows for a rate yet
        assert bar._progress is not None
        assert bar._progress.tasks[0].fields["rate"] == "throttled by the server"
