"""How reports look on a terminal: tables when a person watches, plain lines for logs and cron mail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from ..checking.coerce import LOST_ZERO
from ..checking.report import Issue, Severity, ValidationReport, plural
from .output import err, out, print_json, warning_line

if TYPE_CHECKING:
    from ..workflow import Job, Written

MAX_TABLE_ROWS = 50


def issue_line(report: ValidationReport, issue: Issue) -> str:
    """One self-contained line: file, sheet, cell, column header, what is wrong and the fix."""
    where = f"{report.path.name}, " + (f"sheet '{report.sheet}', " if report.kind != "csv" else "")
    where += f"cell {issue.cell}" if issue.column is not None else f"row {issue.row}"
    header = f" ({issue.header})" if issue.header else ""
    return f"{where}{header}: {issue.severity.value} [{issue.code}] {issue.message}"


def show_validation(report: ValidationReport) -> None:
    """The summary, the notes, and the issues: a table on a terminal, one line each otherwise."""
    issues = [i for i in report.issues if i.severity is not Severity.NOTE]  # notes are summed up below
    if out.is_terminal and issues:
        table = Table(title=None, show_lines=False, header_style="bold")
        for name in ("cell", "column", "value", "code", "message"):
            table.add_column(name, overflow="fold", max_width=70 if name == "message" else 28)
        for issue in issues[:MAX_TABLE_ROWS]:
            style = "red" if issue.is_error else "yellow"
            table.add_row(issue.cell, escape(issue.header), escape(issue.value[:60]),
                          f"[{style}]{issue.code}[/{style}]", escape(issue.message))
        out.print(table)
        if len(issues) > MAX_TABLE_ROWS:
            out.print(f"… and {len(issues) - MAX_TABLE_ROWS} more: see the Errors report.")
    else:
        for issue in issues:
            out.print(escape(issue_line(report, issue)), highlight=False)
    for note in report.notes:
        err.print(f"Note: {escape(note)}", highlight=False)
    style = "green" if report.ok else "red"
    out.print(f"[{style}]{escape(report.summary())}[/{style}]")


def show_written(written: Written) -> None:
    """Why a report is not in the workbook itself (a warning), and what stale report was taken out of it."""
    if written.warning:
        warning_line(escape(written.warning))
    if written.note:
        err.print(escape(written.note), highlight=False)


def reject_invalid(job: Job, *, as_json: bool, what: str, hint: str | None = None, write: bool = True) -> int:
    """A file with invalid rows, before anything is sent or read: write the Errors report (unless not
    ``write``: a dry run changes no file), show it, exit 2."""
    validation = job.validation
    assert validation is not None, "a file is validated before it is refused"
    if write:
        show_written(job.write_report())
    if as_json:
        print_json(validation.summary())
    else:
        show_validation(validation.report)
        err.print(f"Nothing was {what}. " + (hint or "Fix the errors (see the Errors report), then run again."))
    return validation.exit_code


def lost_zeros_hint(report: ValidationReport) -> str | None:
    """The fix for a file whose only trouble may be numbers that lost their leading zeros, else None."""
    held = [i.row for i in report.errors if i.code == LOST_ZERO]
    if not held:
        return None
    rest = [i for i in report.errors if i.code != LOST_ZERO]
    return (("Fix the errors (see the Errors report). " if rest else "")
            + f"{plural(len(set(held)), 'row')} with a number Excel probably stripped of its leading zero: type it "
            "again with its 0 (format the column as Text first), or, if the numbers are right as they are, pass "
            "--accept-lost-zeros.")


def show_notes(report: ValidationReport) -> None:
    """What a valid file's report says besides its rows, for commands that go on (plan, apply)."""
    for note in report.notes:
        err.print(f"Note: {escape(note)}", highlight=False)
    accepted = sorted({i.row for i in report.warnings if i.code == LOST_ZERO})
    if accepted:
        shown = ", ".join(str(r) for r in accepted[:10]) + (" …" if len(accepted) > 10 else "")
        err.print(escape(f"Note: numbers Excel may have stripped of their leading zeros are used as they are "
                         f"(--accept-lost-zeros), in {plural(len(accepted), 'row')}: {shown}."), highlight=False)
