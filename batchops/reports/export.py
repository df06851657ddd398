"""Export live configuration to a workbook a user can edit and apply as it is.

``export(client, what, path, ...)`` reads through :mod:`batchops.remote.readers` and writes through
:mod:`batchops.sheets.writer`, so every cell is Text (19-digit IDs, leading zeros kept) and a value
starting with ``= + - @``, tab or CR is neutralised, in xlsx and CSV alike.

An operation's export (its ``read.export_name``: ``called-routes``, ``silence-rules``, ``appointments``,
``agent-settings``) is in that operation's template layout, so ``validate``/``plan``/``apply`` take it
unchanged. Its records come from the operation's listing (scoped, for appointments, by a VDN) or, when it
has none, from the walk from agents (:mod:`batchops.remote.walk`: every agent's agent settings, or those of the
agents and users a ``--users`` file names):

* xlsx sheets, in order: the data sheet (named after the operation, first and active, so it is the sheet
  batchops reads: exactly ``op.columns``, then the read side's context beside each record, ``read.beside``:
  an agent's workNo, account and name, headed ``workNo (read-only)`` …, shaded, with an input message
  saying they are not sent; validation knows them and ignores them without a word), ``Context`` (other
  read-only facts keyed like the data sheet: a route's ``editable``, an appointment's ``callType``, the
  settings' ``agentName``, date-times resolved, and why a row cannot be applied), ``Unmatched`` (after a
  walk, when agents were left out: who and why), ``Info`` (where and when it was exported),
  ``Instructions``, and the hidden stamp sheet (:data:`~batchops.sheets.table.STAMP_SHEET`, rows from
  :func:`batchops.reports.templates.stamp_rows`).
* CSV: the data columns and the context beside them (validation recognises the operation from its headers).

``agents`` (queryAgentInfo) is read-only: ``workNo, sipAccount, accountCode, sipPwd``. ``sipPwd`` is masked
unless ``include_secrets``; then the Info sheet says so, the file is made readable by its owner only, and
:attr:`ExportResult.contains_secrets` tells the caller to warn. The SIP server address and port go on the
Info sheet (in a CSV, as two more columns).

The library never prints: progress goes to ``on_progress(done, total)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from .. import __version__
from ..catalogue import OPERATIONS, Field, Kind, Operation
from ..checking.coerce import local_timezone, show_timestamp
from ..errors import InputError
from ..http.client import Client
from ..readspec import read_only_header
from ..remote.agentinfo import AgentInfo, read_agent_info
from ..remote.readers import LiveRecord, Progress, blockers, context_columns, iter_records, read_side
from ..remote.walk import UNMATCHED_HEADERS, Unmatched, UserList, read_users, unmatched_rows, walk
from ..secrets import MASK
from ..sheets.table import STAMP_SHEET
from ..sheets.writer import SheetSpec, info_sheet, write_csv, write_xlsx
from .templates import data_sheet_name, stamp_rows

__all__ = [
    "AGENTS",
    "AGENT_COLUMNS",
    "CONTEXT_SHEET",
    "EXPORTS",
    "INFO_SHEET",
    "ExportResult",
    "export",
    "export_agents",
    "export_records",
    "exports",
    "read_users",
]

AGENTS = "agents"
"""queryAgentInfo's agents: read-only data, in no operation's layout."""


def exports() -> dict[str, Operation | None]:
    """What can be exported now, and the operation whose template layout it takes (None: read-only data):
    ``agents`` and every operation of the catalogue whose records can all be read (a listing, or a walk
    from the agents), by its ``export_name``."""
    found: dict[str, Operation | None] = {AGENTS: None}
    found.update({op.read.export_name: op for op in OPERATIONS.values()
                  if op.read is not None and (op.read.listing is not None or op.read.walk is not None)})
    return found


EXPORTS = exports()
"""What can be exported, as the catalogue stood at import (command-line choices); ``export`` looks again."""

AGENT_COLUMNS = ("workNo", "sipAccount", "accountCode", "sipPwd")
SIP_COLUMNS = ("sipServiceIp", "sipServicePort")
CONTEXT_SHEET = "Context"
UNMATCHED_SHEET = "Unmatched"
INFO_SHEET = "Info"
INSTRUCTIONS_SHEET = "Instructions"
AGENTS_SHEET = "agents"
SECRET_FILE_MODE = 0o600
PROGRESS_EVERY = 1000
"""Rows between two progress calls while writing."""
SUFFIXES = (".xlsx", ".csv")


@dataclass
class ExportResult:
    """What an export wrote: the file, how many data rows, and what a user should be told."""

    path: Path
    what: str
    rows: int
    operation: str | None = None
    contains_secrets: bool = False
    missing: list[str] = field(default_factory=list)
    """User IDs named outright that have no record (agent settings)."""
    unmatched: list[Unmatched] = field(default_factory=list)
    """Agents whose record the walk could not find or trust, with why (the Unmatched sheet of an xlsx)."""
    blocked: int = 0
    """Rows whose record cannot be updated (routes not editable, automatic appointments)."""
    notes: list[str] = field(default_factory=list)
    """Things worth a warning line, in plain words."""


def export(client: Client, what: str, path: str | Path, *, scope: Mapping[str, Any] | None = None,
           vdn_id: int | None = None, users: UserList | None = None, include_secrets: bool = False,
           on_progress: Progress | None = None, tz: tzinfo | None = None) -> ExportResult:
    """Read ``what`` from the servers and write it to ``path`` (.xlsx or .csv); see the module docstring.

    ``scope``: the values a scoped listing needs (``{"vdnId": 2}``; ``vdn_id`` is the same for
    appointments). ``users``: for an operation found by walking the agents (agent settings), the agents or
    users to export (:func:`~batchops.remote.walk.read_users`); None exports every agent's.
    """
    target = _target(path)
    if what == AGENTS:
        return export_agents(read_agent_info(client), target, include_secrets=include_secrets,
                             source=client.settings.base_url or "", on_progress=on_progress)
    op = exports().get(what)
    if op is None:
        raise InputError(f"cannot export '{what}'.", fix=f"Export one of: {', '.join(exports())}.")
    read = read_side(op)
    source = (client.settings.base_url if op.family == "c1" else client.settings.isales_url) or ""
    if read.listing is None:
        return _export_walk(client, op, what, target, users, source, on_progress, tz)
    if users is not None:
        raise InputError(f"a users list applies to an export found from the agents, not to {what}.")
    given = {**({"vdnId": vdn_id} if vdn_id is not None else {}), **(scope or {})}
    wanted = {name: given.get(name) for name in read.listing.scope}
    absent = [name for name, value in wanted.items() if value is None or value == ""]
    if absent:
        raise InputError(f"exporting {what} needs {' and '.join(absent)}.",
                         fix=f"Name it: {', '.join(f'{n} ({op.field(n).description})' for n in absent)}.")
    info = [(name, str(value)) for name, value in wanted.items()]
    records = iter_records(client, op, wanted, on_progress=on_progress)
    result = export_records(op, records, target, source=source, info=info, tz=tz)
    result.what = what
    return result


def _export_walk(client: Client, op: Operation, what: str, target: Path, users: UserList | None, source: str,
                 on_progress: Progress | None, tz: tzinfo | None) -> ExportResult:
    """The records found by walking the agents (all of them, or those ``users`` names), who was left out
    and why on the Unmatched sheet."""
    found = walk(client, op, users, on_progress=on_progress)
    named = "every agent" if users is None else f"the agents and users of {users.path.name}"
    info = [("read for", named), ("agents read from", f"querySysInfo ({client.settings.sysinfo_path})"),
            ("not matched", str(len(found.unmatched) + len(found.missing)))]
    extra = [SheetSpec(UNMATCHED_SHEET, list(UNMATCHED_HEADERS),
                       [*unmatched_rows(found.unmatched),
                        *([None, None, u, "no agent settings for this user ID"] for u in found.missing)])]
    result = export_records(op, found.records, target, source=source, info=info, tz=tz,
                            extra_sheets=extra if found.unmatched or found.missing else ())
    result.what = what
    result.missing, result.unmatched = found.missing, found.unmatched
    result.notes = found.notes + result.notes
    return result


def _target(path: str | Path) -> Path:
    target = Path(path)
    if target.suffix.lower() not in SUFFIXES:
        raise InputError(f"cannot export to '{target}': give a file name ending in .xlsx or .csv.")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write '{target}': the folder '{folder}' does not exist.",
                         fix="Create it first, or choose another path with -o.")
    if target.is_dir():
        raise InputError(f"cannot write '{target}': it is a folder.", fix="Name a file with -o.")
    return target


def _is_csv(target: Path) -> bool:
    return target.suffix.lower() == ".csv"


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


# --- operations -----------------------------------------------------------------------------------------


def export_records(op: Operation, records: Iterable[LiveRecord], path: str | Path, *, source: str = "",
                   info: Sequence[tuple[str, str]] = (), tz: tzinfo | None = None,
                   on_progress: Progress | None = None, extra_sheets: Sequence[SheetSpec] = ()) -> ExportResult:
    """Write ``records`` in ``op``'s template layout (data sheet, Context, ``extra_sheets``, Info,
    Instructions, stamp)."""
    target = _target(path)
    rows = list(records)
    zone = tz or local_timezone()
    beside = read_side(op).beside
    headers = [*op.columns, *(read_only_header(name) for name in beside)]
    data_rows = [[*_data_row(op, record, zone, csv=_is_csv(target)), *(record.context.get(n) or None for n in beside)]
                 for record in rows]
    blocked = sum(1 for record in rows if blockers(op, record))
    result = ExportResult(target, op.name, len(rows), operation=op.name, blocked=blocked)
    if blocked:
        where = "" if _is_csv(target) else " (the Context sheet says why)"
        result.notes.append(f"{blocked} row(s) cannot be changed{where}: edits to them would be refused; left "
                            f"as they are, plan shows them as no change and apply skips them.")
    if _is_csv(target):
        _write_csv(target, headers, _counted(data_rows, len(data_rows), on_progress))
        return result
    context_headers, context_rows = _context(op, rows, zone)
    if any(f.kind in EPOCH_KINDS for f in op.fields):
        zone_note = (f"in {zone}, as validate, plan and apply read them unless --timezone (or BATCHOPS_TIMEZONE) "
                     f"names another zone; epoch numbers are accepted too")
        info = [*info, ("date-times", zone_note)]
    facts = [("exported from", source), ("read call", read_side(op).describe()), ("exported at", _now()),
             ("operation", f"{op.name} ({op.api})"), *info, ("rows", str(len(rows))),
             ("how to use", (f"Edit the sheet '{data_sheet_name(op)}' and check it with `batchops validate FILE`, "
                             f"`batchops plan FILE`, then `batchops apply FILE`. Empty cells are not sent. "
                             f"{_beside_note(beside)}"
                             f"The sheets '{CONTEXT_SHEET}' and '{INFO_SHEET}' are for reading only.")),
             ("made by", f"batchops {__version__}")]
    read_only = range(len(op.columns), len(headers))
    sheets = [
        # Text columns but the date-times, which are date-time cells (sheets.sheet_xml).
        SheetSpec(data_sheet_name(op), headers, _counted(data_rows, len(data_rows), on_progress),
                  text_columns=[i for i, f in enumerate(op.fields) if f.kind not in EPOCH_KINDS],
                  read_only_columns=read_only, read_only_note=(READ_ONLY_TITLE, READ_ONLY_NOTE) if beside else None),
        SheetSpec(CONTEXT_SHEET, context_headers, context_rows),
        *extra_sheets,
        info_sheet(facts, name=INFO_SHEET),
        SheetSpec(INSTRUCTIONS_SHEET, ["column", "what it is", "allowed values"],
                  [*([f.name, f.description, f.limits()] for f in op.fields),
                   *([read_only_header(n), (f"The agent's {n} (querySysInfo), beside its record for reading. "
                                            "Never sent; validate ignores this column."), "read-only"]
                     for n in beside)]),
        _stamp_sheet(op),
    ]
    _write_xlsx(target, sheets)
    return result


EPOCH_KINDS = (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S)
READ_ONLY_TITLE = "Read-only"
READ_ONLY_NOTE = ("Context beside each record, for reading: batchops never sends this column and validate "
                  "ignores it. Edits here change nothing.")
"""The input message Excel shows on a cell of a read-only context column."""


def _beside_note(beside: Sequence[str]) -> str:
    """The how-to line about the read-only context columns, when the export has some."""
    if not beside:
        return ""
    shown = ", ".join(read_only_header(n) for n in beside)
    return f"The columns {shown} are the agent's, for reading: they are never sent. "


def _data_row(op: Operation, record: LiveRecord, zone: tzinfo, *, csv: bool) -> list[Any]:
    """A record's cells: texts, and date-times as date-time values (see :func:`date_time`)."""
    return [date_time(f, record.get(f.name, ""), zone, csv=csv) if f.kind in EPOCH_KINDS
            else record.get(f.name) or None for f in op.fields]


