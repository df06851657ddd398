"""Helpers for the plan / apply / audit / undo tests against the sandbox: files, CLI runs, secrets."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchops.cli import run
from batchops.sheets.writer import SheetSpec, write_xlsx


def use_sandbox(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point batchops at the sandbox and at a fresh journal in ``tmp_path``; returns the journal path."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    journal = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("BATCHOPS_JOURNAL", str(journal))
    return journal


def sheet(path: Path, op: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """A real xlsx workbook whose first sheet holds ``rows`` under ``headers``, every cell as text."""
    write_xlsx(path, [SheetSpec(op, list(headers), [[str(v) for v in row] for row in rows])])
    return path


def cli(*args: str) -> int:
    """Run batchops in-process and return its exit code."""
    return run([str(a) for a in args])


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run batchops with ``--json`` and return its exit code and the JSON object it printed."""
    capsys.readouterr()
    code = cli(*args, "--json")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return code, json.loads(lines[-1])


def rows_of(path: Path, sheet_name: str) -> list[dict[str, Any]]:
    """A sheet's data rows as dicts keyed by its header row."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        values = list(wb[sheet_name].iter_rows(values_only=True))
    finally:
        wb.close()
    headers = [str(h) for h in values[0]]
    return [dict(zip(headers, row)) for row in values[1:]]


def file_text(path: Path) -> str:
    """Everything a file holds, as text: every part of an xlsx package unzipped, else the bytes decoded."""
    data = path.read_bytes()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(name).decode("utf-8", "replace") for name in z.namelist())
    return data.decode("utf-8-sig", "replace")


def live_tokens(sandbox: Any) -> list[str]:
    """Every access token the sandbox has issued so far."""
    return list(sandbox.sandbox.tokens._tokens)
