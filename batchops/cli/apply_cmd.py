"""``batchops apply``: replay each valid row as one update call, then write the Results."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from ..dispatch import StopReason
from ..errors import EXIT_BAD_INPUT, BatchopsError
from ..journal import Action, Journal
from ..replay import ApplyOptions, ApplyOutcome, Replay, require_settings
from ..results import write_results
from ..settings import load_settings
from ..sheets.writeback import ReportFile
from ..validation import validate_file
from .app import app
from .options import (
    config_option,
    encoding_option,
    journal_option,
    json_option,
    operation_option,
    profile_option,
    sheet_option,
    timezone_option,
)
from .output import err, out, print_json, warning_line
from .progress import RowProgress
from .show import reject_invalid, show_report_file


class NeedsConfirmation(BatchopsError):
    """Nobody is there to confirm and ``--yes`` was not given."""

    exit_code = EXIT_BAD_INPUT


@app.command()
@click.argument("file", type=click.Path(path_type=Path))  # the reader names a folder and says the fix
@operation_option
@sheet_option
@encoding_option
@click.option("--dry-run", is_flag=True, help="Send nothing; show and write the exact request each row would send.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scheduled runs).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Requests in flight at once.")
@click.option("--rate", type=click.FloatRange(min=0.1), default=None, help="At most this many requests per second.")
@click.option("--skip-invalid", is_flag=True, help="Send the valid rows and mark the invalid ones 'invalid'.")
@click.option("--force", is_flag=True, help="Send every row again, even those the journal records as applied.")
@click.option("--no-before", is_flag=True,
              help="Do not read each record before sending it: no before-values in the journal (audit, undo) "
                   "and rows that change nothing are sent anyway.")
@click.option("--operator", default=None, help="Who is applying, for the journal (default: the login name).")
@timezone_option
@profile_option
@config_option
@journal_option
@json_option
def apply(file: Path, operation: str | None, sheet: str | None, encoding: str | None, dry_run: bool, yes: bool,
          concurrency: int,
          rate: float | None, skip_invalid: bool, force: bool, no_before: bool, operator: str | None,
          timezone: str | None, profile: str | None, config_path: str | None, journal_path: str | None,
          as_json: bool) -> int:
    """Apply FILE: one update call per valid row, results written back.

    Validates first, exactly as `validate` does: with any invalid row nothing is sent (exit 2) unless
    --skip-invalid. Rows the journal records as applied with the same content are skipped; rows that
    failed or whose outcome is unknown are sent again. The Results sheet gets one row per data row.

    Each record is read just before its row is sent (unless --no-before): its before-values go into the
    journal for `audit` and `undo`, and a row that would change nothing is skipped ("no change").

    Exit codes: 0 every row ok or already applied; 1 some rows failed, invalid or not sent; 2 bad input
    or validation errors (nothing sent); 3 configuration, connection or authentication failure before
    any row succeeded; 130 interrupted.
    """
    report = validate_file(file, operation=operation, sheet=sheet, timezone=timezone, encoding=encoding)
    if not report.ok and not skip_invalid:
        return reject_invalid(report, as_json=as_json, what="sent", write=not dry_run,
                              hint=("Fix the errors, or use --skip-invalid." if dry_run else
                                    "Fix the errors (see the Errors report), or use --skip-invalid."))
    settings = load_settings(profile=profile, config_path=config_path)
    require_settings(report.operation, settings)
    secrets = [s.reveal() for s in (settings.app_secret, settings.isales_sk) if s]
    journal = Journal(journal_path, secret_values=secrets)  # a dry run reads it to show what would be skipped
    try:
        options = ApplyOptions(dry_run=dry_run, force=force, skip_invalid=skip_invalid, concurrency=concurrency,
                               rate=rate, operator=operator, read_before=not no_before)
        replay = Replay(report, settings, journal=journal, options=options)
        decisions = replay.decisions()
        to_send = sum(1 for d in decisions if d.action is Action.SEND)
        line = (f"{'Dry run: ' if dry_run else ''}{report.operation.name} ({report.operation.api}) → "
                f"{replay.target}: {to_send} rows to send, {len(decisions) - to_send} already applied, "
                f"{report.invalid_rows} invalid, from {report.path.name} sheet '{report.sheet}'.")
        if not as_json:
            err.print(escape(line))
        if not dry_run and to_send and not yes:
            if not sys.stdin.isatty():
                raise NeedsConfirmation("nobody is at a terminal to confirm, so nothing was sent.",
                                        fix="Pass --yes to apply without asking (scheduled runs).")
            if not click.confirm("Send these changes?", default=False, err=True):
                err.print("Nothing was sent.")
                return EXIT_BAD_INPUT
        with RowProgress(len(decisions), enabled=not as_json) as progress:
            replay.on_row = progress
            outcome = replay.run()
    finally:
        journal.close()
    written = write_results(report, outcome)
    show_report_file(written, report.path)
    _show(outcome, written, as_json)
    return outcome.exit_code()


def _show(outcome: ApplyOutcome, written: ReportFile, as_json: bool) -> None:
    counts = outcome.counts()
    if as_json:
        print_json({"ok": outcome.exit_code() == 0, "exit_code": outcome.exit_code(), "run_id": outcome.run_id,
                    "operation": outcome.operation.name, "target": outcome.target, "dry_run": outcome.dry_run,
                    "counts": counts, "rows": len(outcome.results), "seconds": round(outcome.elapsed, 3),
                    "rows_per_second": round(outcome.rate, 1),
                    "sending_seconds": round(outcome.send_seconds, 3),
                    "rows_per_second_sending": round(outcome.send_rate, 1), "results": str(written.path),
                    "stopped": outcome.stop_reason.value if outcome.stop_reason else None,
                    "error": str(outcome.error) if outcome.error else None, "notices": outcome.notices})
        return
    for notice in outcome.notices:
        warning_line(escape(notice))
    if outcome.dry_run:
        for r in outcome.results[:20]:
            if r.request is not None:
                out.print(escape(f"row {r.row}: {r.request}"), highlight=False)
        if sum(1 for r in outcome.results if r.request is not None) > 20:
            out.print("… every request is in the Results sheet.")
    if outcome.error is not None:
        warning_line(escape(f"the run stopped: {outcome.error}"))
    elif outcome.stop_reason is StopReason.BUDGET:  # an outage: say why the rest was not sent
        warning_line("the run stopped: the server kept failing and the run's retry budget ran out. "
                     "Run apply again when the server is back; rows already applied are skipped.")
    parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    rate = f", {outcome.rate:,.0f} rows/s" if outcome.sent else ""
    run = f"run {outcome.run_id}: " if outcome.run_id else ""
    style = "green" if outcome.exit_code() == 0 else "red"
    out.print(f"[{style}]{escape(run)}{escape(parts or 'no rows')} in {outcome.elapsed:.1f}s{rate}[/{style}]")
    out.print(f"Results written to {escape(written.where())}")