def date_time(fld: Field, text: str, zone: tzinfo, *, csv: bool = False) -> datetime | str | None:
    """An epoch text as a cell value that validation reads back as exactly that epoch value.

    In a workbook: the wall-clock time in ``zone`` as a naive ``datetime`` (a real date-time cell), which
    validation reads in the same zone. Text with its UTC offset instead: a time the clocks show twice (the
    hour they go back), one with milliseconds (a date-time cell shows whole seconds, and a value that looks
    the same but is not would confuse), and every date-time in a CSV, which has no cell types and which
    Excel would otherwise rewrite in the computer's own date order. Not an epoch: as is.
    """
    if not text.isdigit():
        return text or None
    value = int(text)
    moment = datetime.fromtimestamp(value / 1000 if fld.kind is Kind.TIMESTAMP_MS else value, zone)
    if fld.kind is Kind.TIMESTAMP_MS:  # exact milliseconds: a float division may be a microsecond off
        moment = moment.replace(microsecond=(value % 1000) * 1000)
    repeated = moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()
    if csv or repeated or moment.microsecond:
        return moment.isoformat(sep=" ", timespec="milliseconds" if moment.microsecond else "seconds")
    return moment.replace(tzinfo=None)


def _stamp_sheet(op: Operation) -> SheetSpec:
    """The template's stamp, as the template writes it: ``key | value`` from the first row."""
    rows = [list(pair) for pair in stamp_rows(op)]
    return SheetSpec(STAMP_SHEET, rows[0], rows[1:], hidden=True)


