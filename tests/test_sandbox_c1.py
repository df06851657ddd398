"""The sandbox's C1 calls: bodies checked as the API pages say, documented codes, state and reads."""

from __future__ import annotations

import pytest

from batchops.sandbox import record_key

BASE = "/apiaccess/CC-Management/v1"
SETTINGS_UPDATE = f"{BASE}/openapp/agentsettings/update"
SETTINGS_QUERY = f"{BASE}/openapp/agentsettings/query"
ROUTES = "/apiaccess/rest/cc-management/v1/calledRoute"
SILENCE = "/apiaccess/CCSQM/rest/ccisqm/v1/silencerule"



# -- queryAgentInfo ---------------------------------------------------------------------------------

def test_query_agent_info_returns_every_agent_with_softphone_details(c1, sandbox):
    body = c1.get(f"{BASE}/queryAgentInfo").json()
    assert body["sipServiceIp"] == "10.10.96.98"
    assert body["sipServicePort"] == 5060
    agents = body["agents"]
    assert len(agents) == sandbox.options.agents == len(sandbox.agents())
    assert all(101 <= a["workNo"] <= 59999 and isinstance(a["workNo"], int) for a in agents)
    assert all(set(a) <= {"workNo", "sipAccount", "sipPwd", "accountCode"} for a in agents)
    assert any(a["sipAccount"].startswith("0") for a in agents)  # leading zeros survive
    assert any("accountCode" not in a for a in agents)
    assert len({a["sipAccount"] for a in agents}) == len(agents)


# -- agentsettings ----------------------------------------------------------------------------------

def test_agent_setting_update_answers_code_0_with_id_and_changes_state(c1, sandbox):
    setting = sandbox.agent_settings()[1]
    body = {"id": setting["id"], "userId": setting["userId"], "callType": "2",
            "callerPresent": ["02512345678", "13800000000"], "callNumber": ["0077"],
            "callNumberDefault": "0077", "callerPresentDefault": "02512345678"}
    r = c1.post(SETTINGS_UPDATE, json=body)
    assert r.status_code == 200
    assert r.json() == {"returnCode": "0", "returnDesc": "update success.", "id": setting["id"]}
    stored = sandbox.agent_setting(setting["id"])
    assert {k: stored[k] for k in body} == body
    assert stored["agentName"] == setting["agentName"]  # fields not sent stay as they were
    assert sandbox.applied_count(record_key("agentsettings", setting["id"])) == 1
    read = c1.post(SETTINGS_QUERY, json={"userId": setting["userId"]}).json()
    assert read["returnCode"] == "0"
    assert read["callerPresent"] == ["02512345678", "13800000000"]


def test_agent_setting_query_answers_the_record_at_the_top_level_as_the_page_lists_it(c1, sandbox):
    setting = sandbox.agent_settings()[2]
    read = c1.post(SETTINGS_QUERY, json={"userId": setting["userId"]}).json()
    assert set(read) == {"id", "callType", "callerPresent", "callNumber", "userId", "callNumberDefault",
                         "callerPresentDefault", "agentName", "returnCode", "returnDesc"}
    assert (read["id"], read["userId"], read["callNumber"]) == (setting["id"], setting["userId"],
                                                                setting["callNumber"])


BAD_SETTINGS = {
    "callerPresent as a comma string": {"callerPresent": "123,456"},
    "six numbers": {"callNumber": ["1", "2", "3", "4", "5", "6"]},
    "16-character number": {"callerPresent": ["1234567890123456"]},
    "number as a JSON number": {"callNumber": [12323]},
    "callType as a number": {"callType": 1},
    "callType out of range": {"callType": "3"},
    "default too long": {"callNumberDefault": "1234567890123456"},
    "unknown field": {"callerpresent": ["123"]},
    "missing userId": {"userId": None},
    "empty id": {"id": ""},
    "id as a number": {"id": 1307145259662215169},
}


