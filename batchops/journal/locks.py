"""Two runs on one file: the lock rows, whether their holders still live, and taking over from dead ones.

A lock row per input file, by absolute path and by SHA-256 (a copy of the file is the same file), names
the run that holds it. Whether that run is alive: on this machine its OS lock (:mod:`.oslocks`) is the
truth, or without ``flock`` its pid; for a holder on another host only the heartbeat can tell (stale
after ``stale_after``). A dead holder's run is marked interrupted and its locks dropped, with a notice in
words for the CLI.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import RunLocked
from .oslocks import OsLocks
from .queries import run_from_row
from .records import RunInfo, RunStatus
from .schema import RUN_COLUMNS
from .stamps import parse_stamp

__all__ = [
    "DEFAULT_STALE_AFTER",
    "LOCKED_FIX",
    "LOCK_WAIT_FOR_DETAILS",
    "RunLocks",
    "locked_message",
    "pid_alive",
]

DEFAULT_STALE_AFTER = dt.timedelta(minutes=10)
"""A running run whose heartbeat is older than this is taken for dead (the only test for another host)."""
LOCK_WAIT_FOR_DETAILS = 1.0
"""Seconds a refused run waits for the winner's lock row, so that the refusal can say who holds the file."""
LOCKED_FIX = (
    "Wait for that run to finish, or stop it; two runs on one file at once could send rows twice. "
    "A run whose process has died is taken over automatically."
)

_HOLDER_SQL = (
    f"SELECT {', '.join('r.' + c.strip() for c in RUN_COLUMNS.split(','))} "
    "FROM locks l JOIN runs r ON r.id = l.run_id WHERE l.lock_key = ?"
)


class RunLocks:
    """The lock rows of one journal connection, judged with its OS locks, host, clock and open runs.

    ``open_runs`` is the journal's own set of runs under way (shared, not copied): those are never
    taken for dead.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        os_locks: OsLocks,
        *,
        host: str,
        clock: Callable[[], dt.datetime],
        stale_after: dt.timedelta,
        open_runs: set[str],
    ) -> None:
        self._conn = conn
        self._os_locks = os_locks
        self._host = host
        self._clock = clock
        self.stale_after = stale_after
        self._open_runs = open_runs

    def claim(self, keys: Iterable[str], file_path: Path, now: str) -> list[str]:
        """Inside the caller's transaction: refuse (:class:`RunLocked`) if a live run holds a key, else
        retire the dead holders and any other crashed run; return what was done, in words.

        Called once this process holds the keys' OS locks, so a holder on this host is dead by then.
        """
        notices: list[str] = []
        for key in keys:
            holder = self.holder(key)
            if holder is None:
                continue
            if holder.status is RunStatus.RUNNING and self._alive(holder, own_lock_free=True):
                raise RunLocked(locked_message(holder, file_path), path=file_path, fix=LOCKED_FIX)
            notices.append(self._retire(holder, now, taken_over=True))
        notices.extend(self.recover(now))
        return notices

    def recover(self, now: str) -> list[str]:
        """Inside the caller's transaction: mark every run left ``running`` by a dead process interrupted."""
        notices = []
        running = [
            run_from_row(r)
            for r in self._conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running'")
        ]
        for holder in running:
            if holder.id in self._open_runs:
                continue
            if not self._alive(holder, own_lock_free=False):
                notices.append(self._retire(holder, now, taken_over=False))
        return notices

    def holder(self, key: str) -> RunInfo | None:
        """The run holding the lock row ``key``, if any."""
        row = self._conn.execute(_HOLDER_SQL, (key,)).fetchone()
        return run_from_row(row) if row else None

    def refusal(self, key: str, file_path: Path) -> RunLocked:
        """The error for a run refused ``key``'s OS lock, naming the holder when its lock row shows up."""
        # The winner takes its OS lock a moment before it commits its lock row: wait briefly for it.
        deadline = time.monotonic() + LOCK_WAIT_FOR_DETAILS
        while True:
            try:
                holder = self.holder(key)
            except sqlite3.Error:
                holder = None
            if holder is not None or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        if holder is None:
            details = f"Another batchops run on {file_path.name} is under way on this machine"
        else:
            details = locked_message(holder, file_path)
        return RunLocked(details, path=file_path, fix=LOCKED_FIX)

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
        fresh = self._clock() - parse_stamp(holder.heartbeat_at) < self.stale_after
        if holder.host != self._host:
            return fresh
        if self._os_locks.available:
            if own_lock_free:
                return False
            keys = [
                r[0] for r in self._conn.execute("SELECT lock_key FROM locks WHERE run_id = ?", (holder.id,))
            ]
            return any(self._os_locks.held(k) for k in keys)
        return pid_alive(holder.pid) and fresh


def locked_message(holder: RunInfo, file_path: Path) -> str:
    """Who holds ``file_path``, for the RunLocked a second run gets."""
    return (
        f"{file_path.name} is being applied by run {holder.id}: {holder.operator} on {holder.host} "
        f"(pid {holder.pid}), started {holder.started_at}, last heartbeat {holder.heartbeat_at}"
    )


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` there (on this host)? When in doubt, yes: the heartbeat decides then."""
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
