"""Send ``PreparedCall``s to the AICC servers and get ``CallResult``s back, retrying what is worth retrying.

One ``Client`` per run. It holds an ``httpx.Auth`` per server family (``c1``: the gateway with ``TokenAuth``;
``isales``: CC-iSales with ``AkSkAuth``) and an httpx transport, sync and async, built lazily from ``Settings``;
``exchange.py`` drives the auth flow over the transport. Pass ``transport=`` (``httpx.MockTransport``, the
sandbox's) to talk to something other than a real socket.

Retry policy (issue 4): connection errors, timeouts, 429 (``Retry-After`` honoured) and 502/503/504 are retried
with exponential backoff and full jitter, up to ``RetryPolicy.max_attempts`` per call, and only while the run's
shared ``RetryBudget`` lasts. When it runs out the call returns its last answer, ``budget_exhausted`` turns
true and the dispatcher stops the run: an outage must not be hammered. Never retried: 400, 401 (``TokenAuth``
has already renewed once), 403, 404, 500, and any HTTP 200, whatever its return code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, RetryError, Retrying
from tenacity.wait import wait_random_exponential

from . import __version__, exchange
from .auth import AkSkAuth, TokenAuth
from .calls import CallResult, Family, PreparedCall
from .errors import AuthError
from .settings import Settings

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_MAX_RETRY_AFTER = 120.0
DEFAULT_BUDGET_INITIAL = 20.0
DEFAULT_BUDGET_PER_CALL = 0.5
DEFAULT_BUDGET_CAP = 100.0
DEFAULT_MAX_CONNECTIONS = 64
MAX_TEXT_CHARS = 4000
"""A non-JSON answer (a WAF's HTML page) is kept up to this many characters."""

C1_CONTENT_TYPE = "application/json"
USER_AGENT = f"batchops/{__version__}"
USER_ID_HEADER = "x-UserId"
"""The operator id, sent on C1 calls when ``Settings.user_id`` is set (the silence-rule calls need it)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How one call is retried: attempts cap, backoff window (full jitter), longest ``Retry-After`` obeyed."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    retry_statuses: frozenset[int] = RETRY_STATUSES


class RetryBudget:
    """Retries shared by every call of a run: a bucket that each call fills by ``per_call`` up to ``cap`` and
    each retry empties by one. Once a retry finds it empty it stays exhausted: the run should stop.

    With the defaults a run tolerates a steady 1 retry per 2 calls (10% 503 plus 5% 429 is about 0.18),
    while an outage, where every call wants ``max_attempts - 1`` retries, drains it within a few dozen calls.
    """

    def __init__(
        self,
        initial: float = DEFAULT_BUDGET_INITIAL,
        per_call: float = DEFAULT_BUDGET_PER_CALL,
        cap: float = DEFAULT_BUDGET_CAP,
    ) -> None:
        self.balance = float(initial)
        self.per_call = per_call
        self.cap = cap
        self.retries = 0
        self.exhausted = False
        self._lock = threading.Lock()

    def record_call(self) -> None:
        """A new call started: it earns the run a little more room to retry."""
        with self._lock:
            self.balance = min(self.cap, self.balance + self.per_call)

    def try_spend(self) -> bool:
        """Take one retry from the budget; False (and exhausted from now on) when there is none left."""
        with self._lock:
            if self.exhausted or self.balance < 1:
                self.exhausted = True
                return False
            self.balance -= 1
            self.retries += 1
            return True

    def __repr__(self) -> str:
        return f"RetryBudget(balance={self.balance:.1f}, retries={self.retries}, exhausted={self.exhausted})"


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    """JSON as sent: compact, UTF-8, non-ASCII kept as is (the iSales signature covers these exact bytes)."""
    if body is None:
        return b""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def response_text(response: httpx.Response) -> str:
    """The answer's text in its declared charset, UTF-8 when none is declared (JSON's own), undecodable bytes
    replaced. (httpx's ``Response.text`` parses the Content-Type with the email package: measured ~30 µs a
    call, several percent of a run's event-loop time.)"""
    content = response.content
    if not content:
        return ""
    match = _CHARSET.search(response.headers.get("content-type", ""))
    charset = match.group(1) if match else "utf-8"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")


def to_result(response: httpx.Response, *, attempts: int, elapsed: float, error: str | None = None) -> CallResult:
    """Turn an answer into a ``CallResult``: parsed JSON in ``body`` when it is JSON, never an exception."""
    text = response_text(response)
    body: Any = None
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    if body is None and len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "…"
    return CallResult(
        http_status=response.status_code, body=body, text=text, error=error, attempts=attempts, elapsed=elapsed
    )


def _describe_exception(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name


class Client:
    """Sends calls for one run: ``send`` (blocking) and ``asend`` (asyncio) share the retry budget and token.

    ``transport`` serves both sync and async calls (``httpx.MockTransport`` does both); ``async_transport``
    overrides it for async. Without either, async calls go through aiohttp (``httpx_aiohttp``), measured the
    fastest (bench/RESULTS.dispatch.md), and sync calls through httpx's own pool.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        retry: RetryPolicy = RetryPolicy(),
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        token_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.retry = retry
        self.budget = budget if budget is not None else RetryBudget()
        self._given = transport
        self._given_async = async_transport
        if async_transport is None and isinstance(transport, httpx.AsyncBaseTransport):
            self._given_async = transport
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._timeout = httpx.Timeout(settings.timeout)
        self._timeout_ext = self._timeout.as_dict()
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._token_clock = token_clock
        self._auths: dict[Family, httpx.Auth] = {}
        self._sync_conn: httpx.BaseTransport | None = None  # made on first use, closed by close()
        self._async_conn: httpx.AsyncBaseTransport | None = None  # made on first use, closed by aclose()
        self._lock = threading.Lock()
        self._retries_stopped = False
        self._wait_backoff = wait_random_exponential(multiplier=retry.backoff_base, max=retry.backoff_max)

    def __repr__(self) -> str:
        return f"Client(c1={self.settings.base_url!r}, isales={self.settings.isales_url!r}, budget={self.budget!r})"

    # --- state the dispatcher reads ----------------------------------------------------------------------

    @property
    def budget_exhausted(self) -> bool:
        """True once the run's retry budget ran out: the run should stop sending."""
        return self.budget.exhausted

    def stop_retrying(self) -> None:
        """No more retries from now on (the run is stopping): calls in flight end with their next answer."""
        self._retries_stopped = True

    def require(self, family: Family) -> None:
        """Raise ``ConfigError`` now if the settings for ``family`` are missing (instead of at the first call)."""
        self._auth(family)

    def prepare_async(self) -> None:
        """Build the async transport now (importing aiohttp and loading the CA certificates take ~0.2 s), so
        that it is start-up and the first calls of a run do not wait for it."""
        self._async_transport()

    # --- building ------------------------------------------------------------------------------------------

    def _auth(self, family: Family) -> httpx.Auth:
        with self._lock:
            auth = self._auths.get(family)
            if auth is not None:
                return auth
            s = self.settings
            if family == "c1":
                s.require_c1()
                assert s.base_url and s.app_key and s.app_secret
                auth = TokenAuth(s.base_url, s.app_key, s.app_secret, token_ttl=s.token_ttl, clock=self._token_clock)
            elif family == "isales":
                s.require_isales()
                assert s.isales_ak and s.isales_sk
                auth = AkSkAuth(
                    s.isales_ak,
                    s.isales_sk,
                    signed_headers=s.isales_signed_headers,
                    timestamp_format=s.isales_timestamp_format,
                    always_query_line=s.isales_always_query_line,
                )
            else:
                raise ValueError(f"unknown call family {family!r}")
            self._auths[family] = auth
            return auth

    def _base_url(self, family: Family) -> str:
        url = self.settings.base_url if family == "c1" else self.settings.isales_url
        assert url is not None  # _auth has required it
        return url

    def _sync_transport(self) -> httpx.BaseTransport:
        with self._lock:
            if self._sync_conn is None:
                self._sync_conn = self._given or httpx.HTTPTransport(
                    verify=self.settings.verify_tls, limits=self._limits, trust_env=False
                )
            return self._sync_conn

    def _async_transport(self) -> httpx.AsyncBaseTransport:
        if self._async_conn is None:
            transport = self._given_async
            if transport is None:
                from httpx_aiohttp import AiohttpTransport

                transport = AiohttpTransport(verify=self.settings.verify_tls, limits=self._limits, trust_env=False)
            self._async_conn = transport
        return self._async_conn

    def _url(self, family: Family, path: str) -> httpx.URL:
        # Rows of one operation share a few paths: parse each URL once, not once per row (measured: ~0.1 ms).
        key = (family, path)
        url = self._urls.get(key)
        if url is None:
            base = self._base_url(family)
            url = httpx.URL(path if path.startswith(("http://", "https://")) else base + "/" + path.lstrip("/"))
            if len(self._urls) < 1024:
                self._urls[key] = url
        return url

    def _build(self, call: PreparedCall, content: bytes) -> httpx.Request:
        headers = {"User-Agent": USER_AGENT, **call.headers}
        if call.family == "c1":
            headers.setdefault("Content-Type", C1_CONTENT_TYPE)
            if self.settings.user_id and USER_ID_HEADER.lower() not in {k.lower() for k in headers}:
                headers[USER_ID_HEADER] = self.settings.user_id
        # Built directly rather than by client.build_request: no default headers or cookies to merge, and
        # the URL comes from the cache above.
        return httpx.Request(
            call.method,
            self._url(call.family, call.path),
            headers=headers,
            content=content or None,
            extensions={"timeout": self._timeout_ext},
        )

    # --- retry decisions (shared by sync and async) --------------------------------------------------------

    def _should_retry(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            exc = outcome.exception()
            return isinstance(exc, httpx.TransportError) or bool(getattr(exc, "retryable", False))
        return outcome.result().status_code in self.retry.retry_statuses

    def _should_stop(self, state: RetryCallState) -> bool:
        if self._retries_stopped or state.attempt_number >= self.retry.max_attempts:
            return True
        return not self.budget.try_spend()

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            seconds = retry_after_seconds(outcome.result())
            if seconds is not None:
                return min(seconds, self.retry.max_retry_after)
        return float(self._wait_backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome
        assert outcome is not None
        exc = outcome.exception()  # None exactly when the attempt did not fail
        why = _describe_exception(exc) if exc is not None else f"HTTP {outcome.result().status_code}"
        call = state.args[1] if len(state.args) > 1 else None
        where = f"{call.method} {call.path}" if isinstance(call, PreparedCall) else "call"
        sleep = state.next_action.sleep if state.next_action else 0.0
        logger.info("retrying %s after %s (attempt %d), in %.2fs", where, why, state.attempt_number, sleep)

    def _retry_kwargs(self) -> dict[str, Any]:
        return {
            "retry": self._should_retry,
            "stop": self._should_stop,
            "wait": self._wait,
            "before_sleep": self._log_retry,
            "reraise": False,
        }

    def _finish(self, outcome: Any, attempts: int, started: float) -> CallResult:
        """The last outcome of a call (response or retryable exception) as its ``CallResult``."""
        elapsed = time.perf_counter() - started
        if isinstance(outcome, httpx.Response):
            error = None
            if outcome.status_code in self.retry.retry_statuses:  # still busy when the retries ended
                error = f"HTTP {outcome.status_code} after {attempts} attempt{'s' if attempts != 1 else ''}"
                if self.budget.exhausted:
                    error += "; retry budget exhausted"
            return to_result(outcome, attempts=attempts, elapsed=elapsed, error=error)
        error = _describe_exception(outcome)
        if self.budget.exhausted:
            error += "; retry budget exhausted"
        return CallResult(http_status=None, error=error, attempts=attempts, elapsed=elapsed)

    # --- sending ---------------------------------------------------------------------------------------------

    def _first_needs_retry(self, outcome: Any) -> bool:
        if isinstance(outcome, httpx.Response):
            return outcome.status_code in self.retry.retry_statuses
        return isinstance(outcome, httpx.TransportError) or bool(getattr(outcome, "retryable", False))

    def send(self, call: PreparedCall) -> CallResult:
        """Send one call (blocking), retrying as the policy allows; ``AuthError``/``ConfigError`` propagate."""
        auth = self._auth(call.family)
        transport = self._sync_transport()
        content = encode_body(call.body)
        self.budget.record_call()
        started = time.perf_counter()
        attempts = 1
        outcome: Any
        try:
            outcome = exchange.send(transport, auth, self._build(call, content))
        except (httpx.HTTPError, AuthError) as exc:
            if isinstance(exc, AuthError) and not getattr(exc, "retryable", False):
                raise
            outcome = exc
        if not self._first_needs_retry(outcome):
            return self._finish(outcome, attempts, started)

        # The first attempt ran outside tenacity (measured: it costs ~0.1 ms a call); replay its outcome.
        def attempt(_transport: httpx.BaseTransport, _call: PreparedCall) -> httpx.Response:
            nonlocal attempts, outcome
            if outcome is not None:
                first, outcome = outcome, None
                if isinstance(first, BaseException):
                    raise first
                return first
            attempts += 1
            return exchange.send(_transport, auth, self._build(_call, content))

        retrying = Retrying(sleep=self._sleep, **self._retry_kwargs())
        try:
            last: Any = retrying(attempt, transport, call)
        except RetryError as exc:
            final = exc.last_attempt
            last = final.exception() if final.failed else final.result()
        except httpx.HTTPError as exc:  # not retryable: a bad URL, too many redirects, a decoding error
            last = exc
        return self._finish(last, attempts, started)

    async def asend(self, call: PreparedCall) -> CallResult:
        """Send one call from asyncio, retrying as the policy allows; ``AuthError``/``ConfigError`` propagate."""
        auth = self._auth(call.family)
        atransport = self._async_transport()
        content = encode_body(call.body)
        self.budget.record_call()
        started = time.perf_counter()
        attempts = 1
        outcome: Any
        try:
            outcome = await exchange.asend(atransport, auth, self._build(call, content))
        except (httpx.HTTPError, AuthError) as exc:
            if isinstance(exc, AuthError) and not getattr(exc, "retryable", False):
                raise
            outcome = exc
        if not self._first_needs_retry(outcome):
            return self._finish(outcome, attempts, started)

        async def attempt(_transport: httpx.AsyncBaseTransport, _call: PreparedCall) -> httpx.Response:
            nonlocal attempts, outcome
            if outcome is not None:
                first, outcome = outcome, None
                if isinstance(first, BaseException):
                    raise first
                return first
            attempts += 1
            return await exchange.asend(_transport, auth, self._build(_call, content))

        retrying = AsyncRetrying(sleep=self._async_sleep, **self._retry_kwargs())
        try:
            last: Any = await retrying(attempt, atransport, call)
        except RetryError as exc:
            final = exc.last_attempt
            last = final.exception() if final.failed else final.result()
        except httpx.HTTPError as exc:
            last = exc
        return self._finish(last, attempts, started)

    # --- closing ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync connections this client opened (a transport passed in is the caller's to close)."""
        conn, self._sync_conn = self._sync_conn, None
        if conn is not None and conn is not self._given:
            conn.close()

    async def aclose(self) -> None:
        """Close the async connections (they belong to the running event loop); a later ``asend`` opens new
        ones. A transport passed in is the caller's to close."""
        conn, self._async_conn = self._async_conn, None
        if conn is not None and conn is not self._given_async:
            await conn.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
        self.close()
