"""The sandbox's data and memory: seeded, persistent across restarts, logged without secrets."""

from __future__ import annotations

import json

import httpx
import pytest

from batchops.sandbox import Sandbox, SandboxOptions, record_key, start_sandbox
from batchops.sandbox.errors import SandboxError

UPDATE = "/apiaccess/CC-Management/v1/openapp/agentsettings/update"


def _token_headers(client: httpx.Client, sb) -> dict[str, str]:
    token = client.post("/apigovernance/api/oauth/tokenByAkSk",
                        json={"app_key": sb.options.app_key, "app_secret": sb.options.app_secret}
                        ).json()["AccessToken"]
    return {"Authorization": f"Bearer {token}", "X-APP-Key": sb.options.app_key}


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = Sandbox(SandboxOptions(seed=1)), Sandbox(SandboxOptions(seed=1)), Sandbox(SandboxOptions(seed=2))
    assert a.agent_settings() == b.agent_settings() and a.routes() == b.routes()
    assert a.appointments() == b.appointments() and a.silence_rules() == b.silence_rules()
    assert a.agent_settings() != c.agent_settings()


def test_seed_data_has_the_awkward_cases():
    sb = Sandbox(SandboxOptions(agents=300))
    settings = sb.agent_settings()
    assert all(len(s["id"]) == 19 and s["id"].isdigit() and len(s["userId"]) == 19 for s in settings)
    assert {r["editable"] for r in sb.routes()} >= {0, 1, 3}
    assert {a["callType"] for a in sb.appointments()} == {1, 2}
    assert set(sb.appointments()[0]) >= {"appointId", "callType", "appointTime", "calledNo", "userAccount"}
    assert any(a["sipAccount"].startswith("00") for a in sb.agents())


def test_sixty_thousand_agents_are_seeded():
    # How long the seeding takes is bench/bench_sandbox.py's to measure, not a test's: a test never races
    # the machine's speed.
    sb = Sandbox(SandboxOptions(agents=60_000))
    agents = sb.state.data.agents
    assert len(sb.state.data.agent_settings) == 60_000
    assert len(agents) == 59_899  # workNo ranges 101..59999
    assert agents[0]["workNo"] == 101 and agents[-1]["workNo"] == 59_999
    assert len({a["sipAccount"] for a in agents}) == len(agents)


def test_options_are_checked_and_secrets_kept_out_of_repr():
    with pytest.raises(SandboxError):
        SandboxOptions(agents=0)
    with pytest.raises(SandboxError):
        SandboxOptions(error_rate=0.7, throttle_rate=0.4)
    text = repr(SandboxOptions())
    assert SandboxOptions().app_secret not in text and SandboxOptions().isales_sk not in text


def test_state_file_keeps_updates_and_counts_across_restarts(tmp_path):
    state = tmp_path / "sandbox.sqlite"
    options = SandboxOptions(state_file=state, agents=50)
    # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
    with start_sandbox(options) as sb, httpx.Client(base_url=sb.url, timeout=5, verify=False) as client:
        assert not sb.sandbox.state.loaded_from_file
        setting = sb.agent_settings()[3]
        body = {"id": setting["id"], "userId": setting["userId"], "callNumber": ["0088"]}
        headers = _token_headers(client, sb)
        for _ in range(2):
            assert client.post(UPDATE, json=body, headers=headers).json()["returnCode"] == "0"
        order = [s["id"] for s in sb.agent_settings()]
    with start_sandbox(options) as again:
        assert again.sandbox.state.loaded_from_file
        assert again.agent_setting(setting["id"])["callNumber"] == ["0088"]
        assert again.applied_count(record_key("agentsettings", setting["id"])) == 2
        assert [s["id"] for s in again.agent_settings()] == order
        again.reset()
    with start_sandbox(options) as fresh:
        assert fresh.agent_setting(setting["id"]) == setting
        assert fresh.applied_counts() == {}


def test_restart_comes_back_on_the_same_port_with_the_same_state(sandbox):
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        headers = _token_headers(client, sandbox)
        setting = sandbox.agent_settings()[0]
        body = {"id": setting["id"], "userId": setting["userId"], "callType": "0"}
        assert client.post(UPDATE, json=body, headers=headers).status_code == 200
        url = sandbox.url
        sandbox.stop()
        assert not sandbox.running
        with pytest.raises(httpx.ConnectError):
            client.post(UPDATE, json=body, headers=headers)
        sandbox.start()
        assert sandbox.url == url
        assert client.post(UPDATE, json=body, headers=headers).status_code == 200
    assert sandbox.applied_count(record_key("agentsettings", setting["id"])) == 2


def test_request_log_never_holds_a_secret(sandbox):
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        headers = _token_headers(client, sandbox)
        token = headers["Authorization"][7:]
        agents = client.get("/apiaccess/CC-Management/v1/queryAgentInfo", headers=headers).json()["agents"]
        client.post("/apigovernance/api/oauth/tokenByAkSk",
                    content=f'{{"app_secret": "{sandbox.options.app_secret}"'.encode())  # broken JSON
        path = "/rest/isales/v1/openapi/campaigns/1/appoint/list"
        body = b'{"limit": 1}'
        signed = sandbox.isales_headers("POST", path, body)
        assert client.post(path, content=body, headers=signed).status_code == 200
        log_json = client.get("/_sandbox/log").text
    text = json.dumps([e.as_dict() for e in sandbox.request_log()], ensure_ascii=False) + log_json
    for secret in (sandbox.options.app_secret, token, sandbox.options.isales_sk, signed["Authorization"],
                   agents[0]["sipPwd"]):
        assert secret not in text
    assert "[secure]" in text
    entry = sandbox.request_log("queryAgentInfo")[0]
    assert entry.headers["authorization"] == "[secure]" and entry.status == 200
