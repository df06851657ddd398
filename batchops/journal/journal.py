"""The journal: a SQLite record of every run and every row, so that a row is never lost or sent twice.

One file (``default_journal_path()``, or ``--journal PATH``) holds three tables:

``runs``   one per ``apply``: file name, absolute path and SHA-256, sheet, operation, target (base URL),
           operator, host, pid, batchops version, options (JSON), start, heartbeat, end, status
           (``running`` → ``finished`` | ``interrupted`` | ``failed``).
``rows``   one per data row of a run: Excel row number, record key, content hash, the decision that was
           taken for it, the request (secrets masked), status (``pending`` → ``in_flight`` → ``ok`` |
           ``failed``; or ``pending`` → ``invalid`` | ``skipped`` | ``not-sent`` | ``failed``), HTTP status,
           return code, message, attempts, times, and the before/after values (JSON) for audit and undo.
``locks``  which run holds which input file (by absolute path and by SHA-256).

How a run uses it::

    journal = Journal(path)
    run = journal.start_run(file, operation=..., target=...)        # lock, crash recovery, notices
    plan = journal.plan_resume(file, operation, target, rows)        # skip what is already applied
    journal.add_rows(run.id, plan.decisions)                         # pending / skipped, one transaction
    journal.mark_in_flight(run.id, row, request=...)                 # committed BEFORE the request is sent
    journal.record_result(run.id, row, RowStatus.OK, http_status=200, ...)   # committed as it finishes
    journal.finish_run(run.id)                                       # rows never reached → not-sent

**Durability.** Each transition is its own committed transaction. WAL with ``synchronous=NORMAL`` keeps a
commit through a killed process (the WAL is in the OS's hands once ``commit`` returns) but not through a
power cut or kernel crash; ``Journal(durable=True)`` uses ``synchronous=FULL`` for that, at some cost
(see ``bench/bench_journal.py``).

**Resume.** See :meth:`Journal.plan_resume`: the unit is the row's *content*, matched by operation +
target + record key + content hash, never by row number, so a file edited between runs (rows inserted,
moved, changed) is handled row by row.

**Two runs on one file.** A lock row per input file (by path and by SHA-256, so a copy of the file is the
same file) plus an OS lock (``fcntl.flock``) on a small file in ``<journal>.locks/``. The OS lock dies
with its process, which tells a crashed run from a live one on this machine even when its pid has been
reused; for a holder on another host the heartbeat decides (stale after ``stale_after``).

One ``Journal`` is one SQLite connection, used from one thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import getpass
import hashlib
import json
import math
import os
import re
import secrets
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any

import platformdirs

from .errors import InputError, JournalError, RunLocked
from .secrets import MASK
from .secrets import redact as _shared_redact

try:  # POSIX only; on Windows the journal's lock rows and heartbeats do the job alone.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_STALE_AFTER",
    "HEARTBEAT_EVERY",
    "SCHEMA_VERSION",
    "Action",
    "AuditRow",
    "Decision",
    "Journal",
    "Reason",
    "ResumePlan",
    "RowRecord",
    "RowStatus",
    "RunInfo",
    "RunStatus",
    "content_hash",
    "default_journal_path",
    "file_sha256",
]

JOURNAL_FILE_NAME = "journal.sqlite3"
DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write transaction before giving up."""
DEFAULT_STALE_AFTER = dt.timedelta(minutes=10)
"""A running run whose heartbeat is older than this is taken for dead (the only test for another host)."""
HEARTBEAT_EVERY = 30.0
"""Seconds between heartbeats written as rows move; call :meth:`Journal.heartbeat` during long waits."""
LOCK_PROBE_GRACE = 0.2
"""Seconds an OS lock is retried before a run is refused (see ``_flock_soon``)."""
LOCK_WAIT_FOR_DETAILS = 1.0
"""Seconds a refused run waits for the winner's lock row, so that the refusal can say who holds the file."""


def default_journal_path() -> Path:
    """The journal in the user's data directory: ``platformdirs.user_data_dir("batchops")/journal.sqlite3``."""
    return Path(platformdirs.user_data_dir("batchops")) / JOURNAL_FILE_NAME


class RunStatus(str, Enum):
    """Where a run stands."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # its process died or was stopped; found out by a later run
    FAILED = "failed"  # stopped by an error (configuration, connection, retry budget)


class RowStatus(str, Enum):
    """Where a row stands. ``in_flight`` in a run that is no longer running means "outcome unknown"."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    OK = "ok"
    FAILED = "failed"
    INVALID = "invalid"
    SKIPPED = "skipped"
    NOT_SENT = "not-sent"


# Allowed transitions, enforced in the UPDATE's WHERE clause so that checking costs nothing.
# ``ok`` only after ``in_flight``: an ``ok`` without the in-flight commit would mean a request was sent
# without the journal knowing first. Nothing that may have been sent can become ``not-sent`` or ``skipped``.
_FROM_STATUS: dict[RowStatus, tuple[RowStatus, ...]] = {
    RowStatus.IN_FLIGHT: (RowStatus.PENDING,),
    RowStatus.OK: (RowStatus.IN_FLIGHT,),
    RowStatus.FAILED: (RowStatus.IN_FLIGHT, RowStatus.PENDING),
    RowStatus.INVALID: (RowStatus.PENDING,),
    RowStatus.SKIPPED: (RowStatus.PENDING,),
    RowStatus.NOT_SENT: (RowStatus.PENDING,),
}


class Action(str, Enum):
    """What ``apply`` does with a row."""

    SEND = "send"
    SKIP = "skip"


