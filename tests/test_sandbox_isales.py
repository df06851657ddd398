"""The sandbox's iSales calls: the auth-v2 signature check and the documented iSales codes.

The signer below is written again from api-notes.md, independently of the sandbox's own, so that the
two cross-check each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest

from batchops.sandbox import record_key


def _norm(s: str) -> str:
    out = []
    for byte in s.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in "-._~") else f"%{byte:02X}")
    return "".join(out)


def auth_v2(ak, sk, method, path, headers, body: bytes, when=None, query="") -> str:
    when = when or datetime.now(timezone.utc)
    signed = ";".join(sorted(h.lower() for h in headers))
    prefix = f"auth-v2/{ak}/{when:%Y-%m-%dT%H:%M:%SZ}/{signed}"
    key = hmac.new(sk.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical_headers = "\n".join(sorted(f"{_norm(k.lower())}:{_norm(v.strip())}" for k, v in headers.items()))
    lines = [method, path] + ([query] if query else []) + [signed, canonical_headers, _norm(body.decode())]
    return f"{prefix}/{hmac.new(key.encode(), chr(10).join(lines).encode(), hashlib.sha256).hexdigest()}"


class ISales:
    """Posts signed iSales calls to the sandbox."""

    def __init__(self, sb, client: httpx.Client) -> None:
        self.sb = sb
        self.client = client
        self.host = f"127.0.0.1:{sb.port}"

    def post(self, vdn, call, payload, *, sk=None, when=None, sent_body=None, extra_signed=None):
        path = f"/rest/isales/v1/openapi/campaigns/{vdn}/appoint/{call}"
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        signed = {"host": self.host, **(extra_signed or {})}
        auth = auth_v2(self.sb.options.isales_ak, sk or self.sb.options.isales_sk, "POST", path, signed, body, when)
        headers = {"Content-Type": "application/json;charset=UTF-8", "Authorization": auth}
        return self.client.post(path, content=sent_body if sent_body is not None else body, headers=headers)


@pytest.fixture
def isales(sandbox):
    # Plain HTTP on loopback: verify=False only spares each client loading the CA store (~30 ms).
    with httpx.Client(base_url=sandbox.url, timeout=5, verify=False) as client:
        yield ISales(sandbox, client)


def manual(sandbox, vdn=1):
    return next(a for a in sandbox.appointments(vdn) if a["callType"] == 1)


def test_the_independent_signer_agrees_with_the_sandbox_signer(sandbox):
    when = datetime(2026, 5, 16, 8, 0, 0, tzinfo=timezone.utc)
    body = '{"remark":"预约 ~ a&b"}'.encode()
    headers = {"host": "127.0.0.1:28050"}
    from batchops.sandbox.signing import sign

    ours = sign("AK", "SK", "POST", "/rest/x", "", headers, body, when=when)
    assert ours == auth_v2("AK", "SK", "POST", "/rest/x", headers, body, when)
    assert quote("~-._ é", safe="") == "~-._%20%C3%A9"


def test_signed_update_answers_0200000_twice_and_changes_state(isales, sandbox):
    appointment = manual(sandbox)
    payload = {"appointId": appointment["appointId"], "remark": "Remarks updated 0516",
               "appointTime": 1749204000000, "workNo": appointment["workNo"]}
    r = isales.post(1, "update", payload)
    assert r.status_code == 200
    assert r.json() == {"returnCode": "0200000", "resultCode": "0200000", "resultDesc": "update success",
                        "returnDesc": "update success"}
    stored = sandbox.appointment(1, appointment["appointId"])
    assert (stored["remark"], stored["appointTime"]) == ("Remarks updated 0516", 1749204000000)
    assert sandbox.applied_count(record_key("appointment", 1, appointment["appointId"])) == 1
    listed = isales.post(1, "list", {"appointId": appointment["appointId"]}).json()
    assert listed["totalCount"] == 1 and listed["data"][0]["remark"] == "Remarks updated 0516"


def test_tampered_body_fails_the_signature(isales, sandbox):
    appointment = manual(sandbox)
    payload = {"appointId": appointment["appointId"], "remark": "a", "workNo": appointment["workNo"]}
    signed = json.dumps(payload).encode()
    r = isales.post(1, "update", payload, sent_body=signed.replace(b'"a"', b'"b"'))
    assert r.status_code == 401
    assert sandbox.appointment(1, appointment["appointId"]) == appointment


def test_wrong_key_stale_timestamp_or_missing_header_get_401(isales, sandbox):
    payload = {"offset": 0, "limit": 1}
    assert isales.post(1, "list", payload, sk="wrong").status_code == 401
    old = datetime.now(timezone.utc) - timedelta(minutes=16)
    assert isales.post(1, "list", payload, when=old).status_code == 401
    recent = datetime.now(timezone.utc) - timedelta(minutes=14)
    assert isales.post(1, "list", payload, when=recent).status_code == 200
    # A signed header the request does not carry.
    assert isales.post(1, "list", payload, extra_signed={"x-trace": "1"}).status_code == 401
    assert isales.client.post("/rest/isales/v1/openapi/campaigns/1/appoint/list", json=payload).status_code == 401
    r = isales.client.post("/rest/isales/v1/openapi/campaigns/1/appoint/list", json=payload,
                           headers={"Authorization": "Bearer abc"})
    assert r.status_code == 401


def test_signature_covering_more_headers_is_accepted(isales, sandbox):
    path = "/rest/isales/v1/openapi/campaigns/1/appoint/list"
    body = b'{"limit":1}'
    signed = {"host": isales.host, "content-type": "application/json;charset=UTF-8",
              "content-length": str(len(body))}
    auth = auth_v2(sandbox.options.isales_ak, sandbox.options.isales_sk, "POST", path, signed, body)
    r = isales.client.post(path, content=body, headers={"Content-Type": "application/json;charset=UTF-8",
                                                        "Authorization": auth})
    assert r.status_code == 200


def test_signature_ages_with_the_sandbox_clock(isales, sandbox):
    sandbox.advance_clock(16 * 60)
    assert isales.post(1, "list", {"limit": 1}).status_code == 401


CODES = {
    "invalid characters": ({"remark": "<b>"}, "02000002"),
    "quote in remark": ({"remark": "it's"}, "02000002"),
    "remark too long": ({"remark": "x" * 201}, "02000003"),
    "empty appointId": ({"appointId": ""}, "02000001"),
    "missing appointId": ({"appointId": None}, "02000001"),
    "no agent": ({"workNo": None}, "02000001"),
    "appointTime as a string": ({"appointTime": "1749204000000"}, "0200001"),
    "appointTime in seconds": ({"appointTime": 1749204000}, "0200001"),
    "unknown agent": ({"workNo": "60000"}, "0200001"),
    "unknown field": ({"remarks": "x"}, "0200001"),
    "unknown appointment": ({"appointId": "174729926098016859445364892091"}, "04000004"),
}


@pytest.mark.parametrize(("change", "code"), CODES.values(), ids=CODES.keys())
def test_each_documented_isales_code(isales, sandbox, change, code):
    appointment = manual(sandbox)
    payload = {"appointId": appointment["appointId"], "workNo": appointment["workNo"], **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    r = isales.post(1, "update", payload)
    assert r.status_code == 200
    body = r.json()
    assert body["resultCode"] == body["returnCode"] == code
    assert body["resultDesc"] == body["returnDesc"] and body["resultDesc"]
    assert sandbox.appointment(1, appointment["appointId"]) == appointment
    assert sandbox.applied_counts() == {}


def test_automatic_appointment_cannot_be_modified(isales, sandbox):
    automatic = next(a for a in sandbox.appointments(2) if a["callType"] == 2)
    r = isales.post(2, "update", {"appointId": automatic["appointId"], "workNo": automatic["workNo"]})
    body = r.json()
    assert body["resultCode"] not in ("0200000", None) and "automatic" in body["resultDesc"]
    assert sandbox.appointment(2, automatic["appointId"]) == automatic


def test_appointment_on_another_vdn_is_not_found_and_bad_vdn_is_a_parameter_error(isales, sandbox):
    appointment = manual(sandbox, 1)
    payload = {"appointId": appointment["appointId"], "workNo": appointment["workNo"]}
    assert isales.post(2, "update", payload).json()["resultCode"] == "04000004"
    assert isales.post(0, "update", payload).json()["resultCode"] == "0200001"
    assert isales.post(10000, "update", payload).json()["resultCode"] == "0200001"


def test_malformed_json_is_400(isales):
    assert isales.post(1, "update", b'{"appointId": ').status_code == 400


def test_list_pages_with_offset_and_limit_and_filters_call_type(isales, sandbox):
    everything = sandbox.appointments(3)
    seen = []
    for offset in range(0, len(everything) + 10, 10):
        body = isales.post(3, "list", {"offset": offset, "limit": 10}).json()
        assert body["resultCode"] == "0200000" and body["totalCount"] == len(everything)
        seen += body["data"]
    assert [a["appointId"] for a in seen] == [a["appointId"] for a in everything]
    automatic = isales.post(3, "list", {"callType": 2, "limit": 100}).json()
    assert automatic["totalCount"] == sum(a["callType"] == 2 for a in everything)
    assert isales.post(3, "list", {"limit": 101}).json()["resultCode"] == "0200001"
