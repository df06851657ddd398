"""Client: retries, budget, results, body encoding; MockTransport for edge cases, loopback for a real socket."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from batchops.errors import AuthError, ConfigError
from batchops.http.calls import CallResult, PreparedCall
from batchops.http.client import MAX_TEXT_CHARS, Client, RetryBudget, RetryPolicy, encode_body
from batchops.settings import Settings, load_settings

APP_SECRET, ISALES_SK = "app-secret-0123456789", "isales-sk-0123456789"
ENV = {
    "BATCHOPS_BASE_URL": "https://gw.example.com:28070",
    "BATCHOPS_APP_KEY": "app-key-1",
    "BATCHOPS_APP_SECRET": APP_SECRET,
    "BATCHOPS_ISALES_URL": "https://isales.example.com:28050",
    "BATCHOPS_ISALES_AK": "AK-1",
    "BATCHOPS_ISALES_SK": ISALES_SK,
    "BATCHOPS_USER_ID": "op-7",
}
CALL = PreparedCall("c1", "POST", "/CC-Management/v1/openapp/agentsettings/update", {"id": "1", "agentName": "张三"})
FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.002)


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    """Settings for both server families, no config file."""
    return load_settings(env=ENV, config_path=_empty_config(tmp_path))


def _empty_config(tmp_path: Any) -> Any:
    path = tmp_path / "config.toml"
    path.write_text("")
    return path


class Server:
    """A scripted mock server: answers from a list of responses (the last one repeats); tokens always work."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokenByAkSk"):
            self.tokens += 1
            return httpx.Response(200, json={"AccessToken": f"tok-{self.tokens}-abcdefgh", "Expires": "600"})
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def ok(**extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"returnCode": "0", **extra})


def make_client(settings: Settings, server: Server, sleeps: list[float] | None = None, **kw: Any) -> Client:
    recorded = sleeps if sleeps is not None else []
    kw.setdefault("retry", FAST)
    return Client(settings, transport=httpx.MockTransport(server), sleep=recorded.append, **kw)


def test_success_and_request_shape(settings: Settings) -> None:
    server = Server(ok())
    result = make_client(settings, server).send(CALL)
    assert result == CallResult(http_status=200, body={"returnCode": "0"}, text='{"returnCode":"0"}',
                                attempts=1, elapsed=result.elapsed)
    request = server.requests[0]
    assert str(request.url) == "https://gw.example.com:28070/CC-Management/v1/openapp/agentsettings/update"
    assert request.content == '{"id":"1","agentName":"张三"}'.encode()
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer tok-1-abcdefgh"
    assert request.headers["X-APP-Key"] == "app-key-1"
    assert "x-UserId" not in request.headers  # the pages document it on the silence-rule calls only


def test_operator_id_goes_where_the_pages_document_it_or_everywhere_when_told(settings: Settings,
                                                                             tmp_path: Any) -> None:
    silence = PreparedCall("c1", "POST", "/CCSQM/rest/ccisqm/v1/silencerule/updateSilenceRule", {},
                           operator_id=True)
    server = Server(ok())
    client = make_client(settings, server)
    client.send(silence)
    client.send(CALL)
    assert [r.headers.get("x-UserId") for r in server.requests] == ["op-7", None]
    everywhere = load_settings(env={**ENV, "BATCHOPS_USER_ID_ON_EVERY_CALL": "true"},
                               config_path=_empty_config(tmp_path))
    server = Server(ok())
    make_client(everywhere, server).send(CALL)
    assert server.requests[0].headers["x-UserId"] == "op-7"


