"""``batchops plan``: read the current values and show what ``apply`` would change. Nothing is changed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..reports.plan import PlanAction, RowPlan, shown
from ..workflow import Job, Planned
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
from .progress import ReadProgress
from .show import lost_zeros_hint, reject_invalid, show_notes, show_written

MAX_SHOWN = 50
"""Changes listed on the terminal; the Plan sheet has them all."""


@app.command()
@click.argument("file", type=click.Path(path_type=Path))  # the reader names a folder and says the fix
@operation_option
@sheet_option
@encoding_option
@timezone_option
@profile_option
@config_option
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Reads in flight at once.")
@click.option("--force", is_flag=True, help="Plan as `apply --force` would: ignore what the journal records as "
              "applied.")
@accept_lost_zeros_option
@journal_option
@json_option
def plan(file: Path, operation: str | None, sheet: str | None, encoding: str | None, timezone: str | None,
         profile: str | None, config_path: str | None, concurrency: int, force: bool, accept_lost_zeros: bool,
         journal_path: str | None, as_json: bool) -> int:
    """Show what applying FILE would change: before -> after per field, read from the server.

    Validates first, exactly as `apply` does (with any invalid row nothing is read, exit 2). Then reads
    the current value of every record the file names and sorts the rows into: change, no-change (apply
    skips them), cannot (unknown ID, a route that must not be edited, an automatic appointment) and
    unread (the read failed); and applied: rows the journal records as applied with this content, which
    apply skips (said when the record has changed since). Writes a Plan sheet into the workbook
    (FILE.plan.csv for a CSV). Nothing is changed on the server, and no journal is created. Exit 0 when
    every row can be applied (or is applied already), 1 when some cannot or were not read.
    """
    job = Job(file, operation=operation, sheet=sheet, timezone=timezone, profile=profile, config_path=config_path,
              journal_path=journal_path, encoding=encoding, accept_lost_zeros=accept_lost_zeros)
    report = job.validate().report
    if not report.ok:
        return reject_invalid(job, as_json=as_json, what="read", hint=lost_zeros_hint(report))
    if not as_json:
        show_notes(report)
        err.print(escape(f"Reading {len(report.valid_records)} {report.operation.name} record(s) from "
                         f"{job.target} ..."))
    with ReadProgress(len(report.valid_records), enabled=not as_json) as progress:
        planned = job.plan(concurrency=concurrency, force=force, on_read=progress)
    for warning in planned.warnings:
        warning_line(escape(warning))
    show_written(job.write_report())
    if as_json:
        print_json(planned.summary())
    else:
        _show(planned)
    return planned.exit_code


def _show(planned: Planned) -> None:
    result = planned.plan
    op, tz = result.operation, result.report.timezone
    lines = [(r, c) for r in result.rows if r.action is PlanAction.CHANGE for c in r.changed]
    problems = [r for r in result.rows if r.action in (PlanAction.CANNOT, PlanAction.UNREAD)]
    drifted = [r for r in result.rows if r.action is PlanAction.APPLIED and r.changed]
    if out.is_terminal:
        if lines:
            table = Table(header_style="bold", title="Changes")
            for name in ("row", "key", "field", "before", "after"):
                table.add_column(name, overflow="fold", max_width=40)
            for r, c in lines[:MAX_SHOWN]:
                table.add_row(str(r.row), escape(_named(r)), c.field, f"[red]{escape(shown(op, c.field, c.before, tz))}[/red]",
                              f"[green]{escape(shown(op, c.field, c.after, tz))}[/green]")
            out.print(table)
        if problems:
            table = Table(header_style="bold", title="Rows that cannot be applied as they are")
            for name in ("row", "key", "action", "why"):
                table.add_column(name, overflow="fold", max_width=70)
            for r in problems[:MAX_SHOWN]:
                table.add_row(str(r.row), escape(_named(r)), f"[red]{r.action.value}[/red]", escape(r.message))
            out.print(table)
        if drifted:
            table = Table(header_style="bold", title="Applied already, changed since: apply skips them")
            for name in ("row", "key", "why"):
                table.add_column(name, overflow="fold", max_width=70)
            for r in drifted[:MAX_SHOWN]:
                table.add_row(str(r.row), escape(_named(r)), f"[yellow]{escape(r.message)}[/yellow]")
            out.print(table)
    else:
        for r, c in lines[:MAX_SHOWN]:
            out.print(escape(f"row {r.row} {_named(r)}: {c.field}: {shown(op, c.field, c.before, tz)!s} -> "
                             f"{shown(op, c.field, c.after, tz)}"), highlight=False)
        for r in problems[:MAX_SHOWN] + drifted[:MAX_SHOWN]:
            out.print(escape(f"row {r.row} {_named(r)}: {r.action.value}: {r.message}"), highlight=False)
    if max(len(lines), len(problems), len(drifted)) > MAX_SHOWN:
        out.print("… every row is in the Plan sheet.")
    counts = result.counts()
    summary = (f"{len(result.rows)} rows: {counts['change']} change ({result.fields_changed} fields), "
               f"{counts['no-change']} no change, {counts['cannot']} cannot, {counts['unread']} unread, "
               f"{counts['applied']} applied already")
    style = "green" if not problems else "red"
    out.print(f"[{style}]{escape(summary)}[/{style}]. Nothing was changed.")
    if planned.written is not None and planned.written.path is not None:
        out.print(f"Plan written to {escape(planned.written.where())}")


def _named(row: RowPlan) -> str:
    """The record's key, and the name the read side knows it by when there is one."""
    return f"{row.key} ({row.label})" if row.label else row.key
