"""The read side, run from the catalogue: current records by key, every record listed and paged.

Nothing here knows an operation by name. Each operation declares its read side (``Operation.read``, a
:class:`~batchops.readspec.ReadSide`: the by-key query, the listing and its paging, where its columns and
facts are in an answer, what blocks an update, which facts name a record, its success codes); this module
sends those calls through :meth:`Client.send` (retries, token, signing, TLS) and turns the answers into
:class:`LiveRecord`\\ s of canonical texts (``answers.py``), the texts validation produces from a sheet.

API (plan, apply, audit, undo and export build on it)::

    RecordReader(client).read(op, texts) -> LiveRecord | None   one record by the row's key; None: no such
    await RecordReader(client).aread(op, texts)                  record; list reads are cached per reader
    iter_records(client, op, scope)                              every record of a listing, paged
    read_by_keys(client, op, keys)                               one by-key query each: (key, LiveRecord|None)
    blockers(op, record) -> list[str]                            why an update of that record cannot succeed
    label_of(op, record) -> str                                  the facts that name it, e.g. "calledNo 0755…"

No answer, an HTTP error or a failure code on a list call raises :class:`~batchops.errors.RemoteError`
(``AuthError`` for 401/403). A failure code on a by-key query means the record does not exist: ``None``
(the C1 pages document only the success code, so any other code counts as "not found").

Progress: the list readers take ``on_progress(done, total)`` (``total`` None when unknown); they never print.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..catalogue import LIST_KINDS, Field, Kind, Operation
from ..errors import BatchopsError
from ..http.calls import CallResult, PreparedCall
from ..http.client import Client
from ..readspec import AgentWalk, AnswerPath, Fact, KeyQuery, Listing, ReadSide
from .agentinfo import read_sys_info
from .answers import epoch_text, first_at, is_success, json_object, list_text, require_success, text_of

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_READ_CONCURRENCY",
    "LiveRecord",
    "Progress",
    "RecordReader",
    "blockers",
    "column_paths",
    "context_columns",
    "iter_records",
    "label_of",
    "one_object",
    "read_by_keys",
    "read_side",
    "record_from",
]

DEFAULT_PAGE_SIZE = 100
"""Records asked for per page (each listing's ``Paging.max_size`` caps it)."""
DEFAULT_READ_CONCURRENCY = 8
"""One-call-per-record reads (querySilenceRule, agentsettings/query) in flight at once."""

Progress = Callable[[int, "int | None"], None]
"""``on_progress(done, total)``: records read so far and the total when the server says it."""


class LiveRecord(dict[str, str]):
    """One record as the server has it now: canonical texts keyed by column (every column of the operation,
    ``""`` where it has no value), and ``context``: read-only facts that are not columns (a route's
    ``editable``, an appointment's ``callType``, the agent's ``workNo``)."""

    def __init__(self, values: Mapping[str, str], context: Mapping[str, str] | None = None) -> None:
        super().__init__(values)
        self.context: dict[str, str] = dict(context or {})

    def __repr__(self) -> str:
        return f"LiveRecord({dict(self)!r}, context={self.context!r})"


def read_side(op: Operation) -> ReadSide:
    """The operation's read side; ValueError when it declares none."""
    if op.read is None:
        raise ValueError(f"no read call is known for the operation {op.name!r}")
    return op.read


# --- answers → records -----------------------------------------------------------------------------------


def column_paths(op: Operation, fld: Field) -> tuple[AnswerPath, ...]:
    """Where a column may be in a read answer: the read side's own paths when it declares them, else its
    request body path, that path without its outer objects, and its bare name (read answers are often
    flatter than the update's body: querySilenceRule answers ``silence_id`` where update nests it)."""
    declared = op.read.paths.get(fld.name) if op.read is not None else None
    if declared:
        return declared
    path = fld.path
    candidates = [path[i:] for i in range(len(path) - 1)] + [(fld.name,)]
    return tuple(dict.fromkeys(candidates))


def _column_text(fld: Field, value: Any) -> str:
    if fld.kind in LIST_KINDS:
        return list_text(value)
    if fld.kind is Kind.TIMESTAMP_MS:
        return epoch_text(value, millis=True)
    if fld.kind is Kind.TIMESTAMP_S:
        return epoch_text(value, millis=False)
    return text_of(value)


def _fact_text(fact: Fact, value: Any) -> str:
    if fact.items is not None:
        if not isinstance(value, (list, tuple)):
            return ""
        id_key, name_key = fact.items
        return "; ".join(f"{text_of(i.get(id_key))}: {text_of(i.get(name_key))}"
                         for i in value if isinstance(i, Mapping))
    return text_of(value)


def record_from(op: Operation, item: Mapping[str, Any], scope: Mapping[str, str] | None = None) -> LiveRecord:
    """A record from one object of a read answer; URL columns (a VDN) take their value from ``scope``."""
    scope = scope or {}
    values: dict[str, str] = {}
    for fld in op.fields:
        if fld.in_url:
            values[fld.name] = text_of(scope.get(fld.name))
        else:
            values[fld.name] = _column_text(fld, first_at(item, column_paths(op, fld)))
    facts = read_side(op).facts
    return LiveRecord(values, {f.name: _fact_text(f, first_at(item, f.where)) for f in facts})


def context_columns(op: Operation) -> tuple[str, ...]:
    """The read-only facts of a record in display order: the walk's agent fields, then the declared facts."""
    read = read_side(op)
    return (*(read.walk.context if read.walk is not None else ()), *(f.name for f in read.facts))


def _facts_of(record: Mapping[str, str]) -> dict[str, str]:
    context = getattr(record, "context", None)
    return {**record, **(context or {})}


def blockers(op: Operation, record: Mapping[str, str]) -> list[str]:
    """Why an update of ``record`` cannot succeed, one sentence each; empty when it can.

    ``record`` is a :class:`LiveRecord` (facts read from its ``context``) or any mapping holding the facts.
    """
    values = {k: text_of(v) for k, v in _facts_of(record).items()}
    found = (b.reason(values) for b in read_side(op).blockers)
    return [reason for reason in found if reason]


def label_of(op: Operation, record: Mapping[str, str] | None) -> str:
    """The name the read side knows a record by, e.g. ``agentName li.wei101, workNo 101``; ``""`` if none."""
    if record is None or op.read is None:
        return ""
    values = _facts_of(record)
    return ", ".join(f"{name} {values[name]}" for name in op.read.label if values.get(name))


# --- calls -----------------------------------------------------------------------------------------------


def _key_call(op: Operation, query: KeyQuery, texts: Mapping[str, str]) -> PreparedCall:
    return PreparedCall(op.family, query.method, query.path, {name: _key(texts, name) for name in query.params},
                        operator_id=op.sends_user_id)


def _key_answer(op: Operation, query: KeyQuery, result: CallResult, texts: Mapping[str, str]) -> LiveRecord | None:
    """The record a by-key answer holds, if it is the row's: at the top level or under ``data``.

    A ``must_match`` column must be in the answer and equal the row's (when the row gives one); a query
    parameter the answer leaves out is the one asked for; a success answer without any column is no record.
    """
    body = json_object(result, query.path)
    if not is_success(body, op.read_success):
        return None
    data = one_object(body, *query.markers)
    if data is None:
        return None
    record = record_from(op, data, texts)
    if not any(record.values()):
        return None
    for name in query.must_match:
        wanted = text_of(texts.get(name))
        if not record.get(name) or (wanted and record[name] != wanted):
            return None
    for name in query.params:
        wanted = text_of(texts.get(name))
        if record.get(name) and record[name] != wanted:
            return None
        record[name] = wanted
    return record


def one_object(body: Mapping[str, Any], *markers: str) -> Mapping[str, Any] | None:
    """The record of a by-key answer: at the top level when one of ``markers`` is there, else under ``data``
    (an object, or a one-item list). Pages differ: agentsettings/query lists its fields at the top level,
    querySilenceRule's answer is documented nowhere; a server that wraps the record in ``data`` is read too."""
    if any(marker in body for marker in markers):
        return body
    data = body.get("data")
    if isinstance(data, list):
        data = data[0] if data else None
    return data if isinstance(data, Mapping) else None


def _key(texts: Mapping[str, str], name: str) -> str:
    value = text_of(texts.get(name))
    if not value:
        raise ValueError(f"reading a record needs its {name}")
    return value


def _page(client: Client, op: Operation, listing: Listing, scope: Mapping[str, str], index: int, size: int,
          filters: Mapping[str, str] | None = None) -> tuple[list[LiveRecord], int | None]:
    """One page of a listing: its records and the total the server gives (None when it gives none)."""
    path = listing.path.format(**{name: _key(scope, name) for name in listing.scope})
    body = json_object(client.send(PreparedCall(op.family, listing.method, path,
                                                {**(filters or {}), **listing.paging.params(index, size)},
                                                operator_id=op.sends_user_id)), path)
    require_success(body, op.read_success, path)
    items = first_at(body, listing.items)
    records = [record_from(op, item, scope) for item in items if isinstance(item, Mapping)] if isinstance(
        items, list) else []
    total = text_of(first_at(body, listing.total)) if listing.total else ""
    return records, int(total) if total.isascii() and total.isdigit() and len(total) <= 18 else None


def _paged(fetch: Callable[[int], tuple[list[LiveRecord], int | None]], size: int, key: Callable[[LiveRecord], str],
           on_progress: Progress | None) -> Iterator[LiveRecord]:
    """Records of every page until a short page, the total, or a page of repeats (a server that ignores the
    offset would repeat its first page forever)."""
    seen: set[str] = set()
    done = 0
    index = 0
    while True:
        records, total = fetch(index)
        fresh = [r for r in records if key(r) not in seen]
        for record in fresh:
            seen.add(key(record))
            yield record
        done += len(fresh)
        if on_progress is not None:
            on_progress(done, total)
        if not fresh or len(records) < size or (total is not None and done >= total):
            return
        index += 1


def _page_size(listing: Listing, page_size: int) -> int:
    if not 1 <= page_size <= listing.paging.max_size:
        raise ValueError(f"page_size must be from 1 to {listing.paging.max_size}, not {page_size}")
    return page_size


def iter_records(client: Client, op: Operation, scope: Mapping[str, Any] | None = None, *,
                 page_size: int = DEFAULT_PAGE_SIZE, filters: Mapping[str, Any] | None = None,
                 concurrency: int = DEFAULT_READ_CONCURRENCY, on_progress: Progress | None = None
                 ) -> Iterator[LiveRecord]:
    """Every record of the operation's listing, page by page, in the server's order.

    ``scope``: values of the listing's scope columns (``{"vdnId": 2}`` for appointments). A listing whose
    items are incomplete (silence rules) reads each record again by its key; one deleted in between is
    left out. ValueError when the operation has no listing or a scope value is missing.
    """
    read = read_side(op)
    listing = read.listing
    if listing is None:
        raise ValueError(f"the operation {op.name!r} has no list call")
    texts = {name: text_of(value) for name, value in (scope or {}).items()}
    size = _page_size(listing, min(page_size, listing.paging.max_size))
    extra = {name: value for name, value in (filters or {}).items() if value is not None}

    def fetch(index: int) -> tuple[list[LiveRecord], int | None]:
        return _page(client, op, listing, texts, index, size, extra)

    listed = _paged(fetch, size, op.record_key, None if not listing.complete else on_progress)
    if listing.complete:
        yield from listed
        return
    keys = [dict(record) for record in listed]
    for done, (_, record) in enumerate(read_by_keys(client, op, keys, concurrency=concurrency), start=1):
        if on_progress is not None:
            on_progress(done, len(keys))
        if record is not None:
            yield record


def read_by_keys(client: Client, op: Operation, keys: Iterable[Mapping[str, str]], *,
                 concurrency: int = DEFAULT_READ_CONCURRENCY, on_progress: Progress | None = None
                 ) -> Iterator[tuple[Mapping[str, str], LiveRecord | None]]:
    """One by-key query per entry of ``keys`` (texts holding the query's parameters), in the order given,
    a few in flight at once: ``(key, record)``, the record None when there is none."""
    query = read_side(op).by_key
    if query is None:
        raise ValueError(f"the operation {op.name!r} has no by-key query")
    wanted = list(keys)

    def one(texts: Mapping[str, str]) -> LiveRecord | None:
        return _key_answer(op, query, client.send(_key_call(op, query, texts)), texts)

    for done, (texts, record) in enumerate(zip(wanted, _map(one, wanted, concurrency)), start=1):
        if on_progress is not None:
            on_progress(done, len(wanted))
        yield texts, record


def _map(fn: Callable[[Any], Any], items: Sequence[Any], concurrency: int) -> Iterator[Any]:
    """``fn`` over ``items`` with a few calls in flight, results in order (Client.send is thread-safe)."""
    if concurrency <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="batchops-read") as pool:
        yield from pool.map(fn, items)