def test_encode_body_is_compact_utf8() -> None:
    assert encode_body({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    assert encode_body(None) == b""


def test_isales_calls_are_signed(settings: Settings) -> None:
    server = Server(httpx.Response(200, json={"resultCode": "0200000"}))
    call = PreparedCall("isales", "POST", "/rest/isales/v1/openapi/campaigns/9/appoint/update", {"appointId": "1"})
    make_client(settings, server).send(call)
    request = server.requests[0]
    assert request.headers["Authorization"].startswith("auth-v2/AK-1/")
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "x-UserId" not in request.headers and server.tokens == 0


def test_retry_on_503_then_success(settings: Settings) -> None:
    sleeps: list[float] = []
    server = Server(httpx.Response(503), httpx.Response(502), ok())
    result = make_client(settings, server, sleeps).send(CALL)
    assert (result.http_status, result.attempts, result.error) == (200, 3, None)
    # equal jitter: each wait in the upper half of its doubling window
    assert len(sleeps) == 2 and 0.0005 <= sleeps[0] <= 0.001 and 0.001 <= sleeps[1] <= 0.002


def test_a_calls_retries_ride_out_a_short_outage_whatever_the_jitter_draws() -> None:
    # A restart of a few seconds must fail no row: the retries of one call, with the defaults, wait 3.75 s at
    # the least (and 7.5 s at the most), for every draw of the jitter, not on average.
    policy = RetryPolicy()
    assert policy.shortest_span() == 0.25 + 0.5 + 1 + 2
    for seed in range(200):
        rng = random.Random(seed)
        waits = [policy.backoff(n, rng) for n in range(1, policy.max_attempts)]
        assert all(0.25 * 2 ** i <= w <= 0.5 * 2 ** i for i, w in enumerate(waits))
        assert 3.75 <= sum(waits) <= 7.5
    capped = RetryPolicy(backoff_base=10, backoff_max=12)
    assert 5 <= capped.backoff(1, random.Random(0)) <= 10
    assert all(6 <= capped.backoff(n, random.Random(n)) <= 12 for n in range(2, 8))  # the cap holds too


def test_429_honours_retry_after_seconds_and_dates(settings: Settings) -> None:
    sleeps: list[float] = []
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    server = Server(httpx.Response(429, headers={"Retry-After": "3"}),
                    httpx.Response(429, headers={"Retry-After": later}), ok())
    result = make_client(settings, server, sleeps).send(CALL)
    assert result.http_status == 200 and result.attempts == 3
    assert sleeps[0] == 3.0 and 25 < sleeps[1] <= 30


def test_retry_after_is_capped(settings: Settings) -> None:
    sleeps: list[float] = []
    server = Server(httpx.Response(429, headers={"Retry-After": "86400"}), ok())
    make_client(settings, server, sleeps, retry=RetryPolicy(max_retry_after=60)).send(CALL)
    assert sleeps == [60]


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_no_retry_on_client_errors_and_500(settings: Settings, status: int) -> None:
    server = Server(httpx.Response(status, json={"returnCode": "x"}), ok())
    result = make_client(settings, server).send(CALL)
    assert (result.http_status, result.attempts, len(server.requests)) == (status, 1, 1)


def test_business_failure_is_returned_not_retried(settings: Settings) -> None:
    server = Server(httpx.Response(200, json={"returnCode": "02000001", "description": "empty parameter"}), ok())
    result = make_client(settings, server).send(CALL)
    assert result.body == {"returnCode": "02000001", "description": "empty parameter"}
    assert result.attempts == 1 and result.error is None


def test_401_renews_the_token_once_then_gives_up(settings: Settings) -> None:
    server = Server(httpx.Response(401))
    result = make_client(settings, server).send(CALL)
    assert (result.http_status, result.attempts) == (401, 1)
    assert server.tokens == 2 and len(server.requests) == 2


def test_attempts_are_capped(settings: Settings) -> None:
    server = Server(httpx.Response(503, text="busy"))
    result = make_client(settings, server).send(CALL)
    assert (result.http_status, result.attempts) == (503, 4)
    assert result.error == "HTTP 503 after 4 attempts"


def test_timeouts_and_connection_errors_are_retried(settings: Settings) -> None:
    server = Server(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), ok())
    result = make_client(settings, server).send(CALL)
    assert (result.http_status, result.attempts) == (200, 3)


def test_no_answer_at_all(settings: Settings) -> None:
    server = Server(httpx.ReadTimeout("timed out"))
    result = make_client(settings, server).send(CALL)
    assert result.http_status is None and result.attempts == 4
    assert result.error == "ReadTimeout: timed out"


def test_budget_exhaustion_stops_retrying_and_is_signalled(settings: Settings) -> None:
    budget = RetryBudget(initial=3, per_call=0, cap=3)
    server = Server(httpx.Response(503))
    client = make_client(settings, server, budget=budget)
    first = client.send(CALL)
    assert first.attempts == 4 and not client.budget_exhausted  # 3 retries, all from the budget
    second = client.send(CALL)
    assert second.attempts == 1 and client.budget_exhausted
    assert second.error == "HTTP 503 after 1 attempt; retry budget exhausted"
    assert budget.retries == 3


def test_budget_refills_per_call_up_to_its_cap() -> None:
    budget = RetryBudget(initial=0, per_call=0.5, cap=2)
    for _ in range(10):
        budget.record_call()
    assert budget.balance == 2
    assert budget.try_spend() and budget.try_spend() and not budget.try_spend()
    assert budget.exhausted
    budget.record_call()
    assert not budget.try_spend()  # exhausted stays exhausted


def test_stop_retrying(settings: Settings) -> None:
    server = Server(httpx.Response(503), ok())
    client = make_client(settings, server)
    client.stop_retrying()
    assert client.send(CALL).attempts == 1


def test_non_json_answers(settings: Settings) -> None:
    page = "<html>" + "x" * (MAX_TEXT_CHARS * 2) + "</html>"
    server = Server(httpx.Response(200, text="OK"), httpx.Response(403, text=page),
                    httpx.Response(200, content=b"\xff\xfe garbage", headers={"Content-Type": "application/json"}),
                    httpx.Response(204))
    client = make_client(settings, server)
    assert (client.send(CALL).body, client.send(CALL).text[-1]) == (None, "…")
    garbage = client.send(CALL)
    assert garbage.body is None and garbage.http_status == 200
    empty = client.send(CALL)
    assert (empty.http_status, empty.body, empty.text) == (204, None, "")


def test_missing_settings_name_the_variable(tmp_path: Any) -> None:
    settings = load_settings(env={"BATCHOPS_BASE_URL": "https://gw"}, config_path=_empty_config(tmp_path))
    client = Client(settings, transport=httpx.MockTransport(Server(ok())))
    with pytest.raises(ConfigError, match="Set BATCHOPS_APP_KEY"):
        client.send(CALL)
    with pytest.raises(ConfigError, match="Set BATCHOPS_ISALES_URL"):
        client.require("isales")


def test_token_refusal_propagates_as_auth_error(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401 if request.url.path.endswith("tokenByAkSk") else 200)

    client = Client(settings, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthError) as info:
        client.send(CALL)
    assert APP_SECRET not in str(info.value)


def test_busy_token_endpoint_is_retried(settings: Settings) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"AccessToken": "tok", "Expires": "600"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers) if request.url.path.endswith("tokenByAkSk") else ok()

    client = Client(settings, transport=httpx.MockTransport(handler), retry=FAST, sleep=lambda s: None)
    result = client.send(CALL)
    assert (result.http_status, result.attempts) == (200, 2)


