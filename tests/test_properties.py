"""Property-based tests of the catalogue: the schema accepts a value exactly when it is within the limits.

For every field of every operation, values are drawn from the field's own limits (kind, max_length,
max_items, minimum/maximum, choices, forbidden), both inside and just outside them. Each value goes into an
otherwise valid row and through ``validate_table``. The property, per value:

    validate_table accepts it  ⇔  ``within_limits`` (an oracle written here from the Field, not from schemas.py)

and every accepted row, built into its request, is sent to the sandbox — which checks bodies against the API
pages, not against the catalogue — and must not be refused as malformed (HTTP 400 on C1, a parameter error
code on iSales). A business failure (an unknown user ID, say) is fine: the body was well formed.

Where the API pages are silent the catalogue and the sandbox each made a choice; the ones that disagree are
the strict xfails at the end.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchops.catalogue import (
    AGENT_SETTINGS,
    APPOINTMENT,
    CALLED_ROUTE,
    OPERATIONS,
    SILENCE_RULE,
    Field,
    Kind,
)
from batchops.checking.coerce import resolve_timezone, typed_values
from batchops.checking.validation import validate_table
from batchops.http.client import Client
from batchops.settings import load_settings
from batchops.sheets.table import RawTable

UTC = resolve_timezone("UTC")
ISALES_REFUSALS = {"0200001", "02000001", "02000002", "02000003"}
"""iSales codes for a malformed body: parameter error, empty, invalid characters, too long."""

PROPERTY_SETTINGS = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SAFE_TEXT = st.text(alphabet=st.sampled_from("abcXYZ019_-.()规则名称é/#"), min_size=1, max_size=12)
ID_TEXT = st.text(alphabet=st.sampled_from("0123456789abcdefABCDEF-_"), min_size=1, max_size=30)


# -- the oracle: what the catalogue's limits allow, written from the Field --------------------------------


def within_limits(fld: Field, text: str) -> bool:
    """Does ``text`` (a cell as typed) keep every limit the Field states?"""
    if fld.kind is Kind.NUMBER:
        return bool(re.fullmatch(r"\+?\d+", text)) and len(text) <= fld.max_length
    if fld.kind is Kind.NUMBER_LIST:
        items = text.split(",")
        return len(items) <= fld.max_items and all(
            re.fullmatch(r"\+?\d+", i) and len(i) <= fld.max_length for i in items)
    if fld.kind is Kind.ID:
        return not re.search(r"[\s,]", text)
    if fld.kind is Kind.ID_LIST:
        return all(i and not re.search(r"\s", i) for i in text.split(","))
    if fld.kind is Kind.CODE:
        return text in fld.choice_values
    if fld.kind is Kind.INTEGER:
        return bool(re.fullmatch(r"-?\d+", text)) and fld.minimum <= int(text) <= fld.maximum
    if fld.kind is Kind.TEXT:
        return (fld.max_length is None or len(text) <= fld.max_length) and not set(text) & set(fld.forbidden)
    if fld.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S):
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
        scale = 1000 if fld.kind is Kind.TIMESTAMP_MS else 1
        return moment.timestamp() * scale >= (fld.minimum or 0)
    raise AssertionError(fld.kind)


# -- values inside and just outside each field's limits ----------------------------------------------------


def _digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=low, max_size=high)


def values_for(fld: Field) -> st.SearchStrategy[str]:
    """Cells for ``fld``: about half within its limits, the rest just outside them."""
    if fld.kind is Kind.NUMBER:
        n = fld.max_length
        return st.one_of(_digits(1, n), _digits(n + 1, n + 3), st.just("+" + "1" * (n - 1)),
                         st.builds(lambda a, b: a + "x" + b, _digits(0, 5), _digits(1, 5)))
    if fld.kind is Kind.NUMBER_LIST:
        n, k = fld.max_length, fld.max_items
        inside = st.lists(_digits(1, n), min_size=1, max_size=k)
        too_many = st.lists(_digits(1, n), min_size=k + 1, max_size=k + 2)
        too_long = st.lists(_digits(1, n), min_size=0, max_size=k - 1).map(lambda xs: xs + ["9" * (n + 1)])
        letters = st.lists(_digits(1, n), min_size=0, max_size=k - 1).map(lambda xs: xs + ["12a"])
        return st.one_of(inside, too_many, too_long, letters).map(",".join)
    if fld.kind is Kind.ID:
        return st.one_of(ID_TEXT, st.builds(lambda a, s, b: a + s + b, ID_TEXT, st.sampled_from([" ", ","]),
                                            ID_TEXT))
    if fld.kind is Kind.ID_LIST:
        return st.one_of(st.lists(ID_TEXT, min_size=1, max_size=4).map(",".join),
                         st.lists(ID_TEXT, min_size=2, max_size=3).map(" ".join))
    if fld.kind is Kind.CODE:
        outside = st.sampled_from(sorted({"4", "9", "-1", "10", "01x"} - set(fld.choice_values)))
        return st.one_of(st.sampled_from(fld.choice_values), outside)
    if fld.kind is Kind.INTEGER:
        low, high = fld.minimum, fld.maximum
        edges = st.sampled_from([low, high, low - 1, high + 1, low + 1, high - 1])
        return st.one_of(edges, st.integers(low, high), st.integers(low - 1000, low - 1),
                         st.integers(high + 1, high + 1000)).map(str)
    if fld.kind is Kind.TEXT:
        n = fld.max_length or 300
        base = [SAFE_TEXT.map(lambda t: (t * (n // len(t) + 1))[: max(1, min(len(t) * 5, n))]),
                st.integers(n - 2, n + 2).map(lambda k: "名" * max(1, k))]
        if fld.forbidden:
            base.append(st.builds(lambda a, c: a + c, SAFE_TEXT, st.sampled_from(list(fld.forbidden))))
        return st.one_of(*base)
    if fld.kind in (Kind.TIMESTAMP_MS, Kind.TIMESTAMP_S):
        epoch = datetime(1970, 1, 1)
        inside = st.integers(24 * 60, 60 * 24 * 365 * 60).map(lambda m: epoch + timedelta(minutes=m))
        before = st.integers(1, 60 * 24 * 365 * 50).map(lambda m: epoch - timedelta(minutes=m))
        return st.one_of(inside, before).map(lambda d: d.strftime("%Y-%m-%d %H:%M"))
    raise AssertionError(fld.kind)


# -- rows that are valid but for the field under test, with real records from the sandbox -----------------


def base_row(op_name: str, sandbox) -> dict[str, str]:
    """The mandatory cells of a valid row naming a real record, so an accepted update can succeed."""
    if op_name == "agent-settings":
        r = sandbox.agent_settings()[0]
        return {"id": r["id"], "userId": r["userId"]}
    if op_name == "called-route":
        route = next(r for r in sandbox.routes() if r["editable"] not in (1, 3))
        return {"id": route["id"], "devicetype": "1", "deviceId": str(min(sandbox.skill_queues()))}
    if op_name == "appointment":
        a = next(a for a in sandbox.appointments() if a["callType"] == 1)
        return {"vdnId": str(a["vdnId"]), "appointId": a["appointId"], "userAccount": a["userAccount"]}
    if op_name == "silence-rule":
        rule = sandbox.silence_rules()[0]
        return {"silence_id": rule["silence_id"], "name": "rule", "score": "50", "seconds": "5", "times": "2"}
    raise AssertionError(op_name)


def raw_table(cells: dict[str, str]) -> RawTable:
    headers = list(cells)
    return RawTable(path=Path("prop.xlsx"), kind="xlsx", sheet="Data", header_row=1,
                    headers=headers, columns=list(range(len(headers))), rows=[[cells[h] for h in headers]],
                    row_numbers=[2])


CASES = [(op.name, f.name) for op in OPERATIONS.values() for f in op.fields
         if not f.in_url and f.name not in ("silence_id", "appointId")]
"""Every field but the record keys the sandbox must find (their values are drawn from real records)."""




@pytest.fixture
def client(sandbox):
    c = Client(load_settings(env=sandbox.env()))
    yield c
    c.close()


def refused_as_malformed(op_name: str, result) -> bool:
    """Did the sandbox refuse the body itself (as opposed to a business failure)?"""
    if result.http_status == 400:
        return True
    body = result.body if isinstance(result.body, dict) else {}
    code = str(body.get("resultCode") or body.get("returnCode") or "")
    desc = str(body.get("resultDesc") or "")
    business = "does not exist" in desc or "cannot be modified" in desc  # 0200001 covers these too
    return OPERATIONS[op_name].family == "isales" and code in ISALES_REFUSALS and not business


@pytest.mark.parametrize(("op_name", "field_name"), CASES, ids=[f"{o}.{f}" for o, f in CASES])
def test_schema_accepts_exactly_the_values_within_limits_and_the_sandbox_takes_them(op_name, field_name, sandbox,
                                                                                    client):
    op = OPERATIONS[op_name]
    fld = op.field(field_name)
    base = base_row(op_name, sandbox)

    @PROPERTY_SETTINGS
    @given(value=values_for(fld))
    def check(value: str) -> None:
        cells = {**base, field_name: value}
        report = validate_table(raw_table(cells), op, UTC)
        expected = within_limits(fld, value)
        problems = [(i.code, i.message) for i in report.errors]
        assert report.ok == expected, (value, problems)
        if not report.ok:
            assert {i.column for i in report.errors} == {list(cells).index(field_name)}, problems
            return
        record = report.records[0]
        call = op.build_call(typed_values(op, record.texts))
        result = client.send(call)
        assert result.http_status is not None, result.error
        assert not refused_as_malformed(op_name, result), (value, call.body, result.body)

    check()


# -- where the pages are silent, the catalogue takes the sandbox's conservative limits -----------------------


@pytest.mark.parametrize(("op", "field_name", "value", "code"), [
    (CALLED_ROUTE, "deviceId", "0", "out_of_range"),
    (SILENCE_RULE, "name", "规" * 201, "too_long"),
    (APPOINTMENT, "appointId", "1" * 65, "too_long"),
    (APPOINTMENT, "appointTime", "1972-06-01 09:30", "out_of_range"),
], ids=["deviceId-0", "rule-name-201", "appointId-65", "appointTime-1972"])
def test_values_the_pages_leave_open_are_refused_before_sending(op, field_name, value, code, sandbox):
    """deviceId 0, a 201-character rule name, a 65-character appointId and a 1972 appointTime: the pages are
    silent, the sandbox refuses them, so validation does too (each limit is a ``note`` in the catalogue)."""
    cells = {**base_row(op.name, sandbox), field_name: value}
    report = validate_table(raw_table(cells), op, UTC)
    assert [(i.header, i.code) for i in report.errors] == [(field_name, code)]
    assert op.field(field_name).note


def test_agent_settings_limits_are_the_pages_limits():
    """The two limits the agentsettings page states, as the catalogue holds them."""
    for name in ("callerPresent", "callNumber"):
        assert (AGENT_SETTINGS.field(name).max_items, AGENT_SETTINGS.field(name).max_length) == (5, 15)
    assert CALLED_ROUTE.field("devicetype").choice_values == ("1", "3")
