"""The row lifecycle: which status may follow which, and why a refused transition was refused.

The allowed transitions are enforced in the UPDATE's WHERE clause, so that checking costs nothing; only
when an UPDATE touches no row does the journal look up why, to say it in the error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import JournalError, RunLocked
from .db import Database
from .records import Action, Decision, RowStatus, RunStatus

__all__ = ["FROM_STATUS", "bad_transition", "new_row_values"]

# ``ok`` only after ``in_flight``: an ``ok`` without the in-flight commit would mean a request was sent
# without the journal knowing first. Nothing that may have been sent can become ``not-sent`` or ``skipped``.
FROM_STATUS: dict[RowStatus, tuple[RowStatus, ...]] = {
    RowStatus.IN_FLIGHT: (RowStatus.PENDING,),
    RowStatus.OK: (RowStatus.IN_FLIGHT,),
    RowStatus.FAILED: (RowStatus.IN_FLIGHT, RowStatus.PENDING),
    RowStatus.INVALID: (RowStatus.PENDING,),
    RowStatus.SKIPPED: (RowStatus.PENDING,),
    RowStatus.NOT_SENT: (RowStatus.PENDING,),
}
"""The statuses a row may move to, each with the statuses it may come from."""


def new_row_values(
    run_id: str, rows: Iterable[Decision | tuple[int, str, str]], now: str
) -> list[tuple[Any, ...]]:
    """``(run_id, row_number, record_key, content_hash, decision, status, message, finished_at)`` per row:
    a :class:`Decision` to skip is ``skipped`` with its reason, anything else ``pending``."""
    values: list[tuple[Any, ...]] = []
    for row in rows:
        if isinstance(row, Decision):
            skipped = row.action is Action.SKIP
            values.append(
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
            values.append((run_id, number, str(key), digest, None, RowStatus.PENDING.value, None, None))
    return values


def bad_transition(db: Database, run_id: str, row_number: int, wanted: RowStatus) -> JournalError:
    """The error for a row that could not become ``wanted``: no such run or row, the run no longer
    running (:class:`RunLocked`: another run may have taken its file over), or a forbidden transition."""
    run = db.conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None:
        return JournalError(f"The journal {db.path} has no run {run_id}", path=db.path)
    if wanted is RowStatus.IN_FLIGHT and run[0] != RunStatus.RUNNING.value:
        return RunLocked(
            f"Run {run_id} is '{run[0]}' in the journal: another run took its file over, or it was "
            f"finished; row {row_number} was not sent",
            path=db.path,
            fix="Keep the process alive and its heartbeat fresh (Journal.heartbeat during long waits); "
            "run apply again to send what is left.",
        )
    found = db.conn.execute(
        "SELECT status FROM rows WHERE run_id = ? AND row_number = ?", (run_id, row_number)
    ).fetchone()
    if found is None:
        return JournalError(f"Run {run_id} has no row {row_number} in the journal", path=db.path)
    return JournalError(
        f"Row {row_number} of run {run_id} is '{found[0]}' and cannot become '{wanted.value}'",
        path=db.path,
    )
