"""The client's async transport (batchops/http/aio.py) over real sockets on 127.0.0.1: what the rest of the client
relies on from it (failures classified as httpx's, gzip decoded, no redirects, no cookies, iSales signatures)."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from batchops.http.aio import AiohttpTransport
from batchops.http.calls import PreparedCall
from batchops.http.client import Client
from batchops.http.retrying import RetryPolicy, is_retryable
from batchops.settings import load_settings

HANG = threading.Event()
"""Set when a test ends: a request to /hang waits for it (an answer that never comes in time)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers: dict[str, str] = {"Content-Type": "application/json"}
        status = 200
        if self.path == "/hang":
            HANG.wait(10)
            payload = b"{}"
        elif self.path == "/close":
            self.close_connection = True  # the connection closes with no answer at all
            return
        elif self.path == "/gzip":
            payload = gzip.compress(json.dumps({"returnCode": "0", "returnDesc": "张三"}).encode())
            headers["Content-Encoding"] = "gzip"
        elif self.path == "/redirect":
            status, payload = 302, b""
            headers["Location"] = "/elsewhere"
        else:
            payload = json.dumps({"path": self.path, "method": self.command, "body": body.decode(),
                                  "cookie": self.headers.get("Cookie"),
                                  "content_type": self.headers.get("Content-Type")}).encode()
            headers["Set-Cookie"] = "route=abc; Path=/"
        self.send_response(status, "Moved Temporarily" if status == 302 else None)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 with a few misbehaving paths; yields its base URL."""
    HANG.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    HANG.set()
    httpd.shutdown()
    httpd.server_close()


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exchange(*requests: httpx.Request, limits: httpx.Limits | None = None) -> list[httpx.Response | Exception]:
    """Send ``requests`` one after another through one transport; each answer or the exception it raised."""

    async def main() -> list[httpx.Response | Exception]:
        transport = AiohttpTransport(limits=limits)
        out: list[httpx.Response | Exception] = []
        try:
            for request in requests:
                try:
                    response = await transport.handle_async_request(request)
                    await response.aread()
                    out.append(response)
                except httpx.HTTPError as exc:
                    out.append(exc)
        finally:
            await transport.aclose()
        return out

    return asyncio.run(main())


def timeout(seconds: float) -> dict[str, Any]:
    return {"timeout": httpx.Timeout(seconds).as_dict()}


def test_an_answer_is_read_whole_with_its_status_headers_and_reason(server: str) -> None:
    request = httpx.Request("POST", f"{server}/x?a=1", content=b'{"id":"1"}',
                            headers={"Content-Type": "application/json"}, extensions=timeout(5))
    [response] = exchange(request)
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200 and response.reason_phrase == "OK"
    assert response.json()["path"] == "/x?a=1" and response.json()["body"] == '{"id":"1"}'
    assert response.json()["content_type"] == "application/json"
    assert response.headers["Content-Type"] == "application/json"


def test_a_gzip_answer_is_decoded(server: str) -> None:
    [response] = exchange(httpx.Request("GET", f"{server}/gzip", extensions=timeout(5)))
    assert isinstance(response, httpx.Response)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json() == {"returnCode": "0", "returnDesc": "张三"}


def test_a_redirect_is_an_answer_not_followed(server: str) -> None:
    [response] = exchange(httpx.Request("POST", f"{server}/redirect", extensions=timeout(5)))
    assert isinstance(response, httpx.Response)
    assert response.status_code == 302 and response.headers["Location"] == "/elsewhere"
    assert response.reason_phrase == "Moved Temporarily"


def test_cookies_an_answer_sets_are_not_sent_back(server: str) -> None:
    first, second = exchange(httpx.Request("POST", f"{server}/a", extensions=timeout(5)),
                             httpx.Request("POST", f"{server}/b", extensions=timeout(5)))
    assert isinstance(first, httpx.Response) and isinstance(second, httpx.Response)
    assert first.headers["Set-Cookie"] == "route=abc; Path=/"
    assert second.json()["cookie"] is None


def test_a_refused_connection_is_a_connect_error_never_sent() -> None:
    [error] = exchange(httpx.Request("POST", f"http://127.0.0.1:{_refused_port()}/x", extensions=timeout(5)))
    assert isinstance(error, httpx.ConnectError)
    assert error.request.url.path == "/x" and is_retryable(error)


def test_an_answer_slower_than_the_read_timeout_is_a_read_timeout(server: str) -> None:
    [error] = exchange(httpx.Request("POST", f"{server}/hang", extensions=timeout(0.2)))
    assert isinstance(error, httpx.ReadTimeout) and is_retryable(error)


def test_waiting_longer_than_the_pool_timeout_for_a_connection_is_a_connect_timeout(server: str) -> None:
    # One connection allowed and held by a request that hangs: the second one is never sent.
    async def main() -> tuple[Any, Any]:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=1))
        try:
            hung = asyncio.ensure_future(transport.handle_async_request(
                httpx.Request("POST", f"{server}/hang", extensions=timeout(5))))
            await asyncio.sleep(0)
            waiting = transport.handle_async_request(
                httpx.Request("POST", f"{server}/x", extensions={"timeout": {"connect": 5, "read": 5, "write": 5,
                                                                             "pool": 0.2}}))
            second = await asyncio.gather(waiting, return_exceptions=True)
            HANG.set()
            first = await asyncio.gather(hung, return_exceptions=True)
            return first[0], second[0]
        finally:
            await transport.aclose()

    first, second = asyncio.run(main())
    assert isinstance(first, httpx.Response) and first.status_code == 200
    assert isinstance(second, httpx.ConnectTimeout) and is_retryable(second)


def test_a_connection_closed_without_an_answer_is_a_protocol_error(server: str) -> None:
    [error] = exchange(httpx.Request("POST", f"{server}/close", extensions=timeout(5)))
    assert isinstance(error, httpx.RemoteProtocolError) and is_retryable(error)


def test_the_client_sends_through_it_by_default_and_retries_a_refused_connection(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    settings = load_settings(env={"BATCHOPS_BASE_URL": f"http://127.0.0.1:{_refused_port()}",
                                  "BATCHOPS_APP_KEY": "key", "BATCHOPS_APP_SECRET": "secret"}, config_path=config)

    async def main() -> Any:
        async with Client(settings, retry=RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.001),
                          async_sleep=lambda _: asyncio.sleep(0)) as client:
            assert isinstance(client._async_transport(), AiohttpTransport)
            return await client.asend(PreparedCall("c1", "POST", "/x", {}))

    result = asyncio.run(main())
    assert result.http_status is None and result.attempts == 2
    assert result.error is not None and result.error.startswith("ConnectError: ")


def test_the_sandbox_answers_c1_and_signed_isales_calls_through_it(sandbox: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    settings = load_settings(env=sandbox.env(), config_path=config)
    record = sandbox.sandbox.agent_settings()[0]
    vdn = sandbox.options.vdn_ids[0]

    async def main() -> list[Any]:
        async with Client(settings) as client:
            return [await client.asend(PreparedCall(
                        "c1", "POST", "/apiaccess/CC-Management/v1/openapp/agentsettings/update",
                        {"id": record["id"], "userId": record["userId"], "callNumber": ["075512345678"]})),
                    await client.asend(PreparedCall("isales", "POST", f"/rest/isales/v1/openapi/campaigns/{vdn}"
                                                    "/appoint/update", {"appointId": "no-such-appointment"}))]

    c1, isales = asyncio.run(main())
    assert c1.http_status == 200 and c1.body["returnCode"] == "0"
    # The AK/SK signature over the exact bytes sent was accepted: the answer is about the appointment.
    assert isales.http_status == 200 and isales.body["returnCode"] != "0", isales
