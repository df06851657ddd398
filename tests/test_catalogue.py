"""The catalogue: one spec per API call, from which requests and outcomes are derived."""

from __future__ import annotations

from batchops.calls import CallResult
from batchops.catalogue import (
    AGENT_SETTINGS,
    APPOINTMENT,
    CALLED_ROUTE,
    OPERATIONS,
    SILENCE_RULE,
    header_index,
    normalize_header,
)


def test_operations_and_their_columns_are_as_the_api_pages_name_them():
    assert list(OPERATIONS) == ["agent-settings", "called-route", "appointment", "silence-rule"]
    assert AGENT_SETTINGS.columns == ("id", "userId", "callType", "callerPresent", "callNumber",
                                      "callNumberDefault", "callerPresentDefault")
    assert CALLED_ROUTE.columns == ("id", "devicetype", "deviceId")
    assert APPOINTMENT.columns == ("vdnId", "appointId", "userAccount", "workNo", "appointTime", "remark")
    assert SILENCE_RULE.columns == ("silence_id", "name", "score", "seconds", "times", "call_from", "call_end",
                                    "before_staff", "before_customer", "after_staff")


def test_headers_match_case_space_underscore_insensitively_and_by_chinese_name():
    index = header_index(SILENCE_RULE)
    assert index[normalize_header("Silence ID")] == "silence_id"
    assert index[normalize_header("SILENCE_ID")] == "silence_id"
    assert index[normalize_header("规则名称")] == "name"
    assert header_index(AGENT_SETTINGS)[normalize_header("Caller Present")] == "callerPresent"


def test_appointment_vdn_goes_into_the_url_not_the_body():
    call = APPOINTMENT.build_call({"vdnId": "12", "appointId": "A1", "appointTime": 1749204000000})
    assert call.family == "isales"
    assert call.path == "/rest/isales/v1/openapi/campaigns/12/appoint/update"
    assert call.body == {"appointId": "A1", "appointTime": 1749204000000}


def test_silence_rule_nesting_and_operator_header():
    call = SILENCE_RULE.build_call(
        {"silence_id": "9", "name": "n", "score": 4, "seconds": 5, "times": 4, "call_end": 2,
         "before_customer": []})
    assert call.body == {"setting": {"silence_id": "9", "name": "n", "score": 4, "seconds": 5, "times": 4,
                                     "other": {"call_end": 2}},
                         "exception": {"before": {"customer": []}}}
    assert call.operator_id and not call.headers  # the client adds the configured operator id


def test_outcome_reads_the_documented_success_codes():
    ok = AGENT_SETTINGS.outcome(CallResult(200, {"returnCode": "0", "returnDesc": "update success."}))
    assert (ok.ok, ok.code, ok.message) == (True, "0", "update success.")
    failed = CALLED_ROUTE.outcome(CallResult(200, {"returnCode": "1", "description": "not editable"}))
    assert (failed.ok, failed.code, failed.message) == (False, "1", "not editable")
    isales = APPOINTMENT.outcome(CallResult(200, {"returnCode": "04000004", "resultCode": "04000004",
                                                   "resultDesc": "not exist"}))
    assert (isales.ok, isales.code) == (False, "04000004")
    rule = SILENCE_RULE.outcome(CallResult(200, {"resultCode": "0405000", "resultDesc": "操作成功"}))
    assert rule.ok


def test_outcome_of_http_errors_and_silence():
    assert AGENT_SETTINGS.outcome(CallResult(400, None, text="Bad Request")).message == "HTTP 400: Bad Request"
    assert not AGENT_SETTINGS.outcome(CallResult(200, {})).ok
    assert AGENT_SETTINGS.outcome(CallResult(None, error="timed out")).message == "timed out"


def test_fingerprint_is_stable_and_distinct():
    prints = {op.fingerprint() for op in OPERATIONS.values()}
    assert len(prints) == 4
    assert AGENT_SETTINGS.fingerprint() == AGENT_SETTINGS.fingerprint()
