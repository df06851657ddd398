"""Checks a request body against what an API page says: JSON types, mandatory fields, lengths, ranges.

Each check raises ``Invalid`` with a ``Reason``; the endpoint family decides what a reason becomes on the
wire (C1 answers HTTP 400; iSales answers its documented codes such as 02000003 for "too long").
JSON types are checked exactly: ``true`` is not a number, ``"1"`` is not an integer, ``1.5`` is not a
whole number, because a server parsing into typed fields rejects those and the client must not send them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Mapping
from typing import Any


class Reason(enum.Enum):
    """Why a body was refused."""

    MALFORMED = "malformed"
    TYPE = "type"
    MISSING = "missing"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    RANGE = "range"
    CHARS = "chars"
    UNKNOWN_FIELD = "unknown_field"


class Invalid(Exception):
    """One problem with a request body: which field, why, in words a developer can act on."""

    def __init__(self, field: str, reason: Reason, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = reason
        self.message = str(self)


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("", Reason.MALFORMED, f"the body is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise Invalid("", Reason.MALFORMED, f"the body must be a JSON object, not {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_fields(obj: Mapping[str, Any], allowed: Collection[str], where: str, allow_unknown: bool) -> None:
    """Refuse fields the page does not list (a misspelt field would otherwise be silently ignored)."""
    if allow_unknown:
        return
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        field = f"{where}.{unknown[0]}" if where else unknown[0]
        raise Invalid(field, Reason.UNKNOWN_FIELD,
                      f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _name(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name



def _present(obj: Mapping[str, Any], name: str, field: str, required: bool) -> Any:
    """The field's value; None when it is absent or null (Invalid when it is mandatory)."""
    if name not in obj or obj[name] is None:
        if required:
            raise Invalid(field, Reason.MISSING, "is mandatory")
        return None
    return obj[name]


def get_object(obj: Mapping[str, Any], name: str, *, where: str = "", required: bool = False
               ) -> dict[str, Any] | None:
    """An optional or mandatory nested object."""
    value = obj.get(name)
    if value is None:
        if required:
            raise Invalid(_name(where, name), Reason.MISSING, "is mandatory")
        return None
    if not isinstance(value, dict):
        raise Invalid(_name(where, name), Reason.TYPE, f"must be an object, not {type_name(value)}")
    return value


def get_string(obj: Mapping[str, Any], name: str, *, where: str = "", required: bool = False,
               max_len: int | None = None, forbidden: str = "") -> str | None:
    """A string field: mandatory ones must be present and non-empty."""
    field = _name(where, name)
    value = _present(obj, name, field, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(field, Reason.TYPE, f"must be a string, not {type_name(value)} ({value!r})")
    if required and not value.strip():
        raise Invalid(field, Reason.EMPTY, "must not be empty")
    if max_len is not None and len(value) > max_len:
        raise Invalid(field, Reason.TOO_LONG, f"is {len(value)} characters long; at most {max_len} allowed")
    bad = sorted({ch for ch in value if ch in forbidden})
    if bad:
        raise Invalid(field, Reason.CHARS, f"contains characters that are not allowed: {' '.join(bad)}")
    return value


def get_int(obj: Mapping[str, Any], name: str, *, where: str = "", required: bool = False,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    """An integer field: a JSON number without a fraction, never a string or a boolean."""
    field = _name(where, name)
    value = _present(obj, name, field, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(field, Reason.TYPE, f"must be an integer, not {type_name(value)} ({value!r})")
    _check_range(field, value, minimum, maximum)
    return value


def get_whole_number(obj: Mapping[str, Any], name: str, *, where: str = "", required: bool = False,
                     minimum: int | None = None, maximum: int | None = None) -> int | None:
    """A JSON ``number`` holding a whole value (``4`` or ``4.0``, never ``"4"`` or ``4.5``)."""
    field = _name(where, name)
    value = _present(obj, name, field, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(field, Reason.TYPE, f"must be a number, not {type_name(value)} ({value!r})")
    if isinstance(value, float) and not value.is_integer():
        raise Invalid(field, Reason.TYPE, f"must be a whole number, not {value!r}")
    number = int(value)
    _check_range(field, number, minimum, maximum)
    return number


def _check_range(field: str, value: int, minimum: int | None, maximum: int | None) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f"{minimum}"
        high = "" if maximum is None else f"{maximum}"
        raise Invalid(field, Reason.RANGE, f"is {value}; it must be in {low}..{high}")


def get_string_list(obj: Mapping[str, Any], name: str, *, where: str = "", max_items: int | None = None,
                    max_len: int | None = None) -> list[str] | None:
    """An optional ``String[]``: a JSON array of strings (a comma-joined string is not an array)."""
    field = _name(where, name)
    value = _present(obj, name, field, False)
    if value is None:
        return None
    if not isinstance(value, list):
        raise Invalid(field, Reason.TYPE, f"must be an array of strings, not {type_name(value)} ({value!r})")
    if max_items is not None and len(value) > max_items:
        raise Invalid(field, Reason.TOO_MANY, f"has {len(value)} items; at most {max_items} allowed")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise Invalid(f"{field}[{i}]", Reason.TYPE, f"must be a string, not {type_name(item)} ({item!r})")
        if max_len is not None and len(item) > max_len:
            raise Invalid(f"{field}[{i}]", Reason.TOO_LONG,
                          f"is {len(item)} characters long; at most {max_len} allowed")
    return list(value)
