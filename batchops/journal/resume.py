"""Resume: which rows of a file to send and which to skip, decided by each record's content.

The unit is a record's content, matched by operation + target + record key + content hash, in every
earlier run (not only those of this file: a copy or a re-export carrying the same change must not send it
again). Row numbers play no part, so rows inserted, deleted or moved between runs change nothing. For
each record the journal looks at the attempts that may have changed it (``ok``, and ``in_flight`` whose
outcome is unknown), newest first:

* the newest is ``ok`` with this content → SKIP (already applied);
* the newest are ``in_flight`` with this content, over an ``ok`` with it → SKIP (either way the record
  holds this content);
* ``in_flight`` with this content and nothing applied under it → SEND, "resent after unknown outcome";
* otherwise SEND: "changed" if some other content was applied since (so A → B → A sends A again),
  "retried after failure" if this content failed before, else "new".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .db import Database
from .records import Action, Decision, Reason, RowStatus

__all__ = ["decide", "decide_rows", "normalise_target"]

Attempt = tuple[str, str, str, str]
"""One earlier attempt at a record: (content hash, status, run id, time), oldest first in a history."""

_HISTORY_SQL = (
    "SELECT r.record_key, r.content_hash, r.status, r.run_id, "
    "COALESCE(r.started_at, r.finished_at, u.started_at) AS t "
    "FROM temp.resume_keys w JOIN rows r ON r.record_key = w.record_key "
    "JOIN runs u ON u.id = r.run_id "
    "WHERE u.operation = ? AND u.target = ? AND r.status IN ('ok', 'in_flight', 'failed') "
    "ORDER BY t, r.rowid"
)


def normalise_target(target: str) -> str:
    """A target as stored and matched: "https://host/" and "https://host" are one target."""
    return target.strip().rstrip("/")


def decide_rows(
    db: Database, operation: str, target: str, rows: Iterable[tuple[int, str, str]], *, force: bool = False
) -> list[Decision]:
    """The decision for each ``(row_number, key, content_hash)``, in order; ``force`` sends every row."""
    wanted = [(int(n), str(k), h) for n, k, h in rows]
    history, failed = _load_history(db, operation, normalise_target(target), (k for _, k, _ in wanted))
    if force:
        return [Decision(number, key, digest, Action.SEND, Reason.FORCED) for number, key, digest in wanted]
    return [decide(number, key, digest, history.get(key, []), failed) for number, key, digest in wanted]


def decide(
    number: int,
    key: str,
    digest: str,
    history: Sequence[Attempt],
    failed: Mapping[tuple[str, str], str],
) -> Decision:
    """The rule above for one row, given its record's applied or in-flight ``history`` (oldest first) and
    the latest failed run of each ``(key, content hash)``."""

    def send(reason: Reason, run_id: str | None = None) -> Decision:
        return Decision(number, key, digest, Action.SEND, reason, run_id)

    unknown_run: str | None = None
    for other_digest, status, run_id, _t in reversed(history):  # newest first
        if other_digest != digest:
            # Something else was (or may have been) applied since: this content is a change again.
            return send(Reason.RESEND_UNKNOWN, unknown_run) if unknown_run else send(Reason.CHANGED, run_id)
        if status == RowStatus.OK.value:
            return Decision(number, key, digest, Action.SKIP, Reason.ALREADY_APPLIED, run_id)
        unknown_run = unknown_run or run_id  # in flight with this content: look further back
    if unknown_run:
        return send(Reason.RESEND_UNKNOWN, unknown_run)
    if (key, digest) in failed:
        return send(Reason.RETRY_FAILED, failed[(key, digest)])
    return send(Reason.NEW)


def _load_history(
    db: Database, operation: str, target: str, keys: Iterable[str]
) -> tuple[dict[str, list[Attempt]], dict[tuple[str, str], str]]:
    """Every earlier attempt at these record keys under ``operation`` and ``target``: the applied or
    in-flight ones per key (oldest first), and the latest failed run per (key, content hash)."""
    history: dict[str, list[Attempt]] = {}
    failed: dict[tuple[str, str], str] = {}
    doing = "planning which rows to send"
    # The keys go through a temporary table: a file may hold more rows than SQLite takes parameters.
    db.execute("CREATE TEMP TABLE IF NOT EXISTS resume_keys (record_key TEXT PRIMARY KEY)", (), doing)
    with db.transaction(doing, begin="BEGIN") as conn:
        conn.execute("DELETE FROM temp.resume_keys")
        conn.executemany(
            "INSERT OR IGNORE INTO temp.resume_keys (record_key) VALUES (?)", ((k,) for k in keys)
        )
        for key, digest, status, run_id, t in conn.execute(_HISTORY_SQL, (operation, target)):
            if status == RowStatus.FAILED.value:
                failed[(key, digest)] = run_id  # the latest failure wins
            else:
                history.setdefault(key, []).append((digest, status, run_id, t))
        conn.execute("DELETE FROM temp.resume_keys")
    return history, failed
