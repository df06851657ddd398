"""Every command of the command line: the module that defines it and its one-line help, imported only to run.

``batchops --help`` lists the commands from this table without importing them, and a command's module is
imported when that command runs: only the commands that read sheets load pandas and pandera (a second or
more on a small machine), so ``batchops --help``, ``version`` and ``sandbox`` start at once. The one-line
help here is the first line of each command's own help; ``tests/test_cli_startup.py`` keeps the two equal
and this table complete.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "apply": ("apply_cmd", "Apply FILE: one update call per valid row, results written back."),
    "audit": ("audit_cmd",
              "Write the audit trail from the journal: what each run changed, one line per field, secrets masked."),
    "demo": ("demo_cmd", "Run export → template → validate → plan → apply → audit against a local sandbox."),
    "export": ("export_cmd", "Export live configuration to a workbook you can edit and apply."),
    "plan": ("plan_cmd", "Show what applying FILE would change: before -> after per field, read from the server."),
    "runs": ("audit_cmd",
             "List the runs the journal holds, newest first, with their rows counted per status."),
    "serve": ("serve_cmd",
              "Open the whole walk in a browser: check, plan, apply, runs and audit, for people who live in Excel."),
    "sandbox": ("sandbox_cmd", "Run the AICC emulator: a strict, stateful stand-in for the real AICC."),
    "template": ("template_cmd", "Write the template workbook for an operation."),
    "undo": ("undo_cmd",
             "Write a workbook that puts back the before-values of every row run RUN_ID changed."),
    "validate": ("validate_cmd", "Check FILE (.xlsx or .csv) against the operation's rules."),
    "version": ("info", "Show the batchops version."),
}
"""Command name -> (its module in ``batchops.cli``, its one-line help)."""
