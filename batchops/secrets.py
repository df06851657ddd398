"""What is secret, and how a secret is masked: the one place that knows.

Every repr, log line, journal record, dry-run request and results sheet goes through ``redact`` or holds
its secrets as ``Secret``, so a secret never leaves the process unmasked.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

MASK = "****"
"""What a secret is replaced by."""

MASK_PREFIX_MIN_LENGTH = 12
"""Values at least this long keep their first ``MASK_PREFIX_LENGTH`` characters, so two can be told apart."""

MASK_PREFIX_LENGTH = 2

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "AccessToken",
        "access_token",
        "app_secret",
        "Authorization",
        "password",
        "passwd",
        "pwd",
        "refresh_token",
        "secret",
        "secret_key",
        "sipPwd",
        "sk",
        "isales_sk",
        "token",
        "X-Auth-Token",
    }
)
"""Field and header names whose values are secret, matched ignoring case, ``-`` and ``_``."""


@functools.lru_cache(maxsize=4096)  # the same few field names come back on every row of a run
def _normalise_key(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


_NORMALISED_SECRET_KEYS = frozenset(_normalise_key(key) for key in SECRET_KEYS)
_AUTHORIZATION = _normalise_key("Authorization")
_BEARER = "Bearer "


def is_secret_key(key: object) -> bool:
    """Tell whether a field or header called ``key`` holds a secret (``APP_SECRET`` and ``appSecret`` too)."""
    return isinstance(key, str) and _normalise_key(key) in _NORMALISED_SECRET_KEYS


def mask(value: object) -> str:
    """Mask a secret: ``ab****`` for a long value, ``****`` for a short or empty one."""
    if isinstance(value, Secret):
        value = value.reveal()
    text = value if isinstance(value, str) else ""
    if len(text) >= MASK_PREFIX_MIN_LENGTH:
        return text[:MASK_PREFIX_LENGTH] + MASK
    return MASK


def mask_authorization(value: str) -> str:
    """Mask an ``Authorization`` header value, keeping a ``Bearer`` scheme word so the shape stays readable."""
    if value.startswith(_BEARER):
        return _BEARER + MASK
    return mask(value)


def redact(obj: Any) -> Any:
    """Return a copy of ``obj`` with every secret masked: values under secret keys in mappings (recursively,
    through lists and tuples), ``Authorization`` header values, and every ``Secret``.

    Mappings come back as dicts and sequences as lists, ready for JSON; other values are returned as they are.
    """
    if isinstance(obj, Secret):
        return MASK
    if isinstance(obj, Mapping) or _is_header_mapping(obj):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str) and _normalise_key(key) == _AUTHORIZATION and isinstance(value, str):
                out[key] = mask_authorization(value)
            elif is_secret_key(key):
                out[key] = mask(value) if isinstance(value, (str, Secret)) else MASK
            else:
                out[key] = redact(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [redact(item) for item in obj]
    return obj


def _is_header_mapping(obj: Any) -> bool:
    # httpx.Headers is a MutableMapping already; this covers other multi-dict header types cheaply.
    return hasattr(obj, "items") and hasattr(obj, "keys") and not isinstance(obj, (str, bytes))


class Secret:
    """A secret string that shows ``****`` in ``str``, ``repr``, f-strings and logs; ``reveal()`` gives it.

    Not a ``str`` subclass on purpose: a subclass would leak through ``format`` and concatenation.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret holds a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: pass it only to the code that must send it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        # Pickling would write the value out; refuse rather than leak it into a file.
        raise TypeError("a Secret cannot be pickled")
