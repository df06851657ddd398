"""OS file locks: an exclusive ``flock`` per input file, held by a run's process for the run's whole life.

The lock dies with its process, which tells a crashed run from a live one on this machine even when its
pid has been reused. One small file per lock key in ``<journal>.locks/``; the files are never deleted
(unlinking a lock file while another process opens it would let two processes lock two different files
of the same name). POSIX only: on Windows the journal's lock rows and heartbeats do the job alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from .db import journal_error

try:
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_PROBE_GRACE", "OsLocks"]

LOCK_PROBE_GRACE = 0.2
"""Seconds an OS lock is retried before a run is refused: another process's liveness probe holds a lock
file for a few microseconds, a live run holds it for its whole life."""


class OsLocks:
    """The OS locks of one journal: taken per run, probed for other processes, released on finish or close."""

    def __init__(self, journal_path: Path) -> None:
        self._journal_path = journal_path
        self._folder = journal_path.with_name(journal_path.name + ".locks")
        self._runs: dict[str, list[IO[bytes]]] = {}

    @property
    def available(self) -> bool:
        """Does this platform have ``flock``? Without it, liveness falls back to the pid and heartbeat."""
        return fcntl is not None

    def take(self, keys: Iterable[str], refuse: Callable[[str], BaseException]) -> list[IO[bytes]]:
        """Lock every key, or none: ``refuse(key)`` is raised for a key another process holds."""
        if fcntl is None:
            return []
        handles: list[IO[bytes]] = []
        try:
            for key in keys:
                handle = self._open(key)
                if not _flock_soon(handle):
                    handle.close()
                    raise refuse(key)
                handles.append(handle)
        except OSError as exc:
            release(handles)
            raise journal_error(exc, self._journal_path, "locking the input file") from exc
        except BaseException:
            release(handles)
            raise
        return handles

    def held(self, key: str) -> bool:
        """Does some process hold ``key``'s lock? (True when it cannot tell: no one is declared dead.)"""
        try:
            handle = self._open(key)
        except OSError:
            return True  # cannot tell: do not declare anyone dead
        try:
            return not _try_flock(handle)
        finally:
            handle.close()  # closing drops the probe lock

    def keep(self, run_id: str, handles: list[IO[bytes]]) -> None:
        """Hold ``handles`` for ``run_id`` until :meth:`release_run`."""
        self._runs[run_id] = handles

    def release_run(self, run_id: str) -> None:
        """Drop the locks held for ``run_id`` (none is fine)."""
        release(self._runs.pop(run_id, []))

    def release_all(self) -> None:
        """Drop every lock held here."""
        for run_id in list(self._runs):
            self.release_run(run_id)

    def _open(self, key: str) -> IO[bytes]:
        folder = self._folder
        if not folder.exists():
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        lock_path = folder / (hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return os.fdopen(fd, "r+b")


def release(handles: Iterable[IO[bytes]]) -> None:
    """Close lock files, which drops their flocks."""
    for handle in handles:
        try:
            handle.close()  # closing the descriptor drops its flock
        except OSError:
            pass


def _try_flock(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _flock_soon(handle: IO[bytes]) -> bool:
    """Take an exclusive flock, retrying for ``LOCK_PROBE_GRACE`` s."""
    deadline = time.monotonic() + LOCK_PROBE_GRACE
    while not _try_flock(handle):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
