"""One HTTP exchange: an ``httpx.Auth`` flow driven over an httpx transport, the answer read in full.

This is what ``httpx.Client.send`` does for batchops' calls, through httpx's public ``Auth`` and transport
interfaces, without the parts batchops has no use for and that cost CPU on every call of a run: the cookie jar
(batchops authenticates by header; the AICC calls need no cookie, and a jar would carry one gateway's cookies
into every later call), redirect following (off in httpx too: a redirect is an answer), event hooks, and the
per-request log line. Measured: about 0.1 ms less client CPU per call, which at concurrency 16 is several
percent more rows per second, because answers that arrive together wait for each other on the event loop
(bench/RESULTS.apply.md).
"""

from __future__ import annotations

import httpx


def send(transport: httpx.BaseTransport, auth: httpx.Auth, request: httpx.Request) -> httpx.Response:
    """Send ``request`` through ``auth``'s flow (a token fetch, a renewal and retry on 401) and read the answer."""
    flow = auth.sync_auth_flow(request)
    try:
        request = next(flow)
        while True:
            response = _exchange(transport, request)
            try:
                request = flow.send(response)
            except StopIteration:
                return response
            finally:
                response.close()
    finally:
        flow.close()


async def asend(transport: httpx.AsyncBaseTransport, auth: httpx.Auth, request: httpx.Request) -> httpx.Response:
    """``send`` for asyncio."""
    flow = auth.async_auth_flow(request)
    try:
        request = await flow.__anext__()
        while True:
            response = await _aexchange(transport, request)
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response
            finally:
                await response.aclose()
    finally:
        await flow.aclose()


def _exchange(transport: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    try:
        response = transport.handle_request(request)
        response.request = request
        try:
            response.read()
        except BaseException:
            response.close()
            raise
    except httpx.RequestError as exc:
        exc.request = request  # as httpx.Client does: the error names its request
        raise
    return response


async def _aexchange(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    try:
        response = await transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
    except httpx.RequestError as exc:
        exc.request = request
        raise
    return response


__all__ = ["asend", "send"]
