"""The two AICC authentication schemes as ``httpx.Auth`` (see ../shared/api-notes.md, "Two authentication families").

``TokenAuth``  C1 gateway calls: a token from ``tokenByAkSk``, reused while it lives, renewed shortly before
               ``Expires`` runs out and once on a 401; ``Authorization: Bearer …`` and ``X-APP-Key`` on every call.
               One token fetch at a time, across threads (sync clients) and tasks (async clients).
``AkSkAuth``   CC-iSales calls: each request signed with AK/SK (``auth-v2``), the body sent byte for byte as signed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

from ..errors import AuthError
from ..secrets import MASK, Secret
from .retrying import RETRY_STATUSES

TOKEN_PATH = "/apigovernance/api/oauth/tokenByAkSk"
DEFAULT_TOKEN_TTL = 600
MAX_RENEW_MARGIN = 60.0
"""Renew this many seconds before ``Expires`` runs out at most; 10% of the lifetime for short-lived tokens."""

ISALES_CONTENT_TYPE = "application/json;charset=UTF-8"
AUTH_PREFIX = "auth-v2"
DEFAULT_SIGNED_HEADERS: tuple[str, ...] = ("host",)
DEFAULT_TIMESTAMP_FORMAT = "iso-seconds"


Clock = Callable[[], float]


def _token_error(message: str, *, status: int | None = None, fix: str | None = None) -> AuthError:
    error = AuthError(message, fix=fix)
    # A busy token endpoint (a status retrying.py retries) is retried like any other busy server, a 429 is
    # throttling like any other; a refusal is final.
    error.retryable = status in RETRY_STATUSES  # type: ignore[attr-defined]
    error.status = status  # type: ignore[attr-defined]
    return error


class TokenAuth(httpx.Auth):
    """C1 token authentication for ``httpx.Client`` and ``httpx.AsyncClient``.

    The token request is yielded from the auth flow, so it goes through the client's own transport
    (a mock, the sandbox or production alike). ``clock`` is injectable for tests (monotonic seconds).
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: Secret | str,
        *,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        clock: Clock = time.monotonic,
    ) -> None:
        self.token_url = base_url.rstrip("/") + TOKEN_PATH
        self.app_key = app_key
        self._app_secret = Secret(app_secret) if isinstance(app_secret, str) else app_secret
        self.token_ttl = token_ttl
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._state_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._async_lock_loop: asyncio.AbstractEventLoop | None = None
        self._async_lock_obj = asyncio.Lock()
        self.fetch_count = 0
        """How many tokens were fetched; for tests and the run summary."""

    def __repr__(self) -> str:
        return f"TokenAuth(token_url={self.token_url!r}, app_key={self.app_key!r}, app_secret='{MASK}')"

    # --- token state ---------------------------------------------------------------------------------

    def _valid_token(self, *, not_this: str | None = None) -> str | None:
        """The cached token if it is still good (and is not ``not_this``, which the server just refused)."""
        with self._state_lock:
            if self._token is None or self._token == not_this or self._clock() >= self._renew_at:
                return None
            return self._token

    def _token_request(self, template: httpx.Request) -> httpx.Request:
        body = {"app_key": self.app_key, "app_secret": self._app_secret.reveal()}
        return httpx.Request(
            "POST",
            self.token_url,
            headers={"Content-Type": "application/json", "X-Token-Expire": str(self.token_ttl)},
            content=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            # Keep the caller's timeout: a Request built here has none of the client's extensions.
            extensions={k: v for k, v in template.extensions.items() if k == "timeout"},
        )

    def _accept(self, response: httpx.Response) -> str:
        """Read a tokenByAkSk answer, cache the token and return it; AuthError without the secret otherwise."""
        status = response.status_code
        where = f"The token request to {self.token_url}"
        if status != 200:
            detail = _scrub(response.text[:200], self._app_secret.reveal())
            raise _token_error(
                f"{where} was refused with HTTP {status}" + (f": {detail}" if detail.strip() else "") + ".",
                status=status,
                fix=None
                if status in RETRY_STATUSES
                else "Check the app key and app secret (BATCHOPS_APP_KEY, BATCHOPS_APP_SECRET) and the gateway URL.",
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        token = data.get("AccessToken") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise _token_error(f"{where} answered HTTP 200 without an AccessToken.")
        lifetime = _parse_seconds(data.get("Expires"), default=float(self.token_ttl))
        margin = min(MAX_RENEW_MARGIN, lifetime * 0.1)
        with self._state_lock:
            self._token = token
            self._renew_at = self._clock() + lifetime - margin
            self.fetch_count += 1
        return token

    def _apply(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers["X-APP-Key"] = self.app_key

    # --- flows ----------------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Token, call, and on a 401 one fresh token and one more call; one fetch at a time across threads."""
        token = self._valid_token()
        if token is None:
            with self._fetch_lock:
                token = self._valid_token()
                if token is None:
                    token_response = yield self._token_request(request)
                    token_response.read()
                    token = self._accept(token_response)
        self._apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        refused = token
        with self._fetch_lock:
            # Another thread may have renewed while this call was out: use its token, fetch no other.
            token = self._valid_token(not_this=refused)
            if token is None:
                token_response = yield self._token_request(request)
                token_response.read()
                token = self._accept(token_response)
        self._apply(request, token)
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As ``sync_auth_flow``, with one fetch at a time across the tasks of this event loop."""
        token = self._valid_token()
        if token is None:
            async with self._async_lock():
                token = self._valid_token()
                if token is None:
                    token_response = yield self._token_request(request)
                    await token_response.aread()
                    token = self._accept(token_response)
        self._apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        refused = token
        async with self._async_lock():
            token = self._valid_token(not_this=refused)
            if token is None:
                token_response = yield self._token_request(request)
                await token_response.aread()
                token = self._accept(token_response)
        self._apply(request, token)
        yield request

    def _async_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; a TokenAuth may outlive several (tests, repeated runs).
        loop = asyncio.get_running_loop()
        with self._state_lock:
            if self._async_lock_loop is not loop:
                self._async_lock_loop, self._async_lock_obj = loop, asyncio.Lock()
            return self._async_lock_obj


class AkSkAuth(httpx.Auth):
    """CC-iSales ``auth-v2`` request signing, as in Huawei's demo (api-notes.md, "C2 – AK/SK request signing").

    ``signed_headers``, ``timestamp_format`` and ``always_query_line`` cover the unverified variants seen in
    public ports. ``now`` is injectable for known-answer tests.
    """

    requires_request_body = True

    def __init__(
        self,
        ak: str,
        sk: Secret | str,
        *,
        signed_headers: Iterable[str] = DEFAULT_SIGNED_HEADERS,
        timestamp_format: str = DEFAULT_TIMESTAMP_FORMAT,
        always_query_line: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.ak = ak
        self._sk = Secret(sk) if isinstance(sk, str) else sk
        self.signed_headers = tuple(sorted({h.lower() for h in signed_headers}))
        self.timestamp_format = timestamp_format
        self.always_query_line = always_query_line
        self._now = now
        format_timestamp(datetime.now(timezone.utc), timestamp_format)  # fail early on an unknown format

    def __repr__(self) -> str:
        return f"AkSkAuth(ak={self.ak!r}, sk='{MASK}', signed_headers={self.signed_headers!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign the request as it will be sent: Content-Type set first, the exact body bytes."""
        request.headers["Content-Type"] = ISALES_CONTENT_TYPE
        raw_path, _, raw_query = request.url.raw_path.partition(b"?")
        request.headers["Authorization"] = sign(
            method=request.method,
            path=raw_path.decode("ascii"),
            query=raw_query.decode("ascii"),
            headers=request.headers,
            body=request.content,
            ak=self.ak,
            sk=self._sk.reveal(),
            timestamp=format_timestamp(self._now(), self.timestamp_format),
            signed_headers=self.signed_headers,
            always_query_line=self.always_query_line,
        )
        yield request


def normalize(value: str | bytes) -> str:
    """Percent-encode every UTF-8 byte except ``A-Z a-z 0-9 - . _ ~`` (uppercase hex)."""
    return quote(value, safe="-._~")


def format_timestamp(moment: datetime, fmt: str = DEFAULT_TIMESTAMP_FORMAT) -> str:
    """The signing timestamp in UTC: ``iso-seconds`` (the demo), ``iso-millis`` or ``epoch-millis``."""
    moment = moment.astimezone(timezone.utc)
    if fmt == "iso-seconds":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "iso-millis":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if fmt == "epoch-millis":
        return str(int(moment.timestamp() * 1000))
    raise ValueError(f"unknown timestamp format {fmt!r}")


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Any,
    body: bytes,
    signed_headers: tuple[str, ...],
    always_query_line: bool = False,
) -> str:
    """The canonical request string the signature covers (method, path, [query], headers, normalized body)."""
    lines = [method.upper(), path]
    if query or always_query_line:
        pairs = parse_qsl(query, keep_blank_values=True)
        lines.append("&".join(sorted(f"{normalize(k)}={normalize(v)}" for k, v in pairs)))
    canonical_headers = "\n".join(
        sorted(f"{normalize(name.lower())}:{normalize(headers.get(name, ''))}" for name in signed_headers)
    )
    lines += [";".join(signed_headers), canonical_headers, normalize(body)]
    return "\n".join(lines)


def sign(
    *,
    method: str,
    path: str,
    query: str,
    headers: Any,
    body: bytes,
    ak: str,
    sk: str,
    timestamp: str,
    signed_headers: tuple[str, ...] = DEFAULT_SIGNED_HEADERS,
    always_query_line: bool = False,
) -> str:
    """The ``Authorization`` value: ``auth-v2/AK/timestamp/signedHeaders/signature`` (no scheme word)."""
    signed_headers = tuple(sorted(h.lower() for h in signed_headers))
    prefix = f"{AUTH_PREFIX}/{ak}/{timestamp}/{';'.join(signed_headers)}"
    signing_key = _hmac_hex(sk.encode("utf-8"), prefix)
    canonical = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        signed_headers=signed_headers,
        always_query_line=always_query_line,
    )
    # The demo keys the second HMAC with the hex string of the first, not its raw bytes.
    return f"{prefix}/{_hmac_hex(signing_key.encode('ascii'), canonical)}"


def _hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _parse_seconds(value: Any, *, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, MASK) if secret else text