@pytest.mark.parametrize("change", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_agent_setting_body_that_breaks_the_page_is_400_and_changes_nothing(c1, sandbox, change):
    setting = sandbox.agent_settings()[0]
    body = {"id": setting["id"], "userId": setting["userId"], **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = c1.post(SETTINGS_UPDATE, json=body)
    assert r.status_code == 400
    assert r.json()["returnCode"] != "0" and r.json()["returnDesc"]
    assert sandbox.agent_setting(setting["id"]) == setting
    assert sandbox.applied_counts() == {}


def test_agent_setting_five_numbers_of_15_characters_are_accepted(c1, sandbox):
    setting = sandbox.agent_settings()[0]
    numbers = ["123456789012345"] * 5
    r = c1.post(SETTINGS_UPDATE, json={"id": setting["id"], "userId": setting["userId"], "callNumber": numbers})
    assert r.json()["returnCode"] == "0"


def test_malformed_json_is_400(c1):
    r = c1.post(SETTINGS_UPDATE, content=b'{"id": "1",', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert c1.post(SETTINGS_UPDATE, json=[{"id": "1"}]).status_code == 400


def test_unknown_agent_setting_or_wrong_user_is_a_business_failure(c1, sandbox):
    setting = sandbox.agent_settings()[0]
    r = c1.post(SETTINGS_UPDATE, json={"id": "1307145259662215169", "userId": setting["userId"]})
    assert r.status_code == 200
    assert r.json()["returnCode"] not in ("0", None) and "does not exist" in r.json()["returnDesc"]
    r = c1.post(SETTINGS_UPDATE, json={"id": setting["id"], "userId": "1660270845627002401"})
    assert r.status_code == 200 and r.json()["returnCode"] != "0"
    assert c1.post(SETTINGS_QUERY, json={"userId": setting["id"]}).json()["returnCode"] != "0"
    assert sandbox.applied_counts() == {}


# -- calledRoute ------------------------------------------------------------------------------------

def _editable(sandbox, devicetype=None):
    return next(r for r in sandbox.routes()
                if r["editable"] not in (1, 3) and (devicetype is None or r["devicetype"] == devicetype))


def test_modify_called_route_answers_code_0_and_moves_the_route(c1, sandbox):
    route = _editable(sandbox)
    queue_id = max(sandbox.skill_queues())
    r = c1.post(f"{ROUTES}/modifyCalledRoute", json={"id": route["id"], "devicetype": 1, "deviceId": queue_id})
    assert r.status_code == 200
    assert r.json() == {"returnCode": "0", "description": "data update success"}
    stored = sandbox.route(route["id"])
    assert (stored["devicetype"], stored["deviceId"]) == (1, queue_id)
    assert stored["deviceDesc"] == sandbox.skill_queues()[queue_id]
    assert sandbox.applied_count(record_key("route", route["id"])) == 1


@pytest.mark.parametrize("editable", [1, 3])
def test_route_marked_not_editable_cannot_be_modified(c1, sandbox, editable):
    route = next(r for r in sandbox.routes() if r["editable"] == editable)
    r = c1.post(f"{ROUTES}/modifyCalledRoute", json={"id": route["id"], "devicetype": 3, "deviceId": 1})
    assert r.status_code == 200
    assert r.json()["returnCode"] != "0" and "cannot be modified" in r.json()["description"]
    assert sandbox.route(route["id"]) == route


@pytest.mark.parametrize("change", [{"devicetype": "1"}, {"devicetype": 2}, {"deviceId": "1"},
                                   {"deviceId": 1.5}, {"deviceId": True}, {"id": None}, {"deviceDesc": "x"}])
def test_route_body_that_breaks_the_page_is_400(c1, sandbox, change):
    route = _editable(sandbox)
    body = {k: v for k, v in {"id": route["id"], "devicetype": 1, "deviceId": 1, **change}.items() if v is not None}
    r = c1.post(f"{ROUTES}/modifyCalledRoute", json=body)
    assert r.status_code == 400 and r.json()["description"]
    assert sandbox.route(route["id"]) == route


def test_unknown_route_or_device_is_a_business_failure(c1, sandbox):
    r = c1.post(f"{ROUTES}/modifyCalledRoute", json={"id": "1125397061153369092", "devicetype": 1, "deviceId": 1})
    assert r.status_code == 200 and r.json()["returnCode"] != "0"
    route = _editable(sandbox)
    r = c1.post(f"{ROUTES}/modifyCalledRoute", json={"id": route["id"], "devicetype": 3, "deviceId": 9999})
    assert r.status_code == 200 and "does not exist" in r.json()["description"]
    assert sandbox.applied_counts() == {}


def test_query_called_route_pages_through_every_route(c1, sandbox):
    seen = []
    offset = 0
    while True:
        body = c1.post(f"{ROUTES}/queryCalledRoute", json={"limit": 7, "offset": offset}).json()
        assert body["returnCode"] == "0"
        page = body["data"]["calledRouteList"]
        assert body["data"]["total"] == len(sandbox.routes())
        if not page:
            break
        assert len(page) <= 7
        seen += page
        offset += 7
    assert [r["id"] for r in seen] == [r["id"] for r in sandbox.routes()]
    assert {"id", "dnid", "accessCode", "extCode", "deviceId", "devicetype", "deviceDesc", "mediatypeId",
            "editable"} == set(seen[0])


def test_query_called_route_filters_and_limits(c1, sandbox):
    ivr_routes = [r for r in sandbox.routes() if r["devicetype"] == 3]
    body = c1.post(f"{ROUTES}/queryCalledRoute", json={"devicetype": 3, "limit": 100}).json()
    assert body["data"]["total"] == len(ivr_routes)
    assert c1.post(f"{ROUTES}/queryCalledRoute", json={"limit": 101}).status_code == 400
    assert c1.post(f"{ROUTES}/queryCalledRoute", json={"offset": -1}).status_code == 400


# -- silence rules ----------------------------------------------------------------------------------

def _rule_body(rule, **setting):
    base = {"silence_id": rule["silence_id"], "name": rule["name"], "score": rule["score"],
            "seconds": rule["seconds"], "times": rule["times"]}
    return {"setting": {**base, **setting}}


def test_update_silence_rule_answers_0405000_and_query_shows_strings_and_sentence_objects(c1, sandbox):
    rule = sandbox.silence_rules()[0]
    sentence = sandbox.sentences()[0]
    body = _rule_body(rule, score=4, seconds=5, times=4, name="test35444",
                      other={"call_end": 1624430285, "call_from": 1623911884})
    body["exception"] = {"before": {"staff": [sentence["sentence_id"]], "customer": []}, "after": {}}
    r = c1.post(f"{SILENCE}/updateSilenceRule", json=body, headers={"x-UserId": sandbox.options.user_id})
    assert r.status_code == 200
    assert r.json() == {"resultCode": "0405000", "resultDesc": "操作成功"}
    assert sandbox.applied_count(record_key("silencerule", rule["silence_id"])) == 1
    read = c1.post(f"{SILENCE}/querySilenceRule", json={"silence_id": rule["silence_id"]}).json()
    assert read["resultCode"] == "0405000"
    data = read["data"]
    assert (data["score"], data["seconds"], data["times"], data["name"]) == ("4", "5", "4", "test35444")
    assert data["other"] == {"call_end": "1624430285", "call_from": "1623911884"}
    assert data["exception"]["before"]["staff"] == [sentence]
    assert set(sentence) == {"category_id", "sentence_id", "sentence_name"}
    assert data["exception"]["after"]["staff"] == []


BAD_RULES = {
    "score as a string": {"score": "4"},
    "score 0": {"score": 0},
    "score 101": {"score": 101},
    "score with a fraction": {"score": 4.5},
    "seconds over int32": {"seconds": 2147483648},
    "times 0": {"times": 0},
    "times as a boolean": {"times": True},
    "empty name": {"name": ""},
    "call_from in milliseconds": {"other": {"call_from": 1623911884000}},
    "unknown field": {"Score": 4},
}


@pytest.mark.parametrize("change", BAD_RULES.values(), ids=BAD_RULES.keys())
def test_silence_rule_body_that_breaks_the_page_is_400(c1, sandbox, change):
    rule = sandbox.silence_rules()[0]
    r = c1.post(f"{SILENCE}/updateSilenceRule", json=_rule_body(rule, **change))
    assert r.status_code == 400
    assert r.json()["resultCode"] != "0405000" and r.json()["resultDesc"]
    assert sandbox.silence_rule(rule["silence_id"]) == rule


def test_silence_rule_missing_mandatory_setting_or_sentence_as_number_is_400(c1, sandbox):
    rule = sandbox.silence_rules()[0]
    assert c1.post(f"{SILENCE}/updateSilenceRule", json={"exception": {}}).status_code == 400
    body = _rule_body(rule)
    del body["setting"]["times"]
    assert c1.post(f"{SILENCE}/updateSilenceRule", json=body).status_code == 400
    body = {**_rule_body(rule), "exception": {"before": {"staff": [14161]}}}
    assert c1.post(f"{SILENCE}/updateSilenceRule", json=body).status_code == 400


def test_unknown_rule_or_sentence_is_a_business_failure(c1, sandbox):
    rule = sandbox.silence_rules()[0]
    r = c1.post(f"{SILENCE}/updateSilenceRule", json=_rule_body(rule, silence_id="922988537635147776"))
    assert r.status_code == 200 and r.json()["resultCode"] != "0405000"
    body = {**_rule_body(rule), "exception": {"before": {"staff": ["99999"]}}}
    r = c1.post(f"{SILENCE}/updateSilenceRule", json=body)
    assert r.status_code == 200 and "99999" in r.json()["resultDesc"]
    r = c1.post(f"{SILENCE}/querySilenceRule", json={"silence_id": "1"})
    assert r.json()["resultCode"] != "0405000"
    assert sandbox.applied_counts() == {}


def test_unknown_operator_is_refused(c1, sandbox):
    rule = sandbox.silence_rules()[0]
    r = c1.post(f"{SILENCE}/updateSilenceRule", json=_rule_body(rule), headers={"x-UserId": "42"})
    assert r.status_code == 403


def test_query_silence_rules_pages_and_filters_by_keyword(c1, sandbox):
    rules = sandbox.silence_rules()
    ids = []
    for page in range(1, 100):
        body = c1.post(f"{SILENCE}/querySilenceRules", json={"page": page, "limit": 25}).json()
        assert body["total"] == len(rules)
        if not body["data"]:
            break
        ids += [r["silence_id"] for r in body["data"]]
    assert ids == [r["silence_id"] for r in rules]
    chinese = c1.post(f"{SILENCE}/querySilenceRules", json={"keyword": "静默", "limit": 100}).json()
    assert chinese["total"] == sum("静默" in r["name"] for r in rules) > 0
    assert all(isinstance(r["score"], str) for r in chinese["data"])
