"""Options several commands share, defined once."""

from __future__ import annotations

import codecs

import click

from ..catalogue import OPERATIONS

operation_option = click.option(
    "--operation", "operation", type=click.Choice(list(OPERATIONS)), default=None,
    help="The operation; by default from the template's stamp, else from the headers.")
sheet_option = click.option("--sheet", default=None, help="The worksheet to read (default: the first visible one).")
timezone_option = click.option(
    "--timezone", "timezone", default=None, envvar="BATCHOPS_TIMEZONE", show_envvar=True,
    help="Time zone for date-times typed without an offset, e.g. Asia/Shanghai (default: this machine's).")
def _encoding(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise click.BadParameter(f"{value!r} is not an encoding; use e.g. utf-8, gb18030, shift_jis, utf-16, "
                                 "latin-1") from None


encoding_option = click.option(
    "--encoding", default=None, callback=_encoding,
    help="The encoding of a CSV file, e.g. gb18030 or shift_jis (default: found from the file; a guess is said).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout, for schedulers.")
profile_option = click.option("--profile", default=None, envvar="BATCHOPS_PROFILE", show_envvar=True,
                              help="The named profile of the config file to use.")
config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             envvar="BATCHOPS_CONFIG", show_envvar=True,
                             help="The config file (default: the user's batchops/config.toml).")
journal_option = click.option("--journal", "journal_path", type=click.Path(dir_okay=False), default=None,
                              envvar="BATCHOPS_JOURNAL", show_envvar=True,
                              help="The journal file (default: batchops' folder in the user's data directory).")
accept_lost_zeros_option = click.option(
    "--accept-lost-zeros", "accept_lost_zeros", is_flag=True,
    help="Numbers Excel may have stripped of their leading zeros (a number cell in a number column, a CSV "
         "number other rows write with a 0, a new number equal to the current one without its zeros) are "
         "right as they are: send them. Without it such rows are held back.")
