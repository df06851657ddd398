"""The sandbox's C1 authentication: tokenByAkSk, token expiry, and the 401s of the gateway calls."""

from __future__ import annotations

import httpx
import pytest

TOKEN = "/apigovernance/api/oauth/tokenByAkSk"
AGENT_INFO = "/apiaccess/CC-Management/v1/queryAgentInfo"


def get_token(client: httpx.Client, sb, expire: str | None = "600") -> httpx.Response:
    headers = {"X-Token-Expire": expire} if expire is not None else {}
    return client.post(TOKEN, json={"app_key": sb.options.app_key, "app_secret": sb.options.app_secret},
                       headers=headers)


@pytest.fixture
def client(sandbox):
    # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        yield client


def c1_headers(client, sb, **kw) -> dict[str, str]:
    token = get_token(client, sb, **kw).json()["AccessToken"]
    return {"Authorization": f"Bearer {token}", "X-APP-Key": sb.options.app_key}


def test_token_answer_is_the_documented_shape_with_string_values(client, sandbox):
    r = get_token(client, sandbox, "120")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"AccessToken", "ApplyType", "CreateTime", "Expires", "Scope", "AppKey", "UserID"}
    assert all(isinstance(v, str) for v in body.values())
    assert body["ApplyType"] == "Bearer"
    assert body["Expires"] == "120"
    assert body["AppKey"] == sandbox.options.app_key
    assert body["CreateTime"].isdigit()


@pytest.mark.parametrize(("asked", "expires"), [("7200", "3600"), (None, "600"), ("3600", "3600")])
def test_token_lifetime_is_capped_at_3600(client, sandbox, asked, expires):
    assert get_token(client, sandbox, asked).json()["Expires"] == expires


def test_token_ttl_setting_overrides_the_requested_lifetime(client, sandbox):
    sandbox.set_faults(token_ttl=5)
    assert get_token(client, sandbox, "600").json()["Expires"] == "5"


def test_wrong_secret_gets_401_and_malformed_token_request_400(client, sandbox):
    r = client.post(TOKEN, json={"app_key": sandbox.options.app_key, "app_secret": "nope"})
    assert r.status_code == 401
    assert client.post(TOKEN, content=b"{not json", headers={"Content-Type": "application/json"}
                       ).status_code == 400
    assert client.post(TOKEN, json={"app_key": sandbox.options.app_key}).status_code == 400
    assert get_token(client, sandbox, "ten").status_code == 400


def test_live_token_and_app_key_open_the_gateway(client, sandbox):
    r = client.get(AGENT_INFO, headers=c1_headers(client, sandbox))
    assert r.status_code == 200


def test_header_names_are_case_insensitive(client, sandbox):
    token = get_token(client, sandbox).json()["AccessToken"]
    r = client.get(AGENT_INFO, headers={"authorization": f"Bearer {token}", "x-app-key": sandbox.options.app_key})
    assert r.status_code == 200


@pytest.mark.parametrize("case", ["no authorization", "no app key", "wrong app key", "no scheme",
                                  "two spaces", "unknown token"])
def test_gateway_calls_without_proper_credentials_get_401(client, sandbox, case):
    headers = c1_headers(client, sandbox)
    token = headers["Authorization"][7:]
    if case == "no authorization":
        del headers["Authorization"]
    elif case == "no app key":
        del headers["X-APP-Key"]
    elif case == "wrong app key":
        headers["X-APP-Key"] = "someone-else"
    elif case == "no scheme":
        headers["Authorization"] = token
    elif case == "two spaces":
        headers["Authorization"] = f"Bearer  {token}"
    else:
        headers["Authorization"] = "Bearer 0123456789abcdef"
    r = client.get(AGENT_INFO, headers=headers)
    assert r.status_code == 401
    assert r.json()["error_msg"]


def test_token_expires_when_its_lifetime_has_passed(client, sandbox):
    headers = c1_headers(client, sandbox, expire="60")
    assert client.get(AGENT_INFO, headers=headers).status_code == 200
    sandbox.advance_clock(59)
    assert client.get(AGENT_INFO, headers=headers).status_code == 200
    sandbox.advance_clock(2)
    r = client.get(AGENT_INFO, headers=headers)
    assert r.status_code == 401
    assert "expired" in r.json()["error_msg"]
    # No refresh endpoint: a new tokenByAkSk call is the way back in.
    assert client.get(AGENT_INFO, headers=c1_headers(client, sandbox)).status_code == 200


def test_a_token_ttl_setting_expires_tokens_on_the_sandbox_clock(client, sandbox):
    # The sandbox's clock is the wall clock plus what tests add: advancing it is time passing, without the
    # wait, and without a slow machine expiring the token before its first use.
    sandbox.set_faults(token_ttl=30)
    headers = c1_headers(client, sandbox)
    assert client.get(AGENT_INFO, headers=headers).status_code == 200
    sandbox.advance_clock(31)
    assert client.get(AGENT_INFO, headers=headers).status_code == 401


def test_expire_tokens_revokes_every_token(client, sandbox):
    headers = c1_headers(client, sandbox)
    sandbox.expire_tokens()
    assert client.get(AGENT_INFO, headers=headers).status_code == 401


def test_unknown_path_is_404_and_wrong_method_405(client, sandbox):
    headers = c1_headers(client, sandbox)
    assert client.get("/apiaccess/CC-Management/v1/nothing", headers=headers).status_code == 404
    r = client.post(AGENT_INFO, headers=headers, json={})
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
