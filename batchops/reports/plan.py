"""The plan of a file: what ``apply`` would change, row by row and field by field. Nothing is sent.

For every valid row the record's current values are read (``current.read_current``) and compared
with the row: ``change`` (before → after for each field the row sets), ``no-change`` (the record already
has the row's values: ``apply`` skips such a row and reports it ``skipped``, so a row that could not be
changed but is left as it was, like an untouched route whose ``editable`` forbids edits in an export, is
``no-change`` too), ``cannot`` (an unknown ID, a row that would change a record that cannot be changed: a
route whose ``editable`` forbids it, an automatic appointment; or a number Excel stripped of its leading
zeros) or ``unread`` (the read itself failed). A row whose content the journal records
as applied is ``applied``: ``apply`` skips it without a request, as ``applied_rows`` tells (and says
so when the record no longer has the row's values, changed since elsewhere). The **Plan** sheet is
written into the workbook (``FILE.plan.csv`` beside a CSV), one line per field, from the same data the
terminal shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalogue import Kind, Operation
from ..checking.coerce import show_timestamp
from ..checking.report import ValidationReport
from ..journal import Journal, Reason, content_hash
from ..remote.current import (
    Current,
    FieldChange,
    ReadProgress,
    field_changes,
    is_no_change,
    lost_zeros,
    read_current,
)
from ..sheets.writeback import ReportFile

if TYPE_CHECKING:
    from ..http.dispatch import CancelToken

__all__ = ["PLAN_HEADERS", "PLAN_SHEET", "Plan", "PlanAction", "RowPlan", "applied_rows", "make_plan",
           "plan_rows", "write_plan"]

PLAN_SHEET = "Plan"
PLAN_HEADERS = ("row", "key", "name", "action", "field", "before", "after", "message")
"""``name``: what the read side knows the record by (agent name and workNo, access code, rule name, called
number), beside its long key."""


class PlanAction(str, Enum):
    """What ``apply`` would do to a row's record."""

    CHANGE = "change"
    NO_CHANGE = "no-change"
    CANNOT = "cannot"
    UNREAD = "unread"  # the current values could not be read: apply would send the row blind
    APPLIED = "applied"  # the journal records this content as applied: apply skips it (unless --force)


NO_CHANGE_MESSAGE = "no change: the record already has these values; apply skips it"


@dataclass
class RowPlan:
    """One row's plan: the action, the field changes (every field the row sets) and why."""

    row: int
    key: str
    action: PlanAction
    changes: list[FieldChange] = field(default_factory=list)
    message: str = ""
    label: str = ""
    """The name the read side knows the record by, shown beside the key (``calledNo 0755…``)."""
    held: bool = False
    """A number the row sets is the current one without its leading zeros (and ``--accept-lost-zeros`` was not
    given): apply, reading the record first, holds the row back (``not-sent``) whatever its action says."""

    @property
    def changed(self) -> list[FieldChange]:
        """Only the fields whose value would change."""
        return [c for c in self.changes if c.changed]


@dataclass
class Plan:
    """The plan of one validated sheet."""

    report: ValidationReport
    rows: list[RowPlan]
    elapsed: float = 0.0

    @property
    def operation(self) -> Operation:
        return self.report.operation

    def counts(self) -> dict[str, int]:
        """Rows per action, every action present, in a fixed order."""
        counts = {a.value: 0 for a in PlanAction}
        for r in self.rows:
            counts[r.action.value] += 1
        return counts

    @property
    def fields_changed(self) -> int:
        return sum(len(r.changed) for r in self.rows if r.action is PlanAction.CHANGE)


def make_plan(report: ValidationReport, client: Any, *, concurrency: int = 8,
              on_read: ReadProgress | None = None, applied: Mapping[int, str] | None = None,
              accept_lost_zeros: bool = False, cancel: CancelToken | None = None) -> Plan:
    """Read the current record of every valid row and decide each row's action (invalid rows are left out).

    ``applied``: the rows ``apply`` would skip as already applied, with why (``applied_rows``).
    ``accept_lost_zeros``: a number equal to the current one without its leading zeros is a change, as
    ``apply --accept-lost-zeros`` sends it; otherwise the row ``cannot``, as apply holds it back.
    ``cancel``: stops the reads (those under way finish) and raises ``Interrupted``: no half plan.
    """
    started = time.monotonic()
    op = report.operation
    records = report.valid_records
    current = read_current(client, op, records, concurrency=concurrency, on_read=on_read, cancel=cancel)
    applied = applied or {}
    rows = [row_plan(op, r.row, r.key, r.texts, current[r.row], applied=applied.get(r.row),
                     accept_lost_zeros=accept_lost_zeros) for r in records]
    return Plan(report, rows, time.monotonic() - started)


def applied_rows(journal: Journal, report: ValidationReport, target: str) -> dict[int, str]:
    """The valid rows that ``apply`` (without ``--force``) would skip because the journal records their
    content as applied to ``target``, with the journal's reason ("already applied in run ...")."""
    rows = [(r.row, r.key, content_hash(r.texts)) for r in report.valid_records]
    decisions = journal.plan_resume(report.path, report.operation.name, target, rows).decisions
    return {d.row_number: d.message for d in decisions if d.reason is Reason.ALREADY_APPLIED}


