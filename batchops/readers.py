"""The read side of each operation: the one place that knows the read endpoints and their answers.

Every answer is turned into the operation's *canonical texts*, the same texts validation produces from a
sheet: lists as ``a,b``, integers and codes as digits, date-times as epoch digits (milliseconds for
``appointTime``, seconds for ``call_from``/``call_end``), sentence objects ``{category_id, sentence_id,
sentence_name}`` as their ``sentence_id``. A value the record does not have is ``""``. Readers are
tolerant: a number may come as a JSON number or a string, a list as a list or a comma-separated string.

API (stable; plan, audit and undo build on it)::

    read_record(client, op, key_texts) -> Record | None     current values of one record; None: no such record
    RecordReader(client).read(op, key_texts)                same, caching list reads across many rows
    blockers(op, current) -> list[str]                      why an update of that record cannot succeed
    iter_agents(client) / read_agent_info(client)           queryAgentInfo (sipPwd held as a Secret)
    iter_called_routes(client, page_size=100)               queryCalledRoute, paged; context has ``editable``
    iter_silence_rules(client)                              querySilenceRules paged, querySilenceRule per rule
    iter_appointments(client, vdn_id)                       appoint/list, paged; context has ``callType``
    read_agent_settings(client, user_ids)                   agentsettings/query per user: (user_id, Record|None)

A :class:`Record` is a ``dict[str, str]`` of the operation's columns (every column of ``op.columns``; ``""``
where the record has no value) with ``.context``: read-only facts that are not columns, e.g. a route's
``editable`` or an appointment's ``callType``. ``key_texts`` for :func:`read_record` holds the key columns
of ``op.key``; agent settings are read by user, so their ``key_texts`` also need ``userId`` (it is a
mandatory column of that sheet).

Calls go through :meth:`Client.send` (retries, token, signing, TLS). No answer, an HTTP error or a failure
code on a list call raises :class:`~batchops.errors.RemoteError` (``AuthError`` for 401/403). A failure code on
a by-key query (unknown ID) means the record does not exist: ``None``. The C1 pages document only the
success code, so any other code there counts as "not found" (api-notes.md).

Progress: the list readers take ``on_progress(done, total)`` (``total`` None when unknown); they never print.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .calls import CallResult, Family, PreparedCall
from .catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, SILENCE_RULE, Operation
from .client import Client
from .errors import AuthError, RemoteError
from .secrets import Secret

__all__ = [
    "AGENT_INFO_PATH",
    "AGENT_SETTINGS_QUERY_PATH",
    "APPOINTMENT_LIST_PATH",
    "CALLED_ROUTE_QUERY_PATH",
    "CONTEXT_COLUMNS",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_READ_CONCURRENCY",
    "SILENCE_RULES_PATH",
    "SILENCE_RULE_PATH",
    "Agent",
    "AgentInfo",
    "Progress",
    "Record",
    "RecordReader",
    "blockers",
    "editable_label",
    "iter_agents",
    "iter_appointments",
    "iter_called_routes",
    "iter_silence_rules",
    "read_agent_info",
    "read_agent_settings",
    "read_record",
]

AGENT_INFO_PATH = "/apiaccess/CC-Management/v1/queryAgentInfo"
AGENT_SETTINGS_QUERY_PATH = "/apiaccess/CC-Management/v1/openapp/agentsettings/query"
CALLED_ROUTE_QUERY_PATH = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
SILENCE_RULE_PATH = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRule"
SILENCE_RULES_PATH = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule/querySilenceRules"
APPOINTMENT_LIST_PATH = "/rest/isales/v1/openapi/campaigns/{vdnId}/appoint/list"

DEFAULT_PAGE_SIZE = 100
"""queryCalledRoute, querySilenceRules and appoint/list take at most 100 per page."""
DEFAULT_READ_CONCURRENCY = 8
"""One-call-per-record reads (querySilenceRule, agentsettings/query) in flight at once."""
MS_THRESHOLD = 100_000_000_000
"""Epoch values from here up are milliseconds (the same threshold as validation's)."""

C1_OK = "0"
SQM_OK = "0405000"
ISALES_OK = "0200000"
NOT_EDITABLE = frozenset({"1", "3"})
"""queryCalledRoute ``editable`` values for which the route must not be edited (api-notes.md)."""
AUTOMATIC_CALL_TYPE = "2"
"""appoint/list ``callType``: 1 manual, 2 automatic; only manual appointments can be modified."""

CONTEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    AGENT_SETTINGS.name: ("agentName", "createTime", "tenantId"),
    CALLED_ROUTE.name: ("editable", "accessCode", "extCode", "deviceDesc", "mediatypeId", "dnid"),
    SILENCE_RULE.name: ("before_staff_sentences", "before_customer_sentences", "after_staff_sentences"),
    APPOINTMENT.name: ("callType", "calledNo"),
}
"""Read-only facts each reader puts in ``Record.context``, in display order (export's Context sheet)."""

