"""The read side of the journal: runs with their row counts, a run's rows, and the audit stream.

SQL rows become the frozen records of :mod:`.records`; the SELECTs list their columns in field order, so
one generic mapping (plus a decoder for the JSON and enum columns) serves every record type. Wherever a
run ID is taken, a unique prefix of it is enough (``resolve_run_id``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import JournalError
from .db import Database
from .hashing import file_sha256
from .records import AuditRow, RowRecord, RowStatus, RunInfo, RunStatus
from .schema import ROW_COLUMNS, RUN_COLUMNS
from .stamps import TimeBound, bound, is_exact

__all__ = [
    "audit_from_row",
    "iter_audit_rows",
    "read_rows",
    "read_run",
    "resolve_run_id",
    "row_from_row",
    "run_filter",
    "run_from_row",
    "runs_of_file",
    "select_runs",
]

_T = TypeVar("_T")

_AUDIT_SQL = (
    "SELECT u.id, u.operator, u.host, u.file_name, u.file_sha256, u.operation, u.target, u.started_at, "
    "u.status, r.row_number, r.record_key, r.status, r.decision, r.http_status, r.code, r.message, "
    "r.attempts, r.started_at, r.finished_at, r.before, r.after "
    "FROM rows r JOIN runs u ON u.id = r.run_id "
)
_COUNT_CHUNK = 500  # run ids per COUNT query: stay under SQLite's bound-parameter limit
_SHOWN_RUNS = 10  # run IDs an ambiguous prefix lists
_NEAR = 0.6  # difflib ratio from which a run ID is suggested for one the journal does not hold
_NEAR_TIE = 0.02  # suggested too: IDs this close to the nearest one


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _columns(cls: Any) -> tuple[str, ...]:
    """The fields a SELECT fills, in order: those without a default (``counts``/``notices`` come later)."""
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _mapper(
    cls: Callable[..., _T], names: tuple[str, ...], decode: Mapping[str, Callable[[Any], Any]]
) -> Callable[[Sequence[Any]], _T]:
    def build(row: Sequence[Any]) -> _T:
        return cls(**{n: (decode[n](v) if n in decode else v) for n, v in zip(names, row, strict=True)})

    return build


run_from_row = _mapper(
    RunInfo, _columns(RunInfo), {"options": lambda text: json.loads(text or "{}"), "status": RunStatus}
)
"""A ``SELECT {RUN_COLUMNS}`` row as a RunInfo (no counts)."""
row_from_row = _mapper(
    RowRecord,
    _columns(RowRecord),
    {"status": RowStatus, "request": _load, "before": _load, "after": _load},
)
"""A ``SELECT {ROW_COLUMNS}`` row as a RowRecord."""
audit_from_row = _mapper(
    AuditRow,
    _columns(AuditRow),
    {"run_status": RunStatus, "status": RowStatus, "before": _load, "after": _load},
)
"""A row of the audit SELECT as an AuditRow."""


def run_filter(since: TimeBound, until: TimeBound, operation: str | None, *, prefix: str) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause (or "") and its parameters for runs started in ``[since, until]``."""
    clauses, params = [], []
    lower, upper = bound(since, end=False), bound(until, end=True)
    if lower is not None:
        clauses.append(f"{prefix}started_at >= ?")
        params.append(lower)
    if upper is not None:
        # A date or date-only text is exclusive of the next midnight; an exact moment is inclusive.
        clauses.append(f"{prefix}started_at {'<=' if is_exact(until) else '<'} ?")
        params.append(upper)
    if operation is not None:
        clauses.append(f"{prefix}operation = ?")
        params.append(operation)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else "", params)