# --- one record by key, for many rows --------------------------------------------------------------------


class RecordReader:
    """Reads current records by key for many rows, caching what a list call returned.

    An operation with a by-key query is read one call a row. One with only a listing is found with the
    listing's filters when it has them (one call), else the whole listing of its scope is read once and
    later rows are answered from it. Use one reader per plan or run; ``read`` may be called from several
    threads at once (a listing is read once, under a lock). Records of an operation found by walking the
    agents get the agent's fields (its ``workNo``) in their context, from one querySysInfo read, when that
    read works; a label is a courtesy, so a failure there only leaves the label shorter.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._listings: dict[tuple[str, tuple[str, ...]], dict[str, LiveRecord]] = {}
        self._agents: dict[str, dict[str, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def read(self, op: Operation, texts: Mapping[str, str]) -> LiveRecord | None:
        """Current values of the record the row ``texts`` names; None when it does not exist."""
        read = read_side(op)
        if read.by_key is not None:
            query = read.by_key
            record = _key_answer(op, query, self.client.send(_key_call(op, query, texts)), texts)
        else:
            assert read.listing is not None
            record = self._listed(op, read.listing, texts)
        return self._with_agent(op, record)

    async def aread(self, op: Operation, texts: Mapping[str, str]) -> LiveRecord | None:
        """``read`` from asyncio: a by-key query goes out as an async call (``Client.asend``); a read answered
        from a listing, and the one agents read, run in a thread."""
        query = read_side(op).by_key
        if query is None:
            return await asyncio.to_thread(self.read, op, texts)
        record = _key_answer(op, query, await self.client.asend(_key_call(op, query, texts)), texts)
        walk = read_side(op).walk
        if record is not None and walk is not None and walk.agent_field not in self._agents:
            await asyncio.to_thread(self._agent_index, walk)
        return self._with_agent(op, record)

    def _listed(self, op: Operation, listing: Listing, texts: Mapping[str, str]) -> LiveRecord | None:
        scope = {name: _key(texts, name) for name in listing.scope}
        key = op.record_key({name: _key(texts, name) for name in op.key})
        cache_key = (op.name, tuple(scope.values()))
        index = self._listings.get(cache_key)
        if index is not None:
            return index.get(key)
        if listing.filters:
            filters = {name: _key(texts, name) for name in listing.filters}
            records, _ = _page(self.client, op, listing, scope, 0, listing.paging.max_size, filters)
            found = next((r for r in records if op.record_key(r) == key), None)
            if found is not None or len(records) <= 1:
                return found
            # More than one record came back: the server ignored the filter. List the scope once.
        with self._lock:
            index = self._listings.get(cache_key)
            if index is None:
                index = {op.record_key(r): r for r in iter_records(self.client, op, scope)}
                self._listings[cache_key] = index
        return index.get(key)

    def _with_agent(self, op: Operation, record: LiveRecord | None) -> LiveRecord | None:
        walk = read_side(op).walk
        if record is None or walk is None:
            return record
        agent = self._agent_index(walk).get(record.get(walk.param, ""))
        if agent is None:
            return record
        if walk.check is not None and _facts_of(record).get(walk.check[0]) != agent.get(walk.check[1]):
            return record  # not the agent's record after all: no context is better than a wrong one
        record.context.update({name: agent.get(name, "") for name in walk.context})
        return record

    def _agent_index(self, walk: AgentWalk) -> dict[str, dict[str, str]]:
        index = self._agents.get(walk.agent_field)
        if index is None:
            with self._lock:
                index = self._agents.get(walk.agent_field)
                if index is None:
                    index = self._agents[walk.agent_field] = _agents_by(self.client, walk.agent_field)
        return index


def _agents_by(client: Client, agent_field: str) -> dict[str, dict[str, str]]:
    """querySysInfo's agents by their ``agent_field``; empty when that read fails (the label is shorter)."""
    try:
        info = read_sys_info(client)
    except BatchopsError:
        return {}
    return {a.get(agent_field): a.fields for a in info.agents if a.get(agent_field)}

