"""The guard in front of every route: Host check, access token, same-origin for changes, safe headers.

One ASGI middleware, so no route (page, API, static file, event stream) can be reached around it:

1. ``Host`` must name the served address (``hosts.HostCheck``): 403 otherwise (DNS rebinding).
2. The token, from ``Authorization: Bearer`` (programs) or the cookie the ``?token=`` link sets
   (HttpOnly, SameSite=Strict), compared in constant time: 401 otherwise. The ``?token=`` link itself
   answers with a redirect to the same page without the token, so the token does not stay in the address
   bar, the history or a ``Referer``.
3. A request that changes something (POST…) authenticated by the cookie must come from the page's own
   origin (``Origin``, else ``Sec-Fetch-Site: same-origin``): 403 otherwise (CSRF). A bearer token is never
   sent by a browser on its own, so programs need no ``Origin``.

Refusals say nothing about what is behind them: the same short text on every route.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .hosts import HostCheck

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_BYTES = 24
"""192 bits of randomness per start (the issue asks for at least 128)."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

UNAUTHORIZED_TEXT = "Unauthorized: open the link that `batchops serve` printed; it carries the access token.\n"
FORBIDDEN_TEXT = "Forbidden.\n"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


def new_token() -> str:
    """A fresh URL-safe access token (``TOKEN_BYTES`` random bytes)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(given: str | None, token: str) -> bool:
    """Compare in constant time, so the answer's timing says nothing about how much of a guess was right."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def cookie_name(port: int) -> str:
    """Cookies are shared by every port of a host; a name per port keeps two servers' tokens apart."""
    return f"batchops_{port}"


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001  (a malformed Cookie header is simply no cookie)
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _answer(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS, *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: every request passes the Host, token and origin checks or gets 401/403."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: HostCheck) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts
        self.cookie = cookie_name(hosts.port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here: refuse before accepting anything
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = _headers(scope)
        if not self.hosts.allows(headers.get("host")):
            await _answer(send, 403, FORBIDDEN_TEXT)
            return
        method = scope["method"]
        if same_token(_bearer(headers), self.token):
            await self.app(scope, receive, self._with_headers(send))
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        link_token = next((v for k, v in query if k == "token"), None)
        if link_token is not None and method in SAFE_METHODS:
            if not same_token(link_token, self.token):
                await _answer(send, 401, UNAUTHORIZED_TEXT, [(b"www-authenticate", b"Bearer")])
                return
            await self._set_cookie_and_redirect(scope, query, send)
            return
        if not same_token(_cookie(headers, self.cookie), self.token):
            await _answer(send, 401, UNAUTHORIZED_TEXT, [(b"www-authenticate", b"Bearer")])
            return
        if method not in SAFE_METHODS and not self._same_origin(headers):
            await _answer(send, 403, FORBIDDEN_TEXT)
            return
        await self.app(scope, receive, self._with_headers(send))

    def _same_origin(self, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is not None:
            return origin.lower() == f"http://{headers.get('host', '').lower()}"
        return headers.get("sec-fetch-site") == "same-origin"

    async def _set_cookie_and_redirect(self, scope: Scope, query: list[tuple[str, str]], send: Send) -> None:
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        path = "/" + quote(scope.get("path", "/")).lstrip("/")  # never "//host": no open redirect
        location = path + (f"?{rest}" if rest else "")
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await _answer(send, 303, "", [(b"location", location.encode("utf-8")), (b"set-cookie", cookie.encode())])

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
            await send(message)

        return send_with_headers
