"""pandera schemas derived from the catalogue, and their failure cases turned into plain messages.

Every cell reaches the schema as canonical text (``coerce.py``); each check is named with the short
code a user sees, so that a failure case maps straight back to a message built from the same
:class:`~batchops.catalogue.Field` that defines the limit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

import pandas as pd
import pandera.pandas as pa

from ..catalogue import Field, Kind, NotAfter, OneOf, Operation
from .numbers import compare_whole, whole_within


@contextmanager
def _without_hypothesis() -> Iterator[None]:
    """Imports inside see the hypothesis package as absent, unless it is loaded already.

    pandera's built-in checks import its data-synthesis strategies, which import hypothesis whenever it is
    installed (a test tool, in development environments): about 0.4 s of every validating command's start
    (measured: bench/RESULTS.apply.md, the whole command), for a feature batchops never uses. A process
    that has loaded hypothesis itself (the test suite) keeps pandera's strategies as they are.
    """
    if "hypothesis" in sys.modules:
        yield
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # "import hypothesis" raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("hypothesis", 0) is None:
            del sys.modules["hypothesis"]


with _without_hypothesis():
    # What the first validate() would import (pandera registers its backends then); imported here so that the
    # guard above covers it.
    import pandera.backends.pandas.builtin_checks  # noqa: F401

UNIQUE_CHECKS = frozenset({"field_uniqueness", "multiple_fields_uniqueness"})
EXACT_TEXT = 15
"""Number texts up to this many characters convert to float64 exactly (below 2**53); longer ones never do."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check: frame index, field name, code, the failing text."""

    index: int
    field: str
    code: str
    value: str


def _series_check(code: str, fn: Callable[[pd.Series], pd.Series]) -> pa.Check:
    return pa.Check(fn, name=code, ignore_na=True)


def _checks_for(fld: Field) -> list[pa.Check]:
    checks: list[pa.Check] = []
    kind = fld.kind
    if kind is Kind.ID:
        checks.append(_series_check("id_format", lambda s: ~s.str.contains(r"[\s,]", regex=True)))
        if fld.max_length:
            n_id = fld.max_length
            checks.append(_series_check("too_long", lambda s: s.str.len() <= n_id))
    if kind is Kind.NUMBER:
        n = fld.max_length
        checks.append(_series_check("too_long", lambda s: s.str.len() <= n))
        checks.append(_series_check("not_digits", lambda s: s.str.fullmatch(r"\+?[0-9]+")))
    if kind is Kind.NUMBER_LIST:
        n, items = fld.max_length, fld.max_items
        checks.append(_series_check("too_many", lambda s: s.str.count(",") + 1 <= items))
        checks.append(_series_check("item_too_long", lambda s: s.str.fullmatch(rf"[^,]{{1,{n}}}(?:,[^,]{{1,{n}}})*")))
        checks.append(_series_check("item_not_digits", lambda s: s.str.fullmatch(r"\+?[0-9]+(?:,\+?[0-9]+)*")))
    if kind is Kind.ID_LIST:
        checks.append(_series_check("item_format", lambda s: s.str.fullmatch(r"[^\s,]+(?:,[^\s,]+)*")))
    if kind is Kind.CODE:
        allowed = list(fld.choice_values)
        checks.append(_series_check("not_allowed", lambda s: s.isin(allowed)))
    if kind is Kind.INTEGER:
        checks.append(_series_check("not_integer", lambda s: s.str.fullmatch(r"-?[0-9]+")))
    if kind in (Kind.INTEGER, Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S) and (
        fld.minimum is not None or fld.maximum is not None
    ):
        low, high = fld.minimum, fld.maximum

        # pandera dispatches check functions by name: never reuse a built-in check's name (in_range).
        def _within_bounds(s: pd.Series) -> pd.Series:
            # Up to 15 characters a float64 is exact, and vectorised; longer texts are compared as digits
            # (numbers.py), which holds at any length where to_numeric gives NaN or inf. Not a number is
            # the not_integer check's to report.
            short = s.str.len() <= EXACT_TEXT
            numbers = pd.to_numeric(s.where(short), errors="coerce")
            inside = pd.Series(True, index=s.index)
            if low is not None:
                inside &= numbers >= low
            if high is not None:
                inside &= numbers <= high
            ok = numbers.isna() | inside
            if not short.all():
                ok[~short] = [whole_within(text, low, high) is not False for text in s[~short]]
            return ok

        checks.append(_series_check("out_of_range", _within_bounds))
    if kind is Kind.TEXT and fld.max_length:
        n = fld.max_length
        checks.append(_series_check("too_long", lambda s: s.str.len() <= n))
    if fld.forbidden:
        pattern = "[" + "".join("\\" + ch for ch in fld.forbidden) + "]"
        checks.append(_series_check("forbidden_chars", lambda s: ~s.str.contains(pattern, regex=True)))
    return checks


