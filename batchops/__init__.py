"""batchops: bulk changes to Huawei Cloud AICC configuration from spreadsheets."""

from __future__ import annotations

from .errors import (
    AuthError,
    BatchopsError,
    ConfigError,
    InputError,
    Interrupted,
    JournalError,
    RemoteError,
    RunLocked,
    SheetError,
    ValidationFailed,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BatchopsError",
    "ConfigError",
    "InputError",
    "Interrupted",
    "JournalError",
    "RemoteError",
    "RunLocked",
    "SheetError",
    "ValidationFailed",
    "__version__",
]