Progress = Callable[[int, "int | None"], None]
"""``on_progress(done, total)``: records read so far and the total when the server says it."""


class Record(dict[str, str]):
    """Current values of one record as canonical texts, keyed by column; ``context`` holds read-only facts."""

    def __init__(self, values: Mapping[str, str], context: Mapping[str, str] | None = None) -> None:
        super().__init__(values)
        self.context: dict[str, str] = dict(context or {})

    def __repr__(self) -> str:
        return f"Record({dict(self)!r}, context={self.context!r})"


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent of queryAgentInfo; ``sip_pwd`` stays a ``Secret`` until an export is told to reveal it."""

    work_no: str
    sip_account: str
    account_code: str
    sip_pwd: Secret | None


@dataclass(frozen=True)
class AgentInfo:
    """The queryAgentInfo answer: the softphone registration server and every agent."""

    sip_service_ip: str
    sip_service_port: str
    agents: list[Agent] = field(default_factory=list)


# --- canonical texts from tolerant answers -------------------------------------------------------------


def text_of(value: Any) -> str:
    """A scalar as canonical text: ``None`` → ``""``, ``5`` / ``5.0`` / ``"5"`` → ``"5"``, text stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # "4.0" from a server that formats numbers as floats
        return text[:-2]
    return text


