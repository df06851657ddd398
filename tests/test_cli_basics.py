"""The CLI entry points: help, version, unknown commands."""

from __future__ import annotations

import subprocess
import sys

from batchops.cli import run


def test_version_prints_the_package_version(capsys):
    assert run(["version"]) == 0
    assert capsys.readouterr().out.strip() == "batchops 0.1.0"


def test_unknown_command_is_one_error_line_and_exit_2(capsys):
    assert run(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "Error: No such command 'no-such-command'."


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "batchops", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "Usage: batchops" in proc.stdout
