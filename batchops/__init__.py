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

__version__ = "0.1.0"

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
    "__version__",
    "get_operation",
    "load_settings",
    "validate_file",
]
