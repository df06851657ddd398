"""From agents to their records: the walk that lists an operation keyed by user (agent settings).

agentsettings/query is keyed by ``userId``, which queryAgentInfo does not give and no list call offers.
api-notes.md ("From agents to their agent-settings userId") names the way, which the operation declares
(:class:`~batchops.readspec.AgentWalk`): querySysInfo's ``accountId`` of each agent is the ``userId``, and the
settings found belong to the agent only when their ``agentName`` equals the agent's ``accountCode``. That is
an inference, so every agent that cannot be matched is reported with why, and a user may name the keys
outright instead (a ``workNo,userId`` file): the fallback the notes give.

:func:`read_users` reads what ``--users`` names: user IDs, workNos or account codes, one a line or in a
column headed ``userId``/``workNo``/``accountCode``; the agents export itself (xlsx or CSV); or a
``workNo,userId`` file. :func:`walk` reads the records: every agent's when no users are given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..catalogue import Operation
from ..errors import BatchopsError, InputError
from ..http.client import Client
from ..readspec import AgentWalk
from .agentinfo import SysAgent, SysInfo, read_sys_info
from .answers import text_of
from .readers import DEFAULT_READ_CONCURRENCY, LiveRecord, Progress, read_by_keys, read_side

__all__ = ["UNMATCHED_HEADERS", "Unmatched", "UserEntry", "UserList", "Walk", "read_users", "unmatched_rows", "walk"]

USER_ID, WORK_NO, ACCOUNT_CODE = "userId", "workNo", "accountCode"
_HEADERS = {
    USER_ID: {"userid", "user", "用户id", "sumuserid"},
    WORK_NO: {"workno", "agentid", "工号", "座席工号"},
    ACCOUNT_CODE: {"accountcode", "account", "useraccount", "业务账号", "账号"},
}
"""Header texts (normalised: lower case, no spaces, ``_`` or ``-``) that say what a column holds."""
_WORK_NO = re.compile(r"^\d{3,5}$")
SHOWN = 10
"""Unmatched agents named in a note; all of them are on the export's Unmatched sheet."""


@dataclass(frozen=True)
class UserEntry:
    """One line of a users file: what it names an agent or a user by (the others ``""``)."""

    user_id: str = ""
    work_no: str = ""
    account_code: str = ""
    value: str = ""
    """A value under no telling header: a workNo, an account code or a user ID, told by the agents."""


@dataclass(frozen=True)
class UserList:
    """What ``--users`` named, in the file's order, repeats left out."""

    path: Path
    entries: list[UserEntry]
    columns: tuple[str, ...]
    """The telling columns the file had (``userId``, ``workNo``, ``accountCode``); empty: bare values."""


@dataclass(frozen=True)
class Unmatched:
    """An agent (or a user) whose record the walk could not find or could not trust, and why."""

    work_no: str
    account_code: str
    user_id: str
    why: str

    @property
    def who(self) -> str:
        """The agent as people know it: ``workNo 101 (li.wei101)``, or the user ID."""
        if self.work_no:
            return f"workNo {self.work_no}" + (f" ({self.account_code})" if self.account_code else "")
        if self.account_code:
            return f"account {self.account_code}"
        return f"userId {self.user_id}"


