"""``batchops template``: write the workbook a user fills in for an operation."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..catalogue import OPERATIONS
from ..errors import InputError
from ..reports.templates import operations_help, write_all_templates, write_template
from ..workflow import refuse_to_replace
from .app import app
from .output import out

DEFAULT_TEMPLATE_DIR = Path("templates")

_HELP = f"""Write the template workbook for operation OP (or every operation with --all).

A template has the canonical headers, ID and number columns formatted as Text, dropdowns for codes,
an input message with the limits on every header, an Instructions sheet, and a hidden stamp that
`batchops validate` reads to pick the operation and to tell a stale template.

\b
Operations:
{operations_help()}

\b
Examples:
  batchops template called-route -o called-route.xlsx
  batchops template --all -o templates
"""


@app.command(help=_HELP, short_help="Write the template workbook for an operation.")
@click.argument("op", metavar="[OP]", required=False, type=click.Choice(list(OPERATIONS)))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="The .xlsx file to write (default: OP.xlsx); with --all, the folder "
                   "(default: templates).")
@click.option("--all", "all_ops", is_flag=True,
              help="Write OP.xlsx for every operation into the -o folder, replacing those files.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
def template(op: str | None, output: Path | None, all_ops: bool, force: bool) -> int:
    if all_ops:
        if op is not None:
            raise click.UsageError("give OP or --all, not both.")
        folder = output or DEFAULT_TEMPLATE_DIR
        if folder.exists() and not folder.is_dir():
            raise InputError(f"'{folder}' is a file; with --all, -o names a folder.")
        for path in write_all_templates(folder):
            out.print(f"Wrote {escape(str(path))}")
        return 0
    if op is None:
        raise click.UsageError(f"name an operation ({', '.join(OPERATIONS)}) or pass --all.")
    target = output or Path(f"{op}.xlsx")
    if target.is_dir():
        target = target / f"{op}.xlsx"
    refuse_to_replace(target, force=force)  # a single named file is often a filled-in copy
    path = write_template(OPERATIONS[op], target)
    operation = OPERATIONS[op]
    out.print(f"Wrote {escape(str(path))}: {operation.name} template with {len(operation.columns)} "
              f"columns ({', '.join(operation.columns)})")
    return 0
