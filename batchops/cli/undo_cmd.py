"""``batchops undo RUN_ID -o FILE.xlsx``: a file that puts back what a run changed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..errors import InputError
from ..journal import Journal
from ..undo import check_target, plan_undo, write_undo
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
    check_target(output)
    if output.exists() and not force:
        raise InputError(f"'{output}' already exists.", fix="Pass --force to replace it, or choose another -o.")
    with Journal(journal_path) as journal:
        plan = plan_undo(journal, run_id)
    written = write_undo(plan, output)
    if as_json:
        print_json({"ok": True, "file": str(written), "run_id": plan.run.id, "operation": plan.operation.name,
                    "rows": len(plan.rows),
                    "left_out": [{"row": x.row, "key": x.key, "field": x.field, "reason": x.reason}
                                 for x in plan.left_out],
                    "notes": plan.notes})
        return 0
    for note in plan.notes:
        warning_line(escape(note))
    for x in plan.left_out:
        what = f"row {x.row} ({x.key})" + (f", {x.field}" if x.field else "")
        warning_line(escape(f"{what} is not put back: {x.reason}."))
    out.print(f"Wrote {escape(str(written))}: {len(plan.rows)} row(s) of {plan.operation.name} that put back "
              f"run {escape(plan.run.id)}" + (f"; {len(plan.left_out)} left out (see the Undo sheet)"
                                          if plan.left_out else ""))
    out.print(f"Next: batchops plan {escape(str(written))}, then batchops apply {escape(str(written))}")
    return 0