def row_plan(op: Operation, row: int, key: str, texts: dict[str, str], current: Current, *,
             applied: str | None = None, accept_lost_zeros: bool = False) -> RowPlan:
    """One row's action from its record's current values (and ``applied``: why the journal skips it)."""
    plan = _row_plan(op, row, key, texts, current, accept_lost_zeros)
    plan.label = current.label(op)
    if applied is None:
        return plan
    message = f"{applied} with this content: apply skips it"
    if plan.action is PlanAction.CHANGE:
        message += (f"; but the record no longer has the row's values ({len(plan.changed)} field(s) differ, "
                    "changed since elsewhere): --force sends the row again")
    elif plan.action in (PlanAction.CANNOT, PlanAction.UNREAD):
        message += f" (now: {plan.message})"
    return RowPlan(row, key, PlanAction.APPLIED, plan.changes, message, plan.label, plan.held)


def _row_plan(op: Operation, row: int, key: str, texts: dict[str, str], current: Current,
              accept_lost_zeros: bool) -> RowPlan:
    if current.error is not None:
        changes = [FieldChange(name, "", texts[name]) for name in op.columns if name in texts and name not in op.key]
        return RowPlan(row, key, PlanAction.UNREAD, changes, f"could not read the current values: {current.error}")
    if current.record is None:
        return RowPlan(row, key, PlanAction.CANNOT, [], f"unknown ID: there is no {op.name} {key}")
    changes = field_changes(op, texts, current.record)
    # Values already in effect come first: apply skips such a row whatever could or could not be changed.
    if is_no_change(changes):
        return RowPlan(row, key, PlanAction.NO_CHANGE, changes, NO_CHANGE_MESSAGE)
    lost = lost_zeros(op, changes)  # the same test apply's before-read makes (current.py)
    held = bool(lost) and not accept_lost_zeros
    reasons = current.blockers(op)
    if reasons:
        return RowPlan(row, key, PlanAction.CANNOT, changes, "; ".join(reasons), held=held)
    if held:
        return RowPlan(row, key, PlanAction.CANNOT, changes, " ".join(z.message() for z in lost), held=True)
    accepted = " (leading zeros dropped, accepted with --accept-lost-zeros)" if lost else ""
    return RowPlan(row, key, PlanAction.CHANGE, changes,
                   f"{len([c for c in changes if c.changed])} of {len(changes)} field(s) change{accepted}")


def shown(op: Operation, name: str, text: str, tz: tzinfo) -> str:
    """A canonical text as people read it: date-times resolved, with their epoch digits."""
    kind = op.field(name).kind
    if text and text.isdigit() and kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S):
        return show_timestamp(op.field(name), text, tz)
    return text


def plan_rows(plan: Plan) -> Iterator[list[Any]]:
    """The Plan sheet's lines (``PLAN_HEADERS``): one per field that changes (or would be set, for rows whose
    record was not read), one for a row that changes nothing or has no fields to show."""
    op, tz = plan.operation, plan.report.timezone
    for r in plan.rows:
        lines = _lines(r)
        if not lines:
            yield [r.row, r.key, r.label, r.action.value, "", "", "", r.message]
            continue
        for c in lines:
            yield [r.row, r.key, r.label, r.action.value, c.field, shown(op, c.field, c.before, tz),
                   shown(op, c.field, c.after, tz), r.message]


def plan_line_count(plan: Plan) -> int:
    """How many lines ``plan_rows`` yields, without building them."""
    return sum(max(len(_lines(r)), 1) for r in plan.rows)


def _lines(r: RowPlan) -> list[FieldChange]:
    """The field changes a row shows in the Plan: the changed ones, or every one it would set when its
    record was not read; none for a row that changes nothing."""
    if r.action in (PlanAction.CHANGE, PlanAction.APPLIED, PlanAction.CANNOT):
        return r.changed
    return r.changes if r.action is PlanAction.UNREAD else []


def plan_csv_path(path: Path) -> Path:
    """Where a CSV input's plan goes: ``FILE.plan.csv`` beside it."""
    from .results import sibling

    return sibling(path, ".plan.csv")


def write_plan(plan: Plan) -> ReportFile:
    """Write the Plan sheet into the workbook (``FILE.plan.csv`` for a CSV); when the workbook cannot be
    written, the plan goes to ``FILE.plan.xlsx`` beside it and ``ReportFile.reason`` says why.

    The same checked save takes away an earlier validation's Errors sheet and cell marks: the file has
    just validated without errors, so they are stale.
    """
    from ..sheets.writer import SheetSpec, write_csv, write_xlsx

    report = plan.report
    if report.kind == "csv":
        return ReportFile(write_csv(plan_csv_path(report.path), list(PLAN_HEADERS), plan_rows(plan)))
    from ..sheets.writeback import claim_sheet, write_beside_or_into
    from ..sheets.xlsx_package import Package, put_report_sheet
    from .error_report import remove_errors
    from .results import sibling

    def edit(package: Package) -> tuple[str, ...]:
        claim_sheet(package, PLAN_SHEET, PLAN_HEADERS)
        removed = remove_errors(package, report.sheet) if report.ok else ()
        put_report_sheet(package, PLAN_SHEET, PLAN_HEADERS, plan_rows(plan), row_count=plan_line_count(plan))
        return removed

    def beside(target: Path) -> None:
        text = [i for i, name in enumerate(PLAN_HEADERS) if name not in ("row", "action")]
        write_xlsx(target, [SheetSpec(PLAN_SHEET, PLAN_HEADERS, plan_rows(plan), text_columns=text)])

    return write_beside_or_into(report.path, report.kind, sheet=PLAN_SHEET, edit=edit,
                                beside=sibling(report.path, ".plan.xlsx"), write_beside=beside)
