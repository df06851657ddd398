"""The audit trail: what each run changed, field by field, as a workbook or CSV a reviewer can filter.

The main sheet, **Changes**, has one line per field a sent row changed: the record, the name the journal
knows it by (``agentName …, workNo …`` as read before the update), the field, its value before and after,
the result (``ok``, ``failed``, ``unknown``), the server's message, the run, the file, the operator and
the time as a real date-time cell. Rows that were not sent (skipped, not-sent, invalid) are not changes
and stay out of it; the full row log, every row of every run, is the **Rows** sheet with ``all_rows``
(``--all``). A **Runs** sheet sums up each run. Every sheet has its header frozen and a filter.

A CSV audit is the Changes (``FILE.csv``), ``FILE.runs.csv`` and with ``all_rows`` ``FILE.rows.csv``;
its times are text Excel reads as date-times.

Values are texts, never JSON: a list is ``a,b`` as in the input sheets. The rows are streamed from the
journal to the streaming writer, so an audit of a million rows keeps memory flat.

Secrets: the journal masks them on the way in; the audit masks again on the way out (secret field
names, credential-shaped values, and the configured secret values when the caller passes them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogue import OPERATIONS, Operation
from ..errors import InputError
from ..journal import AuditRow, Journal, RowStatus, RunInfo, RunStatus
from ..journal.stamps import parse_stamp
from ..secrets import MASK, is_secret_key

__all__ = [
    "CHANGES_SHEET",
    "CHANGE_HEADERS",
    "ROWS_SHEET",
    "ROW_HEADERS",
    "RUNS_SHEET",
    "RUN_HEADERS",
    "SENT_STATUSES",
    "AuditWritten",
    "Masker",
    "change_lines",
    "record_name",
    "row_line",
    "run_row",
    "status_text",
    "write_audit",
]

CHANGES_SHEET = "Changes"
RUNS_SHEET = "Runs"
ROWS_SHEET = "Rows"
CHANGE_HEADERS = ("record", "name", "field", "before", "after", "result", "message", "run_id", "file_name", "row",
                  "operation", "operator", "time")
"""The Changes sheet; ``time`` is the row's end (or, with no answer, when it was sent), local time."""
ROW_HEADERS = (
    "run_id", "operator", "host", "run_started_at", "file_name", "file_sha256", "operation", "target",
    "row", "key", "name", "status", "http_status", "code", "message", "attempts", "sent_at", "finished_at",
    "decision", "fields",
)
"""The full row log (``--all``): every row of every run; ``fields`` names the fields the row sets."""
RUN_HEADERS = (
    "run_id", "status", "operation", "file_name", "file_sha256", "sheet", "target", "operator", "host",
    "started_at", "finished_at", "rows", "ok", "failed", "skipped", "invalid", "not-sent", "unknown",
    "pending",
)
SENT_STATUSES = (RowStatus.OK, RowStatus.FAILED, RowStatus.IN_FLIGHT)
"""Rows whose request went out: the only ones that can have changed something."""
NOT_READ = "(not read)"
"""The before-value of a row whose record was not read before it was sent (``--no-before``, a failed read)."""

_NUMBER_COLUMNS = {"row", "http_status", "attempts", "rows", "ok", "failed", "skipped", "invalid", "not-sent",
                   "unknown", "pending"}
_TIME_COLUMNS = {"time", "run_started_at", "sent_at", "finished_at", "started_at"}

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

    def value(self, name: str, value: Any) -> str:
        """One field's value as a cell's text: the mask for a secret field, else its text, masked."""
        if value is None:
            return ""
        if is_secret_key(name):
            return MASK
        text = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        return self.text(text) or ""


def status_text(status: RowStatus, run_status: RunStatus) -> str:
    """A row's status as the audit shows it: ``in_flight`` in a run that has ended is ``unknown``."""
    if status is RowStatus.IN_FLIGHT and run_status is not RunStatus.RUNNING:
        return "unknown"
    return status.value


def record_name(op: Operation | None, before: Any, after: Any) -> str:
    """The name the journal knows a record by (``agentName Li Wei, workNo 101``): the read side's label
    facts, as read before the update (new values win for facts the row itself sets); ``""`` when none."""
    if op is None or op.read is None:
        return ""
    from ..remote.readers import label_of

    values = {**(before if isinstance(before, Mapping) else {}), **(after if isinstance(after, Mapping) else {})}
    return label_of(op, {k: str(v) for k, v in values.items() if v is not None})


