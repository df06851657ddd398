"""What each step of a job found: validation, plan, the preview of an apply, the apply itself.

Each has ``summary()``: the JSON object the CLI prints with ``--json`` and a web page's API returns, defined
here once. Long lists (issues, plan rows, results) also come a page at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..apply.replay import LOST_ZEROS_REASON, ApplyOptions, ApplyOutcome, Status
from ..catalogue import Operation
from ..checking.report import ValidationReport
from ..errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_ROWS_FAILED
from ..http.dispatch import StopReason
from ..reports.plan import Plan, PlanAction, RowPlan
from .live import RunState, rows_per_second
from .shapes import DEFAULT_PAGE, issue_shape, page, plan_row_shape, result_shape

__all__ = ["Applied", "ApplyPreview", "Planned", "Validation", "Written"]


@dataclass(frozen=True)
class Written:
    """Where a step's report went (None: nothing to write), and why not where it was meant to go.

    ``sheet``: the report's sheet in ``path`` (None for a CSV); ``note``: what stale report of an earlier
    run was taken out of the workbook (a clean validate removes the Errors sheet and marks).
    """

    path: Path | None
    warning: str | None = None
    sheet: str | None = None
    note: str | None = None

    def where(self) -> str:
        """``book.xlsx (sheet 'Results')`` or ``book.results.csv``; empty when nothing was written."""
        if self.path is None:
            return ""
        return f"{self.path} (sheet '{self.sheet}')" if self.sheet else str(self.path)


def _where(report: ValidationReport) -> dict[str, Any]:
    return {"file": str(report.path), "sheet": report.sheet, "kind": report.kind,
            "operation": report.operation.name}


@dataclass
class Validation:
    """A validated file: every issue, every row."""

    report: ValidationReport
    written: Written | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.report.ok else EXIT_BAD_INPUT

    def summary(self, *, issues: bool = True) -> dict[str, Any]:
        """``{"ok", "exit_code", "file", "sheet", "kind", "operation", "rows", "valid_rows", "invalid_rows",
        "errors", "warnings", "report", "report_warning", "notes", "lost_zero_rows", "issues"}``; ``errors`` and
        ``warnings``
        are counts, ``issues`` every issue (left out with ``issues=False``: page them instead)."""
        report = self.report
        shape: dict[str, Any] = {
            "ok": report.ok, "exit_code": self.exit_code, **_where(report),
            "rows": report.data_rows if report.data_rows is not None else len(report.records),
            "valid_rows": len(report.valid_records),
            "invalid_rows": report.invalid_rows, "errors": len(report.errors), "warnings": len(report.warnings),
            "report": _path(self.written), "report_warning": self.written.warning if self.written else None,
            "notes": list(report.notes), "lost_zero_rows": lost_zero_rows(report),
        }
        if issues:
            shape["issues"] = [issue_shape(i) for i in report.issues]
        return shape

    def issues_page(self, offset: int = 0, limit: int = DEFAULT_PAGE, *, column: str | None = None,
                    code: str | None = None, severity: str | None = None) -> dict[str, Any]:
        """``{"total", "offset", "limit", "errors": [issue, ...]}``, filtered by header, code or severity."""
        found = [i for i in self.report.issues
                 if (column is None or i.header == column) and (code is None or i.code == code)
                 and (severity is None or i.severity.value == severity)]
        return page(found, issue_shape, key="errors", offset=offset, limit=limit)


@dataclass
class Planned:
    """The plan of a valid file against the records' current values."""

    plan: Plan
    target: str
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    written: Written | None = None

    @property
    def operation(self) -> Operation:
        return self.plan.operation

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts()

    @property
    def to_send(self) -> int:
        """Rows ``apply`` (with the same ``--force``) would send: no-change and applied rows are skipped."""
        return rows_to_send(self.plan, force=self.force, read_before=True)

    @property
    def problems(self) -> int:
        """Rows that cannot be applied as they are, or whose record could not be read."""
        return self.counts["cannot"] + self.counts["unread"]

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.problems == 0 else EXIT_ROWS_FAILED

    def summary(self, *, rows: bool = True) -> dict[str, Any]:
        """``{"ok", "exit_code", "file", "sheet", "kind", "operation", "target", "counts", "to_send",
        "fields_changed", "plan", "plan_warning", "warnings", "seconds", "rows"}``: ``counts`` per action,
        ``rows`` every row (left out with ``rows=False``: page them instead)."""
        shape: dict[str, Any] = {
            "ok": self.exit_code == EXIT_OK, "exit_code": self.exit_code, **_where(self.plan.report),
            "target": self.target, "counts": self.counts, "to_send": self.to_send,
            "fields_changed": self.plan.fields_changed, "plan": _path(self.written),
            "plan_warning": self.written.warning if self.written else None, "warnings": list(self.warnings),
            "seconds": round(self.plan.elapsed, 3),
        }
        if rows:
            shape["rows"] = [plan_row_shape(r) for r in self.plan.rows]
        return shape

    def rows_page(self, offset: int = 0, limit: int = DEFAULT_PAGE, *, action: str | None = None) -> dict[str, Any]:
        """``{"total", "offset", "limit", "rows": [plan row, ...]}``, only ``action``'s rows when given."""
        found = [r for r in self.plan.rows if action is None or r.action.value == action]
        return page(found, plan_row_shape, key="rows", offset=offset, limit=limit)


