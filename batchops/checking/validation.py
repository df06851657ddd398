"""Validation: sheet → typed rows → schema → a report of every problem, before anything is sent.

``validate_file`` is the one entry point; ``apply`` and ``plan`` call exactly this code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path

import pandas as pd

from ..catalogue import OPERATIONS, Field, Kind, Operation
from ..errors import InputError
from ..sheets.table import Damage, RawTable, column_letter
from .coerce import LOST_ZERO, CellProblem, coerce_column, resolve_timezone, show_number
from .headers import OperationGuess, guess_operation, match_headers
from .report import InputRow, Issue, Severity, ValidationReport
from .schemas import message_for, run_schema

_DAMAGE_MESSAGES = {
    Damage.FORMULA: ("formula", ("holds the formula {detail}; batchops sends values, not formulas. "
                                 "Replace it with its value (copy, then Paste Values).")),
    Damage.ERROR_VALUE: ("error_value", "holds the error value {detail}; type the value it should have."),
    Damage.MERGED: ("merged", "is part of the merged cells {detail}; unmerge them and fill in every cell."),
}


def validate_file(
    path: str | Path,
    *,
    operation: str | None = None,
    sheet: str | None = None,
    timezone: str | tzinfo | None = None,
    encoding: str | None = None,
    accept_lost_zeros: bool = False,
    on_table: Callable[[RawTable], None] | None = None,
) -> ValidationReport:
    """Read and validate a sheet; raises InputError/SheetError only when the file cannot be read at all.

    ``encoding``: a CSV file's encoding, when its bytes do not say it (see ``sheets.encodings``).
    ``on_table`` is handed the sheet as read (raw cells), for a front end that shows them (a data grid).
    """
    from ..sheets.reader import read_table

    tz = timezone if isinstance(timezone, tzinfo) else _timezone(timezone)
    table = read_table(Path(path), sheet, encoding=encoding)
    if on_table is not None:
        on_table(table)
    try:
        op, note = _resolve(table, operation)
    except InputError as exc:
        if table.kind == "csv" and table.warnings:  # a guessed encoding may be why no header fits: say it
            exc.fix = " ".join([exc.fix or "", *table.warnings]).strip()
        raise
    report = validate_table(table, op, tz, accept_lost_zeros=accept_lost_zeros)
    if note:
        report.notes.insert(0, note)
    return report


def _timezone(name: str | None) -> tzinfo:
    try:
        return resolve_timezone(name)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def resolve_operation(table: RawTable, requested: str | None) -> Operation:
    """The template's stamp first, then ``--operation``, then the operation the headers fit (or come closest to)."""
    return _resolve(table, requested)[0]


def _resolve(table: RawTable, requested: str | None) -> tuple[Operation, str | None]:
    """The operation to validate ``table`` as, and a note when it was the closest rather than a fit."""

    def refused(message: str, fix: str) -> InputError:
        return InputError(message, fix=fix, path=table.path, sheet=table.sheet)

    if requested is not None and requested not in OPERATIONS:
        raise InputError(f"unknown operation '{requested}'.", fix=f"Use one of: {', '.join(OPERATIONS)}.")
    stamped = table.stamp.operation if table.stamp else None
    if stamped and stamped not in OPERATIONS:
        raise refused(f"the template stamp names an unknown operation '{stamped}'.",
                      fix="Make a new template with `batchops template`.")
    if stamped and requested and stamped != requested:
        raise refused(f"this file is a '{stamped}' template but --operation says '{requested}'.",
                      fix="Drop --operation or use the matching template.")
    chosen = stamped or requested
    if chosen:
        return OPERATIONS[chosen], None
    guess = guess_operation(table.headers)
    if isinstance(guess, OperationGuess):
        match, name = guess.match, guess.match.op.name
        if guess.exact:
            return match.op, None
        if len(match.positions) > len(match.missing):  # most of what it needs is there: show what is not
            return match.op, (f"the headers fit no operation exactly; they are closest to {name} and are "
                              f"checked as {name} (pass --operation to choose another).")
        raise refused(f"the headers match no operation; the closest is {name}, which also needs "
                      f"{', '.join(match.missing)}.",
                      fix=f"Add those columns, pass --operation ({', '.join(OPERATIONS)}), or start from "
                          "`batchops template`.")
    if not guess:
        shown = ", ".join(f"'{h}'" for h in table.headers[:8]) + (" …" if len(table.headers) > 8 else "")
        raise refused(f"the headers match no operation: none of {shown} is a column batchops knows.",
                      fix=f"Pass --operation ({', '.join(OPERATIONS)}) or start from `batchops template`.")
    if all(m.fits for m in guess):
        raise refused(f"the headers fit several operations ({', '.join(m.op.name for m in guess)}).",
                      fix="Pass --operation to choose one.")
    why = "; ".join(f"{m.op.name} also needs {', '.join(m.missing)}" if m.missing else
                    f"{m.op.name} does not know {', '.join(repr(table.headers[j]) for j, _ in m.close)}"
                    for m in guess)
    raise refused(f"the headers match no operation and come equally close to {len(guess)}: {why}.",
                  fix="Add the missing columns, or pass --operation to choose one.")


