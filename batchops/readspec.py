"""How an operation's records are read back, declared as data beside its write call in ``catalogue.py``.

Per operation the catalogue says how one record is read by its key (:class:`KeyQuery`), how all of them are
listed and paged (:class:`Listing`), which read-only facts come with a record (:class:`Fact`), which facts
mean an update cannot succeed (:class:`Blocker`), which facts name a record for people (``label``) and, for
an operation with no list call, how every key is found from the agents (:class:`AgentWalk`), whose agent
fields an export writes beside each record as read-only context columns (``ReadSide.beside``). ``readers.py``
runs these declarations against the servers and ``export.py`` writes what they read; nothing here sends
anything, so the catalogue stays free of HTTP and adding an operation is one catalogue entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalogue import Success

__all__ = ["READ_ONLY_MARK", "AgentWalk", "AnswerPath", "Blocker", "Fact", "KeyQuery", "Listing", "Paging", "ReadSide",
           "read_only_header"]

AnswerPath = tuple[str, ...]
"""Keys from the top of a JSON answer (or of one listed item) down to a value: ``("data", "total")``."""

DEFAULT_PAGE_SIZE = 100
"""queryCalledRoute, querySilenceRules and appoint/list take at most 100 records a page (api-notes.md)."""


@dataclass(frozen=True)
class Paging:
    """How a list call pages: a page-size parameter and either an item offset or a page number."""

    size_param: str = "limit"
    offset_param: str | None = "offset"
    """The index of the first item of the page (from 0); None when the call numbers pages instead."""
    page_param: str | None = None
    """The number of the page, counted from ``first_page``; used when ``offset_param`` is None."""
    first_page: int = 1
    max_size: int = DEFAULT_PAGE_SIZE

    def params(self, index: int, size: int) -> dict[str, int]:
        """The paging parameters of page ``index`` (from 0) of ``size`` items."""
        if self.offset_param is not None:
            return {self.offset_param: index * size, self.size_param: size}
        assert self.page_param is not None, "a Paging needs an offset or a page parameter"
        return {self.page_param: self.first_page + index, self.size_param: size}


@dataclass(frozen=True)
class KeyQuery:
    """The call that reads one record: a JSON body of ``params`` (columns of the row, as texts).

    ``markers``: fields whose presence at the top level of the answer says the record is there rather than
    under ``data``. ``must_match``: columns the record found must share with the row when the row gives
    them (agent settings are queried by ``userId`` but a row names its record by ``id``).
    """

    path: str
    params: tuple[str, ...]
    markers: tuple[str, ...] = ()
    must_match: tuple[str, ...] = ()
    method: str = "POST"


@dataclass(frozen=True)
class Listing:
    """The call that lists records page by page.

    ``path`` may hold ``{column}`` placeholders: the list is scoped by those key columns (an appointment
    list is per VDN), and a record read from it takes their values. ``items``/``total``: where the page's
    records and the total count are, the first path found winning (servers and doc editions differ).
    ``filters``: key columns the call can filter by, so one record is found in one call. ``complete``:
    False when listed items lack fields, so each is read again by its :class:`KeyQuery`.
    """

    path: str
    items: tuple[AnswerPath, ...]
    total: tuple[AnswerPath, ...] = ()
    paging: Paging = field(default_factory=Paging)
    filters: tuple[str, ...] = ()
    complete: bool = True
    method: str = "POST"

    @property
    def scope(self) -> tuple[str, ...]:
        """The key columns the list is scoped by: the placeholders of its path."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))


@dataclass(frozen=True)
class Fact:
    """A read-only fact that comes with a record: not a column, shown beside it (export's Context sheet).

    ``paths``: where it is in a record's answer (default: its name at the top). ``labels``: what a code
    means, shown as ``2: automatic``. ``items``: for a list of objects, the two keys shown as ``id: name``.
    """

    name: str
    paths: tuple[AnswerPath, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)  # a dict: kept out of the hash
    items: tuple[str, str] | None = None

    @property
    def where(self) -> tuple[AnswerPath, ...]:
        """The paths to look at, in order."""
        return self.paths or ((self.name,),)

    def show(self, value: str) -> str:
        """The fact as people read it: a code with its meaning when one is declared."""
        meaning = self.labels.get(value)
        return f"{value}: {meaning}" if meaning and value else value


@dataclass(frozen=True)
class Blocker:
    """A fact whose value means an update of the record cannot succeed.

    ``message`` is formatted with the record's columns, its facts and ``value`` (the fact's value).
    """

    fact: str
    values: frozenset[str]
    message: str

    def reason(self, values: Mapping[str, str]) -> str | None:
        """Why an update of the record with these columns and facts cannot succeed; None when it can."""
        value = values.get(self.fact, "")
        if value not in self.values:
            return None
        return self.message.format_map(_Blank({**values, "value": value}))


class _Blank(dict[str, Any]):
    """A format mapping that shows a missing name as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class AgentWalk:
    """How every record is found when there is no list call: one by-key query per agent of querySysInfo.

    Each agent's ``agent_field`` is the query's ``param``; the record found belongs to the agent only when
    its fact ``check[0]`` equals the agent's ``check[1]``. ``context``: the agent's fields shown beside the
    record (read-only), and ``ids``: agent fields a user may name agents by (``--users``).
    """

    param: str
    agent_field: str
    check: tuple[str, str] | None = None
    context: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()


READ_ONLY_MARK = " (read-only)"
"""Ends the header of a context column an export writes beside each record (``workNo (read-only)``)."""


def read_only_header(name: str) -> str:
    """The header an export gives the read-only context column ``name``."""
    return name + READ_ONLY_MARK


@dataclass(frozen=True)
class ReadSide:
    """Everything about reading an operation's records back, for plan, apply, audit, undo and export.

    ``export_name``: what ``batchops export`` calls these records. ``paths``: where a column is in a
    read answer when that is not its request body path (see ``readers.column_paths``). ``success``:
    how a read answer says success, when not as the write call's does. ``label``: columns or facts that
    name a record for people, shown beside its key.
    """

    export_name: str
    by_key: KeyQuery | None = None
    listing: Listing | None = None
    walk: AgentWalk | None = None
    facts: tuple[Fact, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    label: tuple[str, ...] = ()
    paths: Mapping[str, tuple[AnswerPath, ...]] = field(default_factory=dict, compare=False)
    success: Success | None = None
    note: str = ""
    """Where the pages are silent or disagree about these answers, and what batchops does about it."""

    def __post_init__(self) -> None:
        if self.by_key is None and self.listing is None:
            raise ValueError(f"{self.export_name}: a read side needs a by-key query or a listing")
        if self.walk is not None and self.by_key is None:
            raise ValueError(f"{self.export_name}: walking the agents needs a by-key query")

    @property
    def beside(self) -> tuple[str, ...]:
        """The read-only context an export writes beside each record, as columns headed
        ``read_only_header(name)``: the walk's agent fields (workNo, account, name). Validation knows them as
        the export's own columns: ignored without a word, never sent."""
        return self.walk.context if self.walk is not None else ()

    def fact(self, name: str) -> Fact | None:
        """The declared fact called ``name``, if any."""
        return next((f for f in self.facts if f.name == name), None)

    def describe(self) -> str:
        """The read calls, for people (an export's Info sheet)."""
        calls = [c.path for c in (self.listing, self.by_key) if c is not None]
        if self.listing is not None and self.listing.complete:
            calls = calls[:1]
        return " + ".join(calls)
