"""C1 access tokens: issued by tokenByAkSk, checked on every gateway call, expiring for real."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    """One issued token."""

    value: str
    app_key: str
    created: float
    expires_at: float


class TokenStore:
    """The live tokens. There is no refresh: a client asks for a new token before ``Expires``."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, app_key: str, now: float, ttl: int) -> Token:
        """A new token for ``app_key`` living ``ttl`` seconds."""
        token = Token(secrets.token_hex(24), app_key, now, now + ttl)
        with self._lock:
            if len(self._tokens) > 10_000:  # a long run asks for many tokens: drop the dead ones
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token.value] = token
            self.issued += 1
        return token

    def check(self, value: str, now: float) -> Token | None:
        """The live token with this value, or None when unknown or expired."""
        token = self._tokens.get(value)
        if token is None or token.expires_at <= now:
            return None
        return token

    def expire_all(self) -> None:
        """Revoke every token (as a gateway restart or a key rotation would)."""
        with self._lock:
            self._tokens.clear()
