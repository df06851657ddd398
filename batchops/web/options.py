"""What ``batchops serve`` is started with: address, limits, where uploads go, which settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8708
DEFAULT_MAX_UPLOAD_MB = 200
MB = 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    """Everything the web app needs to know at start; ``port`` 0 asks for a free one."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * MB
    keep_uploads: bool = False
    upload_root: Path | None = None
    """Where the private upload folder is made (default: the system's temporary folder)."""
    profile: str | None = None
    config_path: str | None = None
    journal_path: str | None = None
    timezone: str | None = None
