"""The audit trail: every row the journal holds, with its run, as a workbook or a CSV a reviewer can read.

One row per row of a run (applied, failed, skipped, invalid, not sent or of unknown outcome): who ran it,
where, when, from which file (name and SHA-256), against which target, the record key, the before and
after values, the status and the server's answer. A ``Runs`` sheet (xlsx) or ``FILE.runs.csv`` (CSV)
sums up each run. The rows are streamed from the journal to the streaming writer, so an audit of a
million rows keeps memory flat.

Secrets: the journal masks them on the way in; the audit masks again on the way out (secret field
names, credential-shaped values, and the configured secret values when the caller passes them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .journal import AuditRow, Journal, RowStatus, RunInfo, RunStatus
from .secrets import MASK, redact

__all__ = [
    "AUDIT_HEADERS",
    "AUDIT_SHEET",
    "RUNS_SHEET",
    "RUN_HEADERS",
    "AuditWritten",
    "Masker",
    "audit_row",
    "run_row",
    "status_text",
    "write_audit",
]

AUDIT_SHEET = "Audit"
RUNS_SHEET = "Runs"
AUDIT_HEADERS = (
    "run_id", "operator", "host", "run_started_at", "file_name", "file_sha256", "operation", "target",
    "row", "key", "status", "http_status", "code", "message", "attempts", "sent_at", "finished_at",
    "decision", "before", "after",
)
_AUDIT_NUMBER_COLUMNS = frozenset({"row", "http_status", "attempts"})

RUN_HEADERS = (
    "run_id", "status", "operation", "file_name", "file_sha256", "sheet", "target", "operator", "host",
    "started_at", "finished_at", "rows", "ok", "failed", "skipped", "invalid", "not-sent", "unknown",
    "pending",
)
_RUN_NUMBER_COLUMNS = frozenset({"rows", "ok", "failed", "skipped", "invalid", "not-sent", "unknown", "pending"})

# Values shaped like credentials, whatever field they come under: a bearer token or an AK/SK signature,
# and long unbroken hex/base64 runs such as tokens (IDs are decimal digits and stay readable).
_CREDENTIAL = re.compile(r"(?i)\b(bearer\s+\S+|auth-v2/\S+)")
_TOKEN_LIKE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9_\-]*[A-Za-z])(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{32,}")


class Masker:
    """Masks secrets in everything the audit writes: secret field names, credential-shaped text, and
    ``secret_values`` (the app secret, the SK …) wherever they appear."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        self._values = sorted({s for s in secret_values if isinstance(s, str) and len(s) >= 4}, key=len,
                              reverse=True)

    def text(self, value: str | None) -> str | None:
        """``value`` with every known secret and credential-shaped run replaced by the mask."""
        if not value:
            return value
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        value = _CREDENTIAL.sub(MASK, value)
        return _TOKEN_LIKE.sub(MASK, value)

    def json(self, value: Any) -> str | None:
        """A before/after value as compact JSON text, secret fields masked; None when not captured."""
        if value is None:
            return None
        return self.text(json.dumps(redact(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True))


def status_text(status: RowStatus, run_status: RunStatus) -> str:
    """A row's status as the audit shows it: ``in_flight`` in a run that has ended is ``unknown``."""
    if status is RowStatus.IN_FLIGHT and run_status is not RunStatus.RUNNING:
        return "unknown"
    return status.value


def audit_row(row: AuditRow, masker: Masker) -> list[Any]:
    """One audit line in ``AUDIT_HEADERS`` order; None where the journal holds nothing (an empty cell)."""
    return [
        row.run_id, row.operator, row.host, row.run_started_at, row.file_name, row.file_sha256, row.operation,
        row.target, row.row_number, row.key, status_text(row.status, row.run_status), row.http_status,
        row.code, masker.text(row.message), row.attempts, row.started_at, row.finished_at, row.decision,
        masker.json(row.before), masker.json(row.after),
    ]


def run_row(run: RunInfo) -> list[Any]:
    """One run's summary in ``RUN_HEADERS`` order: its rows counted per status."""
    c = run.counts
    return [
        run.id, run.status.value, run.operation, run.file_name, run.file_sha256, run.sheet, run.target,
        run.operator, run.host, run.started_at, run.finished_at, run.total, c.get("ok", 0),
        c.get("failed", 0), c.get("skipped", 0), c.get("invalid", 0), c.get("not-sent", 0),
        c.get("in_flight", 0), c.get("pending", 0),
    ]


@dataclass
class AuditWritten:
    """What ``write_audit`` wrote: the file(s), the row count, the runs covered."""

    path: Path
    rows: int
    runs: list[RunInfo]
    summary_path: Path | None = None
    extra: list[Path] = field(default_factory=list)


DateBound = dt.datetime | dt.date | str | None


def write_audit(
    journal: Journal,
    target: str | Path,
    *,
    run_id: str | None = None,
    since: DateBound = None,
    until: DateBound = None,
    operation: str | None = None,
    secret_values: Iterable[str] = (),
    on_row: Callable[[int], None] | None = None,
) -> AuditWritten:
    """Write the audit of the selected runs to ``target`` (.xlsx: Audit and Runs sheets; .csv: the rows,
    and the run summary in ``FILE.runs.csv``). ``on_row(n)`` is called every 1,000 rows written.

    Raises ``InputError`` for another suffix, ``JournalError`` for an unknown run or a bad date.
    """
    from .sheets.writer import SheetSpec, write_csv, write_xlsx

    path = Path(target)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(f"cannot write an audit to '{path}': give a file name ending in .xlsx or .csv.")
    runs = [journal.run(run_id)] if run_id is not None else journal.runs(since, until, operation)
    if run_id is not None and operation is not None and runs[0].operation != operation:
        runs = []
    masker = Masker(secret_values)
    counter = _Counter(on_row)
    rows: Iterator[list[Any]] = counter.count(
        audit_row(r, masker)
        for r in journal.rows_for_audit(run_id=run_id, since=since, until=until, operation=operation)
    )
    run_rows = [run_row(r) for r in reversed(runs)]  # oldest first, as the audit rows are
    if suffix == ".csv":
        from .results import sibling

        write_csv(path, list(AUDIT_HEADERS), rows)
        summary = write_csv(sibling(path, ".runs.csv"), list(RUN_HEADERS), run_rows)
        return AuditWritten(path, counter.n, runs, summary)
    write_xlsx(path, [
        SheetSpec(AUDIT_SHEET, AUDIT_HEADERS, rows, text_columns=_text_columns(AUDIT_HEADERS, _AUDIT_NUMBER_COLUMNS)),
        SheetSpec(RUNS_SHEET, RUN_HEADERS, run_rows, text_columns=_text_columns(RUN_HEADERS, _RUN_NUMBER_COLUMNS)),
    ])
    return AuditWritten(path, counter.n, runs)


def _text_columns(headers: Sequence[str], numbers: frozenset[str]) -> list[int]:
    return [i for i, name in enumerate(headers) if name not in numbers]


class _Counter:
    """Counts rows as the writer pulls them, reporting progress every 1,000."""

    def __init__(self, on_row: Callable[[int], None] | None) -> None:
        self.n = 0
        self.on_row = on_row

    def count(self, rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
        for row in rows:
            self.n += 1
            if self.on_row is not None and self.n % 1000 == 0:
                self.on_row(self.n)
            yield row
        if self.on_row is not None:
            self.on_row(self.n)
