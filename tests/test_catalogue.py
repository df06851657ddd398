"""The catalogue: one spec per API call, from which requests and outcomes are derived."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from batchops.catalogue import (
    AGENT_SETTINGS,
    APPOINTMENT,
    CALLED_ROUTE,
    OPERATIONS,
    SILENCE_RULE,
    Kind,
    Operation,
    header_index,
    normalize_header,
)
from batchops.http.calls import CallResult


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


def test_fingerprint_is_distinct_per_operation_and_the_same_in_another_process():
    prints = {name: op.fingerprint() for name, op in OPERATIONS.items()}
    assert len(set(prints.values())) == 4 and all(re.fullmatch(r"[0-9a-f]{12}", p) for p in prints.values())
    # Another interpreter, with another hash seed, computes the same prints: a template made on one machine
    # is recognised on another.
    code = "import json; from batchops.catalogue import OPERATIONS as O; print(json.dumps({n: o.fingerprint() for n, o in O.items()}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(other.stdout) == prints


@pytest.mark.parametrize(("name", "change"), [
    ("callNumber", {"max_length": 16}),
    ("callerPresent", {"max_items": 6}),
    ("callType", {"choices": AGENT_SETTINGS.field("callType").choices[:2]}),
    ("userId", {"required": False}),
    ("callNumberDefault", {"kind": Kind.TEXT}),
])
def test_fingerprint_changes_with_every_rule_a_template_encodes(name, change):
    assert _changed(AGENT_SETTINGS, name, **change).fingerprint() != AGENT_SETTINGS.fingerprint()


@pytest.mark.parametrize(("op", "name", "change"), [
    (SILENCE_RULE, "score", {"minimum": 0}),
    (SILENCE_RULE, "score", {"maximum": 101}),
    (APPOINTMENT, "remark", {"forbidden": "<>"}),
])
def test_fingerprint_changes_with_ranges_and_forbidden_characters(op, name, change):
    assert _changed(op, name, **change).fingerprint() != op.fingerprint()


def test_fingerprint_ignores_wording_so_a_reworded_help_text_leaves_templates_current():
    field = AGENT_SETTINGS.field("callNumber")
    reworded = _changed(AGENT_SETTINGS, "callNumber", description=field.description + " (reworded)",
                        example="0755", note="another note")
    assert reworded.fingerprint() == AGENT_SETTINGS.fingerprint()


def _changed(op: Operation, name: str, **change: Any) -> Operation:
    """``op`` with field ``name`` changed, built anew (nothing cached from the original)."""
    fields = tuple(dataclasses.replace(f, **change) if f.name == name else f for f in op.fields)
    return dataclasses.replace(op, fields=fields)


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