class Reason(str, Enum):
    """Why a row is sent or skipped."""

    NEW = "new"  # the journal has never seen this record under this operation and target
    CHANGED = "changed"  # the record was changed before, to other content
    RETRY_FAILED = "retry-failed"  # this content was sent before and failed
    RESEND_UNKNOWN = "resent-unknown"  # this content was in flight when a run died: outcome unknown
    FORCED = "forced"  # --force
    ALREADY_APPLIED = "already-applied"  # this content is the last one applied to the record


# ---------------------------------------------------------------------------------------------------------
# Schema. Each step runs in one transaction with its ``PRAGMA user_version`` bump (as sqlite-utils'
# migrations record each step with the work), so a crash mid-migration leaves the previous version intact.

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: runs, rows, locks
        """
        CREATE TABLE runs (
            id            TEXT PRIMARY KEY,
            file_name     TEXT NOT NULL,
            file_path     TEXT NOT NULL,
            file_sha256   TEXT NOT NULL,
            sheet         TEXT,
            operation     TEXT NOT NULL,
            target        TEXT NOT NULL,
            operator      TEXT NOT NULL,
            host          TEXT NOT NULL,
            pid           INTEGER NOT NULL,
            version       TEXT NOT NULL,
            options       TEXT NOT NULL DEFAULT '{}',
            started_at    TEXT NOT NULL,
            heartbeat_at  TEXT NOT NULL,
            finished_at   TEXT,
            status        TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed'))
        )
        """,
        "CREATE INDEX runs_started_at ON runs (started_at)",
        "CREATE INDEX runs_file_sha256 ON runs (file_sha256)",
        "CREATE INDEX runs_status ON runs (status)",
        """
        CREATE TABLE rows (
            run_id        TEXT NOT NULL REFERENCES runs (id),
            row_number    INTEGER NOT NULL,
            record_key    TEXT NOT NULL,
            content_hash  TEXT NOT NULL,
            decision      TEXT,
            status        TEXT NOT NULL
                CHECK (status IN ('pending', 'in_flight', 'ok', 'failed', 'invalid', 'skipped',
                                  'not-sent')),
            request       TEXT,
            http_status   INTEGER,
            code          TEXT,
            message       TEXT,
            attempts      INTEGER NOT NULL DEFAULT 0,
            started_at    TEXT,
            finished_at   TEXT,
            before        TEXT,
            after         TEXT,
            PRIMARY KEY (run_id, row_number)
        )
        """,
        # The resume lookup goes by record key; status is deliberately not indexed, as every transition
        # would then rewrite an index entry on the hot path.
        "CREATE INDEX rows_record_key ON rows (record_key)",
        """
        CREATE TABLE locks (
            lock_key      TEXT PRIMARY KEY,
            run_id        TEXT NOT NULL REFERENCES runs (id)
        )
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_RUN_COLUMNS = (
    "id, file_name, file_path, file_sha256, sheet, operation, target, operator, host, pid, version, "
    "options, started_at, heartbeat_at, finished_at, status"
)
_ROW_COLUMNS = (
    "run_id, row_number, record_key, content_hash, decision, status, request, http_status, code, message, "
    "attempts, started_at, finished_at, before, after"
)


# ---------------------------------------------------------------------------------------------------------
# Records handed out


@dataclass(frozen=True)
class RunInfo:
    """One run as the journal holds it, with its row counts per status.

    ``notices`` is filled by :meth:`Journal.start_run` only: what the journal did on the way in (a stale
    lock taken over, crashed runs marked interrupted), for the CLI to show.
    """

    id: str
    file_name: str
    file_path: str
    file_sha256: str
    sheet: str | None
    operation: str
    target: str
    operator: str
    host: str
    pid: int
    version: str
    options: dict[str, Any]
    started_at: str
    heartbeat_at: str
    finished_at: str | None
    status: RunStatus
    counts: dict[str, int] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Rows recorded for the run."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class RowRecord:
    """One row of one run. ``before``/``after`` are the decoded JSON values (None when not captured)."""

    run_id: str
    row_number: int
    key: str
    content_hash: str
    decision: str | None
    status: RowStatus
    request: Any
    http_status: int | None
    code: str | None
    message: str | None
    attempts: int
    started_at: str | None
    finished_at: str | None
    before: Any
    after: Any

    @property
    def outcome_unknown(self) -> bool:
        """True for a row that was in flight when its run stopped (it may or may not have been applied)."""
        return self.status is RowStatus.IN_FLIGHT


AUDIT_COLUMNS = (
    "run_id",
    "operator",
    "host",
    "file_name",
    "file_sha256",
    "operation",
    "target",
    "run_started_at",
    "run_status",
    "row_number",
    "key",
    "status",
    "decision",
    "http_status",
    "code",
    "message",
    "attempts",
    "started_at",
    "finished_at",
    "before",
    "after",
)


@dataclass(frozen=True)
class AuditRow:
    """One row joined with its run, as ``batchops audit`` writes it (fields in ``AUDIT_COLUMNS`` order)."""

    run_id: str
    operator: str
    host: str
    file_name: str
    file_sha256: str
    operation: str
    target: str
    run_started_at: str
    run_status: RunStatus
    row_number: int
    key: str
    status: RowStatus
    decision: str | None
    http_status: int | None
    code: str | None
    message: str | None
    attempts: int
    started_at: str | None
    finished_at: str | None
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict, enums as their text."""
        out = dataclasses.asdict(self)
        out["run_status"] = self.run_status.value
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class Decision:
    """What to do with one row of the file, and why; ``previous_run_id`` names the run the reason refers to."""

    row_number: int
    key: str
    content_hash: str
    action: Action
    reason: Reason
    previous_run_id: str | None = None

    @property
    def message(self) -> str:
        """The reason in words, for the Results sheet and the summary."""
        run = self.previous_run_id
        return {
            Reason.NEW: "new",
            Reason.CHANGED: f"changed since run {run}",
            Reason.RETRY_FAILED: f"retried after failure in run {run}",
            Reason.RESEND_UNKNOWN: f"resent after unknown outcome (in flight when run {run} stopped)",
            Reason.FORCED: "sent again (--force)",
            Reason.ALREADY_APPLIED: f"already applied in run {run}",
        }[self.reason]


