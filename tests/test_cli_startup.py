"""The command line starts at once: only the commands that read sheets import pandas and pandera, and the
lazy command table lists every command with its own one-line help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from batchops.cli import run
from batchops.cli.app import app, load_all_commands
from batchops.cli.commands import COMMANDS

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
HEAVY = ("pandas", "pandera", "numpy", "openpyxl", "httpx", "aiohttp", "uvicorn")


def modules_after(*argv: str) -> set[str]:
    """The heavy modules a fresh interpreter has loaded after running ``batchops ARGV``."""
    code = ("import sys, contextlib, io\n"
            "from batchops.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    code = run({list(argv)!r})\n"
            f"print(code, ' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0", out
    return set(out[1:])


@pytest.mark.parametrize("argv", [("--help",), ("version",), ("sandbox", "--help"), ("runs", "--help")])
def test_commands_that_read_no_sheet_load_no_sheet_or_http_library(argv):
    assert modules_after(*argv) == set()


def test_a_command_that_reads_sheets_loads_them_when_it_runs():
    assert {"pandas", "pandera"} <= modules_after("validate", "--help")


def test_validating_a_sheet_does_not_load_hypothesis_through_pandera(tmp_path):
    # pandera imports hypothesis (a test tool) whenever it is installed, as it is here: ~0.4 s for nothing.
    path = tmp_path / "agent-settings.csv"
    shutil.copy(SAMPLES / "agent-settings-nightly.csv", path)
    code = ("import sys, contextlib, io\n"
            "from batchops.cli import run\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    code = run(['validate', {str(path)!r}, '--json'])\n"
            "print(code, 'pandera' in sys.modules, 'hypothesis' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True", "False"]


def test_loading_a_command_pauses_the_garbage_collector_and_turns_it_back_on(tmp_path):
    path = tmp_path / "agent-settings.csv"
    shutil.copy(SAMPLES / "agent-settings-nightly.csv", path)
    code = ("import gc, sys, contextlib, io\n"
            "from batchops.cli import run\n"
            "paused = []\n"
            "gc.callbacks.append(lambda phase, info: paused.append(phase))\n"
            "app = sys.modules['batchops.cli.app']\n"
            "load = app.load_command_module\n"
            "during = []\n"
            "def spy(module):\n"
            "    seen = len(paused)\n"
            "    load(module)\n"
            "    during.append(len(paused) - seen)\n"
            "app.load_command_module = spy\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    code = run(['validate', {str(path)!r}, '--json'])\n"
            "print('collections while importing', *during)\n"
            "print(code, gc.isenabled(), gc.get_freeze_count() > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["collections while importing 0", "0 True True"]


def test_the_table_lists_every_command_with_its_own_one_line_help():
    load_all_commands()
    assert set(app.commands) == set(COMMANDS)  # a command added to a module is added to the table too
    for name, (module, short_help) in COMMANDS.items():
        command = app.commands[name]
        assert command.callback.__module__ == f"batchops.cli.{module}"
        assert command.get_short_help_str(limit=1000) == short_help, name


def test_help_lists_commands_as_before(capsys):
    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    assert "  apply     Apply FILE: one update call per valid row, results written back." in text
    assert "  version   Show the batchops version." in text
    assert run(["nosuch"]) == 2
    assert "No such command 'nosuch'" in capsys.readouterr().err
