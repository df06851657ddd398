"""The read side: each operation's declared read calls, run against the sandbox, give its canonical texts."""

from __future__ import annotations

import httpx
import pytest

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, SILENCE_RULE
from batchops.errors import AuthError, RemoteError
from batchops.http.client import Client
from batchops.remote import agentinfo, readers
from batchops.remote.answers import epoch_text, list_text, text_of
from batchops.remote.readers import LiveRecord, blockers, iter_records, read_by_keys
from batchops.secrets import Secret
from batchops.settings import load_settings


def read_record(client, op, texts):
    """One record by the row's texts, through a fresh reader."""
    return readers.RecordReader(client).read(op, texts)


@pytest.fixture
def client(sandbox):
    """A client talking to the sandbox on loopback."""
    with Client(load_settings(env=sandbox.env())) as c:
        yield c


def test_agents_keep_leading_zeros_and_hold_the_password_as_a_secret(client, sandbox):
    info = agentinfo.read_agent_info(client)
    assert (info.sip_service_ip, info.sip_service_port) == ("10.10.96.98", "5060")
    expected = sandbox.agents()
    assert [a.work_no for a in info.agents] == [str(a["workNo"]) for a in expected]
    assert [a.sip_account for a in info.agents] == [a["sipAccount"] for a in expected]
    assert any(a.sip_account.startswith("0") for a in info.agents)
    first = info.agents[0]
    assert isinstance(first.sip_pwd, Secret) and first.sip_pwd.reveal() == expected[0]["sipPwd"]
    assert expected[0]["sipPwd"] not in repr(first)
    no_account = next(a for a in info.agents if not a.account_code)
    assert no_account.account_code == ""
    assert len(list(agentinfo.iter_agents(client))) == len(expected)


def test_called_routes_are_paged_and_carry_editable(client, sandbox):
    routes = list(iter_records(client, CALLED_ROUTE, page_size=7))
    expected = {r["id"]: r for r in sandbox.routes()}
    assert [r["id"] for r in routes] == list(expected)
    for record in routes:
        source = expected[record["id"]]
        assert dict(record) == {"id": source["id"], "devicetype": str(source["devicetype"]),
                                "deviceId": str(source["deviceId"])}
        assert record.context["editable"] == str(source["editable"])
    offsets = [e.body["offset"] for e in sandbox.request_log("queryCalledRoute")]
    assert offsets == list(range(0, len(expected), 7))


def test_silence_rules_become_what_update_takes(client, sandbox):
    rules = {r["silence_id"]: r for r in iter_records(client, SILENCE_RULE, page_size=25)}
    assert set(rules) == {r["silence_id"] for r in sandbox.silence_rules()}
    source = next(r for r in sandbox.silence_rules() if r.get("other") and r["exception"]["before"]["staff"])
    record = rules[source["silence_id"]]
    assert record["score"] == str(source["score"]) and record["times"] == str(source["times"])
    assert record["call_from"] == str(source["other"]["call_from"])
    assert record["before_staff"] == ",".join(source["exception"]["before"]["staff"])
    assert list(record) == list(SILENCE_RULE.columns)
    sid = source["exception"]["before"]["staff"][0]
    assert sid in record.context["before_staff_sentences"]


def test_appointments_are_paged_with_their_call_type(client, sandbox):
    records = list(iter_records(client, APPOINTMENT, {"vdnId": 2}, page_size=9))
    expected = sandbox.appointments(2)
    assert [r["appointId"] for r in records] == [a["appointId"] for a in expected]
    assert all(r["vdnId"] == "2" for r in records)
    assert records[0]["appointTime"] == str(expected[0]["appointTime"])
    automatic = next(r for r in records if r.context["callType"] == "2")
    assert blockers(APPOINTMENT, automatic) == [
        f"the appointment {automatic['appointId']} is automatic: cannot be modified"]


