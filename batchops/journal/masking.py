"""Secrets kept out of the journal file: every JSON value and message is masked before it is written.

Three layers, because a journal outlives the run and is copied around for audits: the shared rules of
``batchops.secrets`` (exact key names), then broader ones here (any key that merely *contains* a secret
word, any value shaped like a credential), then the run's own known secret values wherever they appear.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..secrets import MASK
from ..secrets import redact as _shared_redact

__all__ = ["Masker"]

# Defence in depth on top of ``secrets.redact`` (which matches exact names): any key that merely
# *contains* one of these words, and any value shaped like a credential, is masked too.
_SECRET_WORDS = ("secret", "token", "passw", "pwd", "authorization", "signature", "cookie", "credential")
_SECRET_NAMES = frozenset({"ak", "sk", "accesskey", "secretkey", "privatekey"})
_CREDENTIAL_VALUE = re.compile(r"^(bearer\s|auth-v2/)", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9]")


class Masker:
    """Turns values into stored JSON text and scrubs text, with ``secret_values`` masked wherever they occur.

    Values shorter than four characters are not scrubbed: they would mask ordinary text.
    """

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is masked whole.
        self._values = sorted({s for s in secret_values if isinstance(s, str) and len(s) >= 4}, key=len)[
            ::-1
        ]

    def dump(self, value: Any) -> str | None:
        """JSON text for storage, every secret masked: shared rules, then broader ones, then known values."""
        if value is None:
            return None
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        text = json.dumps(
            _redact_more(_shared_redact(value)),
            ensure_ascii=False,
            default=_json_default,
            separators=(",", ":"),
        )
        return self.scrub(text)

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every known secret value replaced by the mask."""
        if text is None:
            return None
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text


def _looks_secret(key: object) -> bool:
    return isinstance(key, str) and _name_looks_secret(key)


@functools.lru_cache(maxsize=4096)  # the same few field names come back on every row
def _name_looks_secret(key: str) -> bool:
    name = _NON_ALNUM.sub("", key.lower())
    return name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS)


def _redact_more(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: (MASK if _looks_secret(k) else _redact_more(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_more(v) for v in obj]
    if isinstance(obj, str) and _CREDENTIAL_VALUE.match(obj):
        return MASK
    return obj


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    return str(obj)  # a Secret prints as its mask
