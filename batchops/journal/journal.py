"""The Journal: one SQLite connection that starts and finishes runs, records rows and answers queries.

A facade over the package's parts, each with one concern: :mod:`.schema` opens the file, :mod:`.locks`
and :mod:`.oslocks` keep two runs off one file, :mod:`.transitions` guards the row lifecycle,
:mod:`.resume` decides what to send, :mod:`.queries` reads, :mod:`.masking` keeps secrets out. Each state
change is its own committed transaction (:meth:`.db.Database.transaction`).

One ``Journal`` is one SQLite connection, used from one thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, JournalError
from .hashing import file_sha256
from .locks import DEFAULT_STALE_AFTER, RunLocks
from .masking import Masker
from .oslocks import OsLocks, release
from .queries import iter_audit_rows, read_rows, read_run, run_filter, runs_of_file, select_runs
from .records import AuditRow, Decision, ResumePlan, RowRecord, RowStatus, RunInfo, RunStatus
from .resume import decide_rows, normalise_target
from .schema import DEFAULT_BUSY_TIMEOUT, RUN_COLUMNS, default_journal_path, open_database
from .stamps import TimeBound, new_run_id, stamp, utcnow
from .transitions import FROM_STATUS, bad_transition, new_row_values

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

__all__ = ["HEARTBEAT_EVERY", "Journal"]

HEARTBEAT_EVERY = 30.0
"""Seconds between heartbeats written as rows move; call :meth:`Journal.heartbeat` during long waits."""


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
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.path = Path(path if path is not None else default_journal_path()).expanduser().absolute()
        self._clock = clock
        self._masker = Masker(secret_values)
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._open_runs: set[str] = set()
        self._last_heartbeat: dict[str, float] = {}
        self._db = open_database(self.path, busy_timeout=busy_timeout, durable=durable)
        self._conn = self._db.conn
        self._os_locks = OsLocks(self.path)
        self._locks = RunLocks(
            self._conn,
            self._os_locks,
            host=self._host,
            clock=clock,
            stale_after=stale_after,
            open_runs=self._open_runs,
        )

    @property
    def stale_after(self) -> dt.timedelta:
        """A running run whose heartbeat is older than this is taken for dead."""
        return self._locks.stale_after

    @stale_after.setter
    def stale_after(self, value: dt.timedelta) -> None:
        self._locks.stale_after = value

    # -- housekeeping --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the journal. Runs started here and not finished are marked interrupted, their locks freed."""
        try:
            for run_id in list(self._open_runs):
                self.finish_run(run_id, RunStatus.INTERRUPTED)
        finally:
            self._os_locks.release_all()
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        return stamp(self._clock())

    def _release_os_locks(self, run_id: str) -> None:
        self._os_locks.release_run(run_id)

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
        from .. import __version__  # here, not at the top: the package may re-export this module

        file_path = Path(file).expanduser().absolute()
        try:
            digest = sha256 or file_sha256(file_path)
        except FileNotFoundError as exc:  # moved or deleted after it was validated: bad input, not the journal
            raise InputError("disappeared before the run started; nothing was sent", path=file_path,
                             fix="Put it back (or pass its new name) and run apply again.") from exc
        except OSError as exc:
            raise JournalError(f"Cannot read {file_path} to fingerprint it ({exc})", path=file_path) from exc
        keys = [f"path:{file_path}", f"sha256:{digest}"]
        run_id = new_run_id(self._clock())
        handles = self._os_locks.take(keys, lambda key: self._locks.refusal(key, file_path))
        try:
            with self._db.transaction(f"starting a run on {file_path.name}") as conn:
                now = self._now()
                notices = self._locks.claim(keys, file_path, now)
                while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    run_id = new_run_id(self._clock())  # two starts in one second: try another suffix
                conn.execute(
                    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        file_path.name,
                        str(file_path),
                        digest,
                        sheet,
                        operation,
                        normalise_target(target),
                        operator or _default_operator(),
                        self._host,
                        self._pid,
                        __version__,
                        self._masker.dump(dict(options or {})) or "{}",
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
        except BaseException:
            release(handles)
            raise
        self._os_locks.keep(run_id, handles)
        self._open_runs.add(run_id)
        self._last_heartbeat[run_id] = time.monotonic()
        return dataclasses.replace(self.run(run_id), notices=tuple(notices))

    def finish_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> RunInfo:
        """End a run: rows still pending become ``not-sent``, the status and end time are set, the lock
        is freed — in one transaction. Rows still ``in_flight`` stay so: their outcome is unknown."""
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status, not 'running'")
        try:
            with self._db.transaction(f"finishing run {run_id}") as conn:
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
        finally:
            self._open_runs.discard(run_id)
            self._last_heartbeat.pop(run_id, None)
            self._release_os_locks(run_id)
        return self.run(run_id)

    def record_pace(self, run_id: str, target: str, *, throttled: int, settled_rate: float | None) -> None:
        """Keep how often the server throttled a run and the rate it let through (``Limiter.settled_rate``)."""
        with self._db.transaction(f"recording the pace of run {run_id}") as conn:
            conn.execute(
                "INSERT OR REPLACE INTO run_pace (run_id, target, throttled, settled_rate, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, target, int(throttled), settled_rate, self._now()),
            )

    def settled_rate(self, target: str) -> float | None:
        """The rate the server last let a run to ``target`` go at, for the next run to start from; None when
        no run to it was ever held back."""
        with self._db.guard("reading the last settled rate"):
            row = self._db.conn.execute(
                "SELECT settled_rate FROM run_pace WHERE target = ? AND settled_rate IS NOT NULL "
                "ORDER BY recorded_at DESC, rowid DESC LIMIT 1",
                (target,),
            ).fetchone()
        return None if row is None else float(row[0])

    def heartbeat(self, run_id: str) -> None:
        """Tell other processes the run is alive. Done every ``HEARTBEAT_EVERY`` s as rows move; call it
        yourself during a long wait (backoff, rate limit) longer than a fraction of ``stale_after``."""
        self._db.execute(
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
        with self._db.transaction("recovering crashed runs"):
            return self._locks.recover(self._now())

    # -- rows ----------------------------------------------------------------------------------------

    def add_rows(self, run_id: str, rows: Iterable[Decision | tuple[int, str, str]]) -> None:
        """Record the run's rows, in one transaction: a :class:`Decision` to skip becomes ``skipped`` with
        its reason; anything else ``pending``. Tuples are ``(row_number, key, content_hash)``."""
        values = new_row_values(run_id, rows, self._now())
        with self._db.transaction(f"recording the rows of run {run_id}") as conn:
            try:
                conn.executemany(
                    "INSERT INTO rows (run_id, row_number, record_key, content_hash, decision, status, "
                    "message, finished_at) VALUES (?,?,?,?,?,?,?,?)",
                    values,
                )
            except sqlite3.IntegrityError as exc:
                raise JournalError(
                    f"Run {run_id} already has one of these rows, or does not exist ({exc})", path=self.path
                ) from exc

    def mark_in_flight(
        self, run_id: str, row_number: int, *, request: Any = None, before: Any = None
    ) -> None:
        """Record, and commit, that a row's request is about to be sent. Call it BEFORE sending: a row
        found ``in_flight`` later is one whose outcome is unknown. ``request`` is masked again here.

        Refused (:class:`RunLocked`) once the run is no longer ``running``: if another run took the file
        over (this one looked dead), sending more from here could send rows twice."""
        dump = self._masker.dump
        cursor = self._db.execute(
            "UPDATE rows SET status = 'in_flight', started_at = ?, request = COALESCE(?, request), "
            "before = COALESCE(?, before) WHERE run_id = ? AND row_number = ? AND status = 'pending' "
            "AND (SELECT status FROM runs WHERE id = ?) = 'running'",
            (self._now(), dump(request), dump(before), run_id, row_number, run_id),
            f"marking row {row_number} in flight",
        )
        if cursor.rowcount != 1:
            raise bad_transition(self._db, run_id, row_number, RowStatus.IN_FLIGHT)
        self._maybe_heartbeat(run_id)

    def mark_many_in_flight(self, run_id: str, rows: Sequence[tuple[int, Any]]) -> None:
        """``mark_in_flight`` for several ``(row_number, request)`` in one commit, before any of them is sent.

        For a caller that sends rows in a known order: marking the next few together costs one commit
        instead of one each. A row marked here but then not sent must be handed back with
        :meth:`release_unsent`, or the next run will re-send it as an unknown outcome (never twice: it
        was not sent)."""
        dump = self._masker.dump
        now = self._now()
        with self._db.transaction(f"marking {len(rows)} rows in flight") as conn:
            for row_number, request in rows:
                cursor = conn.execute(
                    "UPDATE rows SET status = 'in_flight', started_at = ?, request = COALESCE(?, request) "
                    "WHERE run_id = ? AND row_number = ? AND status = 'pending' "
                    "AND (SELECT status FROM runs WHERE id = ?) = 'running'",
                    (now, dump(request), run_id, row_number, run_id),
                )
                if cursor.rowcount != 1:
                    raise bad_transition(self._db, run_id, row_number, RowStatus.IN_FLIGHT)
        self._maybe_heartbeat(run_id)

    def release_unsent(self, run_id: str, row_numbers: Sequence[int]) -> None:
        """Hand back rows marked in flight that the caller knows were never sent: they become ``pending``
        again (and ``not-sent`` when the run finishes). Only for rows that certainly did not leave."""
        if not row_numbers:
            return
        with self._db.transaction(f"releasing {len(row_numbers)} unsent rows") as conn:
            conn.executemany(
                "UPDATE rows SET status = 'pending', started_at = NULL WHERE run_id = ? AND row_number = ? "
                "AND status = 'in_flight'",
                [(run_id, n) for n in row_numbers],
            )

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
        allowed = FROM_STATUS.get(status)
        if not allowed:
            raise ValueError(f"record_result cannot set '{status.value}'")
        dump = self._masker.dump
        cursor = self._db.execute(
            "UPDATE rows SET status = ?, http_status = ?, code = ?, message = ?, "
            "attempts = COALESCE(?, attempts), finished_at = ?, before = COALESCE(?, before), "
            "after = COALESCE(?, after), request = COALESCE(?, request) "
            f"WHERE run_id = ? AND row_number = ? AND status IN ({','.join('?' * len(allowed))})",
            (
                status.value,
                http_status,
                None if code is None else str(code),
                self._masker.scrub(message),
                attempts,
                self._now(),
                dump(before),
                dump(after),
                dump(request),
                run_id,
                row_number,
                *(s.value for s in allowed),
            ),
            f"recording the result of row {row_number}",
        )
        if cursor.rowcount != 1:
            raise bad_transition(self._db, run_id, row_number, status)
        self._maybe_heartbeat(run_id)

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

        By the record's content, never by row number: the rule is in :mod:`batchops.journal.resume`.
        ``force`` sends every row. ``file`` (a path, or a SHA-256) only selects ``earlier_runs`` (runs of
        the same path or the same bytes, newest first, without the run this Journal has under way).
        """
        decisions = decide_rows(self._db, operation, target, rows, force=force)
        # The run this Journal has under way is not an *earlier* run.
        earlier = runs_of_file(self._db, file, besides=self._open_runs)
        return ResumePlan(decisions=decisions, earlier_runs=earlier)

    # -- queries -------------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunInfo:
        """One run with its counts; JournalError when the journal has no such run."""
        return read_run(self._db, run_id)

    def runs(
        self, since: TimeBound = None, until: TimeBound = None, operation: str | None = None
    ) -> list[RunInfo]:
        """Runs started in ``[since, until]`` (a date as ``until`` includes that day), newest first."""
        where, params = run_filter(since, until, operation, prefix="")
        return select_runs(self._db, where, params)

    def rows(self, run_id: str) -> list[RowRecord]:
        """Every row of a run, in row order."""
        return read_rows(self._db, run_id)

    def rows_for_audit(
        self,
        run_id: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        operation: str | None = None,
        statuses: Iterable[RowStatus | str] | None = None,
    ) -> Iterator[AuditRow]:
        """Stream rows joined with their run, oldest run first, in row order. Filters: one run, runs
        started in ``[since, until]``, an operation, row statuses (default: all)."""
        return iter_audit_rows(self._db, run_id, since, until, operation, statuses)


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no passwd entry (containers) and no LOGNAME/USER
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
