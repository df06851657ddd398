"""The guard in front of every route: token, Host (DNS rebinding), same origin (CSRF), safe headers."""

from __future__ import annotations

import base64

import pytest
from web_helpers import TOKEN, client_for, origin, serving

from batchops.web.security import FORBIDDEN_TEXT, UNAUTHORIZED_TEXT, cookie_name, new_token, same_token

ROUTES = [("GET", "/"), ("GET", "/runs"), ("GET", "/static/app.js"), ("GET", "/static/style.css"),
          ("GET", "/api/target"), ("GET", "/api/runs"), ("GET", "/api/files/x/errors"),
          ("GET", "/api/runs/x/events"), ("POST", "/api/files"), ("POST", "/api/runs/x/cancel"),
          ("GET", "/templates/agent-settings.xlsx"), ("GET", "/no/such/page")]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One server for the module: these tests change nothing on it."""
    with serving(tmp_path_factory.mktemp("web")) as running:
        yield running


def test_the_token_has_at_least_128_bits_and_is_new_each_start():
    token = new_token()
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert new_token() != token


def test_tokens_are_compared_whole():
    assert same_token(TOKEN, TOKEN)
    assert not same_token(TOKEN[:-1], TOKEN)
    assert not same_token(TOKEN + "x", TOKEN)
    assert not same_token("", TOKEN)
    assert not same_token(None, TOKEN)
    assert not same_token("é" * 10, TOKEN)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_without_the_token_answers_401_and_reveals_nothing(web, method, path):
    with client_for(web, bearer=False) as client:
        answer = client.request(method, path)
    assert answer.status_code == 401
    assert answer.text == UNAUTHORIZED_TEXT
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_wrong_bearer_token_answers_401(web, method, path):
    with client_for(web, bearer=False) as client:
        answer = client.request(method, path, headers={"Authorization": f"Bearer {TOKEN[:-1]}z"})
    assert answer.status_code == 401
    assert answer.text == UNAUTHORIZED_TEXT


def test_a_program_with_the_bearer_token_gets_in(web):
    with client_for(web) as client:
        assert client.get("/api/target").status_code == 200
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/").status_code == 200


def test_the_link_sets_an_httponly_strict_cookie_and_drops_the_token_from_the_address(web):
    with client_for(web, bearer=False) as client:
        answer = client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{cookie_name(web.port)}={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert client.get("/").status_code == 200  # the cookie now lets the browser in
        assert client.get("/api/target").status_code == 200


def test_the_link_keeps_other_query_parameters_and_never_redirects_off_site(web):
    with client_for(web, bearer=False) as client:
        answer = client.get(f"/files/abc?offset=50&token={TOKEN}", follow_redirects=False)
        assert answer.headers["location"] == "/files/abc?offset=50"
        answer = client.get(f"//evil.example/?token={TOKEN}", follow_redirects=False)
        assert answer.status_code == 303
        assert not answer.headers["location"].startswith("//")


def test_a_wrong_link_token_answers_401_and_sets_no_cookie(web):
    with client_for(web, bearer=False) as client:
        answer = client.get("/?token=guess", follow_redirects=False)
        assert answer.status_code == 401
        assert "set-cookie" not in answer.headers


def test_the_cookie_of_another_port_does_not_count(web):
    with client_for(web, bearer=False) as client:
        client.cookies.set(cookie_name(web.port + 1), TOKEN)
        assert client.get("/").status_code == 401


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:{other}", "127.0.0.1", "evil.example",
                                  "127.0.0.1.nip.io:{port}", "", "localhost.evil.example:{port}"])
def test_a_host_header_that_does_not_name_the_served_address_answers_403(web, host):
    host = host.format(port=web.port, other=web.port + 1)
    with client_for(web) as client:
        answer = client.get("/api/target", headers={"Host": host})
    assert answer.status_code == 403
    assert answer.text == FORBIDDEN_TEXT


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_the_loopback_names_of_the_served_port_are_accepted(web, host):
    host = host.format(port=web.port)
    with client_for(web) as client:
        assert client.get("/api/target", headers={"Host": host}).status_code == 200


def test_a_server_on_another_address_accepts_only_that_address(tmp_path):
    from batchops.web.hosts import HostCheck

    check = HostCheck("192.0.2.10", 9000)
    assert check.allows("192.0.2.10:9000")
    assert not check.allows("localhost:9000")
    assert not check.allows("attacker.example:9000")
    wildcard = HostCheck("0.0.0.0", 9000)
    assert wildcard.allows("192.0.2.10:9000") and wildcard.allows("[::1]:9000")
    assert not wildcard.allows("attacker.example:9000")


def _cookie_client(web):
    return client_for(web, bearer=False)


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:{other}"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_a_change_with_the_cookie_from_another_origin_answers_403(web, headers):
    headers = {k: v.format(other=web.port + 1) for k, v in headers.items()}
    with _cookie_client(web) as client:
        client.cookies.set(cookie_name(web.port), TOKEN)
        answer = client.post("/api/target", json={"profile": "x"}, headers=headers)
    assert answer.status_code == 403
    assert answer.text == FORBIDDEN_TEXT


def test_a_change_with_the_cookie_from_the_page_itself_passes_the_guard(web):
    with _cookie_client(web) as client:
        client.cookies.set(cookie_name(web.port), TOKEN)
        answer = client.post("/api/target", json={"profile": "x"}, headers={"Origin": origin(web)})
        assert answer.status_code == 400  # past the guard: the route itself refuses an unknown profile
        answer = client.post("/api/target", json={"profile": "x"}, headers={"Sec-Fetch-Site": "same-origin"})
        assert answer.status_code == 400


def test_a_program_with_the_bearer_token_needs_no_origin(web):
    with client_for(web) as client:
        assert client.post("/api/target", json={"profile": "x"}).status_code == 400


def test_every_answer_carries_the_safety_headers(web):
    with client_for(web) as client:
        for answer in (client.get("/"), client.get("/api/target"), client.get("/static/app.js")):
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["x-frame-options"] == "DENY"
    with client_for(web, bearer=False) as client:
        assert client.get("/").headers["cache-control"] == "no-store"


def test_the_page_loads_nothing_from_another_site(web):
    import re

    from batchops.web.app import STATIC, TEMPLATES

    for path in [*TEMPLATES.glob("*.html"), *STATIC.glob("*")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path
        assert "@import" not in text and "url(http" not in text, path