def select_runs(db: Database, where: str, params: Sequence[Any]) -> list[RunInfo]:
    """Runs matching ``where``, newest first, each with its row counts per status."""
    with db.guard("reading runs"):
        found = [
            run_from_row(r)
            for r in db.conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, id DESC", params
            )
        ]
        if not found:
            return []
        counts: dict[str, dict[str, int]] = {run.id: {s.value: 0 for s in RowStatus} for run in found}
        pace: dict[str, tuple[int, float | None]] = {}
        ids = list(counts)
        for start in range(0, len(ids), _COUNT_CHUNK):
            chunk = ids[start : start + _COUNT_CHUNK]
            for run_id, status, n in db.conn.execute(
                f"SELECT run_id, status, COUNT(*) FROM rows WHERE run_id IN ({','.join('?' * len(chunk))}) "
                "GROUP BY run_id, status",
                chunk,
            ):
                counts[run_id][status] = n
            for run_id, throttled, rate in db.conn.execute(
                f"SELECT run_id, throttled, settled_rate FROM run_pace WHERE run_id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            ):
                pace[run_id] = (throttled, rate)
    return [dataclasses.replace(run, counts=counts[run.id], throttled=pace.get(run.id, (0, None))[0],
                                settled_rate=pace.get(run.id, (0, None))[1]) for run in found]


def resolve_run_id(db: Database, text: str) -> str:
    """The full ID of the run ``text`` names: the ID itself, or a prefix only one run's ID starts with.

    JournalError otherwise: for a prefix several IDs start with, it lists them (newest first); for text
    no ID starts with, it suggests the nearest IDs, as a mistyped or half-copied ID deserves.
    """
    wanted = text.strip()
    with db.guard("looking up a run"):
        if wanted and db.conn.execute("SELECT 1 FROM runs WHERE id = ?", (wanted,)).fetchone():
            return wanted
        starting = [
            r[0]
            for r in db.conn.execute(
                "SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY started_at DESC, id DESC LIMIT ?",
                (len(wanted), wanted, _SHOWN_RUNS + 1),
            )
        ] if wanted else []
        if len(starting) == 1:
            return starting[0]
        if starting:
            more = len(starting) > _SHOWN_RUNS
            raise JournalError(
                f"{'More than ' if more else ''}{min(len(starting), _SHOWN_RUNS)} runs start with {wanted}: "
                f"{', '.join(starting[:_SHOWN_RUNS])}{' …' if more else ''}",
                path=db.path,
                fix="Give more of the run ID (`batchops runs` lists them).",
            )
        ids = [r[0] for r in db.conn.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC")]
    hint = ""
    if ids:
        scores = {i: difflib.SequenceMatcher(None, wanted, i).ratio() for i in ids}
        best = max(scores.values())
        near = [i for i in ids if scores[i] >= max(_NEAR, best - _NEAR_TIE)][:3]
        if near:
            hint = f"; the nearest {'is' if len(near) == 1 else 'are'} {', '.join(near)}"
        else:
            hint = f"; the newest {'is' if len(ids) == 1 else 'are'} {', '.join(ids[:3])}"
    raise JournalError(
        f"The journal {db.path} has no run {wanted or '(empty)'}{hint}",
        path=db.path,
        fix="`batchops runs` lists the runs it holds; a run ID's first characters are enough when only one run "
        "starts with them.",
    )


def read_run(db: Database, run_id: str) -> RunInfo:
    """One run with its counts (``run_id`` may be a unique prefix); JournalError when there is no such run."""
    return select_runs(db, "WHERE id = ?", [resolve_run_id(db, run_id)])[0]


def runs_of_file(db: Database, file: str | Path, *, besides: Iterable[str] = ()) -> list[RunInfo]:
    """Runs of the same path or the same bytes (``file`` may be a SHA-256), newest first, but ``besides``."""
    text = str(file)
    if re.fullmatch(r"[0-9a-fA-F]{64}", text) and not Path(text).exists():
        where, params = "file_sha256 = ?", [text.lower()]
    else:
        path = Path(file).expanduser().absolute()
        params = [str(path)]
        where = "file_path = ?"
        if path.is_file():
            where += " OR file_sha256 = ?"
            params.append(file_sha256(path))
    leave_out = set(besides)
    return [run for run in select_runs(db, f"WHERE {where}", params) if run.id not in leave_out]


def read_rows(db: Database, run_id: str) -> list[RowRecord]:
    """Every row of a run (``run_id`` may be a unique prefix), in row order."""
    run_id = resolve_run_id(db, run_id)
    with db.guard(f"reading the rows of run {run_id}"):
        cursor = db.conn.execute(f"SELECT {ROW_COLUMNS} FROM rows WHERE run_id = ? ORDER BY row_number", (run_id,))
        return [row_from_row(r) for r in cursor]


def iter_audit_rows(
    db: Database,
    run_id: str | None,
    since: TimeBound,
    until: TimeBound,
    operation: str | None,
    statuses: Iterable[RowStatus | str] | None,
) -> Iterator[AuditRow]:
    """Rows joined with their run, oldest run first, in row order, fetched a thousand at a time."""
    where, params = run_filter(since, until, operation, prefix="u.")
    clauses = [where[len("WHERE ") :]] if where else []
    if run_id is not None:
        clauses.append("u.id = ?")
        params.append(resolve_run_id(db, run_id))
    if statuses is not None:
        wanted = [RowStatus(s).value for s in statuses]
        clauses.append(f"r.status IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    sql = (
        _AUDIT_SQL
        + (f"WHERE {' AND '.join(clauses)} " if clauses else "")
        + "ORDER BY u.started_at, u.id, r.row_number"
    )
    with db.guard("reading rows for the audit"):
        cursor = db.conn.execute(sql, params)
        while batch := cursor.fetchmany(1000):
            for r in batch:
                yield audit_from_row(r)