def validate_table(table: RawTable, op: Operation, tz: tzinfo, *, accept_lost_zeros: bool = False) -> ValidationReport:
    """Validate an already-read table as ``op``: every problem in one pass.

    A number Excel may have stripped of its leading zeros is an error unless ``accept_lost_zeros``
    (then a warning): ``lost_zero`` issues, ``ValidationReport.lost_zero_rows``.
    """
    report = ValidationReport(path=table.path, sheet=table.display_sheet, kind=table.kind, operation=op,
                              timezone=tz, header_row=table.header_row, data_rows=len(table.rows))
    _check_stamp(table, op, report)
    positions = _map_headers(table, op, report)
    if not report.ok:
        return report
    if not table.rows:
        report.issues.append(Issue(table.header_row + 1, None, "", "", "no_rows",
                                   "the sheet has headers but no data rows; fill in at least one row."))
        return report
    report.columns = {name: table.columns[j] for name, j in positions.items()}
    report.headers = {name: table.headers[j] for name, j in positions.items()}
    _validate_rows(table, op, tz, positions, report, accept_lost_zeros)
    return report


def _check_stamp(table: RawTable, op: Operation, report: ValidationReport) -> None:
    if table.stamp and table.stamp.fingerprint and table.stamp.fingerprint != op.fingerprint():
        report.notes.append(
            f"this file was made from an older {op.name} template (its limits or dropdowns may be out of "
            f"date); it is checked against the current rules. `batchops template {op.name}` makes a new one."
        )


def _map_headers(table: RawTable, op: Operation, report: ValidationReport) -> dict[str, int]:
    """Header issues (close to a column, repeated, missing) and notes on helper columns; field → position."""
    match = match_headers(op, table.headers)
    row = table.header_row
    headers, columns = table.headers, table.columns
    for j, suggestion in match.close:
        report.issues.append(Issue(row, columns[j], headers[j], headers[j], "unknown_column",
                                   f"'{headers[j]}' is not a column of {op.name}. {suggestion.phrase()}"))
    for j, name in match.duplicates:
        first = headers[match.positions[name]]
        report.issues.append(Issue(row, columns[j], headers[j], headers[j], "duplicate_column",
                                   f"'{headers[j]}' repeats the column '{first}' ({name}); keep one of them."))
    for name in match.missing:
        aliases = op.field(name).aliases
        headed = f"'{name}'" + (f" (or {', '.join(repr(a) for a in aliases)})" if aliases else "")
        report.issues.append(Issue(row, None, name, "", "missing_column",
                                   f"the header row has no column '{name}', which {op.name} needs; add a "
                                   f"column headed {headed}."))
    if match.ignored:
        for j in match.ignored:
            report.issues.append(Issue(row, columns[j], headers[j], headers[j], "ignored_column",
                                       f"'{headers[j]}' is not a column of {op.name}: ignored, nothing in it is "
                                       "sent.", Severity.NOTE))
        names = ", ".join(f"'{headers[j]}' ({column_letter(columns[j])})" for j in match.ignored)
        report.notes.append(f"{len(match.ignored)} column(s) are not columns of {op.name} and are ignored "
                            f"(nothing in them is sent): {names}.")
    report.issues.sort(key=lambda i: (i.row, i.column if i.column is not None else 10**9))
    return match.positions


