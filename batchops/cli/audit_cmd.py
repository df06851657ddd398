"""``batchops audit`` (the journal's rows to a file) and ``batchops runs`` (the runs it holds)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..catalogue import OPERATIONS
from ..journal import RunInfo
from ..reports.audit import RUN_HEADERS, run_row
from ..workflow import list_runs, make_audit, settings_if_any
from .app import app
from .options import config_option, journal_option, json_option, profile_option, timezone_option
from .output import out, print_json

_OPERATION = click.option("--operation", "operation", type=click.Choice(list(OPERATIONS)), default=None,
                          help="Only runs of this operation.")
_SINCE = click.option("--since", default=None, metavar="DATE",
                      help="Only runs started on or after DATE (YYYY-MM-DD, or an ISO date-time).")


@app.command()
@click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The file to write: .xlsx (Changes and Runs sheets) or .csv (plus FILE.runs.csv).")
@_SINCE
@click.option("--until", default=None, metavar="DATE",
              help="Only runs started on or before DATE (a date includes that whole day).")
@click.option("--run", "run_id", default=None, metavar="ID",
              help="Only this run (its ID, or the first characters of it when only one run starts with them).")
@_OPERATION
@click.option("--all", "all_rows", is_flag=True,
              help="Also write the full row log: every row of every run, sent or not (a Rows sheet, or "
                   "FILE.rows.csv).")
@timezone_option
@journal_option
@profile_option
@config_option
@json_option
def audit(output: Path, since: str | None, until: str | None, run_id: str | None, operation: str | None,
          all_rows: bool, timezone: str | None, journal_path: str | None, profile: str | None,
          config_path: str | None, as_json: bool) -> int:
    """Write the audit trail from the journal: what each run changed, one line per field, secrets masked.

    The Changes sheet has the record, its name (as read before the update), the field, its value before
    and after, the result and the server's message, the run, the file, the operator and the time (a
    date-time cell, in --timezone). Rows that were not sent are left out of it; --all adds the full row
    log (a Rows sheet). A Runs sheet has each run's counts. Every sheet has a filter and a frozen header.
    """
    audited = make_audit(output, journal_path=journal_path, run_id=run_id, since=since, until=until,
                         operation=operation, settings=settings_if_any(profile, config_path), all_rows=all_rows,
                         timezone=timezone)
    if as_json:
        print_json(audited.summary())
        return 0
    written = audited.written
    log = f" and {written.rows} row(s) of the full log" if all_rows else ""
    out.print(f"Audit of {len(written.runs)} run(s): {written.changes} field change(s){log} written to "
              f"{escape(str(written.path))}")
    for extra, what in ((written.summary_path, "Run summary"), (written.rows_path, "Row log")):
        if extra is not None:
            out.print(f"{what} written to {escape(str(extra))}")
    return 0


@app.command()
@click.argument("run_id", metavar="[RUN_ID]", required=False)
@journal_option
@_SINCE
@_OPERATION
@json_option
def runs(run_id: str | None, journal_path: str | None, since: str | None, operation: str | None,
         as_json: bool) -> int:
    """List the runs the journal holds, newest first, with their rows counted per status.

    With RUN_ID (or the first characters of one, when only one run starts with them), just that run.
    """
    listed = list_runs(journal_path, since=since, operation=operation, run_id=run_id)
    if as_json:
        print_json(listed.summary())
        return 0
    found = listed.runs
    if not found:
        out.print("No runs in the journal" + (" for that selection." if since or operation else "."))
        return 0
    show_runs(out, found)
    return 0


_COUNT_COLUMNS = ("ok", "failed", "skipped", "invalid", "not-sent", "unknown")
_STARTED_WIDTH = 19  # 2026-12-02 10:57:57
_TABLE_OVERHEAD = 3 * 8 + 1  # borders and padding of the table's eight columns
_NARROWEST_REST = 12 + 10 + 8 + 8 + 16 + 16  # status, operation, file, operator, rows, settled: at least


def show_runs(console: Console, found: list[RunInfo]) -> None:
    """Runs as a table when the console is a terminal wide enough to keep every run ID on one line, else
    one line per run, its ID first. A run ID is copied to be pasted: it is never wrapped or cut."""
    id_width = max(len(r.id) for r in found)
    if console.is_terminal and console.width >= id_width + _STARTED_WIDTH + _NARROWEST_REST + _TABLE_OVERHEAD:
        console.print(_table(found, id_width))
        return
    for r in found:
        console.print(escape(_line(r)), highlight=False, soft_wrap=True)


def _counts(run: RunInfo) -> dict[str, int]:
    values = dict(zip(RUN_HEADERS, run_row(run)))
    return {name: int(values[name]) for name in _COUNT_COLUMNS}


def _count_text(run: RunInfo) -> str:
    return ", ".join(f"{n} {name}" for name, n in _counts(run).items() if n)


def _table(found: list[RunInfo], id_width: int) -> Table:
    table = Table(header_style="bold")
    table.add_column("run", no_wrap=True, min_width=id_width)
    table.add_column("started", no_wrap=True, min_width=_STARTED_WIDTH)
    for name in ("status", "operation", "file", "operator"):
        table.add_column(name, overflow="fold")
    table.add_column("rows", overflow="fold")
    table.add_column("settled req/s", justify="right", no_wrap=True)
    for r in found:
        counts = _counts(r)
        style = "green" if r.status.value == "finished" and not counts["failed"] else "yellow"
        rows = f"{r.total}" + (f": {_count_text(r)}" if _count_text(r) else "")
        table.add_row(r.id, r.started_at[:19].replace("T", " "), f"[{style}]{r.status.value}[/{style}]",
                      r.operation, escape(r.file_name), escape(f"{r.operator}@{r.host}"), escape(rows),
                      _settled(r))
    return table


def _line(run: RunInfo) -> str:
    counts = _count_text(run)
    pace = f"; throttled, settled at {_settled(run)} requests/s" if run.settled_rate is not None else ""
    return (f"{run.id} {run.started_at[:19].replace('T', ' ')} {run.status.value} {run.operation} "
            f"{run.file_name} {run.operator}@{run.host}: {run.total} rows" + (f" ({counts})" if counts else "")
            + pace)


def _settled(run: RunInfo) -> str:
    """The rate the server let the run go at when it throttled it (the next run's start), or empty."""
    return f"{run.settled_rate:,.1f}" if run.settled_rate is not None else ""