@dataclass
class ApplyPreview:
    """What ``apply`` would do, for a front end to confirm: how many rows go where, and why the others not.

    ``to_send`` is what will really be sent: rows the journal records as applied are taken out, and, when
    the current values were read (``plan`` is set), rows that change nothing too (unless ``--force`` or
    ``--no-before``, which send them) and rows apply's before-read will hold back because a number lost its
    leading zeros (``zeros_held``; unless ``--no-before``, which reads nothing and so sends them).
    """

    operation: Operation
    target: str
    report: ValidationReport
    dry_run: bool
    rows: int
    invalid: int
    already_applied: int
    to_send: int
    skips_no_change: bool
    """True when the run reads each record first and skips a row that changes nothing (not --force or
    --no-before): without ``plan``, such rows are still counted in ``to_send``."""
    plan: Plan | None = None
    read_before: bool = True
    """The run reads each record just before sending its row (not ``--no-before``)."""
    force: bool = False

    @property
    def read(self) -> bool:
        """True when the current values were read, so ``no_change`` and ``cannot`` are known."""
        return self.plan is not None

    @property
    def no_change(self) -> int | None:
        return self.plan.counts()["no-change"] if self.plan is not None else None

    @property
    def cannot(self) -> int | None:
        """Rows that will be sent although they cannot succeed as they are (rows held back are not sent)."""
        if self.plan is None:
            return None
        return sum(1 for r in self.rows_to_send() if r.action is PlanAction.CANNOT)

    @property
    def unread(self) -> int | None:
        return self.plan.counts()["unread"] if self.plan is not None else None

    @property
    def zeros_held(self) -> list[int]:
        """Rows apply's before-read will hold back (``not-sent``): a number lost its leading zeros."""
        return sorted(held_rows(self.plan, read_before=self.read_before))

    def rows_to_send(self) -> list[RowPlan]:
        """The rows that will be sent, with their records' names and changes (empty when not read)."""
        if self.plan is None:
            return []
        return planned_to_send(self.plan, force=self.force, read_before=self.read_before)

    def rows_page(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
        """``{"total", "offset", "limit", "rows": [plan row, ...]}``: the rows that will be sent."""
        return page(self.rows_to_send(), plan_row_shape, key="rows", offset=offset, limit=limit)

    def summary(self) -> dict[str, Any]:
        """``{"file", "sheet", "kind", "operation", "target", "dry_run", "rows", "invalid", "lost_zero_rows",
        "already_applied", "no_change", "cannot", "unread", "to_send", "read", "skips_no_change"}``; the three
        read counts are null when not read."""
        return {**_where(self.report), "target": self.target, "dry_run": self.dry_run, "rows": self.rows,
                "invalid": self.invalid, "lost_zero_rows": lost_zero_rows(self.report, held_back=self.zeros_held),
                "already_applied": self.already_applied, "no_change": self.no_change,
                "cannot": self.cannot, "unread": self.unread, "to_send": self.to_send, "read": self.read,
                "skips_no_change": self.skips_no_change}


@dataclass
class Applied:
    """How an apply ended: every row's result, and whether it was cancelled or stopped."""

    outcome: ApplyOutcome
    report: ValidationReport
    options: ApplyOptions
    written: Written | None = None

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code()

    @property
    def interrupted(self) -> bool:
        """Ctrl-C or Cancel: calls in flight finished, the rest was not sent (running again sends it)."""
        return self.outcome.stop_reason in (StopReason.INTERRUPTED, StopReason.CANCELLED)

    @property
    def state(self) -> RunState:
        if self.interrupted:
            return RunState.CANCELLED
        if self.outcome.stop_reason is not None:
            return RunState.STOPPED
        return RunState.DONE

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped rows by why: ``already-applied`` (the journal) and ``no-change`` (the record read)."""
        why = {"already-applied": 0, "no-change": 0}
        for r in self.outcome.results:
            if r.status is Status.SKIPPED:
                why["no-change" if r.reason == "no-change" else "already-applied"] += 1
        return why

    @property
    def rate(self) -> float | None:
        """Rows sent per second while sending; None when too few were sent to say."""
        return rows_per_second(self.outcome.sent, self.outcome.send_seconds)

    def summary(self) -> dict[str, Any]:
        """``{"ok", "exit_code", "state", "interrupted", "stopped", "run_id", "file", "sheet", "kind",
        "operation", "target", "dry_run", "rows", "counts", "skipped", "sent", "seconds", "sending_seconds",
        "rows_per_second", "throttled_answers", "settled_rate", "results", "results_warning", "error",
        "notices", "lost_zero_rows"}``."""
        outcome = self.outcome
        rate = self.rate
        return {
            "ok": self.exit_code == EXIT_OK, "exit_code": self.exit_code, "state": self.state.value,
            "interrupted": self.interrupted,
            "stopped": outcome.stop_reason.value if outcome.stop_reason else None,
            "run_id": outcome.run_id, **_where(self.report), "target": outcome.target, "dry_run": outcome.dry_run,
            "rows": len(outcome.results), "counts": outcome.counts(), "skipped": self.skipped,
            "sent": outcome.sent, "seconds": round(outcome.elapsed, 3),
            "sending_seconds": round(outcome.send_seconds, 3),
            "rows_per_second": round(rate, 1) if rate is not None else None,
            "throttled_answers": outcome.throttled,
            "settled_rate": round(outcome.settled_rate, 1) if outcome.settled_rate is not None else None,
            "results": _path(self.written), "results_warning": self.written.warning if self.written else None,
            "error": str(outcome.error) if outcome.error else None, "notices": list(outcome.notices),
            "lost_zero_rows": lost_zero_rows(self.report, outcome),
        }

    def results_page(self, offset: int = 0, limit: int = DEFAULT_PAGE, *,
                     status: str | None = None) -> dict[str, Any]:
        """``{"total", "offset", "limit", "results": [row result, ...]}``, only ``status``'s rows when given."""
        found = [r for r in self.outcome.results if status is None or r.status.value == status]
        return page(found, result_shape, key="results", offset=offset, limit=limit)


def lost_zero_rows(report: ValidationReport, outcome: ApplyOutcome | None = None,
                   held_back: Iterable[int] = ()) -> dict[str, list[int]]:
    """Rows with a number Excel probably stripped of its leading zeros: ``held`` back (invalid; not sent after
    apply's before-read; or, before a run, ``held_back``: found so by reading the records) and ``accepted``
    (``--accept-lost-zeros``: used as they are)."""
    errors = {i.row for i in report.errors}
    held = {r for r in report.lost_zero_rows if r in errors} | set(held_back)
    if outcome is not None:
        held |= {r.row for r in outcome.results if r.reason == LOST_ZEROS_REASON}
    return {"held": sorted(held), "accepted": [r for r in report.lost_zero_rows if r not in errors]}


def _path(written: Written | None) -> str | None:
    return str(written.path) if written is not None and written.path is not None else None


def planned_to_send(plan: Plan, *, force: bool, read_before: bool) -> list[RowPlan]:
    """The rows an apply sends, from a plan's actions: rows applied already are skipped (a forced plan has
    none); when each record is read first, so are rows that change nothing (unless forced) and rows whose
    numbers lost their leading zeros (held back even when forced: ``RowPlan.held``)."""
    sent = {PlanAction.CHANGE, PlanAction.CANNOT, PlanAction.UNREAD}
    if force or not read_before:
        sent.add(PlanAction.NO_CHANGE)
    return [r for r in plan.rows if r.action in sent and not (read_before and r.held)]


def rows_to_send(plan: Plan, *, force: bool, read_before: bool) -> int:
    """How many rows an apply sends (``planned_to_send``)."""
    return len(planned_to_send(plan, force=force, read_before=read_before))


def held_rows(plan: Plan | None, *, read_before: bool) -> set[int]:
    """Rows apply's before-read will hold back for lost leading zeros (none when it does not read)."""
    if plan is None or not read_before:
        return set()
    return {r.row for r in plan.rows if r.held and r.action is not PlanAction.APPLIED}
