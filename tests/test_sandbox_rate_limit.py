"""The sandbox's gateway rate limit: a token bucket per API path, 429 + Retry-After beyond it, on its clock."""

from __future__ import annotations

import httpx
import pytest

from batchops.cli import run
from batchops.sandbox import SandboxError, SandboxOptions

ROUTE_QUERY = "/apiaccess/rest/cc-management/v1/calledRoute/queryCalledRoute"
SETTING_QUERY = "/apiaccess/CC-Management/v1/openapp/agentsettings/query"


def query(c1: httpx.Client) -> httpx.Response:
    return c1.post(ROUTE_QUERY, json={"limit": 1, "offset": 0})


def test_a_path_gets_its_burst_then_429_with_retry_after_until_its_bucket_refills(c1, sandbox):
    sandbox.set_faults(rate_limit=5)  # 5 requests per second per path, a bucket of one second's worth
    answers = [query(c1) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429, 429]
    assert answers[5].headers["Retry-After"] == "1"
    assert answers[5].json() == {"error_code": "APIGW.429", "error_msg": "too many requests (rate limit)"}
    # Another API path has a bucket of its own.
    user_id = sandbox.agent_settings()[0]["userId"]
    assert c1.post(SETTING_QUERY, json={"userId": user_id}).status_code == 200
    sandbox.advance_clock(0.4)  # 2 tokens back
    assert [query(c1).status_code for _ in range(3)] == [200, 200, 429]
    sandbox.advance_clock(10)  # a quiet spell refills only up to the burst
    assert [query(c1).status_code for _ in range(6)] == [200] * 5 + [429]
    assert sandbox.sandbox.faults.injected["rate_limit"] == 4
    assert [e.fault for e in sandbox.request_log(ROUTE_QUERY)].count("rate_limit") == 4


def test_refused_requests_change_nothing(c1, sandbox):
    route = sandbox.routes()[0]
    sandbox.set_faults(rate_limit=1, rate_limit_burst=1)
    path = "/apiaccess/rest/cc-management/v1/calledRoute/modifyCalledRoute"
    body = {"id": route["id"], "callednumber": "88880001"}
    first, second = c1.post(path, json=body), c1.post(path, json=body)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert sandbox.applied_count(sandbox.record_key("route", route["id"])) == (1 if first.status_code == 200 else 0)


def test_the_limit_is_set_by_option_by_control_call_and_checked(sandbox):
    with httpx.Client(base_url=sandbox.url) as control:
        answer = control.post("/_sandbox/faults", json={"rate_limit": 50, "rate_limit_burst": 10})
        assert answer.json()["settings"]["rate_limit"] == 50.0
        assert control.get("/_sandbox/faults").json()["injected"]["rate_limit"] == 0
        refused = control.post("/_sandbox/faults", json={"rate_limit": 0})
        assert refused.status_code == 400 and "rate_limit must be above 0" in refused.json()["error"]
    with pytest.raises(SandboxError, match="--rate-limit must be above 0 requests per second"):
        SandboxOptions(rate_limit=-1)
    assert SandboxOptions(rate_limit=10).rate_limit == 10


def test_sandbox_command_takes_rate_limit(capsys):
    assert run(["sandbox", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split()).replace("Retry- After", "Retry-After")
    assert "--rate-limit RPS" in text and "429 with Retry-After beyond it" in text
    assert run(["sandbox", "--rate-limit", "0"]) == 2
    assert capsys.readouterr().err == "Error: Invalid value for '--rate-limit': 0.0 is not in the range x>0.\n"