@dataclass
class Walk:
    """What a walk found: the records (the agent's fields in their context) and who was left out."""

    records: list[LiveRecord] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """User IDs named outright that have no record."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """One key to query, the agent it belongs to (if known), and whether the match must be checked."""

    user_id: str
    agent: SysAgent | None
    checked: bool


# --- the users file -----------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


def read_users(path: str | Path) -> UserList:
    """The agents or users a file names (see the module docstring); InputError or SheetError when unusable."""
    from ..sheets.reader import read_table  # the sheet readers load only when a users file is given

    file = Path(path)
    if not file.exists():
        raise InputError(f"the users file '{file}' does not exist.", fix="Check the --users path.")
    table = read_table(file)
    headers = [_normal(text_of(h)) for h in table.headers]
    columns = {kind: headers.index(name) for kind, names in _HEADERS.items()
               for name in names if name in headers}
    rows: list[list[object]] = [list(r) for r in table.rows]
    if not columns:  # no telling header: the first line is a value too
        rows.insert(0, list(table.headers))
    entries: list[UserEntry] = []
    seen: set[UserEntry] = set()
    for row in rows:
        def cell(index: int, cells: Sequence[object] = row) -> str:
            return text_of(cells[index]).lstrip("'") if index < len(cells) else ""

        if columns:
            entry = UserEntry(user_id=cell(columns[USER_ID]) if USER_ID in columns else "",
                              work_no=cell(columns[WORK_NO]) if WORK_NO in columns else "",
                              account_code=cell(columns[ACCOUNT_CODE]) if ACCOUNT_CODE in columns else "")
        else:
            entry = UserEntry(value=cell(0))
        if entry != UserEntry() and entry not in seen:
            seen.add(entry)
            entries.append(entry)
    if not entries:
        raise InputError(f"the users file '{file}' names no agent or user.",
                         fix="Put one user ID, workNo or account code a line, or pass the agents export.")
    return UserList(file, entries, tuple(k for k in _HEADERS if k in columns))


# --- the walk -------------------------------------------------------------------------------------------


def walk(client: Client, op: Operation, users: UserList | None = None, *,
         concurrency: int = DEFAULT_READ_CONCURRENCY, on_progress: Progress | None = None) -> Walk:
    """Read the records of ``op`` for the agents or users ``users`` names, or for every agent when None.

    querySysInfo is read once. When it cannot be read and every entry can be a user ID, the entries are
    taken as user IDs (with a note); otherwise its error is raised with the fallback as the fix.
    """
    spec = read_side(op).walk
    if spec is None:
        raise ValueError(f"the operation {op.name!r} declares no walk from agents")
    found = Walk()
    info = _sys_info(client, users, found)
    targets = _targets(spec, info, users, found)
    keys = [{spec.param: t.user_id} for t in targets]
    by_user = {t.user_id: t for t in targets}
    pairs = read_by_keys(client, op, keys, concurrency=concurrency, on_progress=on_progress)
    for key, record in pairs:
        target = by_user[key[spec.param]]
        why = _mismatch(spec, target, record)
        if why is not None:
            if target.agent is None:
                found.missing.append(target.user_id)
            else:
                found.unmatched.append(_unmatched(target.agent, target.user_id, why))
            continue
        assert record is not None
        if target.agent is not None:
            record.context.update({name: target.agent.get(name) for name in spec.context})
        found.records.append(record)
    # In the agents' order, not grouped by why: a stable sort keeps a users file's order for the rest.
    order = {agent.work_no: n for n, agent in enumerate(info.agents)} if info is not None else {}
    found.unmatched.sort(key=lambda u: order.get(u.work_no, len(order)))
    if found.unmatched:
        shown = "; ".join(f"{u.who}: {u.why}" for u in found.unmatched[:SHOWN])
        more = f" (and {len(found.unmatched) - SHOWN} more)" if len(found.unmatched) > SHOWN else ""
        found.notes.append(f"{len(found.unmatched)} agent(s) could not be matched to their {op.name} and are "
                           f"not in the file: {shown}{more}. Name their user IDs in a workNo,userId file "
                           f"and pass it with --users.")
    if found.missing:
        shown = ", ".join(found.missing[:5]) + (" …" if len(found.missing) > 5 else "")
        found.notes.append(f"{len(found.missing)} user(s) have no {op.name} and are not in the file: {shown}")
    return found


def _sys_info(client: Client, users: UserList | None, found: Walk) -> SysInfo | None:
    try:
        return read_sys_info(client)
    except BatchopsError as exc:
        only_ids = users is not None and (users.columns == (USER_ID,) or not users.columns)
        if not only_ids:
            fix = ("Pass --users with the user IDs, or a workNo,userId file; if this server spells the path "
                   "differently, set BATCHOPS_SYSINFO_PATH (the Chinese edition: "
                   "/apiaccess/CC-Mangemant/v1/querySysInfo).")
            raise type(exc)(f"the agents could not be read: {exc.message}", fix=fix) from exc
        found.notes.append(f"the agents could not be read ({exc.message}): the --users values were taken as "
                           "user IDs, so no workNo or account is shown beside them.")
        return None


def _targets(spec: AgentWalk, info: SysInfo | None, users: UserList | None, found: Walk) -> list[_Target]:
    """The keys to query, in order, each with its agent; entries that name no known agent are unmatched."""
    agents = info.agents if info is not None else []
    by_field = _index(agents, spec.agent_field)
    by_work_no = _index(agents, WORK_NO)
    by_account = _index(agents, ACCOUNT_CODE)
    targets: dict[str, _Target] = {}

    def add(target: _Target) -> None:
        targets.setdefault(target.user_id, target)

    def from_agent(agent: SysAgent) -> None:
        user_id = agent.get(spec.agent_field)
        if not user_id:
            why = (f"querySysInfo gives no {spec.agent_field} for it"
                   + ("" if info is None or spec.agent_field in info.present
                      else " (this edition of querySysInfo lists none for any agent)"))
            found.unmatched.append(_unmatched(agent, "", why))
        else:
            add(_Target(user_id, agent, checked=True))

    if users is None:
        for each in agents:
            from_agent(each)
        return list(targets.values())
    for entry in users.entries:
        agent: SysAgent | None
        if entry.user_id:  # named outright (a userId column, a workNo,userId file): no check to make
            agent = by_work_no.get(entry.work_no) or by_field.get(entry.user_id)
            add(_Target(entry.user_id, agent, checked=False))
            continue
        work_no, account = entry.work_no, entry.account_code
        value = entry.value
        if value and info is not None:
            work_no = value if _WORK_NO.match(value) and value in by_work_no else ""
            account = value if not work_no and value in by_account else ""
        elif value:
            add(_Target(value, None, checked=False))
            continue
        agent = by_work_no.get(work_no) if work_no else by_account.get(account) if account else None
        if agent is not None:
            from_agent(agent)
        elif work_no or account:
            what = f"workNo {work_no}" if work_no else f"account code {account}"
            found.unmatched.append(Unmatched(work_no, account, "", f"querySysInfo has no agent with {what}"))
        else:
            add(_Target(value, by_field.get(value), checked=False))  # neither: a user ID
    return list(targets.values())


def _index(agents: Sequence[SysAgent], name: str) -> dict[str, SysAgent]:
    index: dict[str, SysAgent] = {}
    for agent in agents:
        value = agent.get(name)
        if value:
            index.setdefault(value, agent)
    return index


def _mismatch(spec: AgentWalk, target: _Target, record: LiveRecord | None) -> str | None:
    """Why ``record`` is not the target's, or None when it is."""
    if record is None:
        if target.checked:
            return f"its {spec.agent_field} {target.user_id} has no agent settings"
        return f"no agent settings for userId {target.user_id}"
    if not target.checked or spec.check is None or target.agent is None:
        return None
    fact, agent_field = spec.check
    theirs = {**record, **record.context}.get(fact, "")
    ours = target.agent.get(agent_field)
    if not ours:
        return f"it has no {agent_field}, so the {fact} of the settings of userId {target.user_id} cannot be checked"
    if theirs != ours:
        return (f"the settings of userId {target.user_id} have {fact} {theirs!r}, not its {agent_field} "
                f"{ours!r}")
    return None


def _unmatched(agent: SysAgent, user_id: str, why: str) -> Unmatched:
    return Unmatched(agent.work_no, agent.get(ACCOUNT_CODE), user_id, why)


def unmatched_rows(unmatched: Sequence[Unmatched]) -> Iterator[list[str | None]]:
    """The Unmatched sheet's rows: workNo, accountCode, userId, why."""
    for u in unmatched:
        yield [u.work_no or None, u.account_code or None, u.user_id or None, u.why]


UNMATCHED_HEADERS = ("workNo", "accountCode", "userId", "why it is not in the file")
