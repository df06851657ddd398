"""The journal file: where it lives, how it is opened (private permissions, WAL), and its tables.

Each migration step runs in one transaction with its ``PRAGMA user_version`` bump (as sqlite-utils'
migrations record each step with the work), so a crash mid-migration leaves the previous version intact
and two processes opening a new journal at once migrate it once.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import platformdirs

from ..errors import JournalError
from .db import Database, journal_error

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "JOURNAL_FILE_NAME",
    "MIGRATIONS",
    "ROW_COLUMNS",
    "RUN_COLUMNS",
    "SCHEMA_VERSION",
    "default_journal_path",
    "open_database",
]

JOURNAL_FILE_NAME = "journal.sqlite3"
DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another process's write transaction before giving up."""

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
    (  # 2: how fast the server let each run go, so that the next run to that target starts there
        """
        CREATE TABLE run_pace (
            run_id        TEXT PRIMARY KEY REFERENCES runs (id),
            target        TEXT NOT NULL,
            throttled     INTEGER NOT NULL DEFAULT 0,
            settled_rate  REAL,
            recorded_at   TEXT NOT NULL
        )
        """,
        "CREATE INDEX run_pace_target ON run_pace (target, recorded_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

RUN_COLUMNS = (
    "id, file_name, file_path, file_sha256, sheet, operation, target, operator, host, pid, version, "
    "options, started_at, heartbeat_at, finished_at, status"
)
"""The ``runs`` columns in :class:`RunInfo` field order."""
ROW_COLUMNS = (
    "run_id, row_number, record_key, content_hash, decision, status, request, http_status, code, message, "
    "attempts, started_at, finished_at, before, after"
)
"""The ``rows`` columns in :class:`RowRecord` field order."""


def default_journal_path() -> Path:
    """The journal in the user's data directory: ``platformdirs.user_data_dir("batchops")/journal.sqlite3``."""
    return Path(platformdirs.user_data_dir("batchops")) / JOURNAL_FILE_NAME


def open_database(path: Path, *, busy_timeout: float, durable: bool) -> Database:
    """Open (creating it private if need be) and migrate the journal at ``path``.

    ``durable``: ``synchronous=FULL`` (survives power loss) instead of ``NORMAL`` (survives a killed
    process).
    """
    _create_private(path)
    try:
        # check_same_thread=False: during a run the journal is written from its writer thread (writer.py),
        # never from two threads at once.
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise journal_error(exc, path, "opening it") from exc
    db = Database(conn, path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(db)
    except JournalError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise journal_error(exc, path, "opening it") from exc
    return db


def _create_private(path: Path) -> None:
    """Create the journal's folder and file readable by their owner only, or make an existing file so."""
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
        raise journal_error(exc, path, "creating it") from exc


def _migrate(db: Database) -> None:
    current = db.conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise JournalError(
            f"The journal {db.path} was written by a newer batchops (schema {current}, this one "
            f"knows {SCHEMA_VERSION})",
            path=db.path,
            fix="Upgrade batchops, or pass --journal PATH to use another journal.",
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with db.transaction("opening it") as conn:
            # Another process may have migrated while we waited for the write lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