def test_agent_settings_per_user_found_and_missing(client, sandbox):
    settings = sandbox.agent_settings()[:3]
    keys = [{"userId": s["userId"]} for s in settings] + [{"userId": "404"}]
    pairs = list(read_by_keys(client, AGENT_SETTINGS, keys, concurrency=2))
    assert [key["userId"] for key, _ in pairs] == [s["userId"] for s in settings] + ["404"]
    assert pairs[-1][1] is None
    record = pairs[0][1]
    assert record is not None and record["id"] == settings[0]["id"]
    assert record["callNumber"] == ",".join(settings[0]["callNumber"])
    assert len(record["id"]) == 19


def test_read_record_for_each_operation(client, sandbox):
    route = next(r for r in sandbox.routes() if r["editable"] in (1, 3))
    current = read_record(client, CALLED_ROUTE, {"id": route["id"]})
    assert current is not None and blockers(CALLED_ROUTE, current) == [
        f"the called route {route['id']} cannot be edited (editable={route['editable']})"]
    assert read_record(client, CALLED_ROUTE, {"id": "1"}) is None

    rule = sandbox.silence_rules()[0]
    assert read_record(client, SILENCE_RULE, {"silence_id": rule["silence_id"]})["name"] == rule["name"]
    assert read_record(client, SILENCE_RULE, {"silence_id": "1"}) is None

    appointment = sandbox.appointments(1)[0]
    found = read_record(client, APPOINTMENT, {"vdnId": "1", "appointId": appointment["appointId"]})
    assert found is not None and found["remark"] == appointment["remark"]
    assert read_record(client, APPOINTMENT, {"vdnId": "3", "appointId": appointment["appointId"]}) is None

    setting = sandbox.agent_settings()[0]
    key = {"id": setting["id"], "userId": setting["userId"]}
    assert read_record(client, AGENT_SETTINGS, key)["userId"] == setting["userId"]
    assert read_record(client, AGENT_SETTINGS, {**key, "id": "999"}) is None


def test_a_record_reader_lists_routes_once(client, sandbox):
    reader = readers.RecordReader(client)
    for route in sandbox.routes()[:5]:
        assert reader.read(CALLED_ROUTE, {"id": route["id"]})["id"] == route["id"]
    assert len(sandbox.request_log("queryCalledRoute")) == 1


def test_tolerant_conversions():
    assert text_of(4) == text_of(4.0) == text_of("4") == text_of(" 4.0 ") == "4"
    assert text_of(None) == ""
    assert list_text([{"category_id": "5000", "sentence_id": "14101", "sentence_name": "x"}, 14102]) == "14101,14102"
    assert list_text("1, 2，3") == "1,2,3" and list_text([]) == "" and list_text(None) == ""
    assert epoch_text("1782864000", millis=True) == "1782864000000"
    assert epoch_text(1782864000000, millis=False) == "1782864000"
    assert blockers(CALLED_ROUTE, LiveRecord({"id": "7"}, {"editable": "0"})) == []
    assert blockers(CALLED_ROUTE, {"id": "7", "editable": 3}) != []


@pytest.fixture
def answering():
    """``answering(status, body)``: a client whose every call gets that answer (closed after the test)."""
    made: list[Client] = []

    def make(status: int, body: object) -> Client:
        made.append(_client_answering(status, body))
        return made[-1]

    yield make
    for c in made:
        c.close()


def _client_answering(status: int, body: object) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("tokenByAkSk"):
            return httpx.Response(200, json={"AccessToken": "t", "Expires": "600"})
        return httpx.Response(status, json=body)

    env = {"BATCHOPS_BASE_URL": "https://gw.example", "BATCHOPS_APP_KEY": "k", "BATCHOPS_APP_SECRET": "s"}
    return Client(load_settings(env=env), transport=httpx.MockTransport(handler))


