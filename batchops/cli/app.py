"""The click group every command module registers its commands on."""

from __future__ import annotations

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="batchops", prog_name="batchops")
def app() -> None:
    """Bulk changes to Huawei Cloud AICC configuration from spreadsheets.

    The round trip: export -> template -> validate -> plan -> apply -> audit.
    """
