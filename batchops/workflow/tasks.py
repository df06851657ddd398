"""The steps that start from the journal or the server instead of an input file: the runs, the audit trail,
an undo file, an export. Each returns what it made, with ``summary()``: the ``--json`` output of its command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BatchopsError, InputError
from ..journal import Journal, RunInfo
from ..reports.audit import RUN_HEADERS, AuditWritten, run_row, write_audit
from ..settings import Settings, load_settings

__all__ = ["Audited", "Exported", "RunList", "UndoMade", "configured_secrets", "export_data", "list_runs",
           "make_audit", "make_undo", "refuse_to_replace", "settings_if_any"]


def configured_secrets(settings: Settings | None) -> list[str]:
    """The secret values of the settings, to mask wherever they appear (the journal, the audit)."""
    if settings is None:
        return []
    return [s.reveal() for s in (settings.app_secret, settings.isales_sk) if s]


def settings_if_any(profile: str | None, config_path: str | None) -> Settings | None:
    """The settings when they can be loaded: reading the journal needs none, but masks what they hold."""
    try:
        return load_settings(profile=profile, config_path=config_path)
    except BatchopsError:
        return None


def refuse_to_replace(path: Path, *, force: bool) -> None:
    """InputError when ``path`` exists and replacing it was not asked for: a file a step writes may be a
    filled-in workbook of the user's."""
    if path.exists() and not force:
        raise InputError(f"'{path}' already exists.", fix="Pass --force to replace it, or choose another -o.")


def run_shape(run: RunInfo) -> dict[str, Any]:
    """One run as the Runs sheet has it: ``RUN_HEADERS`` → value; then how the server throttled it."""
    return {**dict(zip(RUN_HEADERS, run_row(run))), "throttled_answers": run.throttled,
            "settled_rate": round(run.settled_rate, 1) if run.settled_rate is not None else None}


@dataclass
class RunList:
    """The runs the journal holds, newest first."""

    runs: list[RunInfo]

    def summary(self) -> dict[str, Any]:
        """``{"runs": [{"run_id", "status", "operation", "file", ..., "ok", "failed", ...}, ...]}``."""
        return {"runs": [run_shape(r) for r in self.runs]}


def list_runs(journal_path: str | Path | None = None, *, since: str | None = None,
              operation: str | None = None, run_id: str | None = None) -> RunList:
    """The journal's runs, newest first, with their rows counted per status; only ``run_id`` (or the one
    run whose ID starts with it) when given."""
    with Journal(journal_path) as journal:
        if run_id is not None:
            return RunList([journal.run(run_id)])
        return RunList(journal.runs(since=since, operation=operation))


@dataclass
class Audited:
    """The audit trail written."""

    written: AuditWritten

    def summary(self) -> dict[str, Any]:
        """``{"ok", "file", "changes", "rows", "runs", "summary", "rows_file"}``: ``changes`` the lines of the
        Changes (one per field changed), ``rows`` the lines of the full row log (0 without ``all_rows``),
        ``summary`` and ``rows_file`` the run summary and row log beside a CSV."""
        w = self.written
        return {"ok": True, "file": str(w.path), "changes": w.changes, "rows": w.rows, "runs": len(w.runs),
                "summary": str(w.summary_path) if w.summary_path else None,
                "rows_file": str(w.rows_path) if w.rows_path else None}


def make_audit(output: Path, *, journal_path: str | Path | None = None, run_id: str | None = None,
               since: str | None = None, until: str | None = None, operation: str | None = None,
               settings: Settings | None = None, all_rows: bool = False, timezone: str | None = None) -> Audited:
    """Write what the selected runs changed to ``output`` (and the full row log with ``all_rows``), every
    configured secret masked, times in ``timezone`` (an IANA name; default: this machine's)."""
    from ..checking.coerce import resolve_timezone

    try:
        tz = resolve_timezone(timezone)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    secrets = configured_secrets(settings)
    with Journal(journal_path, secret_values=secrets) as journal:
        return Audited(write_audit(journal, output, run_id=run_id, since=since, until=until, operation=operation,
                                   secret_values=secrets, all_rows=all_rows, timezone=tz))


@dataclass
class UndoMade:
    """An undo workbook written for one run."""

    run_id: str
    path: Path
    undo: Any  # undo.UndoFile

    def summary(self) -> dict[str, Any]:
        """``{"ok", "file", "run_id", "operation", "rows", "left_out": [{"row", "key", "field", "reason"}],
        "notes"}``."""
        undo = self.undo
        return {"ok": True, "file": str(self.path), "run_id": self.run_id, "operation": undo.operation.name,
                "rows": len(undo.rows),
                "left_out": [{"row": x.row, "key": x.key, "field": x.field, "reason": x.reason}
                             for x in undo.left_out],
                "notes": list(undo.notes)}


def make_undo(run_id: str, output: Path, *, journal_path: str | Path | None = None, force: bool = False) -> UndoMade:
    """Write a workbook that puts back the before-values of every row run ``run_id`` changed; nothing is sent."""
    from ..reports.undo import check_target, plan_undo, write_undo

    check_target(output)
    refuse_to_replace(output, force=force)
    with Journal(journal_path) as journal:
        undo = plan_undo(journal, run_id)
    return UndoMade(undo.run.id, write_undo(undo, output), undo)  # the full ID, when a prefix named it


@dataclass
class Exported:
    """An export written."""

    result: Any  # export.ExportResult

    def summary(self) -> dict[str, Any]:
        """``{"ok", "file", "what", "operation", "rows", "contains_secrets", "missing", "blocked", "unmatched", "notes"}``."""
        r = self.result
        return {"ok": True, "file": str(r.path), "what": r.what, "operation": r.operation, "rows": r.rows,
                "contains_secrets": r.contains_secrets, "missing": list(r.missing), "blocked": r.blocked,
                "unmatched": [{"workNo": u.work_no, "accountCode": u.account_code, "userId": u.user_id,
                               "why": u.why} for u in r.unmatched],
                "notes": list(r.notes)}


def export_data(what: str, output: Path, *, settings: Settings, vdn_id: int | None = None,
                users_file: Path | None = None, include_secrets: bool = False, force: bool = False,
                timezone: str | None = None,
                on_progress: Callable[[int, int | None], None] | None = None) -> Exported:
    """Read ``what`` from the servers into ``output``, ready to edit and apply; date-times in ``timezone``
    (an IANA name; the machine's when None), the zone validation reads them in."""
    from ..checking.coerce import resolve_timezone
    from ..http.client import Client
    from ..reports.export import export, read_users

    refuse_to_replace(output, force=force)
    try:
        zone = resolve_timezone(timezone)
    except ValueError as exc:
        raise InputError(str(exc), fix="Pass --timezone with an IANA name such as Asia/Shanghai, or UTC.") from exc
    users = read_users(users_file) if users_file is not None else None
    with Client(settings) as client:
        client.require("isales" if what == "appointments" else "c1")
        return Exported(export(client, what, output, vdn_id=vdn_id, users=users,
                               include_secrets=include_secrets, on_progress=on_progress, tz=zone))
