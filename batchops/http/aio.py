"""An httpx transport over aiohttp that reads each answer whole: the client's async transport.

``httpx_aiohttp`` (the general-purpose bridge) streams every answer through httpx's chunk iterators, builds
a new URL string, header dictionary and timeout object per request and wraps each chunk in an exception
mapper. batchops' answers are small JSON documents read in full, its URLs a handful per run and its timeout
one for the whole run, so this transport reads the body with one ``read()``, converts each URL and timeout
once, and hands httpx a response that is already read. Measured: bench/RESULTS.apply.md.

Connection and read failures come out as the httpx exceptions the rest of the client judges
(``retrying.is_retryable``): a failure to connect as ``httpx.ConnectError`` or ``ConnectTimeout`` (the
request was certainly not sent), anything after as ``ReadError``/``ReadTimeout``/``RemoteProtocolError``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
from yarl import URL

__all__ = ["AiohttpTransport"]

_HTTP_11 = {"http_version": b"HTTP/1.1"}


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its connection pool) for the requests of a run; see the module docstring."""

    def __init__(self, *, verify: bool = True, limits: httpx.Limits | None = None,
                 trust_env: bool = False) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
        self._limits = limits if limits is not None else httpx.Limits()
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[int, tuple[httpx.URL, URL]] = {}
        self._timeouts: dict[int, tuple[dict[str, Any], aiohttp.ClientTimeout]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its answer whole."""
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open()
        content = request.content
        try:
            async with session.request(
                request.method, self._url(request.url), headers=request.headers.multi_items(),
                data=content or None, allow_redirects=False, auto_decompress=False,
                timeout=self._timeout(request.extensions.get("timeout")),
            ) as answer:
                body = await answer.read()
                status, raw_headers, reason = answer.status, answer.raw_headers, answer.reason
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc, request) from exc
        except asyncio.TimeoutError as exc:  # aiohttp's total timeout
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        extensions = {**_HTTP_11, "reason_phrase": reason.encode()} if reason else _HTTP_11
        # httpx decodes a Content-Encoding itself when it reads the content (auto_decompress is off).
        return httpx.Response(status, headers=raw_headers, content=body, request=request, extensions=extensions)

    def _open(self) -> aiohttp.ClientSession:
        limits = self._limits
        connector = aiohttp.TCPConnector(limit=limits.max_connections or 0, ssl=self._ssl,
                                         keepalive_timeout=limits.keepalive_expiry or 0)
        # No cookie jar: batchops authenticates by header, and a jar would carry one answer's cookies into
        # every later call of the run.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def _url(self, url: httpx.URL) -> URL:
        # The client hands over the same httpx.URL object for every call to a path: convert each one once.
        key = id(url)
        known = self._urls.get(key)
        if known is not None and known[0] is url:
            return known[1]
        converted = URL(str(url), encoded=True)
        if len(self._urls) < 1024:
            self._urls[key] = (url, converted)
        return converted

    def _timeout(self, given: dict[str, Any] | None) -> aiohttp.ClientTimeout:
        given = given or {}
        key = id(given)
        known = self._timeouts.get(key)
        if known is not None and known[0] is given:
            return known[1]
        timeout = aiohttp.ClientTimeout(connect=given.get("pool"), sock_connect=given.get("connect"),
                                        sock_read=given.get("read"))
        if len(self._timeouts) < 16:
            self._timeouts[key] = (given, timeout)
        return timeout

    async def aclose(self) -> None:
        """Close the session and its connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _as_httpx(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for an aiohttp one: whether the request can have reached the server is kept."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(text, request=request)
    return httpx.ReadError(text, request=request)
