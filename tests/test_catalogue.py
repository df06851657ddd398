"""The catalogue: one spec per API call, from which requests and outcomes are derived."""

from __future__ import annotations

import dataclasses

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
         "before_customer": []}, user_id="161")
    assert call.body == {"setting": {"silence_id": "9", "name": "n", "score": 4, "seconds": 5, "times": 4,
                                     "other": {"call_end": 2}},
                         "exception": {"before": {"customer": []}}}
    assert call.headers == {"x-UserId": "161"}


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
    # The same declaration made again gives the same print; one limit changed gives another.
    assert dataclasses.replace(AGENT_SETTINGS).fingerprint() == AGENT_SETTINGS.fingerprint()
    wider = tuple(dataclasses.replace(f, max_length=16) if f.name == "callNumberDefault" else f
                  for f in AGENT_SETTINGS.fields)
    assert dataclasses.replace(AGENT_SETTINGS, fields=wider).fingerprint() != AGENT_SETTINGS.fingerprint()


def test_every_operation_declares_its_read_side():
    for op in OPERATIONS.values():
        assert op.read is not None, op.name
        assert op.read.by_key is not None or op.read.listing is not None
        assert op.read.label, f"{op.name} names no fact to show beside its key"
        for name in (*(p for q in (op.read.by_key,) if q for p in (*q.params, *q.must_match)),
                     *(op.read.listing.scope if op.read.listing else ()),
                     *(op.read.listing.filters if op.read.listing else ())):
            op.field(name)  # every column a read call names is a column of the operation
        facts = {f.name for f in op.read.facts} | set(op.read.walk.context if op.read.walk else ())
        assert {b.fact for b in op.read.blockers} <= facts
        assert set(op.read.label) <= facts | set(op.columns)
    assert {op.read.export_name for op in OPERATIONS.values()} == {
        "agent-settings", "called-routes", "appointments", "silence-rules"}
    assert APPOINTMENT.read.listing.scope == ("vdnId",)
    assert SILENCE_RULE.read_success is SILENCE_RULE.success
