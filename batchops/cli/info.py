"""``batchops version``."""

from __future__ import annotations

from .. import __version__
from .app import app
from .output import out


@app.command()
def version() -> None:
    """Show the batchops version."""
    out.print(f"batchops {__version__}")
