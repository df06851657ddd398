"""TokenAuth (C1) and AkSkAuth (iSales), through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from batchops.errors import AuthError
from batchops.http.auth import AkSkAuth, TokenAuth, format_timestamp, sign

BASE = "https://gw.example.com:28070"
SECRET = "app-secret-0123456789"


class TokenServer:
    """A mock C1 gateway: hands out tokens T1, T2, … and accepts only the latest one."""

    def __init__(self, expires: str = "600", reject: int = 0, delay: float = 0.0) -> None:
        self.expires = expires
        self.issued = 0
        self.token_requests: list[httpx.Request] = []
        self.calls: list[httpx.Request] = []
        self.reject = reject  # answer 401 to this many calls regardless of the token
        self.delay = delay
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokenByAkSk"):
            if self.delay:
                time.sleep(self.delay)
            with self.lock:
                self.issued += 1
                self.token_requests.append(request)
                return httpx.Response(200, json={"AccessToken": f"T{self.issued}", "Expires": self.expires,
                                                 "ApplyType": "Bearer", "CreateTime": "1545650171"})
        with self.lock:
            self.calls.append(request)
            if self.reject:
                self.reject -= 1
                return httpx.Response(401, json={"error": "expired"})
            ok = request.headers.get("Authorization") == f"Bearer T{self.issued}"
        return httpx.Response(200 if ok else 401, json={"returnCode": "0"})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokenByAkSk") and self.delay:
            await asyncio.sleep(self.delay)
            saved, self.delay = self.delay, 0.0
            try:
                return self.handle(request)
            finally:
                self.delay = saved
        return self.handle(request)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_client(server: TokenServer, clock: Clock | None = None, ttl: int = 600) -> httpx.Client:
    auth = TokenAuth(BASE, "app-key-1", SECRET, token_ttl=ttl, clock=clock or time.monotonic)
    return httpx.Client(base_url=BASE, auth=auth, transport=httpx.MockTransport(server.handle))


def test_token_request_and_call_headers() -> None:
    server = TokenServer()
    with token_client(server, ttl=900) as client:
        response = client.post("/CC-Management/v1/openapp/agentsettings/update", json={"id": "1"})
    assert response.status_code == 200
    token_request = server.token_requests[0]
    assert str(token_request.url) == BASE + "/apigovernance/api/oauth/tokenByAkSk"
    assert token_request.headers["Content-Type"] == "application/json"
    assert token_request.headers["X-Token-Expire"] == "900"
    assert json.loads(token_request.content) == {"app_key": "app-key-1", "app_secret": SECRET}
    call = server.calls[0]
    assert call.headers["Authorization"] == "Bearer T1"
    assert call.headers["X-APP-Key"] == "app-key-1"


def test_token_reused_then_renewed_before_expiry() -> None:
    server, clock = TokenServer(expires="100"), Clock()
    with token_client(server, clock) as client:
        client.post("/a")
        clock.now += 89  # renewal margin is 10% of 100 s
        client.post("/a")
        assert server.issued == 1
        clock.now += 2
        client.post("/a")
    assert server.issued == 2
    assert [c.headers["Authorization"] for c in server.calls] == ["Bearer T1", "Bearer T1", "Bearer T2"]


def test_unreadable_expires_falls_back_to_the_requested_ttl() -> None:
    server, clock = TokenServer(expires="soon"), Clock()
    with token_client(server, clock, ttl=600) as client:
        client.post("/a")
        clock.now += 530
        client.post("/a")
        assert server.issued == 1
        clock.now += 20  # 600 - 60 s margin
        client.post("/a")
    assert server.issued == 2


def test_401_renews_once_and_retries_once() -> None:
    server = TokenServer(reject=1)
    with token_client(server) as client:
        response = client.post("/a")
    assert response.status_code == 200
    assert server.issued == 2 and len(server.calls) == 2


def test_second_401_is_returned_without_a_third_token() -> None:
    server = TokenServer(reject=5)
    with token_client(server) as client:
        response = client.post("/a")
    assert response.status_code == 401
    assert server.issued == 2 and len(server.calls) == 2


def test_one_token_fetch_for_32_threads() -> None:
    server = TokenServer(delay=0.05)
    client = token_client(server)
    threads = [threading.Thread(target=client.post, args=("/a",)) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.issued == 1 and len(server.calls) == 32
    assert {c.headers["Authorization"] for c in server.calls} == {"Bearer T1"}


def test_one_token_fetch_for_32_tasks() -> None:
    server = TokenServer(delay=0.05)
    auth = TokenAuth(BASE, "app-key-1", SECRET)

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=BASE, auth=auth, transport=httpx.MockTransport(server.ahandle)) as c:
            responses = await asyncio.gather(*[c.post("/a") for _ in range(32)])
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 32
    assert server.issued == 1
    # A second event loop: the auth keeps working (its asyncio lock is per loop).
    server.reject = 1
    assert asyncio.run(main()) == [200] * 32
    assert server.issued == 2


def test_concurrent_401s_renew_only_once() -> None:
    server = TokenServer()
    auth = TokenAuth(BASE, "app-key-1", SECRET)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=BASE, auth=auth, transport=httpx.MockTransport(server.ahandle)) as c:
            await c.post("/a")
            server.issued += 1  # the server forgets T1: every holder of T1 gets a 401
            responses = await asyncio.gather(*[c.post("/a") for _ in range(16)])
            assert {r.status_code for r in responses} == {200}

    asyncio.run(main())
    assert auth.fetch_count == 2


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (403, False), (503, True), (429, True)])
def test_token_refused_is_an_auth_error_without_the_secret(status: int, retryable: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=f"bad credentials for app_secret={SECRET}")

    auth = TokenAuth(BASE, "app-key-1", SECRET)
    with (
        httpx.Client(base_url=BASE, auth=auth, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(AuthError) as info,
    ):
        client.post("/a")
    message = str(info.value)
    assert message.startswith(f"The token request to {BASE}/apigovernance/api/oauth/tokenByAkSk was refused "
                              f"with HTTP {status}: bad credentials for app_secret=****")
    assert SECRET not in message and SECRET not in repr(info.value)
    assert info.value.retryable is retryable


def test_token_answer_without_access_token() -> None:
    auth = TokenAuth(BASE, "k", SECRET)
    transport = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>login</html>"))
    with (
        httpx.Client(base_url=BASE, auth=auth, transport=transport) as client,
        pytest.raises(AuthError, match="without an AccessToken"),
    ):
        client.post("/a")


def test_auth_reprs_hide_secrets() -> None:
    assert SECRET not in repr(TokenAuth(BASE, "k", SECRET))
    assert "sk-secret-value" not in repr(AkSkAuth("ak", "sk-secret-value"))


# --- AK/SK signing -----------------------------------------------------------------------------------------

ISALES = "https://isales.example.com:28050"
AK, SK = "AK-EXAMPLE", "SK-EXAMPLE-secret"
MOMENT = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)


def by_hand_normalize(text: str) -> str:
    """The documented normalize(), written out independently of the module under test."""
    keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def by_hand_signature(canonical: str, prefix: str) -> str:
    signing_key = hmac.new(SK.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    return hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signed_request(auth: AkSkAuth, url: str, body: bytes) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resultCode": "0200000"})

    with httpx.Client(auth=auth, transport=httpx.MockTransport(handler)) as client:
        client.post(url, content=body, headers={"Content-Type": "text/plain"})
    return seen[0]


def test_known_answer_signature_host_only() -> None:
    body = json.dumps({"appointId": "1", "remark": "张三 a+b"}, ensure_ascii=False, separators=(",", ":"))
    body_bytes = body.encode("utf-8")
    path = "/rest/isales/v1/openapi/campaigns/42/appoint/update"
    request = signed_request(AkSkAuth(AK, SK, now=lambda: MOMENT), ISALES + path, body_bytes)

    prefix = "auth-v2/AK-EXAMPLE/2024-05-06T07:08:09Z/host"
    canonical = "\n".join(["POST", path, "host", "host:isales.example.com%3A28050", by_hand_normalize(body)])
    expected = f"{prefix}/{by_hand_signature(canonical, prefix)}"
    assert request.headers["Authorization"] == expected
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert request.content == body_bytes  # the bytes sent are the bytes signed
    # and the module's own function agrees with the hand computation
    assert sign(method="POST", path=path, query="", headers={"host": "isales.example.com:28050"},
                body=body_bytes, ak=AK, sk=SK, timestamp="2024-05-06T07:08:09Z") == expected


def test_known_answer_with_query_and_more_signed_headers() -> None:
    auth = AkSkAuth(AK, SK, now=lambda: MOMENT, signed_headers=["Host", "Content-Type", "content-length"],
                    timestamp_format="iso-millis")
    body = b'{"offset":0,"limit":10}'
    request = signed_request(auth, ISALES + "/rest/isales/v1/x?b=2&a=%E4%B8%AD%20x", body)
    prefix = "auth-v2/AK-EXAMPLE/2024-05-06T07:08:09.123Z/content-length;content-type;host"
    canonical = "\n".join([
        "POST",
        "/rest/isales/v1/x",
        "a=%E4%B8%AD%20x&b=2",
        "content-length;content-type;host",
        "content-length:23\ncontent-type:application%2Fjson%3Bcharset%3DUTF-8\nhost:isales.example.com%3A28050",
        by_hand_normalize(body.decode()),
    ])
    assert request.headers["Authorization"] == f"{prefix}/{by_hand_signature(canonical, prefix)}"


def test_always_query_line_variant_emits_an_empty_query_line() -> None:
    auth = AkSkAuth(AK, SK, now=lambda: MOMENT, always_query_line=True, timestamp_format="epoch-millis")
    request = signed_request(auth, ISALES + "/p", b"{}")
    stamp = str(int(MOMENT.timestamp() * 1000))
    prefix = f"auth-v2/AK-EXAMPLE/{stamp}/host"
    lines = ["POST", "/p", "", "host", "host:isales.example.com%3A28050", "%7B%7D"]  # one per canonical line
    canonical = "\n".join(lines)
    assert request.headers["Authorization"] == f"{prefix}/{by_hand_signature(canonical, prefix)}"


def test_timestamp_formats() -> None:
    assert format_timestamp(MOMENT) == "2024-05-06T07:08:09Z"
    assert format_timestamp(MOMENT, "iso-millis") == "2024-05-06T07:08:09.123Z"
    with pytest.raises(ValueError):
        AkSkAuth(AK, SK, timestamp_format="unix")