@dataclass(frozen=True)
class ResumePlan:
    """The decision for every row, in the order given, and the earlier runs of the same file (newest first)."""

    decisions: list[Decision]
    earlier_runs: list[RunInfo]

    @property
    def to_send(self) -> list[Decision]:
        return [d for d in self.decisions if d.action is Action.SEND]

    @property
    def to_skip(self) -> list[Decision]:
        return [d for d in self.decisions if d.action is Action.SKIP]

    def count(self, reason: Reason) -> int:
        """How many rows were decided for ``reason``."""
        return sum(1 for d in self.decisions if d.reason is reason)


# ---------------------------------------------------------------------------------------------------------
# Hashing and masking


def content_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a canonical JSON of a row's validated values.

    Canonical: keys sorted, no whitespace, UTF-8; an integral float is the int (``1.0`` → ``1``, as
    JSON does not tell them apart); NaN/NA/NaT are null; tuples and sets are lists (sets sorted); dates
    and times are ISO 8601; Decimals are their text. Key order and cell formatting therefore never make
    an unchanged row look changed.
    """
    text = json.dumps(
        _canonical(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return None
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((_canonical(v) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return _canonical(float(obj)) if obj.is_nan() else str(obj.normalize())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _canonical(obj.item())
    if type(obj).__name__ in {"NAType", "NaTType"}:  # pandas missing values, without importing pandas
        return None
    return str(obj)


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Defence in depth on top of ``secrets.redact`` (which matches exact names): any key that merely
# *contains* one of these words, and any value shaped like a credential, is masked too.
_SECRET_WORDS = ("secret", "token", "passw", "pwd", "authorization", "signature", "cookie", "credential")
_SECRET_NAMES = frozenset({"ak", "sk", "accesskey", "secretkey", "privatekey"})
_CREDENTIAL_VALUE = re.compile(r"^(bearer\s|auth-v2/)", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def _looks_secret(key: object) -> bool:
    return isinstance(key, str) and _name_looks_secret(key)


@functools.lru_cache(maxsize=4096)  # the same few field names come back on every row
def _name_looks_secret(key: str) -> bool:
    name = _NON_ALNUM.sub("", key.lower())
    return name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS)


def _redact_more(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: (MASK if _looks_secret(k) else _redact_more(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_more(v) for v in obj]
    if isinstance(obj, str) and _CREDENTIAL_VALUE.match(obj):
        return MASK
    return obj


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    return str(obj)  # a Secret prints as its mask


# ---------------------------------------------------------------------------------------------------------
# Time and liveness


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stamp(moment: dt.datetime) -> str:
    # One fixed format (UTC, microseconds, +00:00) so that text order is time order in SQL.
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _bound(value: dt.datetime | dt.date | str | None, *, end: bool) -> str | None:
    """A since/until bound as a stamp. A date is a whole local day (``until`` includes it); a naive
    datetime is local time; text is parsed as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                dt.datetime.fromisoformat(value)
                if "T" in value or ":" in value
                else dt.date.fromisoformat(value)
            )
        except ValueError as exc:
            raise JournalError(f"'{value}' is not a date", fix="Give a date as YYYY-MM-DD.") from exc
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
    if value.tzinfo is None:
        value = value.astimezone()  # local time, as a user typing a date means it
    return _stamp(value)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there; assume alive, heartbeat decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except OSError:
        return True
    return True


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no passwd entry (containers) and no LOGNAME/USER
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _new_run_id(now: dt.datetime) -> str:
    return f"{now.astimezone(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


# ---------------------------------------------------------------------------------------------------------
# Errors


def _error(exc: BaseException, path: Path, doing: str) -> JournalError:
    """Turn a sqlite3/OS error into a JournalError that names the file and says the fix."""
    text = str(exc)
    low = text.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return JournalError(
            f"The journal {path} is damaged ({text}) while {doing}",
            path=path,
            fix=(
                f"Move it aside (for example rename it to {path.name}.broken) so that batchops starts a new "
                "journal, or pass --journal PATH. A new journal does not know which rows were applied: "
                "check them with `batchops plan` before applying the same file again."
            ),
        )
    if isinstance(exc, sqlite3.ProgrammingError):  # a bug in the caller, e.g. another thread
        return JournalError(f"The journal {path} was misused while {doing}: {text}", path=path)
    if "locked" in low or "busy" in low:
        return JournalError(
            f"The journal {path} stayed busy while {doing} ({text})",
            path=path,
            fix="Another batchops process is writing to it; try again in a moment.",
        )
    if "full" in low:
        return JournalError(
            f"The disk holding the journal {path} is full while {doing}",
            path=path,
            fix="Free some space, or pass --journal PATH on another disk.",
        )
    return JournalError(
        f"Cannot write the journal {path} while {doing} ({text})",
        path=path,
        fix=f"Check that you may write to {path.parent} and the file in it, or pass --journal PATH.",
    )


# ---------------------------------------------------------------------------------------------------------
# The journal