def _rule_check(rule: NotAfter | OneOf) -> pa.Check:
    if isinstance(rule, NotAfter):
        first, second = rule.first, rule.second

        def _not_after(df: pd.DataFrame) -> pd.Series:
            if first not in df or second not in df:
                return pd.Series(True, index=df.index)
            return pd.Series([not isinstance(a, str) or not isinstance(b, str) or compare_whole(a, b) != 1
                              for a, b in zip(df[first], df[second], strict=True)], index=df.index, dtype=bool)

        return pa.Check(_not_after, name=f"order:{first}:{second}")
    names = rule.names

    def _one_of(df: pd.DataFrame) -> pd.Series:
        present = [df[n].notna() for n in names if n in df]
        if not present:
            return pd.Series(False, index=df.index)
        result = present[0]
        for p in present[1:]:
            result = result | p
        return result

    return pa.Check(_one_of, name="one_of:" + ",".join(names))


@cache
def schema_for(op: Operation) -> pa.DataFrameSchema:
    """The pandera schema of an operation's sheet (built once per operation)."""
    columns = {
        f.name: pa.Column(
            dtype=None,
            checks=_checks_for(f),
            nullable=not f.required,
            required=f.required,
            unique=len(op.key) == 1 and f.name == op.key[0],
            report_duplicates="all",
        )
        for f in op.fields
    }
    return pa.DataFrameSchema(
        columns,
        checks=[_rule_check(rule) for rule in op.rules],
        unique=list(op.key) if len(op.key) > 1 else None,
        report_duplicates="all",
        strict=False,
    )


def run_schema(op: Operation, frame: pd.DataFrame) -> list[Failure]:
    """Every failure in the frame, found in one lazy pass."""
    try:
        schema_for(op).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _failures(op, exc.failure_cases)
    return []


def _failures(op: Operation, cases: pd.DataFrame) -> list[Failure]:
    failures: list[Failure] = []
    seen_rows: set[tuple[int, str]] = set()
    for column, check, value, index in zip(
        cases["column"], cases["check"], cases["failure_case"], cases["index"], strict=True
    ):
        if index is None or pd.isna(index):
            # A check that crashed, or a schema-level failure: never let it pass as "valid".
            raise RuntimeError(f"schema check {check!r} on {column!r} could not run: {value}")
        check = str(check)
        text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
        if check == "not_nullable":
            failures.append(Failure(int(index), str(column), "required", ""))
        elif check in UNIQUE_CHECKS:
            if check == "multiple_fields_uniqueness" and column != op.key[-1]:
                continue  # one failure per row, on the last key column
            failures.append(Failure(int(index), str(column), "duplicate", text))
        elif check.startswith(("order:", "one_of:")):
            name = check.split(":")[1].split(",")[0]
            if (int(index), check) in seen_rows:
                continue  # a frame-wide check reports every column of the row; keep one
            seen_rows.add((int(index), check))
            failures.append(Failure(int(index), name, check.split(":")[0], ""))
        else:
            failures.append(Failure(int(index), str(column), check, text))
    return failures