def _context(op: Operation, records: Sequence[LiveRecord], tz: tzinfo) -> tuple[list[str], list[list[Any]]]:
    """The Context sheet: key columns, the record's facts (codes with their meaning; not those beside each
    row on the data sheet), date-times resolved, and why a row cannot be updated."""
    read = read_side(op)
    stamps = [f for f in op.fields if f.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S)]
    facts = [name for name in context_columns(op) if name not in read.beside]  # those are beside each row
    headers = [*op.key, *facts, *(f"{f.name} (resolved)" for f in stamps), "cannot be updated because"]
    rows: list[list[Any]] = []
    for record in records:
        row: list[Any] = [record.get(k) or None for k in op.key]
        for name in facts:
            value = record.context.get(name, "")
            fact = read.fact(name)
            row.append((fact.show(value) if fact is not None else value) or None)
        for f in stamps:
            text = record.get(f.name, "")
            row.append(show_timestamp(f, text, tz) if text.isdigit() else None)
        row.append("; ".join(blockers(op, record)) or None)
        rows.append(row)
    return headers, rows


# --- agents ---------------------------------------------------------------------------------------------


def export_agents(info: AgentInfo, path: str | Path, *, include_secrets: bool = False, source: str = "",
                  on_progress: Progress | None = None) -> ExportResult:
    """Write queryAgentInfo's agents; ``sipPwd`` masked unless ``include_secrets``."""
    target = _target(path)
    total = len(info.agents)

    def rows(extra: Sequence[str]) -> Iterator[list[Any]]:
        for agent in info.agents:
            pwd = agent.sip_pwd.reveal() if include_secrets and agent.sip_pwd is not None else (
                MASK if agent.sip_pwd else None)
            yield [agent.work_no or None, agent.sip_account or None, agent.account_code or None, pwd, *extra]

    result = ExportResult(target, "agents", total, contains_secrets=include_secrets)
    if include_secrets:
        result.notes.append(f"{target.name} holds the agents' SIP passwords in clear text: keep it safe and "
                            f"delete it when done.")
        if "secret" not in target.name.lower():
            result.notes.append("The file name does not say it holds secrets; consider a name with "
                                "'SECRETS' in it so nobody shares it by mistake.")
    if _is_csv(target):
        _write_csv(target, [*AGENT_COLUMNS, *SIP_COLUMNS],
                   _counted(rows([info.sip_service_ip, info.sip_service_port]), total, on_progress))
    else:
        secrets_line = ("YES: the sipPwd column holds SIP passwords in clear text. Keep this file safe."
                        if include_secrets else f"no: sipPwd is masked as {MASK}")
        facts = [("contains secrets", secrets_line), ("sipServiceIp", info.sip_service_ip),
                 ("sipServicePort", info.sip_service_port), ("exported from", source),
                 ("read call", "CC-Management/v1/queryAgentInfo"), ("exported at", _now()),
                 ("agents", str(total)), ("made by", f"batchops {__version__}")]
        _write_xlsx(target, [SheetSpec(AGENTS_SHEET, list(AGENT_COLUMNS), _counted(rows(()), total, on_progress)),
                             info_sheet(facts, name=INFO_SHEET)])
    if include_secrets:
        os.chmod(target, SECRET_FILE_MODE)
    return result


# --- writing ----------------------------------------------------------------------------------------------


def _counted(rows: Iterable[Sequence[Any]], total: int, on_progress: Progress | None) -> Iterator[Sequence[Any]]:
    """``rows`` passed through, calling ``on_progress`` every ``PROGRESS_EVERY`` rows and at the end."""
    if on_progress is None:
        yield from rows
        return
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            on_progress(done, total)
    on_progress(done, total)


def _write_xlsx(target: Path, sheets: Sequence[SheetSpec]) -> None:
    try:
        write_xlsx(target, sheets)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc


def _write_csv(target: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    try:
        write_csv(target, header, rows)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc


def _cannot_write(target: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write '{target}' ({exc.strerror or exc}).",
                      fix="Close the file if it is open in Excel, or choose another path with -o.")