def list_text(value: Any, id_key: str = "sentence_id") -> str:
    """A list as ``a,b``: items may be scalars or objects carrying ``id_key``; a string is split on commas."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        items: Sequence[Any] = value.replace("，", ",").split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        items = [value]
    texts = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get(id_key, item.get("id"))
        text = text_of(item)
        if text:
            texts.append(text)
    return ",".join(texts)


def epoch_text(value: Any, *, millis: bool) -> str:
    """An epoch value as digits in the wanted unit; a value in the other unit is converted, not guessed at."""
    text = text_of(value)
    if not text.isdigit():
        return text
    number = int(text)
    if millis and number < MS_THRESHOLD:
        number *= 1000
    elif not millis and number >= MS_THRESHOLD:
        number //= 1000
    return str(number)


def _sentence_names(value: Any) -> str:
    if not isinstance(value, (list, tuple)):
        return ""
    names = [f"{text_of(item.get('sentence_id'))}: {text_of(item.get('sentence_name'))}"
             for item in value if isinstance(item, Mapping)]
    return "; ".join(names)


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def agent_setting_record(data: Mapping[str, Any]) -> Record:
    """An agentsettings/query ``data`` object as an agent-settings record."""
    values = {
        "id": text_of(data.get("id")),
        "userId": text_of(data.get("userId")),
        "callType": text_of(data.get("callType")),
        "callerPresent": list_text(data.get("callerPresent")),
        "callNumber": list_text(data.get("callNumber")),
        "callNumberDefault": text_of(data.get("callNumberDefault")),
        "callerPresentDefault": text_of(data.get("callerPresentDefault")),
    }
    return _record(AGENT_SETTINGS, values, data)


def route_record(item: Mapping[str, Any]) -> Record:
    """A queryCalledRoute list item as a called-route record (``editable`` in the context)."""
    values = {
        "id": text_of(item.get("id")),
        "devicetype": text_of(item.get("devicetype", item.get("deviceType"))),
        "deviceId": text_of(item.get("deviceId")),
    }
    return _record(CALLED_ROUTE, values, item)


def silence_rule_record(data: Mapping[str, Any]) -> Record:
    """A querySilenceRule ``data`` object (numbers as strings, sentences as objects) as update takes it."""
    setting = data.get("setting") if isinstance(data.get("setting"), Mapping) else data
    assert isinstance(setting, Mapping)
    other = setting.get("other", data.get("other"))
    exception = data.get("exception", setting.get("exception"))
    before = _get(exception, "before")
    after = _get(exception, "after")
    values = {
        "silence_id": text_of(setting.get("silence_id", data.get("silence_id"))),
        "name": text_of(setting.get("name")),
        "score": text_of(setting.get("score")),
        "seconds": text_of(setting.get("seconds")),
        "times": text_of(setting.get("times")),
        "call_from": epoch_text(_get(other, "call_from"), millis=False),
        "call_end": epoch_text(_get(other, "call_end"), millis=False),
        "before_staff": list_text(_get(before, "staff")),
        "before_customer": list_text(_get(before, "customer")),
        "after_staff": list_text(_get(after, "staff")),
    }
    context = {
        "before_staff_sentences": _sentence_names(_get(before, "staff")),
        "before_customer_sentences": _sentence_names(_get(before, "customer")),
        "after_staff_sentences": _sentence_names(_get(after, "staff")),
    }
    return _record(SILENCE_RULE, values, context)


def appointment_record(vdn_id: int | str, item: Mapping[str, Any]) -> Record:
    """An appoint/list item as an appointment record (``callType`` in the context)."""
    values = {
        "vdnId": text_of(vdn_id),
        "appointId": text_of(item.get("appointId")),
        "userAccount": text_of(item.get("userAccount")),
        "workNo": text_of(item.get("workNo")),
        "appointTime": epoch_text(item.get("appointTime"), millis=True),
        "remark": text_of(item.get("remark")),
    }
    return _record(APPOINTMENT, values, item)


def _record(op: Operation, values: Mapping[str, str], source: Mapping[str, Any]) -> Record:
    ordered = {name: values.get(name, "") for name in op.columns}
    context = {name: text_of(source.get(name)) for name in CONTEXT_COLUMNS[op.name]}
    return Record(ordered, context)


# --- facts that decide whether an update can succeed ----------------------------------------------------


def editable_label(editable: str) -> str:
    """What a queryCalledRoute ``editable`` value means for batchops."""
    if editable in NOT_EDITABLE:
        return f"{editable}: cannot be edited"
    return f"{editable}: can be edited" if editable else "not stated"


def blockers(op: Operation, current: Mapping[str, str]) -> list[str]:
    """Why an update of the record ``current`` cannot succeed, one sentence each; empty when it can.

    ``current`` is a :class:`Record` (facts read from its ``context``) or any mapping holding the facts.
    """
    facts: Mapping[str, str] = getattr(current, "context", None) or current
    found: list[str] = []
    if op is CALLED_ROUTE or op.name == CALLED_ROUTE.name:
        editable = text_of(facts.get("editable"))
        if editable in NOT_EDITABLE:
            found.append(f"the called route {current.get('id', '')} cannot be edited (editable={editable})")
    elif (op is APPOINTMENT or op.name == APPOINTMENT.name) and (
        text_of(facts.get("callType")) == AUTOMATIC_CALL_TYPE
    ):
        found.append(f"the appointment {current.get('appointId', '')} is automatic: cannot be modified")
    return found


# --- calls ---------------------------------------------------------------------------------------------


def _send(client: Client, family: Family, method: str, path: str, body: Mapping[str, Any] | None) -> CallResult:
    return client.send(PreparedCall(family, method, path, body))


def _answer(result: CallResult, what: str) -> Mapping[str, Any]:
    """The JSON object of an HTTP 200 answer; RemoteError (AuthError for 401/403) for anything else."""
    if result.http_status is None:
        raise RemoteError(f"{what}: no answer from the server ({result.error or 'no reason given'}).",
                          fix="Check the URL in the settings and the network, then try again.")
    body = result.body
    if result.http_status in (401, 403):
        raise AuthError(f"{what}: the server refused the credentials (HTTP {result.http_status}).",
                        fix="Check the app key and secret (or AK/SK) of the profile.")
    if result.http_status != 200:
        detail = _message(body) or (result.text or "").strip()[:200] or "no description"
        raise RemoteError(f"{what}: HTTP {result.http_status}: {detail}")
    if not isinstance(body, Mapping):
        raise RemoteError(f"{what}: the answer is not a JSON object: {(result.text or '').strip()[:200]!r}")
    return body


def _message(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    for key in ("returnDesc", "resultDesc", "description", "message"):
        if body.get(key):
            return text_of(body[key])
    return ""


def _code(body: Mapping[str, Any], fields: Sequence[str]) -> str | None:
    for key in fields:
        if body.get(key) is not None:
            return text_of(body[key])
    return None


def _ok(body: Mapping[str, Any], fields: Sequence[str], ok: str) -> bool:
    """Success: the documented code, or no code at all (some list answers carry none)."""
    code = _code(body, fields)
    return code is None or code == ok


def _require_ok(body: Mapping[str, Any], fields: Sequence[str], ok: str, what: str) -> None:
    if not _ok(body, fields, ok):
        raise RemoteError(f"{what}: the server answered {_code(body, fields)}: {_message(body) or 'no description'}")


def one_object(body: Mapping[str, Any], *markers: str) -> Mapping[str, Any] | None:
    """The record of a by-key answer: at the top level when one of ``markers`` is there, else under ``data``.

    The agentsettings/query page lists the record's fields beside ``returnCode`` at the top level of the
    answer; the querySilenceRule answer is documented nowhere. Both places are read, so a server that
    wraps the record in ``data`` (an object or a one-item list, as list answers do) works as well.
    """
    if any(marker in body for marker in markers):
        return body
    data = body.get("data")
    if isinstance(data, list):
        data = data[0] if data else None
    return data if isinstance(data, Mapping) else None


def _int(value: Any) -> int | None:
    text = text_of(value)
    return int(text) if text.isdigit() else None


def _items(value: Any, *names: str) -> list[Mapping[str, Any]]:
    """The list of objects in ``value``, or under one of ``names`` when ``value`` is an object."""
    if isinstance(value, Mapping):
        for name in names:
            if isinstance(value.get(name), list):
                value = value[name]
                break
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _paged(fetch: Callable[[int], tuple[list[Mapping[str, Any]], int | None]], page_size: int,
           key: Callable[[Mapping[str, Any]], str], on_progress: Progress | None) -> Iterator[Mapping[str, Any]]:
    """Items of every page (``fetch(page_index)`` → items, total) until a short page, the total or a repeat."""
    seen: set[str] = set()
    done = 0
    page = 0
    while True:
        items, total = fetch(page)
        fresh = [item for item in items if key(item) not in seen]
        for item in fresh:
            seen.add(key(item))
            yield item
        done += len(fresh)
        if on_progress is not None:
            on_progress(done, total)
        # A server that ignores the offset would repeat the first page forever: stop on a page of repeats.
        if not fresh or len(items) < page_size or (total is not None and done >= total):
            return
        page += 1


# --- agents --------------------------------------------------------------------------------------------


def read_agent_info(client: Client) -> AgentInfo:
    """queryAgentInfo: the SIP server and every agent (one GET; the page has no paging)."""
    body = _answer(_send(client, "c1", "GET", AGENT_INFO_PATH, None), "queryAgentInfo")
    _require_ok(body, ("returnCode",), C1_OK, "queryAgentInfo")
    agents = []
    for item in _items(body.get("agents")):
        pwd = item.get("sipPwd")
        agents.append(Agent(
            work_no=text_of(item.get("workNo")),
            sip_account=text_of(item.get("sipAccount")),
            account_code=text_of(item.get("accountCode")),
            sip_pwd=Secret(str(pwd)) if pwd is not None else None,
        ))
    return AgentInfo(text_of(body.get("sipServiceIp")), text_of(body.get("sipServicePort")), agents)


def iter_agents(client: Client) -> Iterator[Agent]:
    """Every agent of queryAgentInfo, ``sipPwd`` held as a ``Secret``."""
    return iter(read_agent_info(client).agents)


# --- called routes -------------------------------------------------------------------------------------


def iter_called_routes(client: Client, page_size: int = DEFAULT_PAGE_SIZE, *,
                       filters: Mapping[str, Any] | None = None,
                       on_progress: Progress | None = None) -> Iterator[Record]:
    """Every called route (queryCalledRoute, ``limit`` + ``offset``), ``editable`` in each record's context.

    ``filters``: any of ``accessCode, extCode, devicetype, deviceDesc, mediaTypeId``.
    """
    size = _page_size(page_size)

    def fetch(page: int) -> tuple[list[Mapping[str, Any]], int | None]:
        body = _answer(_send(client, "c1", "POST", CALLED_ROUTE_QUERY_PATH,
                             {**(filters or {}), "limit": size, "offset": page * size}), "queryCalledRoute")
        _require_ok(body, ("returnCode",), C1_OK, "queryCalledRoute")
        data = body.get("data", body)
        total = _int(_get(data, "total")) if isinstance(data, Mapping) else None
        return _items(data, "calledRouteList", "list"), total

    for item in _paged(fetch, size, lambda i: text_of(i.get("id")), on_progress):
        yield route_record(item)


def _page_size(page_size: int) -> int:
    if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {DEFAULT_PAGE_SIZE}, not {page_size}")
    return page_size


# --- silence rules -------------------------------------------------------------------------------------


def _silence_rule_call(silence_id: str) -> PreparedCall:
    return PreparedCall("c1", "POST", SILENCE_RULE_PATH, {"silence_id": silence_id})


def _silence_rule_answer(result: CallResult, silence_id: str) -> Record | None:
    body = _answer(result, "querySilenceRule")
    if not _ok(body, ("resultCode",), SQM_OK):
        return None
    data = one_object(body, "silence_id", "setting")
    if data is None:
        return None
    record = silence_rule_record(data)
    return record if record["silence_id"] == silence_id or not record["silence_id"] else None


def _query_silence_rule(client: Client, silence_id: str) -> Record | None:
    return _silence_rule_answer(client.send(_silence_rule_call(silence_id)), silence_id)


def iter_silence_rules(client: Client, page_size: int = DEFAULT_PAGE_SIZE, *, keyword: str | None = None,
                       concurrency: int = DEFAULT_READ_CONCURRENCY,
                       on_progress: Progress | None = None) -> Iterator[Record]:
    """Every silence rule in full: querySilenceRules (``page`` from 1, ``limit``) then querySilenceRule each.

    The list answer carries no exceptions or time window, so each rule is read again by its ID; a rule
    deleted between the two calls is left out.
    """
    size = _page_size(page_size)
    total_seen: list[int | None] = [None]

    def fetch(page: int) -> tuple[list[Mapping[str, Any]], int | None]:
        request: dict[str, Any] = {"page": page + 1, "limit": size}
        if keyword:
            request["keyword"] = keyword
        body = _answer(_send(client, "c1", "POST", SILENCE_RULES_PATH, request), "querySilenceRules")
        _require_ok(body, ("resultCode",), SQM_OK, "querySilenceRules")
        data = body.get("data")
        total = _int(body.get("total", _get(data, "total")))
        total_seen[0] = total
        return _items(data, "list", "rows", "data"), total

    ids = [text_of(item.get("silence_id")) for item in _paged(fetch, size, lambda i: text_of(i.get("silence_id")),
                                                             None)]
    records = _map(lambda sid: _query_silence_rule(client, sid), ids, concurrency)
    for done, record in enumerate(records, start=1):
        if on_progress is not None:
            on_progress(done, len(ids))
        if record is not None:
            yield record


def _map(fn: Callable[[str], Any], items: Sequence[str], concurrency: int) -> Iterator[Any]:
    """``fn`` over ``items`` with a few calls in flight, results in order (Client.send is thread-safe)."""
    if concurrency <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="batchops-read") as pool:
        yield from pool.map(fn, items)


# --- appointments --------------------------------------------------------------------------------------


def _appointment_page(client: Client, vdn_id: int | str, offset: int, limit: int,
                      filters: Mapping[str, Any] | None = None) -> tuple[list[Mapping[str, Any]], int | None]:
    path = APPOINTMENT_LIST_PATH.format(vdnId=text_of(vdn_id))
    body = _answer(_send(client, "isales", "POST", path, {**(filters or {}), "offset": offset, "limit": limit}),
                   f"appoint/list of VDN {vdn_id}")
    _require_ok(body, ("resultCode", "returnCode"), ISALES_OK, f"appoint/list of VDN {vdn_id}")
    data = body.get("data")
    total = _int(body.get("totalCount", _get(data, "totalCount")))
    return _items(data, "data", "list", "appointList"), total


def iter_appointments(client: Client, vdn_id: int | str, page_size: int = DEFAULT_PAGE_SIZE, *,
                      filters: Mapping[str, Any] | None = None,
                      on_progress: Progress | None = None) -> Iterator[Record]:
    """Every appointment of one VDN (appoint/list, ``offset`` + ``limit``), ``callType`` in the context."""
    size = _page_size(page_size)
    items = _paged(lambda page: _appointment_page(client, vdn_id, page * size, size, filters), size,
                   lambda i: text_of(i.get("appointId")), on_progress)
    for item in items:
        yield appointment_record(vdn_id, item)


# --- agent settings ------------------------------------------------------------------------------------


def _agent_setting_call(user_id: str) -> PreparedCall:
    return PreparedCall("c1", "POST", AGENT_SETTINGS_QUERY_PATH, {"userId": user_id})


def _agent_setting_answer(result: CallResult) -> Record | None:
    body = _answer(result, "agentsettings/query")
    if not _ok(body, ("returnCode",), C1_OK):
        return None
    data = one_object(body, "id")
    if data is None or not data.get("id"):
        return None
    return agent_setting_record(data)


def _query_agent_setting(client: Client, user_id: str) -> Record | None:
    return _agent_setting_answer(client.send(_agent_setting_call(user_id)))


def read_agent_settings(client: Client, user_ids: Iterable[str], *,
                        concurrency: int = DEFAULT_READ_CONCURRENCY,
                        on_progress: Progress | None = None) -> Iterator[tuple[str, Record | None]]:
    """One agentsettings/query per user, in the order given: ``(user_id, record)``, None when it has none."""
    users = [u.strip() for u in user_ids if u and u.strip()]
    records = _map(lambda u: _query_agent_setting(client, u), users, concurrency)
    for done, (user_id, record) in enumerate(zip(users, records), start=1):
        if on_progress is not None:
            on_progress(done, len(users))
        yield user_id, record


# --- one record by key ---------------------------------------------------------------------------------


class RecordReader:
    """Reads current records by key for many rows, caching what a list call returned.

    queryCalledRoute cannot filter by ID, so the first route read lists every route once; later reads
    are answered from that index. Use one reader per plan or run; ``read`` may be called from several
    threads at once (a cache is filled once, under a lock).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._routes: dict[str, Record] | None = None
        self._appointments: dict[str, dict[str, Record]] = {}
        self._lock = threading.Lock()

    def read(self, op: Operation, key_texts: Mapping[str, str]) -> Record | None:
        """Current values of the record ``key_texts`` identifies; None when it does not exist."""
        if op.name == CALLED_ROUTE.name:
            return self._route(_key(key_texts, "id"))
        if op.name == SILENCE_RULE.name:
            return _query_silence_rule(self.client, _key(key_texts, "silence_id"))
        if op.name == APPOINTMENT.name:
            return self._appointment(_key(key_texts, "vdnId"), _key(key_texts, "appointId"))
        if op.name == AGENT_SETTINGS.name:
            return _same_setting(_query_agent_setting(self.client, _key(key_texts, "userId")), key_texts)
        raise ValueError(f"no read call is known for the operation {op.name!r}")

    async def aread(self, op: Operation, key_texts: Mapping[str, str]) -> Record | None:
        """``read`` from asyncio: a one-record query goes out as an async call (``Client.asend``); reads
        answered from a listing (routes, appointments) run ``read`` in a thread, which lists once."""
        if op.name == SILENCE_RULE.name:
            silence_id = _key(key_texts, "silence_id")
            return _silence_rule_answer(await self.client.asend(_silence_rule_call(silence_id)), silence_id)
        if op.name == AGENT_SETTINGS.name:
            result = await self.client.asend(_agent_setting_call(_key(key_texts, "userId")))
            return _same_setting(_agent_setting_answer(result), key_texts)
        return await asyncio.to_thread(self.read, op, key_texts)

    def _route(self, route_id: str) -> Record | None:
        if self._routes is None:
            with self._lock:
                if self._routes is None:
                    self._routes = {r["id"]: r for r in iter_called_routes(self.client)}
        return self._routes.get(route_id)

    def _appointment(self, vdn_id: str, appoint_id: str) -> Record | None:
        cached = self._appointments.get(vdn_id)
        if cached is not None:
            return cached.get(appoint_id)
        # The appointId filter answers in one call; a server that ignores it is caught by the ID check,
        # and then the whole VDN is listed once.
        items, _ = _appointment_page(self.client, vdn_id, 0, DEFAULT_PAGE_SIZE, {"appointId": appoint_id})
        for item in items:
            if text_of(item.get("appointId")) == appoint_id:
                return appointment_record(vdn_id, item)
        if len(items) <= 1:
            return None
        with self._lock:
            index = self._appointments.get(vdn_id)
            if index is None:
                index = {r["appointId"]: r for r in iter_appointments(self.client, vdn_id)}
                self._appointments[vdn_id] = index
        return index.get(appoint_id)


def _same_setting(record: Record | None, key_texts: Mapping[str, str]) -> Record | None:
    """The user's settings record, if it is the one the row names by ``id`` (when the row names one)."""
    wanted = text_of(key_texts.get("id"))
    return record if record is not None and (not wanted or record["id"] == wanted) else None


def _key(key_texts: Mapping[str, str], name: str) -> str:
    value = text_of(key_texts.get(name))
    if not value:
        raise ValueError(f"reading a record needs its {name}")
    return value


def read_record(client: Client, op: Operation, key_texts: Mapping[str, str]) -> Record | None:
    """Current values of one record as canonical texts; None when it does not exist.

    For many rows use one :class:`RecordReader`: it lists the called routes once instead of once a row.
    """
    return RecordReader(client).read(op, key_texts)
