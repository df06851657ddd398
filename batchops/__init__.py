"""batchops: bulk changes to Huawei Cloud AICC configuration from spreadsheets.

The library API, for scripts that want batchops without its command line::

    from batchops import validate_file, load_settings, Journal, Replay, ApplyOptions

    report = validate_file("agents.xlsx")            # every problem, by sheet, row and column
    if report.ok:
        with Journal() as journal:
            outcome = Replay(report, load_settings(), journal=journal,
                             options=ApplyOptions(concurrency=16)).run()

The library raises (``BatchopsError`` and its subclasses) and never prints.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Imported on first use (PEP 562), so that importing a light part (``batchops.sheets``) does not load
# pandas and pandera; type checkers see the plain imports below.
_HOMES = {
    "OPERATIONS": "catalogue",
    "Operation": "catalogue",
    "get_operation": "catalogue",
    "AuthError": "errors",
    "BatchopsError": "errors",
    "ConfigError": "errors",
    "InputError": "errors",
    "Interrupted": "errors",
    "JournalError": "errors",
    "RemoteError": "errors",
    "RunLocked": "errors",
    "SheetError": "errors",
    "ValidationFailed": "errors",
    "WorkbookLocked": "errors",
    "WriteCheckFailed": "errors",
    "Journal": "journal",
    "ApplyOptions": "replay",
    "ApplyOutcome": "replay",
    "Replay": "replay",
    "RowResult": "replay",
    "Status": "replay",
    "Issue": "report",
    "Record": "report",
    "ValidationReport": "report",
    "Settings": "settings",
    "load_settings": "settings",
    "validate_file": "validation",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'batchops' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .catalogue import OPERATIONS, Operation, get_operation
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
        WorkbookLocked,
        WriteCheckFailed,
    )
    from .journal import Journal
    from .replay import ApplyOptions, ApplyOutcome, Replay, RowResult, Status
    from .report import Issue, Record, ValidationReport
    from .settings import Settings, load_settings
    from .validation import validate_file

__all__ = [
    "OPERATIONS",
    "ApplyOptions",
    "ApplyOutcome",
    "AuthError",
    "BatchopsError",
    "ConfigError",
    "InputError",
    "Interrupted",
    "Issue",
    "Journal",
    "JournalError",
    "Operation",
    "Record",
    "RemoteError",
    "Replay",
    "RowResult",
    "RunLocked",
    "Settings",
    "SheetError",
    "Status",
    "ValidationFailed",
    "ValidationReport",
    "WorkbookLocked",
    "WriteCheckFailed",
    "__version__",
    "get_operation",
    "load_settings",
    "validate_file",
]