SHOWN_VALUE_MAX = 60
"""A value quoted in a message is cut to this many characters: a 10,000-character cell stays one readable line."""


def _abbreviate(text: str) -> str:
    return text if len(text) <= SHOWN_VALUE_MAX else text[: SHOWN_VALUE_MAX - 1] + "…"


def _digit_hint(value: str) -> str:
    """A fix for digits that look right but are not 0-9: full-width ３ from a Chinese keyboard, Arabic ٣."""
    if any(ch.isdigit() and ch not in "0123456789" for ch in value):
        return " It holds full-width or other non-ASCII digits; type them as 0-9 (switch the keyboard to half-width)."
    return ""


def message_for(op: Operation, fld: Field, code: str, value: str) -> str:
    """What is wrong with a cell and what is allowed, in one sentence."""
    shown = f"'{_abbreviate(value)}'" if value else "the value"
    if code == "required":
        rules = fld.rules()
        return f"is empty; {fld.name} is mandatory" + (f" ({rules})." if rules != "any text" else ".")
    if code == "duplicate":
        what = " and ".join(op.key)
        return f"another row updates the same record ({what} {value}); keep one row per record."
    if code == "too_long":
        return f"{shown} has {len(value)} characters; {fld.name} allows at most {fld.max_length}."
    if code == "not_digits":
        return f"{shown} is not a number of digits; {fld.name} takes {fld.rules()}.{_digit_hint(value)}"
    if code == "too_many":
        count = value.count(",") + 1
        return f"{shown} lists {count} numbers; {fld.name} takes at most {fld.max_items}."
    if code == "item_too_long":
        long = [item for item in value.split(",") if len(item) > (fld.max_length or 0)]
        verb = "are" if len(long) > 1 else "is"
        return (f"{_abbreviate(', '.join(long)) or shown} {verb} longer than {fld.max_length} characters; "
                f"each number in {fld.name} has at most {fld.max_length}.")
    if code == "item_not_digits":
        bad = [item for item in value.split(",") if not item.lstrip("+").isdigit()]
        return (f"{_abbreviate(', '.join(bad)) or shown} is not a number of digits; {fld.name} takes "
                f"{fld.rules()}.{_digit_hint(value)}")
    if code == "item_format":
        return f"{shown} is not a list of IDs separated by commas (an ID has no spaces)."
    if code == "id_format":
        return f"{shown} contains a space or comma; an ID is one word of characters."
    if code == "not_allowed":
        return f"{shown} is not allowed; {fld.name} takes {fld.rules()}."
    if code == "not_integer":
        return f"{shown} is not a whole number; {fld.name} takes {fld.rules()}.{_digit_hint(value)}"
    if code == "out_of_range":
        if len(value) > SHOWN_VALUE_MAX:
            shown += f" ({len(value):,} digits)"
        if fld.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S):
            floor = (fld.minimum or 0) / (1000 if fld.kind is Kind.TIMESTAMP_MS else 1)
            day = datetime.fromtimestamp(floor, timezone.utc).date().isoformat()
            return f"{shown} is before {day}; {fld.name} takes a date-time from {day} on."
        return f"{shown} is outside the range; {fld.name} takes {fld.rules()}."
    if code == "forbidden_chars":
        found = sorted({ch for ch in value if ch in fld.forbidden})
        return f"{shown} contains {' '.join(found)}; {fld.name} must not contain {' '.join(fld.forbidden)}."
    if code == "order":
        order = next(r for r in op.rules if isinstance(r, NotAfter) and r.first == fld.name)
        return f"{order.first} is later than {order.second}; the call window must start before it ends."
    if code == "one_of":
        choice = next(r for r in op.rules if isinstance(r, OneOf) and r.names[0] == fld.name)
        return f"give {' or '.join(choice.names)}: {choice.why}."
    return f"{shown} fails the check {code}."