def _when(stamp: str | None, tz: dt.tzinfo) -> dt.datetime | None:
    """A journal stamp as the local wall-clock time of ``tz`` (a date-time cell has no zone)."""
    if not stamp:
        return None
    return parse_stamp(stamp).astimezone(tz).replace(tzinfo=None)


def change_lines(row: AuditRow, masker: Masker, tz: dt.tzinfo) -> list[list[Any]]:
    """The Changes lines of one journal row (``CHANGE_HEADERS`` order): one per field the row changed;
    none for a row that was not sent. A sent row that changed no field (``--force``) gets one line without a
    field, so that no request goes unlisted."""
    if row.status not in SENT_STATUSES:
        return []
    op = OPERATIONS.get(row.operation)
    after = row.after if isinstance(row.after, Mapping) else {}
    before = row.before if isinstance(row.before, Mapping) and row.before else None
    keys = set(op.key) if op is not None else set()
    names = [n for n in (op.columns if op is not None else list(after)) if n in after and n not in keys]
    changed = [n for n in names if before is None or str(before.get(n, "")) != str(after[n])]
    result = status_text(row.status, row.run_status)
    common = (masker.text(row.message) or None, row.run_id, row.file_name, row.row_number, row.operation,
              row.operator, _when(row.finished_at or row.started_at, tz))
    record, name = row.key, masker.text(record_name(op, before, after)) or None
    if not changed:
        return [[record, name, None, None, None, result, *common]]
    return [[record, name, n, NOT_READ if before is None else masker.value(n, before.get(n)) or None,
             masker.value(n, after[n]) or None, result, *common] for n in changed]


def row_line(row: AuditRow, masker: Masker, tz: dt.tzinfo | None = None) -> list[Any]:
    """One line of the full row log in ``ROW_HEADERS`` order; times as date-times in ``tz`` (None: the
    journal's UTC stamps as text); None where the journal holds nothing (an empty cell)."""
    op = OPERATIONS.get(row.operation)
    after = row.after if isinstance(row.after, Mapping) else {}
    keys = set(op.key) if op is not None else set()

    def when(stamp: str | None) -> Any:
        return stamp if tz is None else _when(stamp, tz)

    return [
        row.run_id, row.operator, row.host, when(row.run_started_at), row.file_name, row.file_sha256,
        row.operation, row.target, row.row_number, row.key,
        masker.text(record_name(op, row.before, row.after)) or None,
        status_text(row.status, row.run_status), row.http_status, row.code, masker.text(row.message), row.attempts,
        when(row.started_at), when(row.finished_at), row.decision,
        ",".join(n for n in (op.columns if op is not None else after) if n in after and n not in keys) or None,
    ]


def run_row(run: RunInfo) -> list[Any]:
    """One run's summary in ``RUN_HEADERS`` order: its rows counted per status (times as journal text)."""
    c = run.counts
    return [
        run.id, run.status.value, run.operation, run.file_name, run.file_sha256, run.sheet, run.target,
        run.operator, run.host, run.started_at, run.finished_at, run.total, c.get("ok", 0),
        c.get("failed", 0), c.get("skipped", 0), c.get("invalid", 0), c.get("not-sent", 0),
        c.get("in_flight", 0), c.get("pending", 0),
    ]


def _run_sheet_row(run: RunInfo, tz: dt.tzinfo) -> list[Any]:
    values = run_row(run)
    return [_when(v, tz) if name in ("started_at", "finished_at") else v for name, v in zip(RUN_HEADERS, values)]


