"""Undo a run: a workbook, in the operation's template layout, that puts back the before-values.

For every row the run applied (``ok``, and ``in_flight`` rows whose outcome is unknown: putting a value
back is harmless when it was never changed) and whose before-values the journal captured, the undo file
has one row: the record's key and, for each field the original row set, the value it had before. It
carries the template stamp, so ``validate``, ``plan`` and ``apply`` take it like any other file.

Nothing is dropped silently: rows without before-values, and fields whose earlier value was empty (an
empty cell means "leave unchanged", so an empty value cannot be put back), are listed on the ``Undo``
sheet and in :attr:`UndoFile.left_out` / :attr:`UndoFile.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogue import Operation, get_operation
from ..errors import InputError
from ..journal import Journal, RowRecord, RowStatus, RunInfo, RunStatus

__all__ = ["UNDO_SHEET", "LeftOut", "UndoFile", "check_target", "info_rows", "plan_undo", "write_undo"]

UNDO_SHEET = "Undo"
"""The sheet of an undo workbook that says where it came from and what it could not put back."""

_UNDOABLE = (RowStatus.OK, RowStatus.IN_FLIGHT)


@dataclass(frozen=True)
class LeftOut:
    """A row (or one field of it) the undo file cannot put back, and why."""

    row: int
    key: str
    field: str
    reason: str


@dataclass
class UndoFile:
    """What an undo of one run holds: the rows to write (canonical texts, template column order) and what
    was left out."""

    run: RunInfo
    operation: Operation
    rows: list[dict[str, str]] = field(default_factory=list)
    source_rows: list[int] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_undo(journal: Journal, run_id: str) -> UndoFile:
    """Collect the rows that put back what run ``run_id`` changed (JournalError for an unknown run)."""
    run = journal.run(run_id)
    try:
        op = get_operation(run.operation)
    except KeyError as exc:
        raise InputError(f"run {run_id} applied '{run.operation}', which this batchops does not know.") from exc
    undo = UndoFile(run, op)
    seen: set[str] = set()
    unknown = 0
    for record in journal.rows(run_id):
        if record.status not in _UNDOABLE:
            continue
        if record.key in seen:  # the same record twice in one run cannot happen (validation), but be sure
            continue
        seen.add(record.key)
        if _add_row(undo, record) and record.status is RowStatus.IN_FLIGHT:
            unknown += 1
    undo.notes.extend(_changed_later(journal, run, {k: n for n, k in zip(undo.source_rows, _keys(undo))}))
    if run.status is RunStatus.RUNNING:
        undo.notes.append(f"run {run_id} is still running: rows it sends from now on are not in this file.")
    if unknown:
        undo.notes.append(f"{unknown} row(s) had an unknown outcome; putting their values back is harmless.")
    return undo


def _keys(undo: UndoFile) -> list[str]:
    return [undo.operation.record_key(row) for row in undo.rows]


def _changed_later(journal: Journal, run: RunInfo, keys: Mapping[str, int]) -> list[str]:
    """Notes for records of the undo file that a later run (same operation and target) changed again."""
    if not keys:
        return []
    seen: dict[str, str] = {}
    for later in journal.rows_for_audit(since=run.started_at, operation=run.operation,
                                        statuses=(RowStatus.OK, RowStatus.IN_FLIGHT)):
        if later.run_id != run.id and later.target == run.target and later.run_started_at > run.started_at \
                and later.key in keys:
            seen[later.key] = later.run_id  # the latest wins
    return [f"row {keys[key]} ({key}) was changed again by the later run {run_id}: applying this file "
            f"overwrites that change as well" for key, run_id in seen.items()]


def _add_row(undo: UndoFile, record: RowRecord) -> bool:
    """Add the row that puts ``record`` back; False when it cannot be put back (listed in left_out)."""
    op = undo.operation
    before, after = record.before, record.after
    if not isinstance(before, Mapping) or not before:
        why = ("its before-values were not captured (apply ran with --no-before, the record could not be "
               "read, or the journal is older)")
        undo.left_out.append(LeftOut(record.row_number, record.key, "", why))
        return False
    changed = list(after) if isinstance(after, Mapping) and after else list(before)
    row: dict[str, str] = {}
    for name in op.columns:
        if name not in changed and name not in op.key:
            continue
        value = before.get(name)
        if (value is None or value == "") and name in op.key and isinstance(after, Mapping):
            value = after.get(name)  # a record's identity does not change
        if value is None or value == "":
            if op.field(name).required:
                undo.left_out.append(LeftOut(record.row_number, record.key, name,
                                             f"{name} was empty before, and it is mandatory"))
                return False
            undo.left_out.append(LeftOut(
                record.row_number, record.key, name,
                f"{name} was empty before; an empty cell leaves a value unchanged, so it cannot be put back"))
            continue
        row[name] = str(value)
    undo.rows.append(row)
    undo.source_rows.append(record.row_number)
    return True


def info_rows(undo: UndoFile) -> list[list[Any]]:
    """The ``Undo`` sheet: where the file came from, then every row or field left out."""
    run = undo.run
    rows: list[list[Any]] = [
        ["undo of run", run.id, "", ""],
        ["operation", undo.operation.name, "", ""],
        ["file", run.file_name, "", ""],
        ["file SHA-256", run.file_sha256, "", ""],
        ["target", run.target, "", ""],
        ["run started", run.started_at, "", ""],
        ["rows to put back", str(len(undo.rows)), "", ""],
        ["left out", str(len(undo.left_out)), "", ""],
    ]
    rows += [["note", note, "", ""] for note in undo.notes]
    if undo.left_out:
        rows.append(["", "", "", ""])
        rows.append(["row", "key", "field", "why it is not put back"])
        rows += [[str(x.row), x.key, x.field, x.reason] for x in undo.left_out]
    return rows


def check_target(target: str | Path) -> Path:
    """The undo file's path; InputError unless it names an .xlsx workbook."""
    path = Path(target)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"cannot write an undo file to '{path}': it is an .xlsx workbook.",
                         fix="Give a file name ending in .xlsx.")
    return path


def write_undo(undo: UndoFile, target: str | Path) -> Path:
    """Write the undo workbook (template layout and stamp, plus the ``Undo`` sheet) to ``target``."""
    from .templates import build_template, save_workbook

    path = check_target(target)
    op = undo.operation

    def fill(workbook: Any) -> None:
        sheets = build_template(workbook, op)
        for r, values in enumerate(undo.rows, start=1):
            for name, text in values.items():
                # Text cells: IDs keep every digit, and validation reads back exactly what was captured.
                sheets.data.write_string(r, sheets.column(name), text, sheets.text)
        info = workbook.add_worksheet(UNDO_SHEET)
        info.set_column(0, 0, 18)
        info.set_column(1, 1, 34)
        info.set_column(2, 2, 18)
        info.set_column(3, 3, 80)
        for r, line in enumerate(info_rows(undo)):
            for c, value in enumerate(line):
                if value != "":
                    info.write_string(r, c, str(value))

    return save_workbook(path, fill)
