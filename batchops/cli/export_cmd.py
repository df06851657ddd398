"""``batchops export``: live configuration to a workbook in the operation's template layout."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..catalogue import APPOINTMENT
from ..reports.export import EXPORTS, ExportResult
from ..settings import load_settings
from ..workflow import export_data
from .app import app
from .options import config_option, json_option, profile_option, timezone_option
from .output import err, out, print_json, warning_line

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

_VDN = APPOINTMENT.field("vdnId")
"""The VDN range is the appointment call's, written once in the catalogue."""

_HELP = """Export WHAT from the servers to FILE (.xlsx or .csv), ready to edit and apply.

\b
WHAT:
  agents           queryAgentInfo: workNo, sipAccount, accountCode (sipPwd masked)
  called-routes    every called route, in the called-route template layout
  silence-rules    every silence rule, in the silence-rule template layout
  appointments     the appointments of one VDN (--vdn), in the appointment template layout
  agent-settings   every agent's settings (or those of --users FILE), agent-settings layout;
                   agents are matched to their settings through querySysInfo

Every cell is text, so IDs keep all their digits and leading zeros; values that a spreadsheet
would take for a formula are neutralised. Date-times (appointTime, call_from, call_end) are date-time
cells in --timezone (a CSV has them as text with their UTC offset). An xlsx export also has a Context
sheet (read-only facts such as a route's editable flag), an Info sheet and the template stamp, so
`batchops validate`, `plan` and `apply` take the file unchanged.

\b
Examples:
  batchops export called-routes -o routes.xlsx
  batchops export appointments --vdn 1 -o appointments.xlsx
  batchops export agent-settings -o settings.xlsx
  batchops export agent-settings --users agents.xlsx -o settings.xlsx
"""


@app.command("export", help=_HELP, short_help="Export live configuration to a workbook you can edit and apply.")
@click.argument("what", type=click.Choice(list(EXPORTS)))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The .xlsx or .csv file to write.")
@click.option("--vdn", "vdn_id", type=click.IntRange(_VDN.minimum, _VDN.maximum), default=None,
              help="The VDN whose appointments to export (appointments only).")
@click.option("--users", "users_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Only these agents (agent-settings only): a file of user IDs, workNos or account codes, "
                   "one a line; the agents export (xlsx or csv); or a workNo,userId file.")
@click.option("--include-secrets", is_flag=True,
              help="Write the agents' SIP passwords in clear text (agents only; the file is marked).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@timezone_option
@profile_option
@config_option
@json_option
def export_command(what: str, output: Path, vdn_id: int | None, users_file: Path | None, include_secrets: bool,
                   force: bool, timezone: str | None, profile: str | None, config_path: str | None,
                   as_json: bool) -> int:
    if vdn_id is not None and what != "appointments":
        raise click.UsageError("--vdn applies to appointments only.")
    if users_file is not None and what != "agent-settings":
        raise click.UsageError("--users applies to agent-settings only.")
    if include_secrets and what != "agents":
        raise click.UsageError("--include-secrets applies to agents only.")
    if what == "appointments" and vdn_id is None:
        raise click.UsageError("appointments needs --vdn N.")
    settings = load_settings(profile=profile, config_path=config_path)
    with _Bar(what, enabled=not as_json) as bar:
        exported = export_data(what, output, settings=settings, vdn_id=vdn_id, users_file=users_file,
                               include_secrets=include_secrets, force=force, timezone=timezone, on_progress=bar)
    if as_json:
        print_json(exported.summary())
        return 0
    _show(exported.result)
    return 0


def _show(result: ExportResult) -> None:
    for note in result.notes:
        warning_line(escape(note))
    what = f"{result.operation} layout" if result.operation else "read-only"
    out.print(f"Wrote {escape(str(result.path))}: {result.rows:,} {escape(result.what)} ({escape(what)})")


class _Bar:
    """A progress bar on stderr when it is a terminal; called as ``on_progress(done, total)``."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self._progress: Progress | None = None
        if enabled and err.is_terminal:
            self._progress = Progress(TextColumn(f"[bold]exporting {escape(label)}[/bold]"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
            self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)
