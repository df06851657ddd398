"""Shared helpers of the reliability suite: sandbox environment, workbooks, Results, journal and request counts."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

UPDATE_PATHS = ("agentsettings/update", "modifyCalledRoute", "updateSilenceRule", "appoint/update")
"""How every update call's path ends (reads and token calls end otherwise)."""

ROUTE_HEADERS = ["id", "devicetype", "deviceId"]
SETTINGS_HEADERS = ["id", "userId", "callNumber", "callNumberDefault"]


def use_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox) -> dict[str, str]:
    """Export the sandbox's BATCHOPS_* variables, as a user would."""
    env = sandbox.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def update_requests(sandbox) -> list:
    """Every update call the sandbox received (reads and token calls left out)."""
    return [e for e in sandbox.request_log() if e.method == "POST" and _is_update(e.path)]


def _is_update(path: str) -> bool:
    return path.endswith(UPDATE_PATHS)


def free_routes(sandbox, n: int) -> list[dict]:
    """``n`` called routes the sandbox lets us change (editable 1 and 3 are locked)."""
    routes = [r for r in sandbox.routes() if r["editable"] not in (1, 3)][:n]
    assert len(routes) == n
    return routes


def queue_id(sandbox) -> int:
    return min(sandbox.skill_queues())


def workbook(path: Path, headers: list[object], rows: list[list[object]], title: str = "Data") -> Path:
    """A plain workbook as a user makes one: headers, then rows; strings stay strings."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def settings_workbook(path: Path, sandbox, count: int) -> tuple[Path, list[str]]:
    """``count`` agents, each given a new softphone number: every row a real change."""
    records = sandbox.agent_settings()[:count]
    assert len(records) == count
    rows = [[r["id"], r["userId"], f"0755{i:06d}", f"0755{i:06d}"] for i, r in enumerate(records)]
    return workbook(path, SETTINGS_HEADERS, rows), [r["id"] for r in records]


def results(path: Path) -> list[dict]:
    """The Results of an apply as dicts: the workbook's Results sheet, or a ``.results.csv``/``.results.xlsx``."""
    if path.suffix == ".csv":
        text = path.read_text(encoding="utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(wb["Results"].iter_rows(values_only=True))
    finally:
        wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def journal_rows(journal: Path) -> list[dict]:
    """Every row of every run in the journal, oldest run first."""
    with sqlite3.connect(journal) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(
            "SELECT r.*, u.status AS run_status FROM rows r JOIN runs u ON u.id = r.run_id "
            "ORDER BY u.started_at, r.run_id, r.row_number")]


def journal_runs(journal: Path) -> list[dict]:
    with sqlite3.connect(journal) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY started_at, id")]


def in_flight_keys(journal: Path) -> set[str]:
    with sqlite3.connect(journal) as db:
        return {k for (k,) in db.execute("SELECT record_key FROM rows WHERE status = 'in_flight'")}


def apply_args(path: Path, journal: Path, *extra: str) -> list[str]:
    """``python -m batchops apply`` as a scheduled job runs it."""
    return [sys.executable, "-m", "batchops", "apply", str(path), "--yes", "--journal", str(journal), *extra]


def child_env(sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHOPS_")}
    env.update(sandbox.env())
    return env


def start_apply(sandbox, path: Path, journal: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(apply_args(path, journal, *extra), env=child_env(sandbox), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def applied_total(sandbox) -> int:
    return sum(sandbox.applied_counts().values())


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and 'File "' not in text, text
        assert "internal error" not in text, text
