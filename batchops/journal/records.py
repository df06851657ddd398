"""What the journal hands out: the statuses of runs and rows, and one frozen dataclass per kind of record.

Plain values with no connection behind them, so that the CLI, audit and undo can hold them after the
journal is closed. Statuses are ``str`` enums: their values are the texts stored in SQLite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "AUDIT_COLUMNS",
    "Action",
    "AuditRow",
    "Decision",
    "Reason",
    "ResumePlan",
    "RowRecord",
    "RowStatus",
    "RunInfo",
    "RunStatus",
]


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
    throttled: int = 0
    """429 answers the run heard."""
    settled_rate: float | None = None
    """Requests per second the server let through while it throttled the run; None if it never did."""

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


AUDIT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AuditRow))
"""The audit file's columns: the fields of :class:`AuditRow`, in order."""


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
        """The decisions to send, in order."""
        return [d for d in self.decisions if d.action is Action.SEND]

    @property
    def to_skip(self) -> list[Decision]:
        """The decisions to skip, in order."""
        return [d for d in self.decisions if d.action is Action.SKIP]

    def count(self, reason: Reason) -> int:
        """How many rows were decided for ``reason``."""
        return sum(1 for d in self.decisions if d.reason is reason)
