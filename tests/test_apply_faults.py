"""apply under faults: 503s, 429s, expiring tokens, a SIGKILL mid-run. Every row ends applied exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from batchops.cli import run


def settings_workbook(path: Path, sandbox, count: int) -> tuple[Path, list[str]]:
    """``count`` agents, each given a new softphone number: every row a real change."""
    records = sandbox.agent_settings()[:count]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "userId", "callNumber", "callNumberDefault"])
    for i, r in enumerate(records):
        ws.append([r["id"], r["userId"], f"0755{i:06d}", f"0755{i:06d}"])
    wb.save(path)
    return path, [r["id"] for r in records]


def statuses(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Results"].iter_rows(values_only=True))
    wb.close()
    status = rows[0].index("status")
    return [r[status] for r in rows[1:]]


def test_every_row_ok_once_through_503s_429s_and_token_expiry(sandbox, monkeypatch, tmp_path):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 150)
    assert len(ids) == 150
    sandbox.set_faults(error_rate=0.10, throttle_rate=0.05, retry_after_seconds=0.2, latency_ms=5)
    # The tokens expire twice mid-run, on the 40th and 100th update whatever the machine's speed.
    sandbox.queue_fault("token_expiry", path_contains="agentsettings/update", after=39)
    sandbox.queue_fault("token_expiry", path_contains="agentsettings/update", after=59)
    code = run(["apply", str(path), "--yes", "--journal", str(tmp_path / "j.sqlite3"), "--concurrency", "8"])
    assert code == 0
    assert statuses(path) == ["ok"] * 150
    counts = sandbox.applied_counts()
    assert counts == {f"agentsettings:{i}": 1 for i in ids}
    log = sandbox.request_log()
    assert any(e.status == 503 for e in log) and any(e.status == 429 for e in log)
    assert sum(1 for e in log if "tokenByAkSk" in e.path) >= 3  # the tokens really expired and were renewed


@pytest.mark.timeout(120)
def test_sigkill_mid_run_then_apply_again_applies_every_row(sandbox, tmp_path):
    path, ids = settings_workbook(tmp_path / "agents.xlsx", sandbox, 150)
    journal = tmp_path / "j.sqlite3"
    sandbox.set_faults(latency_ms=40)
    env = {**os.environ, **sandbox.env()}
    args = [sys.executable, "-m", "batchops", "apply", str(path), "--yes", "--journal", str(journal),
            "--concurrency", "4", "--no-before"]
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(sandbox.applied_counts().values()) < 40:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    applied_at_kill = sum(sandbox.applied_counts().values())
    assert 0 < applied_at_kill < 150, "the kill must land mid-run"
    with sqlite3.connect(journal) as db:
        in_flight = {key for (key,) in db.execute("SELECT record_key FROM rows WHERE status = 'in_flight'")}
    sandbox.set_faults(latency_ms=0)
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert again.returncode == 0, again.stderr
    counts = sandbox.applied_counts()
    assert set(counts) == {f"agentsettings:{i}" for i in ids}, "every row applied"
    twice = {k.split(":", 1)[1] for k, n in counts.items() if n > 1}
    assert twice <= in_flight, "only rows in flight at the kill may have been applied twice"
    assert all(n <= 2 for n in counts.values())
    assert len(statuses(path)) == 150 and set(statuses(path)) <= {"ok", "skipped"}
