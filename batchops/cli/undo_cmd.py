"""``batchops undo RUN_ID -o FILE.xlsx``: a file that puts back what a run changed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..workflow import make_undo
from .app import app
from .options import journal_option, json_option
from .output import out, print_json, warning_line


@app.command()
@click.argument("run_id", metavar="RUN_ID")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The .xlsx file to write, in the operation's template layout.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@journal_option
@json_option
def undo(run_id: str, output: Path, force: bool, journal_path: str | None, as_json: bool) -> int:
    """Write a workbook that puts back the before-values of every row run RUN_ID changed.

    Nothing is sent: check the file with `batchops plan FILE`, then apply it with `batchops apply FILE`.
    Rows whose before-values were not captured are listed on the file's Undo sheet, never dropped
    silently. `batchops runs` lists the run IDs.
    """
    made = make_undo(run_id, output, journal_path=journal_path, force=force)
    if as_json:
        print_json(made.summary())
        return 0
    undo = made.undo
    for note in undo.notes:
        warning_line(escape(note))
    for x in undo.left_out:
        what = f"row {x.row} ({x.key})" + (f", {x.field}" if x.field else "")
        warning_line(escape(f"{what} is not put back: {x.reason}."))
    out.print(f"Wrote {escape(str(made.path))}: {len(undo.rows)} row(s) of {undo.operation.name} that put back "
              f"run {escape(made.run_id)}" + (f"; {len(undo.left_out)} left out (see the Undo sheet)"
                                          if undo.left_out else ""))
    out.print(f"Next: batchops plan {escape(str(made.path))}, then batchops apply {escape(str(made.path))}")
    return 0