class Journal:
    """A journal file: open it, start runs, record rows, plan resumes, answer audit queries.

    ``stale_after``: a run whose heartbeat is older is taken for dead. ``durable``: ``synchronous=FULL``
    (survives power loss) instead of ``NORMAL`` (survives a killed process). ``secret_values``: strings
    (the app secret, SK, current token…) scrubbed from everything written, whatever key they come under.
    ``clock`` returns the current time (tests).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        durable: bool = False,
        secret_values: Iterable[str] = (),
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.path = Path(path if path is not None else default_journal_path()).expanduser().absolute()
        self.stale_after = stale_after
        self._clock = clock
        self._secrets = sorted({s for s in secret_values if isinstance(s, str) and len(s) >= 4}, key=len)[
            ::-1
        ]
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._os_locks: dict[str, list[IO[bytes]]] = {}
        self._open_runs: set[str] = set()
        self._last_heartbeat: dict[str, float] = {}
        self._conn = self._open(busy_timeout, durable)

    # -- opening -------------------------------------------------------------------------------------

    def _open(self, busy_timeout: float, durable: bool) -> sqlite3.Connection:
        path = self.path
        try:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
                os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
            if not path.exists():
                # Created by us, before SQLite does, so that it never exists with wider permissions.
                # SQLite gives the -wal and -shm files the same permissions as the database.
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            else:
                info = path.stat()
                if info.st_mode & 0o077 and info.st_uid == getattr(os, "getuid", lambda: -1)():
                    # An older or copied journal readable by others: take their access away, and only that.
                    os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
        except FileExistsError:
            pass  # another process created it between our check and our open
        except OSError as exc:
            raise _error(exc, path, "creating it") from exc
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise _error(exc, path, "opening it") from exc
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except JournalError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise _error(exc, path, "opening it") from exc
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.path} was written by a newer batchops (schema {current}, this one "
                f"knows {SCHEMA_VERSION})",
                path=self.path,
                fix="Upgrade batchops, or pass --journal PATH to use another journal.",
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the write lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                    conn.execute("COMMIT")
                    continue
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- housekeeping --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the journal. Runs started here and not finished are marked interrupted, their locks freed."""
        try:
            for run_id in list(self._open_runs):
                self.finish_run(run_id, RunStatus.INTERRUPTED)
        finally:
            for run_id in list(self._os_locks):
                self._release_os_locks(run_id)
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        return _stamp(self._clock())

    def _write(self, sql: str, params: Sequence[Any], doing: str) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _error(exc, self.path, doing) from exc

    def _dump(self, value: Any) -> str | None:
        """JSON text for storage, every secret masked: shared rules, then broader ones, then known values."""
        if value is None:
            return None
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        text = json.dumps(
            _redact_more(_shared_redact(value)),
            ensure_ascii=False,
            default=_json_default,
            separators=(",", ":"),
        )
        return self._scrub(text)

    def _scrub(self, text: str | None) -> str | None:
        if text is None:
            return None
        for value in self._secrets:
            if value in text:
                text = text.replace(value, MASK)
        return text

    # -- runs ----------------------------------------------------------------------------------------

    def start_run(
        self,
        file: str | Path,
        *,
        operation: str,
        target: str,
        sheet: str | None = None,
        operator: str | None = None,
        options: Mapping[str, Any] | None = None,
        sha256: str | None = None,
    ) -> RunInfo:
        """Start a run on ``file``: take its lock, recover crashed runs, record the run as ``running``.

        Raises :class:`RunLocked` when a live run holds the same file (same absolute path, or same
        SHA-256: a copy is the same file). A stale holder (its process gone on this machine, or silent
        for ``stale_after``) is taken over; its run is marked interrupted, and ``notices`` says so.
        """
        from . import __version__  # here, not at the top: the package may re-export this module

        file_path = Path(file).expanduser().absolute()
        try:
            digest = sha256 or file_sha256(file_path)
        except FileNotFoundError as exc:  # moved or deleted after it was validated: bad input, not the journal
            raise InputError("disappeared before the run started; nothing was sent", path=file_path,
                             fix="Put it back (or pass its new name) and run apply again.") from exc
        except OSError as exc:
            raise JournalError(f"Cannot read {file_path} to fingerprint it ({exc})", path=file_path) from exc
        keys = [f"path:{file_path}", f"sha256:{digest}"]
        run_id = _new_run_id(self._clock())
        handles = self._take_os_locks(keys, file_path)
        notices: list[str] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._now()
                for key in keys:
                    holder = self._lock_holder(key)
                    if holder is None:
                        continue
                    if holder.status is RunStatus.RUNNING and self._alive(holder, own_lock_free=True):
                        raise RunLocked(_locked_message(holder, file_path), path=file_path, fix=LOCKED_FIX)
                    notices.append(self._retire(holder, now, taken_over=True))
                notices.extend(self._recover(now))
                while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    run_id = _new_run_id(self._clock())  # two starts in one second: try another suffix
                conn.execute(
                    f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        file_path.name,
                        str(file_path),
                        digest,
                        sheet,
                        operation,
                        _normalise_target(target),
                        operator or _default_operator(),
                        self._host,
                        self._pid,
                        __version__,
                        self._dump(dict(options or {})) or "{}",
                        now,
                        now,
                        None,
                        RunStatus.RUNNING.value,
                    ),
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO locks (lock_key, run_id) VALUES (?, ?)",
                    [(k, run_id) for k in keys],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            _release(handles)
            raise _error(exc, self.path, f"starting a run on {file_path.name}") from exc
        except BaseException:
            _release(handles)
            raise
        self._os_locks[run_id] = handles
        self._open_runs.add(run_id)
        self._last_heartbeat[run_id] = time.monotonic()
        return dataclasses.replace(self.run(run_id), notices=tuple(notices))

    def finish_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> RunInfo:
        """End a run: rows still pending become ``not-sent``, the status and end time are set, the lock
        is freed — in one transaction. Rows still ``in_flight`` stay so: their outcome is unknown."""
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status, not 'running'")
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._now()
                conn.execute(
                    "UPDATE rows SET status = ?, message = COALESCE(message, ?), finished_at = ? "
                    "WHERE run_id = ? AND status = ?",
                    (
                        RowStatus.NOT_SENT.value,
                        f"not sent: the run {status.value}",
                        now,
                        run_id,
                        RowStatus.PENDING.value,
                    ),
                )
                conn.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?",
                    (status.value, now, now, run_id),
                )
                conn.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, self.path, f"finishing run {run_id}") from exc
        finally:
            self._open_runs.discard(run_id)
            self._last_heartbeat.pop(run_id, None)
            self._release_os_locks(run_id)
        return self.run(run_id)

    def heartbeat(self, run_id: str) -> None:
        """Tell other processes the run is alive. Done every ``HEARTBEAT_EVERY`` s as rows move; call it
        yourself during a long wait (backoff, rate limit) longer than a fraction of ``stale_after``."""
        self._write(
            "UPDATE runs SET heartbeat_at = ? WHERE id = ?", (self._now(), run_id), "writing a heartbeat"
        )
        self._last_heartbeat[run_id] = time.monotonic()

    def _maybe_heartbeat(self, run_id: str) -> None:
        last = self._last_heartbeat.get(run_id)
        if last is not None and time.monotonic() - last >= HEARTBEAT_EVERY:
            self.heartbeat(run_id)

    def recover_stale_runs(self) -> list[str]:
        """Mark every run left ``running`` by a dead process as interrupted; return what was done, in words.

        ``start_run`` does this on the way in; it is public for ``batchops runs`` and tests.
        """
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                notices = self._recover(self._now())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, self.path, "recovering crashed runs") from exc
        return notices

    def _recover(self, now: str) -> list[str]:
        notices = []
        running = [
            _run_from_row(r)
            for r in self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'running'")
        ]
        for holder in running:
            if holder.id in self._open_runs:
                continue
            if not self._alive(holder, own_lock_free=False):
                notices.append(self._retire(holder, now, taken_over=False))
        return notices

    def _retire(self, holder: RunInfo, now: str, *, taken_over: bool) -> str:
        """Mark a dead run interrupted and drop its locks (inside the caller's transaction)."""
        self._conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = MAX(heartbeat_at, COALESCE("
            "(SELECT MAX(COALESCE(finished_at, started_at)) FROM rows WHERE run_id = ?), '')) "
            "WHERE id = ? AND status = 'running'",
            (holder.id, holder.id),
        )
        self._conn.execute("DELETE FROM locks WHERE run_id = ?", (holder.id,))
        unknown = self._conn.execute(
            "SELECT COUNT(*) FROM rows WHERE run_id = ? AND status = 'in_flight'", (holder.id,)
        ).fetchone()[0]
        if holder.status is not RunStatus.RUNNING:
            return f"Removed a leftover lock of run {holder.id} ({holder.status.value})."
        why = (
            f"its process {holder.pid} on {holder.host} is gone"
            if holder.host == self._host
            else f"no heartbeat from {holder.host} since {holder.heartbeat_at}"
        )
        first = "Took over the lock of" if taken_over else "Marked as interrupted"
        tail = (
            f"; {unknown} row(s) it had in flight have an unknown outcome and will be re-sent"
            if unknown
            else ""
        )
        return (
            f"{first} run {holder.id} on {holder.file_name} (started {holder.started_at} by "
            f"{holder.operator}): {why}. It is marked interrupted{tail}."
        )

    def _alive(self, holder: RunInfo, *, own_lock_free: bool) -> bool:
        """Is the process behind a running run still there?

        On this host the OS lock is the truth when we have flock: ``own_lock_free`` says we already hold
        the holder's lock files (so it is dead); otherwise we probe them. Without flock, the pid. On
        another host only the heartbeat can tell.
        """
        fresh = self._clock() - _parse_stamp(holder.heartbeat_at) < self.stale_after
        if holder.host != self._host:
            return fresh
        if fcntl is not None:
            if own_lock_free:
                return False
            keys = [
                r[0] for r in self._conn.execute("SELECT lock_key FROM locks WHERE run_id = ?", (holder.id,))
            ]
            return any(self._os_lock_held(k) for k in keys)
        return _pid_alive(holder.pid) and fresh

    def _lock_holder(self, key: str) -> RunInfo | None:
        row = self._conn.execute(
            f"SELECT {', '.join('r.' + c.strip() for c in _RUN_COLUMNS.split(','))} "
            "FROM locks l JOIN runs r ON r.id = l.run_id WHERE l.lock_key = ?",
            (key,),
        ).fetchone()
        return _run_from_row(row) if row else None

    # -- OS locks ------------------------------------------------------------------------------------

    def _lock_file(self, key: str) -> Path:
        folder = self.path.with_name(self.path.name + ".locks")
        if not folder.exists():
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        # Files are never deleted: unlinking a lock file while another process opens it would let two
        # processes lock two different files of the same name.
        return folder / (hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".lock")

    def _open_lock_file(self, key: str) -> IO[bytes]:
        lock_path = self._lock_file(key)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return os.fdopen(fd, "r+b")

    def _take_os_locks(self, keys: list[str], file_path: Path) -> list[IO[bytes]]:
        if fcntl is None:
            return []
        handles: list[IO[bytes]] = []
        try:
            for key in keys:
                handle = self._open_lock_file(key)
                if not _flock_soon(handle):
                    handle.close()
                    raise RunLocked(self._refusal_details(key, file_path), path=file_path, fix=LOCKED_FIX)
                handles.append(handle)
        except OSError as exc:
            _release(handles)
            raise _error(exc, self.path, "locking the input file") from exc
        except BaseException:
            _release(handles)
            raise
        return handles

    def _refusal_details(self, key: str, file_path: Path) -> str:
        # The winner takes its OS lock a moment before it commits its lock row: wait briefly for it.
        deadline = time.monotonic() + LOCK_WAIT_FOR_DETAILS
        while True:
            try:
                holder = self._lock_holder(key)
            except sqlite3.Error:
                holder = None
            if holder is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        if holder is None:
            return f"Another batchops run on {file_path.name} is under way on this machine"
        return _locked_message(holder, file_path)

    def _os_lock_held(self, key: str) -> bool:
        try:
            handle = self._open_lock_file(key)
        except OSError:
            return True  # cannot tell: do not declare anyone dead
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            handle.close()  # closing drops the probe lock
        return False

    def _release_os_locks(self, run_id: str) -> None:
        _release(self._os_locks.pop(run_id, []))

    # -- rows ----------------------------------------------------------------------------------------

    def add_rows(self, run_id: str, rows: Iterable[Decision | tuple[int, str, str]]) -> None:
        """Record the run's rows, in one transaction: a :class:`Decision` to skip becomes ``skipped`` with
        its reason; anything else ``pending``. Tuples are ``(row_number, key, content_hash)``."""
        now = self._now()
        records: list[tuple[Any, ...]] = []
        for row in rows:
            if isinstance(row, Decision):
                skipped = row.action is Action.SKIP
                records.append(
                    (
                        run_id,
                        row.row_number,
                        str(row.key),
                        row.content_hash,
                        row.message,
                        (RowStatus.SKIPPED if skipped else RowStatus.PENDING).value,
                        row.message if skipped else None,
                        now if skipped else None,
                    )
                )
            else:
                number, key, digest = row
                records.append((run_id, number, str(key), digest, None, RowStatus.PENDING.value, None, None))
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO rows (run_id, row_number, record_key, content_hash, decision, status, "
                    "message, finished_at) VALUES (?,?,?,?,?,?,?,?)",
                    records,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            raise JournalError(
                f"Run {run_id} already has one of these rows, or does not exist ({exc})", path=self.path
            ) from exc
        except sqlite3.Error as exc:
            raise _error(exc, self.path, f"recording the rows of run {run_id}") from exc

    def mark_in_flight(
        self, run_id: str, row_number: int, *, request: Any = None, before: Any = None
    ) -> None:
        """Record, and commit, that a row's request is about to be sent. Call it BEFORE sending: a row
        found ``in_flight`` later is one whose outcome is unknown. ``request`` is masked again here.

        Refused (:class:`RunLocked`) once the run is no longer ``running``: if another run took the file
        over (this one looked dead), sending more from here could send rows twice."""
        cursor = self._write(
            "UPDATE rows SET status = 'in_flight', started_at = ?, request = COALESCE(?, request), "
            "before = COALESCE(?, before) WHERE run_id = ? AND row_number = ? AND status = 'pending' "
            "AND (SELECT status FROM runs WHERE id = ?) = 'running'",
            (self._now(), self._dump(request), self._dump(before), run_id, row_number, run_id),
            f"marking row {row_number} in flight",
        )
        if cursor.rowcount != 1:
            raise self._bad_transition(run_id, row_number, RowStatus.IN_FLIGHT)
        self._maybe_heartbeat(run_id)

    def record_result(
        self,
        run_id: str,
        row_number: int,
        status: RowStatus | str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        attempts: int | None = None,
        before: Any = None,
        after: Any = None,
        request: Any = None,
    ) -> None:
        """Record, and commit, how a row ended. ``ok``/``failed`` follow ``in_flight``; ``invalid``,
        ``skipped``, ``not-sent`` (and ``failed`` before sending) follow ``pending``."""
        status = RowStatus(status)
        allowed = _FROM_STATUS.get(status)
        if not allowed:
            raise ValueError(f"record_result cannot set '{status.value}'")
        cursor = self._write(
            "UPDATE rows SET status = ?, http_status = ?, code = ?, message = ?, "
            "attempts = COALESCE(?, attempts), finished_at = ?, before = COALESCE(?, before), "
            "after = COALESCE(?, after), request = COALESCE(?, request) "
            f"WHERE run_id = ? AND row_number = ? AND status IN ({','.join('?' * len(allowed))})",
            (
                status.value,
                http_status,
                None if code is None else str(code),
                self._scrub(message),
                attempts,
                self._now(),
                self._dump(before),
                self._dump(after),
                self._dump(request),
                run_id,
                row_number,
                *(s.value for s in allowed),
            ),
            f"recording the result of row {row_number}",
        )
        if cursor.rowcount != 1:
            raise self._bad_transition(run_id, row_number, status)
        self._maybe_heartbeat(run_id)

    def _bad_transition(self, run_id: str, row_number: int, wanted: RowStatus) -> JournalError:
        run = self._conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            return JournalError(f"The journal {self.path} has no run {run_id}", path=self.path)
        if wanted is RowStatus.IN_FLIGHT and run[0] != RunStatus.RUNNING.value:
            return RunLocked(
                f"Run {run_id} is '{run[0]}' in the journal: another run took its file over, or it was "
                f"finished; row {row_number} was not sent",
                path=self.path,
                fix="Keep the process alive and its heartbeat fresh (Journal.heartbeat during long waits); "
                "run apply again to send what is left.",
            )
        found = self._conn.execute(
            "SELECT status FROM rows WHERE run_id = ? AND row_number = ?", (run_id, row_number)
        ).fetchone()
        if found is None:
            return JournalError(f"Run {run_id} has no row {row_number} in the journal", path=self.path)
        return JournalError(
            f"Row {row_number} of run {run_id} is '{found[0]}' and cannot become '{wanted.value}'",
            path=self.path,
        )

    # -- resume --------------------------------------------------------------------------------------

    def plan_resume(
        self,
        file: str | Path,
        operation: str,
        target: str,
        rows: Iterable[tuple[int, str, str]],
        *,
        force: bool = False,
    ) -> ResumePlan:
        """Decide, for each ``(row_number, key, content_hash)``, whether to send or skip it.

        The unit is a record's content, matched by operation + target + record key + content hash, in
        every earlier run (not only those of this file: a copy or a re-export carrying the same change
        must not send it again). Row numbers play no part, so rows inserted, deleted or moved between runs
        change nothing. For each record the journal looks at the attempts that may have changed it
        (``ok``, and ``in_flight`` whose outcome is unknown), newest first:

        * the newest is ``ok`` with this content → SKIP (already applied);
        * the newest are ``in_flight`` with this content, over an ``ok`` with it → SKIP (either way the
          record holds this content);
        * ``in_flight`` with this content and nothing applied under it → SEND, "resent after unknown
          outcome";
        * otherwise SEND: "changed" if some other content was applied since (so A → B → A sends A
          again), "retried after failure" if this content failed before, else "new".

        ``force`` sends every row. ``file`` (a path, or a SHA-256) only selects ``earlier_runs`` (runs of
        the same path or the same bytes, newest first, without the run this Journal has under way).
        """
        operation_target = (operation, _normalise_target(target))
        wanted = [(int(n), str(k), h) for n, k, h in rows]
        history: dict[str, list[tuple[str, str, str, str]]] = {}
        failed: dict[tuple[str, str], str] = {}
        conn = self._conn
        try:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS resume_keys (record_key TEXT PRIMARY KEY)")
            conn.execute("BEGIN")
            try:
                conn.execute("DELETE FROM temp.resume_keys")
                conn.executemany(
                    "INSERT OR IGNORE INTO temp.resume_keys (record_key) VALUES (?)",
                    ((k,) for _, k, _ in wanted),
                )
                query = (
                    "SELECT r.record_key, r.content_hash, r.status, r.run_id, "
                    "COALESCE(r.started_at, r.finished_at, u.started_at) AS t "
                    "FROM temp.resume_keys w JOIN rows r ON r.record_key = w.record_key "
                    "JOIN runs u ON u.id = r.run_id "
                    "WHERE u.operation = ? AND u.target = ? AND r.status IN ('ok', 'in_flight', 'failed') "
                    "ORDER BY t, r.rowid"
                )
                for key, digest, status, run_id, _t in conn.execute(query, operation_target):
                    if status == RowStatus.FAILED.value:
                        failed[(key, digest)] = run_id  # the latest failure wins
                    else:
                        history.setdefault(key, []).append((digest, status, run_id, _t))
                conn.execute("DELETE FROM temp.resume_keys")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, self.path, "planning which rows to send") from exc

        decisions = []
        for number, key, digest in wanted:
            if force:
                decisions.append(Decision(number, key, digest, Action.SEND, Reason.FORCED))
                continue
            decisions.append(_decide(number, key, digest, history.get(key, []), failed))
        return ResumePlan(decisions=decisions, earlier_runs=self._runs_of_file(file))

    def _runs_of_file(self, file: str | Path) -> list[RunInfo]:
        text = str(file)
        if re.fullmatch(r"[0-9a-fA-F]{64}", text) and not Path(text).exists():
            where, params = "file_sha256 = ?", [text.lower()]
        else:
            path = Path(file).expanduser().absolute()
            params = [str(path)]
            where = "file_path = ?"
            if path.is_file():
                where += " OR file_sha256 = ?"
                params.append(file_sha256(path))
        # The run this Journal has under way is not an *earlier* run.
        return [run for run in self._select_runs(f"WHERE {where}", params) if run.id not in self._open_runs]

    # -- queries -------------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunInfo:
        """One run with its counts; JournalError when the journal has no such run."""
        found = self._select_runs("WHERE id = ?", [run_id])
        if not found:
            raise JournalError(
                f"The journal {self.path} has no run {run_id}",
                path=self.path,
                fix="`batchops runs` lists the runs it holds.",
            )
        return found[0]

    def runs(
        self,
        since: dt.datetime | dt.date | str | None = None,
        until: dt.datetime | dt.date | str | None = None,
        operation: str | None = None,
    ) -> list[RunInfo]:
        """Runs started in ``[since, until]`` (a date as ``until`` includes that day), newest first."""
        where, params = _run_filter(since, until, operation, prefix="")
        return self._select_runs(where, params)

    def rows(self, run_id: str) -> list[RowRecord]:
        """Every row of a run, in row order."""
        try:
            cursor = self._conn.execute(
                f"SELECT {_ROW_COLUMNS} FROM rows WHERE run_id = ? ORDER BY row_number", (run_id,)
            )
            return [_row_from_row(r) for r in cursor]
        except sqlite3.Error as exc:
            raise _error(exc, self.path, f"reading the rows of run {run_id}") from exc

    def rows_for_audit(
        self,
        run_id: str | None = None,
        since: dt.datetime | dt.date | str | None = None,
        until: dt.datetime | dt.date | str | None = None,
        operation: str | None = None,
        statuses: Iterable[RowStatus | str] | None = None,
    ) -> Iterator[AuditRow]:
        """Stream rows joined with their run, oldest run first, in row order. Filters: one run, runs
        started in ``[since, until]``, an operation, row statuses (default: all)."""
        where, params = _run_filter(since, until, operation, prefix="u.")
        clauses = [where[len("WHERE ") :]] if where else []
        if run_id is not None:
            clauses.append("u.id = ?")
            params.append(run_id)
        if statuses is not None:
            wanted = [RowStatus(s).value for s in statuses]
            clauses.append(f"r.status IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = (
            "SELECT u.id, u.operator, u.host, u.file_name, u.file_sha256, u.operation, u.target, u.started_at, "
            "u.status, r.row_number, r.record_key, r.status, r.decision, r.http_status, r.code, r.message, "
            "r.attempts, r.started_at, r.finished_at, r.before, r.after "
            "FROM rows r JOIN runs u ON u.id = r.run_id "
            + (f"WHERE {' AND '.join(clauses)} " if clauses else "")
            + "ORDER BY u.started_at, u.id, r.row_number"
        )
        try:
            cursor = self._conn.execute(sql, params)
            while True:
                batch = cursor.fetchmany(1000)
                if not batch:
                    return
                for r in batch:
                    yield _audit_from_row(r)
        except sqlite3.Error as exc:
            raise _error(exc, self.path, "reading rows for the audit") from exc

    def _select_runs(self, where: str, params: Sequence[Any]) -> list[RunInfo]:
        try:
            found = [
                _run_from_row(r)
                for r in self._conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, id DESC", params
                )
            ]
            if not found:
                return []
            counts: dict[str, dict[str, int]] = {run.id: {s.value: 0 for s in RowStatus} for run in found}
            ids = list(counts)
            for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
                chunk = ids[start : start + 500]
                for run_id, status, n in self._conn.execute(
                    f"SELECT run_id, status, COUNT(*) FROM rows WHERE run_id IN ({','.join('?' * len(chunk))}) "
                    "GROUP BY run_id, status",
                    chunk,
                ):
                    counts[run_id][status] = n
        except sqlite3.Error as exc:
            raise _error(exc, self.path, "reading runs") from exc
        return [dataclasses.replace(run, counts=counts[run.id]) for run in found]


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _decide(
    number: int,
    key: str,
    digest: str,
    history: list[tuple[str, str, str, str]],
    failed: Mapping[tuple[str, str], str],
) -> Decision:
    unknown_run: str | None = None
    for other_digest, status, run_id, _t in reversed(history):  # newest first
        if other_digest != digest:
            # Something else was (or may have been) applied since: this content is a change again.
            if unknown_run:
                return Decision(number, key, digest, Action.SEND, Reason.RESEND_UNKNOWN, unknown_run)
            return Decision(number, key, digest, Action.SEND, Reason.CHANGED, run_id)
        if status == RowStatus.OK.value:
            return Decision(number, key, digest, Action.SKIP, Reason.ALREADY_APPLIED, run_id)
        unknown_run = unknown_run or run_id  # in flight with this content: look further back
    if unknown_run:
        return Decision(number, key, digest, Action.SEND, Reason.RESEND_UNKNOWN, unknown_run)
    if (key, digest) in failed:
        return Decision(number, key, digest, Action.SEND, Reason.RETRY_FAILED, failed[(key, digest)])
    return Decision(number, key, digest, Action.SEND, Reason.NEW)