def test_failures_raise_one_clear_error(answering):
    with pytest.raises(RemoteError, match="queryCalledRoute: HTTP 500: boom"):
        list(iter_records(answering(500, {"returnDesc": "boom"}), CALLED_ROUTE))
    with pytest.raises(AuthError):
        agentinfo.read_agent_info(answering(403, {}))
    with pytest.raises(RemoteError, match="answered 9: no rights"):
        list(iter_records(answering(200, {"returnCode": "9", "returnDesc": "no rights"}), CALLED_ROUTE))
    # A failure code on a by-key query is an unknown record, not an error.
    assert read_record(answering(200, {"resultCode": "0405004"}), SILENCE_RULE, {"silence_id": "1"}) is None


# -- answers exactly as the pages show them ------------------------------------------------------------

PAGE_SETTING = {"id": "1307145259662215169", "callType": "1", "callerPresent": ["12323"],
                "callNumber": ["12323", "232343"], "userId": "1660270845627002401",
                "callNumberDefault": "23232323", "callerPresentDefault": "1212121212", "agentName": "aaaa",
                "returnCode": "0", "returnDesc": "query success."}
"""agentsettings/query as its page's response table lists it: every field at the top level, no ``data``."""


@pytest.mark.parametrize("answer", [PAGE_SETTING, {"returnCode": "0", "returnDesc": "ok",
                                                   "data": {k: v for k, v in PAGE_SETTING.items()
                                                            if not k.startswith("return")}}],
                         ids=["as the page shows it", "wrapped in data"])
def test_agent_settings_are_read_as_the_page_answers_and_from_a_server_that_wraps_them(answering, answer):
    client = answering(200, answer)
    key = {"id": PAGE_SETTING["id"], "userId": PAGE_SETTING["userId"]}
    record = read_record(client, AGENT_SETTINGS, key)
    assert record is not None
    assert dict(record) == {"id": "1307145259662215169", "userId": "1660270845627002401", "callType": "1",
                            "callerPresent": "12323", "callNumber": "12323,232343",
                            "callNumberDefault": "23232323", "callerPresentDefault": "1212121212"}
    assert record.context["agentName"] == "aaaa"
    assert [k["userId"] for k, r in read_by_keys(client, AGENT_SETTINGS, [{"userId": PAGE_SETTING["userId"]}])
            if r] == [PAGE_SETTING["userId"]]


def test_an_agent_settings_failure_code_is_no_record(answering):
    client = answering(200, {"returnCode": "1", "returnDesc": "no agent setting"})
    assert read_record(client, AGENT_SETTINGS, {"userId": "1660270845627002401"}) is None


def test_each_operation_names_its_records_by_what_the_read_side_knows(client, sandbox):
    route = next(r for r in sandbox.routes() if r["extCode"])
    assert readers.label_of(CALLED_ROUTE, read_record(client, CALLED_ROUTE, {"id": route["id"]})) == (
        f"accessCode {route['accessCode']}, extCode {route['extCode']}")
    appointment = sandbox.appointments(1)[0]
    found = read_record(client, APPOINTMENT, {"vdnId": "1", "appointId": appointment["appointId"]})
    assert readers.label_of(APPOINTMENT, found) == f"calledNo {appointment['calledNo']}"
    rule = sandbox.silence_rules()[0]
    found = read_record(client, SILENCE_RULE, {"silence_id": rule["silence_id"]})
    assert readers.label_of(SILENCE_RULE, found) == f"name {rule['name']}"
    # Agent settings: the agent's account (agentName) and, from querySysInfo, its workNo.
    settings = {s["userId"]: s for s in sandbox.agent_settings()}
    agent = next(a for a in sandbox.agents() if a.get("accountCode")
                 and settings.get(a.get("accountId"), {}).get("agentName") == a["accountCode"])
    setting = settings[agent["accountId"]]
    found = read_record(client, AGENT_SETTINGS, {"id": setting["id"], "userId": setting["userId"]})
    assert readers.label_of(AGENT_SETTINGS, found) == f"agentName {agent['accountCode']}, workNo {agent['workNo']}"
    assert readers.label_of(CALLED_ROUTE, None) == ""
