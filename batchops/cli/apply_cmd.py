"""``batchops apply``: replay each valid row as one update call, then write the Results."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import click
from rich.markup import escape

from ..apply.replay import ApplyOptions
from ..errors import EXIT_BAD_INPUT, BatchopsError
from ..http.dispatch import StopReason
from ..reports.plan import PlanAction, shown
from ..workflow import Applied, ApplyPreview, Job, request_text
from ..workflow.steps import lost_zero_rows
from .app import app
from .options import (
    accept_lost_zeros_option,
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
from .progress import ReadProgress, RowProgress
from .show import lost_zeros_hint, reject_invalid, show_notes, show_written

MAX_REQUESTS_SHOWN = 20
"""Requests a dry run shows on the terminal; the Results have every one."""
MAX_ROWS_SHOWN = 5
"""Rows listed before the question; `batchops plan` lists them all."""


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
@accept_lost_zeros_option
@timezone_option
@profile_option
@config_option
@journal_option
@json_option
def apply(file: Path, operation: str | None, sheet: str | None, encoding: str | None, dry_run: bool, yes: bool,
          concurrency: int, rate: float | None, skip_invalid: bool, force: bool, no_before: bool,
          operator: str | None, accept_lost_zeros: bool, timezone: str | None, profile: str | None,
          config_path: str | None, journal_path: str | None, as_json: bool) -> int:
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
    job = Job(file, operation=operation, sheet=sheet, timezone=timezone, profile=profile, config_path=config_path,
              journal_path=journal_path, encoding=encoding, accept_lost_zeros=accept_lost_zeros)
    report = job.validate().report
    if not report.ok and not skip_invalid:
        fix = lost_zeros_hint(report) or ("Fix the errors." if dry_run else "Fix the errors (see the Errors report).")
        return reject_invalid(job, as_json=as_json, what="sent", write=not dry_run,
                              hint=fix + " Or use --skip-invalid to send the valid rows.")
    options = ApplyOptions(dry_run=dry_run, force=force, skip_invalid=skip_invalid, concurrency=concurrency,
                           rate=rate, operator=operator, read_before=not no_before,
                           accept_lost_zeros=accept_lost_zeros)
    preview = job.preview(options)
    ask = not dry_run and not yes and preview.to_send > 0
    if ask:
        if not sys.stdin.isatty():
            raise NeedsConfirmation("nobody is at a terminal to confirm, so nothing was sent.",
                                    fix="Pass --yes to apply without asking (scheduled runs).")
        if options.read_before and not force:  # count the rows that change nothing out, as plan does
            with ReadProgress(len(report.valid_records), enabled=True) as progress:
                preview = job.preview(options, read=True, on_read=progress)
    if not as_json:
        show_notes(report)
        err.print(escape(preview_line(preview)))
        _show_rows_to_send(preview)
    if ask and preview.to_send > 0 and not click.confirm(f"Send {preview.to_send} row(s)?", default=False,
                                                         err=True):
        err.print("Nothing was sent.")
        return EXIT_BAD_INPUT
    with RowProgress(len(report.records), enabled=not as_json, rate=lambda: job.progress.snapshot()["rows_per_second"],
                     held_back=lambda: job.replay is not None and job.replay.live().held_back) as progress:
        applied = job.apply(options, on_progress=progress)
    show_written(job.write_report())
    if as_json:
        print_json(applied.summary())
    else:
        _show(applied)
    return applied.exit_code


def preview_line(preview: ApplyPreview) -> str:
    """What will be sent where, counted as the summary will count it: the line before the question."""
    op, report = preview.operation, preview.report
    line = f"{'Dry run: ' if preview.dry_run else ''}{op.name} ({op.api}) → {preview.target}: "
    line += f"{preview.to_send} row(s) to send"
    if preview.cannot:
        line += f" ({preview.cannot} cannot succeed as they are: see `batchops plan`)"
    if preview.no_change is not None:
        line += f", {preview.no_change} change nothing"
    line += f", {preview.already_applied} already applied, {preview.invalid} invalid"
    invalid_held = len(lost_zero_rows(report)["held"])
    if invalid_held:
        line += f" ({invalid_held} with leading zeros probably lost: --accept-lost-zeros sends them)"
    if preview.zeros_held:
        line += (f", {len(preview.zeros_held)} held back (a number is the current one without its leading zeros: "
                 "--accept-lost-zeros sends them)")
    where = report.path.name if report.kind == "csv" else f"{report.path.name} sheet '{report.sheet}'"
    line += f", from {where}."
    if preview.skips_no_change and not preview.read and not preview.dry_run and preview.to_send:
        line += " Each record is read just before its row is sent; a row that changes nothing is skipped."
    return line


def _show_rows_to_send(preview: ApplyPreview) -> None:
    """The first rows that will be sent, each record named as the read side knows it, for the person asked."""
    rows = preview.rows_to_send()
    op, tz = preview.operation, preview.report.timezone
    for r in rows[:MAX_ROWS_SHOWN]:
        name = f"{r.key} ({r.label})" if r.label else r.key
        changes = ", ".join(f"{c.field} {shown(op, c.field, c.before, tz)} -> {shown(op, c.field, c.after, tz)}"
                            for c in r.changed)
        if r.action is not PlanAction.CHANGE or not changes:
            changes = f"{r.action.value}: {r.message}"
        err.print(escape(f"  row {r.row} {name}: {changes}"), highlight=False)
    if len(rows) > MAX_ROWS_SHOWN:
        err.print(f"  … and {len(rows) - MAX_ROWS_SHOWN} more (`batchops plan` lists every one).")


def _show(applied: Applied) -> None:
    outcome = applied.outcome
    for notice in outcome.notices:
        warning_line(escape(notice))
    if outcome.dry_run:
        requests = [r for r in outcome.results if r.request is not None]
        for r in requests[:MAX_REQUESTS_SHOWN]:
            out.print(escape(f"row {r.row} ({r.key}):"), highlight=False)
            out.print(escape(textwrap.indent(request_text(r.request or {}, outcome.target), "  ")), highlight=False)
        if len(requests) > MAX_REQUESTS_SHOWN:
            out.print(f"… every request is in the Results ({len(requests)} in all).")
    held = lost_zero_rows(applied.report, outcome)["held"]
    if held:
        rows = ", ".join(str(r) for r in held[:10]) + (" …" if len(held) > 10 else "")
        warning_line(escape(f"{len(held)} row(s) held back ({rows}): a number Excel probably stripped of its leading "
                            "zero (see the Results). Fix the cells, or pass --accept-lost-zeros if the numbers are "
                            "right."))
    if outcome.error is not None:
        warning_line(escape(f"the run stopped: {outcome.error}"))
    elif outcome.stop_reason is StopReason.BUDGET:  # an outage: say why the rest was not sent
        warning_line("the run stopped: the server kept failing and the run's retry budget ran out. "
                     "Run apply again when the server is back; rows already applied are skipped.")
    elif outcome.stop_reason is StopReason.THROTTLED:
        warning_line(f"the run stopped: the server answered nothing but 429 (too many requests) for "
                     f"{outcome.throttle_timeout:.0f} s. Run apply again later (rows already applied are "
                     "skipped), ask for a higher API allowance, or raise throttle_timeout "
                     "(BATCHOPS_THROTTLE_TIMEOUT).")
    if outcome.throttled:
        settled = f"; it let {outcome.settled_rate:,.1f} requests/s through" if outcome.settled_rate else ""
        warning_line(f"the server throttled this run: {outcome.throttled} answers were 429 (too many requests), "
                     f"each sent again{settled}. The next run to {outcome.target} starts at that rate.")
    style = "green" if applied.exit_code == 0 else "red"
    out.print(f"[{style}]{escape(summary_line(applied))}[/{style}]")
    if applied.written is not None and applied.written.path is not None:
        out.print(f"Results written to {escape(applied.written.where())}")
    rest = outcome.counts()["not-sent"]
    if applied.interrupted and rest:
        again = "apply again without --force" if applied.options.force else "the same command again"
        out.print(f"Run {again} to send the other {rest} row(s): rows already applied are skipped.")


def summary_line(applied: Applied) -> str:
    """``run R: 564 ok, 164 skipped (12 already applied, 152 no change), 3272 not-sent in 15.2s, 38 rows/s``."""
    outcome = applied.outcome
    counts = outcome.counts()
    parts = []
    for name, n in counts.items():
        if not n:
            continue
        text = f"{n} {name}"
        if name == "skipped":
            why = [f"{k} {label}" for label, k in (("already applied", applied.skipped["already-applied"]),
                                                 ("no change", applied.skipped["no-change"])) if k]
            text += f" ({', '.join(why)})" if why else ""
        parts.append(text)
    line = "Interrupted: " if applied.interrupted else "Dry run, nothing sent: " if outcome.dry_run else ""
    line += f"run {outcome.run_id}: " if outcome.run_id else ""
    line += (", ".join(parts) or "no rows") + f" in {outcome.elapsed:.1f}s"
    rate = applied.rate
    if rate is not None:
        line += f", {rate:,.0f} rows/s" if rate >= 10 else f", {rate:.1f} rows/s"
    return line
