"""Options several commands share, defined once."""

from __future__ import annotations

import click

from ..catalogue import OPERATIONS

operation_option = click.option(
    "--operation", "operation", type=click.Choice(list(OPERATIONS)), default=None,
    help="The operation; by default from the template's stamp, else from the headers.")
sheet_option = click.option("--sheet", default=None, help="The worksheet to read (default: the first visible one).")
timezone_option = click.option(
    "--timezone", "timezone", default=None, envvar="BATCHOPS_TIMEZONE", show_envvar=True,
    help="Time zone for date-times typed without an offset, e.g. Asia/Shanghai (default: this machine's).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout, for schedulers.")
