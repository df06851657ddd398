"""``batchops audit`` (the journal's rows to a file) and ``batchops runs`` (the runs it holds)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..audit import RUN_HEADERS, run_row
from ..catalogue import OPERATIONS
from ..journal import RunInfo
from ..workflow import list_runs, make_audit, settings_if_any
from .app import app
from .options import config_option, journal_option, json_option, profile_option
from .output import out, print_json

_OPERATION = click.option("--operation", "operation", type=click.Choice(list(OPERATIONS)), default=None,
                          help="Only runs of this operation.")
_SINCE = click.option("--since", default=None, metavar="DATE",
                      help="Only runs started on or after DATE (YYYY-MM-DD, or an ISO date-time).")


@app.command()
@click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The file to write: .xlsx (Audit and Runs sheets) or .csv (plus FILE.runs.csv).")
@_SINCE
@click.option("--until", default=None, metavar="DATE",
              help="Only runs started on or before DATE (a date includes that whole day).")
@click.option("--run", "run_id", default=None, metavar="ID", help="Only this run.")
@_OPERATION
@journal_option
@profile_option
@config_option
@json_option
def audit(output: Path, since: str | None, until: str | None, run_id: str | None, operation: str | None,
          journal_path: str | None, profile: str | None, config_path: str | None, as_json: bool) -> int:
    """Write the audit trail from the journal: one row per row of each run, secrets masked.

    Each row has the run ID, operator, host, time, file name and SHA-256, operation, target, record key,
    before and after values, status, HTTP status, return code and message. An xlsx also gets a Runs
    sheet with each run's counts.
    """
    audited = make_audit(output, journal_path=journal_path, run_id=run_id, since=since, until=until,
                         operation=operation, settings=settings_if_any(profile, config_path))
    if as_json:
        print_json(audited.summary())
        return 0
    written = audited.written
    out.print(f"Audit of {len(written.runs)} run(s), {written.rows} row(s) written to {escape(str(written.path))}")
    if written.summary_path is not None:
        out.print(f"Run summary written to {escape(str(written.summary_path))}")
    return 0


@app.command()
@journal_option
@_SINCE
@_OPERATION
@json_option
def runs(journal_path: str | None, since: str | None, operation: str | None, as_json: bool) -> int:
    """List the runs the journal holds, newest first, with their rows counted per status."""
    listed = list_runs(journal_path, since=since, operation=operation)
    if as_json:
        print_json(listed.summary())
        return 0
    found = listed.runs
    if not found:
        out.print("No runs in the journal" + (" for that selection." if since or operation else "."))
        return 0
    if out.is_terminal:
        out.print(_table(found))
    else:
        for r in found:
            out.print(escape(_line(r)), highlight=False)
    return 0


_COUNT_COLUMNS = ("ok", "failed", "skipped", "invalid", "not-sent", "unknown")


def _counts(run: RunInfo) -> dict[str, int]:
    values = dict(zip(RUN_HEADERS, run_row(run)))
    return {name: int(values[name]) for name in _COUNT_COLUMNS}


def _table(found: list[RunInfo]) -> Table:
    table = Table(header_style="bold")
    for name in ("run", "started", "status", "operation", "file", "operator"):
        table.add_column(name, overflow="fold")
    for name in ("rows", *_COUNT_COLUMNS, "settled req/s"):
        table.add_column(name, justify="right")
    for r in found:
        counts = _counts(r)
        style = "green" if r.status.value == "finished" and not counts["failed"] else "yellow"
        table.add_row(r.id, r.started_at[:19].replace("T", " "), f"[{style}]{r.status.value}[/{style}]",
                      r.operation, escape(r.file_name), escape(f"{r.operator}@{r.host}"), str(r.total),
                      *(str(counts[name]) for name in _COUNT_COLUMNS), _settled(r))
    return table


def _line(run: RunInfo) -> str:
    counts = ", ".join(f"{n} {name}" for name, n in _counts(run).items() if n)
    pace = f"; throttled, settled at {_settled(run)} requests/s" if run.settled_rate is not None else ""
    return (f"{run.id} {run.started_at[:19].replace('T', ' ')} {run.status.value} {run.operation} "
            f"{run.file_name} {run.operator}@{run.host}: {run.total} rows" + (f" ({counts})" if counts else "")
            + pace)


def _settled(run: RunInfo) -> str:
    """The rate the server let the run go at when it throttled it (the next run's start), or empty."""
    return f"{run.settled_rate:,.1f}" if run.settled_rate is not None else ""

