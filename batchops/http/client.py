"""Send ``PreparedCall``s to the AICC servers and get ``CallResult``s back, retrying what is worth retrying.

One ``Client`` per run. It holds an ``httpx.Auth`` per server family (``c1``: the gateway with ``TokenAuth``;
``isales``: CC-iSales with ``AkSkAuth``) and an httpx transport, sync and async, built lazily from ``Settings``;
``exchange.py`` drives the auth flow over the transport. Pass ``transport=`` (``httpx.MockTransport``, the
sandbox's) to talk to something other than a real socket.

What is retried, how often and the run's retry budget are ``retrying.py``'s (``Attempts``); ``send`` and
``asend`` only drive it, one blocking and one on asyncio. When the run's budget runs out the call returns its
last answer, ``budget_exhausted`` turns true and the dispatcher stops the run: an outage must not be hammered.
With a run's ``Limiter`` (``Client.limiter``) every attempt of ``asend`` first waits for its slot, its turn
and any Retry-After pause of the run, and reports its answer back, so that the run finds the gateway's limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .. import __version__
from ..errors import AuthError
from ..settings import Settings
from . import exchange
from .auth import AkSkAuth, TokenAuth
from .calls import CallResult, Family, PreparedCall
from .limiter import Limiter
from .retrying import (
    Attempts,
    RetryBudget,
    RetryPolicy,
    is_throttled,
    retry_after_seconds,
    status_of,
)

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 64
MAX_TEXT_CHARS = 4000
"""A non-JSON answer (a WAF's HTML page) is kept up to this many characters."""

C1_CONTENT_TYPE = "application/json"
USER_AGENT = f"batchops/{__version__}"
USER_ID_HEADER = "x-UserId"
"""The operator id header. The pages document it on the silence-rule calls only (``PreparedCall.operator_id``,
set where each call is built from its page) and disagree whether it is mandatory there; they are silent on
every other call, so it goes there only when ``Settings.user_id_on_every_call`` says so."""


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    """JSON as sent: compact, UTF-8, non-ASCII kept as is (the iSales signature covers these exact bytes)."""
    if body is None:
        return b""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
    overrides it for async. Without either, async calls go through aiohttp (``aio.AiohttpTransport``, each
    answer read whole; aiohttp measured the fastest, bench/RESULTS.dispatch.md), and sync calls through httpx's
    own pool.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        retry: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        token_clock: Callable[[], float] = time.monotonic,
        limiter: Limiter | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry if retry is not None else RetryPolicy()
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
        self.limiter: Limiter | None = limiter
        """The run's limiter: every attempt of ``asend`` waits for it and reports to it (None: no limit)."""
        self.throttled = 0
        """429 answers this client heard (calls and token requests alike)."""

    def __repr__(self) -> str:
        return f"Client(c1={self.settings.base_url!r}, isales={self.settings.isales_url!r}, budget={self.budget!r})"

    # --- state the dispatcher reads ----------------------------------------------------------------------

    @property
    def budget_exhausted(self) -> bool:
        """True once the run's retry budget ran out: the run should stop sending."""
        return self.budget.exhausted

    @property
    def stalled(self) -> bool:
        """True once the run's limiter heard nothing but 429 for its ``stall_seconds``: the run should stop."""
        return self.limiter is not None and self.limiter.stalled

    def stop_retrying(self) -> None:
        """No more retries from now on (the run is stopping): calls in flight end with their next answer, and
        calls waiting for the limiter return unsent. Safe from any thread."""
        self._retries_stopped = True
        if self.limiter is not None:
            self.limiter.close()

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
                from .aio import AiohttpTransport

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
            if (self.settings.user_id and (call.operator_id or self.settings.user_id_on_every_call)
                    and USER_ID_HEADER.lower() not in {k.lower() for k in headers}):
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

    # --- sending ---------------------------------------------------------------------------------------------

    def _attempts(self, *, shared_wait: bool) -> Attempts:
        limiter = self.limiter if shared_wait else None
        return Attempts(self.retry, self.budget, stopped=lambda: self._retries_stopped, shared_wait=shared_wait,
                        stalled=(lambda: limiter.stalled) if limiter is not None else None)

    def _caught(self, exc: BaseException) -> BaseException:
        """An exception from one exchange as an outcome to judge; a final ``AuthError`` is raised."""
        if isinstance(exc, AuthError) and not getattr(exc, "retryable", False):
            raise exc
        return exc

    def send(self, call: PreparedCall) -> CallResult:
        """Send one call (blocking), retrying as ``retrying.py`` says; ``AuthError``/``ConfigError`` propagate.

        Blocking calls do not use the run's limiter (it lives on an event loop): a 429 waits its own
        ``Retry-After``."""
        auth = self._auth(call.family)
        transport = self._sync_transport()
        content = encode_body(call.body)
        self.budget.record_call()
        attempts = self._attempts(shared_wait=False)
        started = time.perf_counter()
        while True:
            outcome: Any
            try:
                outcome = exchange.send(transport, auth, self._build(call, content))
            except (httpx.HTTPError, AuthError) as exc:
                outcome = self._caught(exc)
            wait = self._judge(attempts, outcome)
            if wait is None:
                return self._finish(outcome, attempts, started)
            self._log_retry(call, outcome, attempts, wait)
            self._sleep(wait)

    async def asend(self, call: PreparedCall) -> CallResult:
        """Send one call from asyncio, through the run's limiter when there is one, retrying as
        ``retrying.py`` says; ``AuthError``/``ConfigError`` propagate.

        A call the limiter lets through no more (the run is stopping) returns unsent: ``attempts`` 0, or its
        last answer (a 429) when it had one."""
        auth = self._auth(call.family)
        atransport = self._async_transport()
        content = encode_body(call.body)
        self.budget.record_call()
        limiter = self.limiter
        attempts = self._attempts(shared_wait=limiter is not None)
        started = time.perf_counter()
        outcome: Any = None
        while True:
            sent_at = None
            if limiter is not None:
                # A retry continues a call already begun: it goes ahead of calls not yet sent.
                sent_at = await limiter.acquire(follow_up=True if attempts.sent else None)
                if sent_at is None:
                    return self._unsent(outcome, attempts, started)
            try:
                outcome = await exchange.asend(atransport, auth, self._build(call, content))
            except (httpx.HTTPError, AuthError) as exc:
                outcome = self._caught_releasing(exc, limiter)
            if limiter is not None and sent_at is not None:
                throttled = is_throttled(outcome)
                retry_after = retry_after_seconds(outcome) if throttled and isinstance(outcome, httpx.Response) \
                    else None
                if isinstance(outcome, httpx.Response):
                    limiter.release(sent_at, throttled=throttled, retry_after=retry_after)
                else:
                    limiter.forget()  # no answer: it tells nothing about the server's pace
            wait = self._judge(attempts, outcome)
            if wait is None:
                return self._finish(outcome, attempts, started)
            self._log_retry(call, outcome, attempts, wait)
            await self._async_sleep(wait)

    def _caught_releasing(self, exc: BaseException, limiter: Limiter | None) -> BaseException:
        try:
            return self._caught(exc)
        except AuthError:
            if limiter is not None:
                limiter.forget()
            raise

    def _judge(self, attempts: Attempts, outcome: Any) -> float | None:
        if is_throttled(outcome):
            self.throttled += 1
        return attempts.after(outcome)

    def _log_retry(self, call: PreparedCall, outcome: Any, attempts: Attempts, wait: float) -> None:
        why = f"HTTP {outcome.status_code}" if isinstance(outcome, httpx.Response) else _describe_exception(outcome)
        logger.info("retrying %s %s after %s (attempt %d), in %.2fs", call.method, call.path, why, attempts.sent,
                    wait)

    def _finish(self, outcome: Any, attempts: Attempts, started: float) -> CallResult:
        """The last outcome of a call (response or retryable exception) as its ``CallResult``."""
        elapsed = time.perf_counter() - started
        n = attempts.sent
        if isinstance(outcome, httpx.Response):
            error = None
            if outcome.status_code in self.retry.retry_statuses:  # still busy when the retries ended
                error = f"HTTP {outcome.status_code} after {n} attempt{'s' if n != 1 else ''}"
                if attempts.budget_ran_out:
                    error += "; retry budget exhausted"
            result = to_result(outcome, attempts=n, elapsed=elapsed, error=error)
        else:
            error = _describe_exception(outcome)
            if attempts.budget_ran_out:
                error += "; retry budget exhausted"
            result = CallResult(http_status=status_of(outcome) if is_throttled(outcome) else None, error=error,
                                attempts=n, elapsed=elapsed)
        result.throttled = attempts.throttled
        return result

    def _unsent(self, last: Any, attempts: Attempts, started: float) -> CallResult:
        """A call the run stopped before it could be sent (again): its last answer, if any, else unsent."""
        if last is not None:
            return self._finish(last, attempts, started)
        return CallResult(http_status=None, error="not sent: the run stopped", attempts=0,
                          elapsed=time.perf_counter() - started)

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


__all__ = ["MAX_TEXT_CHARS", "Client", "RetryBudget", "RetryPolicy", "encode_body", "response_text", "to_result"]
