"""The sandbox misbehaving on purpose: faults come before any change, so applied counts stay exact."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from batchops.sandbox import record_key

UPDATE = "/apiaccess/CC-Management/v1/openapp/agentsettings/update"



def _update(sandbox, n=0, present="02512345678"):
    setting = sandbox.agent_settings()[n]
    return setting, {"id": setting["id"], "userId": setting["userId"], "callerPresent": [present]}


def test_queued_error_and_throttle_leave_state_unchanged_and_the_retry_counts_once(c1, sandbox):
    setting, body = _update(sandbox)
    sandbox.queue_fault("error", path_contains="agentsettings")
    sandbox.queue_fault("throttle", path_contains="agentsettings")
    first = c1.post(UPDATE, json=body)
    assert first.status_code == 503
    second = c1.post(UPDATE, json=body)
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert sandbox.agent_setting(setting["id"]) == setting
    assert sandbox.applied_counts() == {}
    assert c1.post(UPDATE, json=body).json()["returnCode"] == "0"
    assert sandbox.applied_counts() == {record_key("agentsettings", setting["id"]): 1}
    faults = [e.fault for e in sandbox.request_log("agentsettings")]
    assert faults == ["error", "throttle", None]


def test_error_rate_one_refuses_everything_and_changes_nothing(c1, sandbox):
    setting, body = _update(sandbox)
    sandbox.set_faults(error_rate=1.0)
    assert {c1.post(UPDATE, json=body).status_code for _ in range(5)} == {503}
    assert sandbox.agent_setting(setting["id"]) == setting
    sandbox.set_faults(error_rate=0.0)
    assert c1.post(UPDATE, json=body).status_code == 200


def test_rates_mix_faults_and_successes_with_exact_counts(c1, sandbox):
    sandbox.set_faults(error_rate=0.3, throttle_rate=0.2)
    setting, body = _update(sandbox)
    statuses = [c1.post(UPDATE, json=body).status_code for _ in range(60)]
    assert set(statuses) == {200, 429, 503}
    assert sandbox.applied_count(record_key("agentsettings", setting["id"])) == statuses.count(200)


def test_timeout_holds_the_answer_past_the_client_timeout_without_applying(sandbox, c1):
    setting, body = _update(sandbox)
    sandbox.set_faults(timeout_hold_seconds=3)
    sandbox.queue_fault("timeout", path_contains="agentsettings")
    with pytest.raises(httpx.ReadTimeout):
        c1.post(UPDATE, json=body, timeout=0.3)
    assert sandbox.agent_setting(setting["id"]) == setting
    assert sandbox.applied_counts() == {}


def test_lost_response_applies_the_update_but_the_client_never_hears(sandbox, c1):
    setting, body = _update(sandbox)
    sandbox.set_faults(timeout_hold_seconds=3)
    sandbox.queue_fault("lost_response", path_contains="agentsettings")
    with pytest.raises(httpx.ReadTimeout):
        c1.post(UPDATE, json=body, timeout=0.3)
    assert sandbox.applied_count(record_key("agentsettings", setting["id"])) == 1


def test_stopping_answers_held_requests_at_once(sandbox, c1):
    sandbox.set_faults(timeout_rate=1.0, timeout_hold_seconds=30)
    _, body = _update(sandbox)
    with pytest.raises(httpx.ReadTimeout):
        c1.post(UPDATE, json=body, timeout=0.2)
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 5  # not the 30 s hold
    sandbox.start()


def test_latency_delays_answers_without_blocking_other_requests(sandbox):
    sandbox.set_faults(latency_ms=200)

    async def fire() -> float:
        async with httpx.AsyncClient(base_url=sandbox.url, timeout=5, verify=False) as client:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get("/apiaccess/CC-Management/v1/queryAgentInfo")
                                             for _ in range(32)))
            assert {a.status_code for a in answers} == {401}
            return time.monotonic() - started

    elapsed = asyncio.run(fire())
    assert 0.2 <= elapsed < 3  # 32 x 200 ms in parallel (in series it would take 6.4 s)


def test_control_endpoint_sets_faults_reads_counts_and_log_and_resets(c1, sandbox):
    setting, body = _update(sandbox)
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as control:
        assert control.get("/_sandbox/health").json()["ok"] is True
        r = control.post("/_sandbox/faults", json={"throttle_rate": 1.0, "retry_after_seconds": 7})
        assert r.json()["settings"]["throttle_rate"] == 1.0
        refused = c1.post(UPDATE, json=body)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "7"
        assert control.get("/_sandbox/faults").json()["injected"]["throttle"] == 1
        control.post("/_sandbox/faults", json={"throttle_rate": 0})
        assert c1.post(UPDATE, json=body).status_code == 200
        applied = control.get("/_sandbox/applied").json()
        assert applied == {"applied": {record_key("agentsettings", setting["id"]): 1}, "total": 1}
        stored = control.get(f"/_sandbox/records/agentsettings/{setting['id']}").json()
        assert stored["callerPresent"] == ["02512345678"]
        log = control.get("/_sandbox/log", params={"path": "agentsettings"}).json()["entries"]
        assert [e["status"] for e in log] == [429, 200]
        assert control.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400
        control.post("/_sandbox/faults/queue", json={"fault": "error", "count": 1})
        assert c1.post(UPDATE, json=body).status_code == 503
        control.post("/_sandbox/clock/advance", json={"seconds": 4000})
        assert c1.post(UPDATE, json=body).status_code == 401
        assert control.post("/_sandbox/reset").json() == {"ok": True}
        assert control.get("/_sandbox/applied").json()["total"] == 0
        assert control.get("/_sandbox/log").json()["entries"] == []
    assert sandbox.agent_setting(setting["id"]) == setting


def test_rates_spare_the_token_call_unless_token_faults_is_on(sandbox):
    token_body = {"app_key": sandbox.options.app_key, "app_secret": sandbox.options.app_secret}
    # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        sandbox.set_faults(error_rate=1.0)
        assert client.post("/apigovernance/api/oauth/tokenByAkSk", json=token_body).status_code == 200
        sandbox.queue_fault("throttle")  # a queued fault for any path still spares the token call
        assert client.post("/apigovernance/api/oauth/tokenByAkSk", json=token_body).status_code == 200
        sandbox.set_faults(error_rate=0.0)
        sandbox.queue_fault("error", path_contains="tokenByAkSk")  # naming it hits it
        assert client.post("/apigovernance/api/oauth/tokenByAkSk", json=token_body).status_code == 503
        sandbox.set_faults(error_rate=1.0, token_faults=True)
        # The throttle queued above, which spared the token call, now reaches it; then the rate does.
        assert client.post("/apigovernance/api/oauth/tokenByAkSk", json=token_body).status_code == 429
        assert client.post("/apigovernance/api/oauth/tokenByAkSk", json=token_body).status_code == 503