def _normalise_target(target: str) -> str:
    # "https://host/" and "https://host" are one target.
    return target.strip().rstrip("/")


def _run_filter(
    since: dt.datetime | dt.date | str | None,
    until: dt.datetime | dt.date | str | None,
    operation: str | None,
    *,
    prefix: str,
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    lower, upper = _bound(since, end=False), _bound(until, end=True)
    if lower is not None:
        clauses.append(f"{prefix}started_at >= ?")
        params.append(lower)
    if upper is not None:
        # A date or date-only text is exclusive of the next midnight; an exact moment is inclusive.
        exact = isinstance(until, dt.datetime) or (isinstance(until, str) and ("T" in until or ":" in until))
        clauses.append(f"{prefix}started_at {'<=' if exact else '<'} ?")
        params.append(upper)
    if operation is not None:
        clauses.append(f"{prefix}operation = ?")
        params.append(operation)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else "", params)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run_from_row(r: Sequence[Any]) -> RunInfo:
    return RunInfo(
        id=r[0],
        file_name=r[1],
        file_path=r[2],
        file_sha256=r[3],
        sheet=r[4],
        operation=r[5],
        target=r[6],
        operator=r[7],
        host=r[8],
        pid=r[9],
        version=r[10],
        options=json.loads(r[11] or "{}"),
        started_at=r[12],
        heartbeat_at=r[13],
        finished_at=r[14],
        status=RunStatus(r[15]),
    )