@dataclass
class AuditWritten:
    """What ``write_audit`` wrote: the file(s), the counts, the runs covered."""

    path: Path
    changes: int
    runs: list[RunInfo]
    summary_path: Path | None = None
    rows_path: Path | None = None
    rows: int = 0  # rows of the full log, when it was written
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
    all_rows: bool = False,
    timezone: dt.tzinfo | None = None,
    on_row: Callable[[int], None] | None = None,
) -> AuditWritten:
    """Write the audit of the selected runs to ``target`` (.xlsx: Changes and Runs sheets, and Rows with
    ``all_rows``; .csv: the changes, ``FILE.runs.csv`` and with ``all_rows`` ``FILE.rows.csv``). Times are
    shown in ``timezone`` (default: this machine's). ``on_row(n)`` is called every 1,000 journal rows read.

    Raises ``InputError`` for another suffix, ``JournalError`` for an unknown run or a bad date.
    """
    from ..checking.coerce import local_timezone
    from ..sheets.writer import SheetSpec, write_csv, write_xlsx

    path = Path(target)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(f"cannot write an audit to '{path}': give a file name ending in .xlsx or .csv.")
    tz = timezone or local_timezone()
    runs = [journal.run(run_id)] if run_id is not None else journal.runs(since, until, operation)
    if run_id is not None:
        run_id = runs[0].id  # the full ID, when a prefix named the run
        if operation is not None and runs[0].operation != operation:
            runs = []
    masker = Masker(secret_values)

    def stream(statuses: Sequence[RowStatus] | None = None) -> Iterator[AuditRow]:
        return journal.rows_for_audit(run_id=run_id, since=since, until=until, operation=operation,
                                      statuses=statuses)

    counter = _Counter(on_row)
    changes = _Counter(None)
    lines: Iterator[list[Any]] = changes.count(
        line for r in counter.count(stream(SENT_STATUSES))
        for line in change_lines(r, masker, tz))
    log = _Counter(None)
    zone = _zone_name(tz)
    change_headers = [f"time ({zone})" if h == "time" else h for h in CHANGE_HEADERS]
    run_headers = [f"{h} ({zone})" if h in _TIME_COLUMNS else h for h in RUN_HEADERS]
    row_headers = [f"{h} ({zone})" if h in _TIME_COLUMNS else h for h in ROW_HEADERS]
    run_rows = list(reversed(runs))  # oldest first, as the changes are
    if suffix == ".csv":
        from .results import sibling

        write_csv(path, change_headers, (_csv_times(line) for line in lines))
        summary = write_csv(sibling(path, ".runs.csv"), run_headers,
                            (_csv_times(_run_sheet_row(r, tz)) for r in run_rows))
        rows_path = None
        if all_rows:
            rows_path = write_csv(sibling(path, ".rows.csv"), row_headers,
                                  log.count(_csv_times(row_line(r, masker, tz))
                                            for r in stream()))
        return AuditWritten(path, changes.n, runs, summary, rows_path, log.n)
    sheets = [
        SheetSpec(CHANGES_SHEET, change_headers, lines, text_columns=_text_columns(CHANGE_HEADERS)),
        SheetSpec(RUNS_SHEET, run_headers, (_run_sheet_row(r, tz) for r in run_rows),
                  text_columns=_text_columns(RUN_HEADERS)),
    ]
    if all_rows:
        sheets.append(SheetSpec(ROWS_SHEET, row_headers,
                                log.count(row_line(r, masker, tz) for r in stream()),
                                text_columns=_text_columns(ROW_HEADERS)))
    write_xlsx(path, sheets)
    return AuditWritten(path, changes.n, runs, rows=log.n)


def _zone_name(tz: dt.tzinfo) -> str:
    """``Asia/Shanghai``, ``UTC``, or the offset now (``UTC+08:00``) for a zone without a name."""
    key = getattr(tz, "key", None)
    if key:
        return str(key)
    offset = dt.datetime.now(tz).utcoffset() or dt.timedelta()
    if not offset:
        return "UTC"
    sign, offset = ("+", offset) if offset >= dt.timedelta() else ("-", -offset)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def _csv_times(line: Sequence[Any]) -> list[Any]:
    """Date-times as ``2026-12-02 10:57:57``: the text Excel takes for a date-time when it opens a CSV."""
    return [v.isoformat(sep=" ", timespec="seconds") if isinstance(v, dt.datetime) else v for v in line]


def _text_columns(headers: Sequence[str]) -> list[int]:
    return [i for i, name in enumerate(headers) if name not in _NUMBER_COLUMNS and name not in _TIME_COLUMNS]


class _Counter:
    """Counts items as the writer pulls them, reporting progress every 1,000."""

    def __init__(self, on_row: Callable[[int], None] | None) -> None:
        self.n = 0
        self.on_row = on_row

    def count(self, rows: Iterable[Any]) -> Iterator[Any]:
        for row in rows:
            self.n += 1
            if self.on_row is not None and self.n % 1000 == 0:
                self.on_row(self.n)
            yield row
        if self.on_row is not None:
            self.on_row(self.n)
