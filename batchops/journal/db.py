"""The journal's SQLite plumbing: one transaction per step, and every sqlite3/OS error as a JournalError.

Each state change is its own committed transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, ``ROLLBACK`` on any
exception), so that a killed process leaves the journal at the last completed step. A failure is turned
into a :class:`JournalError` that names the file, says what was being done and how to fix it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import JournalError

__all__ = ["Database", "journal_error"]


def journal_error(exc: BaseException, path: Path, doing: str) -> JournalError:
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


class Database:
    """A journal file's connection (autocommit: transactions are explicit) and its path, for errors."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """``with db.guard("reading runs"):`` a sqlite3 error inside becomes a JournalError about it."""
        try:
            yield
        except sqlite3.Error as exc:
            raise journal_error(exc, self.path, doing) from exc

    def execute(self, sql: str, params: Sequence[Any], doing: str) -> sqlite3.Cursor:
        """One statement in its own implicit transaction; a failure is a JournalError about ``doing``."""
        with self.guard(doing):
            return self.conn.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, doing: str, *, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """``with db.transaction("doing") as conn:`` the block's statements commit together or not at all.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so that what is read inside is still true when
        the block writes; a read-only step may pass ``begin="BEGIN"``. Any exception rolls back; a
        sqlite3 error (including one from BEGIN or COMMIT) comes out as a JournalError about ``doing``.
        """
        conn = self.conn
        with self.guard(doing):
            conn.execute(begin)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