def _row_from_row(r: Sequence[Any]) -> RowRecord:
    return RowRecord(
        run_id=r[0],
        row_number=r[1],
        key=r[2],
        content_hash=r[3],
        decision=r[4],
        status=RowStatus(r[5]),
        request=_load(r[6]),
        http_status=r[7],
        code=r[8],
        message=r[9],
        attempts=r[10],
        started_at=r[11],
        finished_at=r[12],
        before=_load(r[13]),
        after=_load(r[14]),
    )


def _audit_from_row(r: Sequence[Any]) -> AuditRow:
    return AuditRow(
        run_id=r[0],
        operator=r[1],
        host=r[2],
        file_name=r[3],
        file_sha256=r[4],
        operation=r[5],
        target=r[6],
        run_started_at=r[7],
        run_status=RunStatus(r[8]),
        row_number=r[9],
        key=r[10],
        status=RowStatus(r[11]),
        decision=r[12],
        http_status=r[13],
        code=r[14],
        message=r[15],
        attempts=r[16],
        started_at=r[17],
        finished_at=r[18],
        before=_load(r[19]),
        after=_load(r[20]),
    )


def _locked_message(holder: RunInfo, file_path: Path) -> str:
    return (
        f"{file_path.name} is being applied by run {holder.id}: {holder.operator} on {holder.host} "
        f"(pid {holder.pid}), started {holder.started_at}, last heartbeat {holder.heartbeat_at}"
    )


LOCKED_FIX = (
    "Wait for that run to finish, or stop it; two runs on one file at once could send rows twice. "
    "A run whose process has died is taken over automatically."
)


def _flock_soon(handle: IO[bytes]) -> bool:
    """Take an exclusive flock, retrying for ``LOCK_PROBE_GRACE`` s: another process's liveness probe
    holds a lock file for a few microseconds, a live run holds it for its whole life."""
    deadline = time.monotonic() + LOCK_PROBE_GRACE
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _release(handles: Iterable[IO[bytes]]) -> None:
    for handle in handles:
        try:
            handle.close()  # closing the descriptor drops its flock
        except OSError:
            pass