def _validate_rows(table: RawTable, op: Operation, tz: tzinfo, positions: dict[str, int],
                   report: ValidationReport, accept_lost_zeros: bool) -> None:
    row_numbers = table.row_numbers
    texts: dict[str, list[str | None]] = {}
    blocked: set[tuple[int, str]] = set()  # (row index, field) already reported while reading
    issues = report.issues
    for name, j in positions.items():
        fld = op.field(name)
        col = table.columns[j]
        header = table.headers[j]
        cells: Sequence = [r[j] for r in table.rows]
        if table.damage:
            cells = list(cells)
            for i, number in enumerate(row_numbers):
                damage = table.damage.get((number, col))
                if damage is not None:
                    code, template = _DAMAGE_MESSAGES[damage.kind]
                    issues.append(Issue(number, col, header, damage.detail, code,
                                        template.format(detail=damage.detail)))
                    cells[i] = None
                    blocked.add((i, name))
        column_texts, problems = coerce_column(fld, cells, tz)
        if table.kind == "csv" and fld.kind in (Kind.NUMBER, Kind.NUMBER_LIST):
            problems += _csv_lost_zeros(fld, column_texts, row_numbers)
        for p in problems:
            raw = cells[p.index]
            # A number that may have lost its leading zeros holds its row back unless the user says it is right.
            warning = p.warning and not (p.code == LOST_ZERO and not accept_lost_zeros)
            issues.append(Issue(row_numbers[p.index], col, header, cell_text(raw), p.code,
                                p.message, Severity.WARNING if warning else Severity.ERROR))
            if not warning:
                blocked.add((p.index, name))
        texts[name] = column_texts
    frame = pd.DataFrame(texts)
    for failure in run_schema(op, frame):
        if failure.code == "required" and (failure.index, failure.field) in blocked:
            continue  # the cell was rejected while reading; saying "empty" too would mislead
        if failure.code == "duplicate":
            value = op.record_key({k: texts[k][failure.index] or "" for k in op.key})
        else:
            value = failure.value
        fld = op.field(failure.field)
        column = table.columns[positions[failure.field]] if failure.field in positions else None
        issues.append(Issue(row_numbers[failure.index], column, report.headers.get(failure.field, failure.field),
                            value, failure.code, message_for(op, fld, failure.code, value)))
    _add_duplicate_rows(report)
    report.issues.sort(key=lambda i: (i.row, i.column if i.column is not None else -1))
    _build_records(op, texts, row_numbers, report)
    if any(f.kind.value.startswith("timestamp") and f.name in positions for f in op.fields):
        report.notes.append(f"date-times without a UTC offset are read in {tz}.")


LOST_ZERO_SEARCH = 3
"""How many dropped zeros a CSV number is checked for (``7773217`` against rows writing ``07773217``)."""


def _csv_lost_zeros(fld: Field, texts: Sequence[str | None], row_numbers: Sequence[int]) -> list[CellProblem]:
    """Numbers without a leading zero in a CSV column whose other rows write numbers of that length with one.

    Excel drops the zeros of every cell it re-saves; a column that still has some shows what the others were.
    """
    led: dict[int, tuple[str, int]] = {}  # length → the first zero-led number of that length, and its row
    for i, text in enumerate(texts):
        for item in (text or "").split(","):
            if item.startswith("0") and item.isascii() and item.isdigit():
                led.setdefault(len(item), (item, row_numbers[i]))
    if not led:
        return []
    problems: list[CellProblem] = []
    for i, text in enumerate(texts):
        for item in (text or "").split(","):
            if not item or item.startswith("0") or not (item.isascii() and item.isdigit()):
                continue
            zeros = next((k for k in range(1, LOST_ZERO_SEARCH + 1) if len(item) + k in led), 0)
            if zeros:
                example, row = led[len(item) + zeros]
                problems.append(CellProblem(i, LOST_ZERO, (
                    f"{item} has no leading zero, but other rows of {fld.name} write theirs ({example}, row {row}): "
                    f"Excel probably dropped it when the file was saved. Type {'0' * zeros}{item} (format the "
                    f"column as Text first), or pass --accept-lost-zeros if {item} is right."), warning=True))
                break
    return problems


def cell_text(raw: object) -> str:
    """A raw cell as a user sees it in Excel: numbers without ``.0``, big ones as 1.30714525966221E+18."""
    if raw is None:
        return ""
    if isinstance(raw, float) and not isinstance(raw, bool):
        return show_number(int(raw)) if raw.is_integer() else repr(raw)
    return str(raw)


def _add_duplicate_rows(report: ValidationReport) -> None:
    """Name the other rows of each duplicate group, so the user can find them."""
    groups: dict[str, list[int]] = {}
    for issue in report.issues:
        if issue.code == "duplicate":
            groups.setdefault(issue.value, []).append(issue.row)
    if not groups:
        return
    for k, issue in enumerate(report.issues):
        if issue.code == "duplicate":
            others = [str(r) for r in groups[issue.value] if r != issue.row]
            report.issues[k] = Issue(issue.row, issue.column, issue.header, issue.value, issue.code,
                                     issue.message.replace("another row", f"row {', '.join(others)}"),
                                     issue.severity)


def _build_records(op: Operation, texts: dict[str, list[str | None]], row_numbers: list[int],
                   report: ValidationReport) -> None:
    bad_rows = {i.row for i in report.issues if i.severity is Severity.ERROR}
    names = list(texts)
    key_columns = [texts.get(k) or [None] * len(row_numbers) for k in op.key]
    keys = ["/".join(parts) for parts in zip(*([c or "" for c in col] for col in key_columns))] \
        if len(key_columns) > 1 else [k or "" for k in key_columns[0]]
    report.records = [
        InputRow(number, key, {n: v for n, v in zip(names, row) if v is not None}, number not in bad_rows)
        for number, key, row in zip(row_numbers, keys, zip(*texts.values()), strict=True)
    ]