def test_async_send_retries_too(settings: Settings) -> None:
    server = Server(httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"}), ok())
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> CallResult:
        async with Client(settings, transport=httpx.MockTransport(server), retry=FAST,
                          async_sleep=fake_sleep) as client:
            return await client.asend(CALL)

    result = asyncio.run(main())
    assert (result.http_status, result.attempts) == (200, 3) and slept[1] == 0.0


def test_secrets_never_in_logs_reprs_or_results(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    server = Server(httpx.Response(503), httpx.ConnectError("down"), ok())
    client = make_client(settings, server)
    with caplog.at_level(logging.DEBUG):
        results = [client.send(CALL), client.send(PreparedCall("isales", "POST", "/rest/isales/v1/x", {}))]
    assert any("retrying POST" in r.getMessage() for r in caplog.records)
    texts = [caplog.text, repr(client), repr(settings), repr(results)] + [r.getMessage() for r in caplog.records]
    for text in texts:
        assert APP_SECRET not in text and ISALES_SK not in text and "tok-1-abcdefgh" not in text


# --- a real socket on 127.0.0.1 ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.path.endswith("tokenByAkSk"):
            payload = json.dumps({"AccessToken": "live-token-123", "Expires": "600"}).encode()
        elif self.path.startswith("/slow"):
            time.sleep(0.3)
            payload = b'{"returnCode":"0"}'
        else:
            payload = json.dumps({"returnCode": "0", "echo": body.decode("utf-8"),
                                  "auth": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Any:
    """A tiny threaded HTTP server on 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_real_socket_sync_and_aiohttp_async(loopback: str, tmp_path: Any) -> None:
    settings = load_settings(env=dict(ENV, BATCHOPS_BASE_URL=loopback, BATCHOPS_TIMEOUT="0.1"),
                             config_path=_empty_config(tmp_path))
    client = Client(settings, retry=RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.001))
    result = client.send(CALL)
    assert result.body["echo"] == '{"id":"1","agentName":"张三"}'
    assert result.body["auth"] == "Bearer live-token-123"
    slow = client.send(PreparedCall("c1", "POST", "/slow", {}))
    assert slow.http_status is None and slow.attempts == 2 and "Timeout" in (slow.error or "")
    client.close()

    async def main() -> tuple[CallResult, CallResult]:
        async with Client(settings, retry=RetryPolicy(max_attempts=2, backoff_base=0.001)) as aclient:
            return await aclient.asend(CALL), await aclient.asend(PreparedCall("c1", "POST", "/slow", {}))

    fast, slow = asyncio.run(main())
    assert fast.body["echo"] == '{"id":"1","agentName":"张三"}'
    assert slow.http_status is None and slow.attempts == 2 and "Timeout" in (slow.error or "")


def test_answers_decoded_in_their_declared_charset(settings: Settings) -> None:
    gbk = "坐席不存在".encode("gbk")
    server = Server(httpx.Response(200, content=b'{"returnCode":"1","returnDesc":"' + gbk + b'"}',
                                   headers={"Content-Type": "application/json; charset=GBK"}),
                    httpx.Response(200, content="{\"returnDesc\":\"张三\"}".encode(),
                                   headers={"Content-Type": "application/json"}),
                    httpx.Response(200, content=b"caf\xe9", headers={"Content-Type": "text/plain; charset=no-such"}))
    client = make_client(settings, server)
    assert client.send(CALL).body == {"returnCode": "1", "returnDesc": "坐席不存在"}
    assert client.send(CALL).body == {"returnDesc": "张三"}  # no charset: UTF-8, JSON's own
    assert client.send(CALL).text == "caf\ufffd"  # a charset Python does not know: UTF-8, bad bytes replaced


def test_cookies_are_neither_kept_nor_sent(settings: Settings) -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Cookie"))
        return httpx.Response(200, json={"returnCode": "0"}, headers={"Set-Cookie": "route=abc; Path=/"})

    client = make_client(settings, Server(answer))
    client.send(CALL)
    client.send(CALL)
    assert seen == [None, None]


def test_transport_errors_name_their_request(settings: Settings) -> None:
    from batchops.http import exchange
    from batchops.http.auth import TokenAuth

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    request = httpx.Request("POST", "https://gw.example.com/x")
    auth = TokenAuth("https://gw.example.com", "key", "secret")
    with pytest.raises(httpx.ConnectError) as caught:
        exchange.send(httpx.MockTransport(refuse), auth, request)
    assert caught.value.request.url.path.endswith("/tokenByAkSk")  # the one that failed: the token fetch


def test_prepare_async_builds_the_transport_once_before_the_first_call(settings: Settings) -> None:
    client = Client(settings)
    client.prepare_async()
    first = client._async_conn
    client.prepare_async()
    assert first is not None and client._async_conn is first
    asyncio.run(client.aclose())
    assert client._async_conn is None
