"""Raw cells → canonical text, per field kind. Excel damage is caught here, from the raw cell type.

A reader hands over cells as Excel stored them: a float for a number cell, a ``str`` for a text cell,
a ``datetime`` for a date cell. Deciding text-versus-number from the raw type is the only way to tell
an exact ID from one Excel already rounded: ``1.307145259662215e+18`` converted to text gives the
plausible but wrong ``'1307145259662214912'``.

The canonical text of a cell is what the pandera schema checks and what the Results and Errors sheets
show: IDs and numbers as their exact digits, lists as ``a,b,c``, date-times as epoch digits.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..catalogue import EPOCH_MS_FLOOR, LIST_KINDS, Field, Kind, Operation
from .numbers import compare_whole

EXACT_DIGITS = 15
"""Excel keeps 15 significant digits of a number; a whole number from 10**15 up may have been rounded."""
EXACT_LIMIT = 10**EXACT_DIGITS

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_WHOLE_DECIMAL = re.compile(r"^([+-]?\d+)\.0*$")
_DIGITS = re.compile(r"^[0-9]+$")  # ASCII only: \d also matches ３ and ٣
_LIST_SPLIT = re.compile(r"[,，]")
_DATETIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M",
                     "%Y%m%d %H:%M:%S", "%Y%m%d %H:%M", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M")
MS_THRESHOLD = EPOCH_MS_FLOOR
"""Epoch values from here up are milliseconds (year 5138 in seconds, 1973 in milliseconds)."""
LATEST_DAY = "9999-12-31"
LATEST_EPOCH_S = 253_402_300_799
"""9999-12-31 23:59:59 UTC, the last moment a date-time (Python's, Excel's) can show."""
LATEST_EPOCH_MS = LATEST_EPOCH_S * 1000 + 999
SHOWN_DIGITS_MAX = 40
"""A number quoted in a message is cut to this many characters and its length said instead."""


@dataclass(frozen=True, slots=True)
class CellProblem:
    """A problem found while reading one cell: its position in the column, a code, the message."""

    index: int
    code: str
    message: str
    warning: bool = False


def local_timezone() -> tzinfo:
    """The machine's time zone as a ZoneInfo when it can be named (so DST is right), else a fixed offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    candidates = [name] if name else []
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return datetime.now().astimezone().tzinfo or timezone.utc


def resolve_timezone(name: str | None) -> tzinfo:
    """A time zone by IANA name (``Asia/Shanghai``), ``UTC``, or the machine's when ``name`` is empty."""
    if not name:
        return local_timezone()
    if name.upper() in {"UTC", "Z"}:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai or UTC") from None


def coerce_column(fld: Field, cells: Sequence[Any], tz: tzinfo) -> tuple[list[str | None], list[CellProblem]]:
    """Canonical texts for one column's raw cells, and the problems found reading them."""
    texts: list[str | None] = [None] * len(cells)
    problems: list[CellProblem] = []
    convert = _CONVERTERS[fld.kind]
    fast = _FAST_TEXT.get(fld.kind)
    for i, raw in enumerate(cells):
        if raw is None or raw == "":
            continue
        if fast is not None and raw.__class__ is str:
            # The common case (a Text cell, or any CSV cell) without a function call per cell.
            text = raw.strip()
            if fast(text):
                texts[i] = text or None
                continue
        try:
            text, warning = convert(fld, raw, tz)
        except _Bad as bad:
            problems.append(CellProblem(i, bad.code, bad.message))
            continue
        if text == "":
            continue
        texts[i] = text
        if warning:
            problems.append(CellProblem(i, warning[0], warning[1], warning=True))
    return texts, problems


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Warning_ = tuple[str, str] | None


