"""The command line: the one place that prints, and that maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click
from rich.markup import escape

from ..errors import EXIT_BAD_INPUT, EXIT_CONFIG, EXIT_INTERNAL, EXIT_INTERRUPTED, BatchopsError

# Each command's module registers it on ``app`` when imported, which ``app`` does when the command runs.
from .app import app
from .output import error_line

__all__ = ["app", "main", "run"]


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code, never raising."""
    try:
        result = app.main(args=list(argv) if argv is not None else None, standalone_mode=False,
                          prog_name="batchops")
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        error_line("interrupted.")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        error_line(escape(exc.format_message()))
        return EXIT_BAD_INPUT
    except BatchopsError as exc:
        error_line(escape(str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:  # never a traceback for a user; BATCHOPS_DEBUG=1 shows it to a developer
        # The sandbox shares no code with the library, errors included; only a loaded sandbox can raise its own.
        sandbox_errors = sys.modules.get("batchops.sandbox.errors")
        if sandbox_errors is not None and isinstance(exc, sandbox_errors.SandboxError):
            error_line(escape(str(exc)))
            return EXIT_CONFIG
        if os.environ.get("BATCHOPS_DEBUG"):
            raise
        error_line(escape(f"internal error ({type(exc).__name__}: {exc}). Please report it; "
                          "BATCHOPS_DEBUG=1 shows the details."))
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
