"""Where the CLI writes: one console for results (stdout), one for messages (stderr)."""

from __future__ import annotations

import click
from rich.console import Console

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def error_line(message: str) -> None:
    """Print one ``Error: …`` line to stderr."""
    err.print(f"[bold red]Error:[/bold red] {message}", markup=True, highlight=False)


def warning_line(message: str) -> None:
    """Print one ``Warning: …`` line to stderr."""
    err.print(f"[yellow]Warning:[/yellow] {message}", markup=True, highlight=False)


def print_json(obj: object) -> None:
    """One JSON object on one line of stdout, for schedulers."""
    import json

    click.echo(json.dumps(obj, ensure_ascii=False, default=str))
