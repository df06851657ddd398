"""The exceptions batchops raises. The library raises; only the CLI prints and picks exit codes.

BatchopsError                     one line a user can act on; ``exit_code`` for the CLI
├── InputError                    the input file cannot be used as it is (exit 2)
│   ├── SheetError                not a readable spreadsheet, wrong sheet, bad headers
│   ├── WorkbookLocked            the workbook cannot be written back (open in Excel, read-only)
│   ├── WriteCheckFailed          a write into the workbook failed its check; the file was left as it was
│   └── ValidationFailed          the file was read, but rows break the schema (carries the report)
├── ConfigError                   a setting is missing or wrong (exit 3)
├── RemoteError                   the server could not be reached or refused us (exit 3)
│   └── AuthError                 token or signature rejected
├── JournalError                  the journal cannot be opened or written (exit 3)
│   └── RunLocked                 another run on the same file is under way
└── Interrupted                   the user stopped the run (exit 130)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CONFIG = 3
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
"""A bug in batchops (EX_SOFTWARE): the one line printed asks for a report."""


class BatchopsError(Exception):
    """Base of every error batchops raises on purpose."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.sheet = sheet
        self.row = row
        self.column = column
        self.fix = fix

    def location(self) -> str:
        """Where the problem is, as ``file, sheet 'S', row 4, column B``; empty when unknown."""
        parts: list[str] = []
        if self.path is not None:
            parts.append(self.path.name)
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text = f"{text} {self.fix}" if text.endswith(".") else f"{text}. {self.fix}"
        return text


class InputError(BatchopsError):
    """The input file cannot be used as it is."""

    exit_code = EXIT_BAD_INPUT


class SheetError(InputError):
    """The file is not a readable spreadsheet, or its sheet or headers are unusable."""


class WorkbookLocked(InputError):
    """The workbook cannot be written back: open in Excel or LibreOffice, read-only, or in a read-only folder."""


class WriteCheckFailed(InputError):
    """A write into the workbook failed the check made before replacing it; the workbook was left as it was."""


class ValidationFailed(InputError):
    """Rows of the file break the operation's schema; ``report`` holds every problem."""

    def __init__(self, message: str, *, report: Any, **where: Any) -> None:
        super().__init__(message, **where)
        self.report = report


class ConfigError(BatchopsError):
    """A setting is missing or wrong."""

    exit_code = EXIT_CONFIG


class RemoteError(BatchopsError):
    """The server could not be reached, or refused every request."""

    exit_code = EXIT_CONFIG


class AuthError(RemoteError):
    """The token request or the request signature was rejected."""


class JournalError(BatchopsError):
    """The journal cannot be opened or written."""

    exit_code = EXIT_CONFIG


class RunLocked(JournalError):
    """Another run on the same file is under way."""


class Interrupted(BatchopsError):
    """The user stopped the run."""

    exit_code = EXIT_INTERRUPTED
