"""Time in the journal: one stamp format, so that text order is time order in SQL, and since/until bounds.

Stamps are UTC ISO 8601 with microseconds and ``+00:00``. What a user types (``--since 2026-11-22``) is
local time, as a user typing a date means it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from ..errors import JournalError

__all__ = ["TimeBound", "bound", "is_exact", "new_run_id", "parse_stamp", "stamp", "utcnow"]

TimeBound = dt.datetime | dt.date | str | None
"""A since/until bound as callers give it: a moment, a whole day, ISO 8601 text, or no bound."""


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC (the journal's default clock)."""
    return dt.datetime.now(dt.timezone.utc)


def stamp(moment: dt.datetime) -> str:
    """A moment as stored: UTC, microseconds, ``+00:00``."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_stamp(text: str) -> dt.datetime:
    """A stored stamp back as an aware datetime."""
    return dt.datetime.fromisoformat(text)


def is_exact(value: TimeBound) -> bool:
    """Is the bound a moment (a datetime, or text with a time) rather than a whole day?"""
    return isinstance(value, dt.datetime) or (isinstance(value, str) and ("T" in value or ":" in value))


def bound(value: TimeBound, *, end: bool) -> str | None:
    """A since/until bound as a stamp. A date is a whole local day (``until`` includes it); a naive
    datetime is local time; text is parsed as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if is_exact(value) else dt.date.fromisoformat(value)
        except ValueError as exc:
            raise JournalError(f"'{value}' is not a date", fix="Give a date as YYYY-MM-DD.") from exc
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
    if value.tzinfo is None:
        value = value.astimezone()  # local time, as a user typing a date means it
    return stamp(value)


def new_run_id(now: dt.datetime) -> str:
    """A run id: the UTC start second and a short random suffix (``20261122-093000-1f2e``)."""
    return f"{now.astimezone(dt.timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
