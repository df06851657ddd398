"""The sandbox's own error: it shares no code with the client, its errors included.

The command line turns a ``SandboxError`` into one ``Error: …`` line and the configuration exit code, as it
does for the library's ``ConfigError``.
"""

from __future__ import annotations

from pathlib import Path


class SandboxError(ValueError):
    """A sandbox option or control request is wrong, or the sandbox cannot start; the message says the fix."""

    def __init__(self, message: str, *, path: str | Path | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} {self.fix}" if self.fix else self.message


__all__ = ["SandboxError"]
