"""batchops: bulk changes to Huawei Cloud AICC configuration from spreadsheets.

The library API, for scripts that want batchops without its command line::

    from batchops import ApplyOptions, Job

    job = Job("agents.xlsx")                         # settings from the profile and BATCHOPS_* variables
    if job.validate().ok:                            # every problem, by sheet, row and column
        print(job.plan().summary()["counts"])        # before -> after, read from the server
        applied = job.apply(ApplyOptions(concurrency=16))  # reads before-values, as the CLI does
        job.write_report()                           # the Results sheet, into the workbook
        print(applied.summary())                     # what `batchops apply --json` prints

The library raises (``BatchopsError`` and its subclasses) and never prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

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
    "CancelToken": "http.dispatch",
    "Job": "workflow",
    "ApplyOptions": "apply.replay",
    "ApplyOutcome": "apply.replay",
    "Replay": "apply.replay",
    "RowResult": "apply.replay",
    "Status": "apply.replay",
    "Issue": "checking.report",
    "InputRow": "checking.report",
    "ValidationReport": "checking.report",
    "Settings": "settings",
    "load_settings": "settings",
    "validate_file": "checking.validation",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())

if TYPE_CHECKING:
    from .apply.replay import ApplyOptions, ApplyOutcome, Replay, RowResult, Status
    from .catalogue import OPERATIONS, Operation, get_operation
    from .checking.report import InputRow, Issue, ValidationReport
    from .checking.validation import validate_file
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
    from .http.dispatch import CancelToken
    from .journal import Journal
    from .settings import Settings, load_settings
    from .workflow import Job

__all__ = [
    "OPERATIONS",
    "ApplyOptions",
    "ApplyOutcome",
    "AuthError",
    "BatchopsError",
    "CancelToken",
    "ConfigError",
    "InputError",
    "InputRow",
    "Interrupted",
    "Issue",
    "Job",
    "Journal",
    "JournalError",
    "Operation",
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
