"""The request log: what each request asked for and what it got, with every secret masked.

Tests read it to check what a client sent. Secrets (tokens, app_secret, Authorization, signatures,
SIP passwords) are replaced by ``[secure]``: the Authorization header before an entry is stored, and
the body when an entry is read (parsing and masking every body as it arrives would cost the server a
third of its speed; a body is only ever handed out masked).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MASK = "[secure]"
SECRET_HEADERS = frozenset({"authorization", "x-auth-token", "cookie"})
SECRET_FIELDS = frozenset({"app_secret", "accesstoken", "access_token", "sippwd", "token", "password", "sk"})


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with secret values masked (a copy)."""
    if "authorization" in headers and len(headers.keys() & SECRET_HEADERS) == 1:
        return {**headers, "authorization": MASK}  # the common case, in a microsecond
    return {k: (MASK if k in SECRET_HEADERS else v) for k, v in headers.items()}


def masked_body(raw: bytes | None) -> Any:
    """A request body as the log shows it: parsed JSON with secrets masked, or masked text."""
    if not raw:
        return None
    try:
        return mask_body(json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        text = raw[:2000].decode("utf-8", "replace")
        lowered = text.lower()
        # Unparseable text may still hold a secret: mask it whole rather than guess where it is.
        return "[unparseable body, masked]" if any(f in lowered for f in SECRET_FIELDS) else text


def mask_body(value: Any) -> Any:
    """A JSON value with every secret field masked, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if k.lower() in SECRET_FIELDS else mask_body(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_body(v) for v in value]
    return value


@dataclass
class LogEntry:
    """One request as the sandbox saw it."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    """The JSON body (secrets masked), or its text when it is not JSON."""
    status: int = 0
    code: str | None = None
    """The answer's returnCode or resultCode, when it had one."""
    fault: str | None = None
    record: str | None = None
    """The key of the record the request changed (only when an update was applied)."""
    detail: str | None = None
    """Why a request was refused (validation or authentication), for a developer reading the log."""
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values."""
        return asdict(self)


class RequestLog:
    """A bounded, thread-safe list of LogEntry, oldest dropped first."""

    def __init__(self, limit: int) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def start(self, *, time: float, method: str, path: str, query: str, headers: dict[str, str],
              body: bytes) -> LogEntry:
        """Record a request as it arrives and return its entry, to be completed when it is answered.

        The stored entry keeps the raw body; ``entries()`` hands out copies with the body masked.
        """
        with self._lock:
            self._seq += 1
            entry = LogEntry(self._seq, time, method, path, query, mask_headers(headers), body)
            self._entries.append(entry)
        return entry

    def entries(self, path_contains: str = "") -> list[LogEntry]:
        """Masked copies of the entries, oldest first, optionally only those whose path contains a string."""
        with self._lock:
            chosen = [e for e in self._entries if path_contains in e.path]
        return [replace(e, body=masked_body(e.body), headers=dict(e.headers), extra=dict(e.extra))
                for e in chosen]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