def _number_as_digits(fld: Field, value: float) -> str:
    """A number cell in a digits column: its exact digits, or an error when Excel may have changed it."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad("not_a_number", "is not a number Excel can store; type the value again as text.")
        if not value.is_integer():
            raise _Bad("fraction", f"{show_number(value)} has a fraction where digits belong; "
                                   f"format the column as Text and type the {_what(fld)} again.")
        value = int(value)
    if abs(value) >= EXACT_LIMIT:
        raise _Bad("rounded", f"Excel stored {show_number(value)} as a number and kept only "
                              f"{EXACT_DIGITS} significant digits, so the {_what(fld)} may have been rounded; "
                              f"format the column as Text and type the {_what(fld)} again.")
    return str(value)


def _what(fld: Field) -> str:
    return "ID" if fld.kind in (Kind.ID, Kind.ID_LIST) else "number"


def show_number(value: float) -> str:
    """A number as Excel would show it in a General cell (1.30714525966221E+18)."""
    if isinstance(value, int) and abs(value) < EXACT_LIMIT:
        return str(value)
    if isinstance(value, float) and abs(value) < EXACT_LIMIT:
        return f"{value:.15g}"  # 12323.5, not 1.23235E+04: Excel shows such numbers in full
    text = f"{float(value):.14E}"
    mantissa, exponent = text.split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}E{'+' if int(exponent) >= 0 else '-'}{abs(int(exponent)):02d}"


def _check_text_for_damage(fld: Field, text: str) -> None:
    if _SCIENTIFIC.match(text):
        raise _Bad("rounded", f"'{text}' is a number in scientific notation: Excel has already rounded this "
                              f"{_what(fld)}; export it again with the column formatted as Text.")


def _not_text(fld: Field, raw: Any) -> None:
    if isinstance(raw, bool):
        raise _Bad("wrong_type", f"is a TRUE/FALSE value; {fld.name} takes {fld.rules()}.")
    if isinstance(raw, (datetime, date, time)):
        raise _Bad("wrong_type", f"Excel shows a date here; {fld.name} takes {fld.rules()}. "
                                 f"Format the column as Text and type the value again.")


LOST_ZERO = "lost_zero"
"""The code of a number Excel may have stripped of its leading zeros; apply holds such rows back unless
told (``--accept-lost-zeros``)."""


def _number_warning(fld: Field, text: str) -> Warning_:
    if fld.kind is Kind.NUMBER_LIST:
        return (LOST_ZERO, (f"{text} is stored as a number, so Excel dropped any leading zero (and would have "
                            f"joined numbers typed with commas). Format the column as Text and type the numbers "
                            f"again, or pass --accept-lost-zeros if {text} is right."))
    if fld.kind is Kind.NUMBER:
        return (LOST_ZERO, (f"{text} is stored as a number, so Excel dropped any leading zero (07773217 becomes "
                            f"7773217). Format the column as Text and type the number again, or pass "
                            f"--accept-lost-zeros if {text} is right."))
    if fld.kind in LIST_KINDS:
        return ("number_cell", ("stored as a number: if several values were typed with commas, Excel may "
                                "have joined them, and leading zeros are lost; format the column as Text."))
    return ("number_cell", ("stored as a number, so a leading zero would have been lost; "
                            "format the column as Text if this value should start with 0."))


_SPACED_DIGITS = re.compile(r"[0-9]\s+\+?[0-9]")


def _check_spaced_digits(fld: Field, text: str) -> None:
    """Digits with spaces between them: two numbers typed without a comma, or one typed in groups."""
    if fld.kind is Kind.NUMBER_LIST and _SPACED_DIGITS.search(text):
        joined = ",".join(text.split())
        raise _Bad("separator", f"'{_shorten(text)}' has a space between digits; separate the numbers with "
                                f"commas, like {_shorten(joined)}, or remove the space if it is one number.")
    if fld.kind is Kind.NUMBER and _SPACED_DIGITS.search(text):
        raise _Bad("separator", f"'{_shorten(text)}' has a space between digits; {fld.name} takes one number: "
                                f"digits without spaces.")


def _digits(fld: Field, raw: Any, tz: tzinfo) -> tuple[str, Warning_]:
    if isinstance(raw, str):
        text = raw.strip()
        _check_text_for_damage(fld, text)
        _check_spaced_digits(fld, text)
        return text, None
    _not_text(fld, raw)
    if isinstance(raw, (int, float)):
        text = _number_as_digits(fld, raw)
        return text, _number_warning(fld, text)
    return str(raw).strip(), None


_WRONG_SEPARATORS = re.compile(r"[;；、|/]")


def _list(fld: Field, raw: Any, tz: tzinfo) -> tuple[str, Warning_]:
    if isinstance(raw, str):
        wrong = _WRONG_SEPARATORS.search(raw)
        if wrong:
            raise _Bad("separator", f"'{raw.strip()}' separates values with '{wrong.group()}'; "
                                    f"{fld.name} takes values separated by commas, like 123,456.")
        items = [item.strip() for item in _LIST_SPLIT.split(raw)]
        items = [item for item in items if item]
        for item in items:
            _check_text_for_damage(fld, item)
            _check_spaced_digits(fld, item)
        return ",".join(items), None
    return _digits(fld, raw, tz)


def _whole(fld: Field, raw: Any, tz: tzinfo) -> tuple[str, Warning_]:
    """Codes and integers: a number cell is fine when it is whole; ``3.0`` from a CSV means 3."""
    _not_text(fld, raw)
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise _Bad("not_integer", f"{show_number(raw)} is not a whole number; {fld.name} takes "
                                      f"{fld.rules()}.")
        return str(int(raw)), None
    if isinstance(raw, int):
        return str(raw), None
    text = str(raw).strip()
    match = _WHOLE_DECIMAL.match(text)
    return (match.group(1) if match else text), None


def _text(fld: Field, raw: Any, tz: tzinfo) -> tuple[str, Warning_]:
    if isinstance(raw, str):
        return raw.strip(), None
    if isinstance(raw, bool):
        return ("TRUE" if raw else "FALSE"), None
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < EXACT_LIMIT:
        return str(int(raw)), None
    if isinstance(raw, (datetime, date, time)):
        return raw.isoformat(sep=" ") if isinstance(raw, datetime) else raw.isoformat(), None
    return str(raw), None


def _parse_datetime(text: str, tz: tzinfo) -> datetime | None:
    """A date-time typed as text, in ``tz`` unless it carries an offset; None when it is not one."""
    candidate = text.strip().replace("Z", "+00:00")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        for fmt in _DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(candidate, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if len(candidate) <= 10 and ":" not in candidate:
        raise _Bad("needs_time", f"'{text}' is a date without a time; type the time too, like {text} 09:30.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _timestamp(fld: Field, raw: Any, tz: tzinfo) -> tuple[str, Warning_]:
    millis = fld.kind is Kind.TIMESTAMP_MS
    unit = "milliseconds" if millis else "seconds"
    if isinstance(raw, bool):
        raise _Bad("not_datetime", f"is a TRUE/FALSE value; {fld.name} takes {fld.rules()}.")
    if isinstance(raw, datetime):
        moment = raw if raw.tzinfo else raw.replace(tzinfo=tz)
    elif isinstance(raw, date):
        raise _Bad("needs_time", f"{raw.isoformat()} is a date without a time; type the time too.")
    elif isinstance(raw, time):
        raise _Bad("not_datetime", f"{raw.isoformat()} is a time without a date; type the date too.")
    else:
        text = _whole(fld, raw, tz)[0] if isinstance(raw, (int, float)) else str(raw).strip()
        if _DIGITS.match(text):
            # Compared as digits, never int(): a cell of 5,000 digits is refused, not a crash (numbers.py).
            shown = _shorten(text)
            if millis and compare_whole(text, MS_THRESHOLD) == -1:
                raise _Bad("unit", f"{shown} looks like epoch seconds; {fld.name} takes epoch milliseconds "
                                   f"(or a date-time like 2026-12-01 09:30).")
            if not millis and compare_whole(text, MS_THRESHOLD) != -1:
                raise _Bad("unit", f"{shown} looks like epoch milliseconds; {fld.name} takes epoch seconds "
                                   f"(or a date-time like 2026-12-01 09:30).")
            if compare_whole(text, LATEST_EPOCH_MS if millis else LATEST_EPOCH_S) == 1:
                raise _Bad("out_of_range", f"{shown} is after {LATEST_DAY}; {fld.name} takes a date-time "
                                           f"up to {LATEST_DAY}.")
            return text, None
        moment_or_none = _parse_datetime(text, tz)
        if moment_or_none is None:
            raise _Bad("not_datetime", f"'{text}' is not a date-time batchops can read without guessing; type it "
                                       f"year first, like 2026-12-01 09:30, or as epoch {unit}.")
        moment = moment_or_none
    seconds = moment.timestamp()
    return str(round(seconds * 1000) if millis else int(seconds)), None


def _plain_text(text: str) -> bool:
    """True when a stripped text cell needs no further work: no exponent to suspect, no list to split."""
    return not _NEEDS_WORK.search(text)


_NEEDS_WORK = re.compile(r"[eE,，;；、|/]")


def _plain_number(text: str) -> bool:
    """``_plain_text`` for number columns, where a space between digits needs a word too."""
    return not _NEEDS_WORK.search(text) and not _SPACED_DIGITS.search(text)


_FAST_TEXT = {
    Kind.ID: _plain_text,
    Kind.NUMBER: _plain_number,
    Kind.NUMBER_LIST: _plain_number,
    Kind.ID_LIST: _plain_text,
    Kind.TEXT: lambda text: True,
}

_CONVERTERS = {
    Kind.ID: _digits,
    Kind.NUMBER: _digits,
    Kind.NUMBER_LIST: _list,
    Kind.ID_LIST: _list,
    Kind.CODE: _whole,
    Kind.INTEGER: _whole,
    Kind.TEXT: _text,
    Kind.TIMESTAMP_MS: _timestamp,
    Kind.TIMESTAMP_S: _timestamp,
}
assert set(_CONVERTERS) == set(Kind), "every field kind needs a converter"


NEEDS_CONVERSION = frozenset({Kind.NUMBER_LIST, Kind.ID_LIST, Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S})
"""Kinds whose JSON value is not their canonical text (lists, epoch integers); see also ``Field.as_int``."""


def typed_value(fld: Field, text: str) -> Any:
    """The JSON value the API takes for a validated canonical text."""
    if fld.kind in LIST_KINDS:
        return text.split(",") if text else []
    if fld.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S):
        return int(text)
    if fld.as_int:
        return int(text)
    return text


def typed_values(op: Operation, texts: Mapping[str, str]) -> dict[str, Any]:
    """The JSON values of a validated row, from its canonical texts."""
    return {name: typed_value(op.field(name), text) for name, text in texts.items()}


def show_timestamp(fld: Field, text: str, tz: tzinfo) -> str:
    """A canonical epoch text resolved for people: ``2026-12-01 09:30:00+08:00 (1764552600000)``.

    A text no date-time can show (beyond year 9999, say, from a server) is returned as it is.
    """
    latest = LATEST_EPOCH_MS if fld.kind is Kind.TIMESTAMP_MS else LATEST_EPOCH_S
    if not _DIGITS.match(text) or compare_whole(text, latest) == 1:
        return text
    value = int(text)
    seconds = value / 1000 if fld.kind is Kind.TIMESTAMP_MS else value
    try:
        moment = datetime.fromtimestamp(seconds, tz)
    except (OverflowError, OSError, ValueError):  # the platform's own range (Windows stops at 3001)
        return text
    return f"{moment.isoformat(sep=' ')} ({text})"


def _shorten(text: str) -> str:
    """A long number for a message: its first digits and how many there are."""
    if len(text) <= SHOWN_DIGITS_MAX:
        return text
    return f"{text[:SHOWN_DIGITS_MAX - 1]}… ({len(text):,} digits)"
