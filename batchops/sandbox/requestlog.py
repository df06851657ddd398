"""The request log: what each request asked for and what it got, with every secret masked.

Tests read it to check what a client sent. Secrets (tokens, app_secret, Authorization, signatures,
SIP passwords) are replaced by ``[secure]`` before an entry is stored, so no reader can leak them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

MASK = "[secure]"
SECRET_HEADERS = frozenset({"authorization", "x-auth-token", "cookie"})
SECRET_FIELDS = frozenset({"app_secret", "accesstoken", "access_token", "sippwd", "token", "password", "sk"})


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with secret values masked."""
    return {k: (MASK if k in SECRET_HEADERS else v) for k, v in headers.items()}


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
              body: Any) -> LogEntry:
        """Record a request as it arrives (masked) and return its entry, to be completed later."""
        with self._lock:
            self._seq += 1
            entry = LogEntry(self._seq, time, method, path, query, mask_headers(headers), mask_body(body))
            self._entries.append(entry)
        return entry

    def entries(self, path_contains: str = "") -> list[LogEntry]:
        """The entries, oldest first, optionally only those whose path contains a string."""
        with self._lock:
            return [e for e in self._entries if path_contains in e.path]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
