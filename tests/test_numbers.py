"""Range and length checks hold for a cell of any length (issue 10, item 15).

A whole number was held against its range through ``pd.to_numeric``, which turns 10,000 nines into NaN,
which the range check took for "not a number" and let through; an epoch cell of 5,000 digits stopped
validation with Python's ``int()`` limit. The oracle here is Python's own integers with that limit lifted.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sheet_builders import sheet_xml, write_xlsx

from batchops.catalogue import APPOINTMENT, CALLED_ROUTE, OPERATIONS, SILENCE_RULE, Kind
from batchops.checking.coerce import resolve_timezone, show_timestamp
from batchops.checking.numbers import compare_whole, whole_within
from batchops.checking.schemas import run_schema
from batchops.checking.validation import validate_file, validate_table
from batchops.sheets.table import RawTable

UTC = resolve_timezone("UTC")
PROPS = settings(max_examples=150, derandomize=True, database=None, deadline=None)

SIGNS = st.sampled_from(["", "-", "+"])
ZEROS = st.integers(0, 3).map(lambda n: "0" * n)
SHORT = st.text(alphabet="0123456789", min_size=1, max_size=30)
HUGE = st.integers(4_000, 12_000).flatmap(
    lambda n: st.sampled_from("123456789").map(lambda first: first + "9" * (n - 1)))
WHOLE = st.builds(lambda sign, zeros, digits: sign + zeros + digits, SIGNS, ZEROS, st.one_of(SHORT, HUGE))


@pytest.fixture
def unlimited_int() -> Iterator[None]:
    """The oracle converts any length; batchops itself never does."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    yield
    sys.set_int_max_str_digits(previous)


def test_compare_whole_matches_python_integers(unlimited_int):
    @PROPS
    @given(a=WHOLE, b=WHOLE)
    def check(a: str, b: str) -> None:
        x, y = int(a), int(b)
        assert compare_whole(a, b) == (x > y) - (x < y)

    check()


def test_whole_within_matches_python_integers_and_refuses_what_is_not_a_number(unlimited_int):
    @PROPS
    @given(text=WHOLE, low=st.integers(-10**6, 10**6), span=st.integers(0, 2**40))
    def check(text: str, low: int, span: int) -> None:
        assert whole_within(text, low, low + span) is (low <= int(text) <= low + span)

    check()
    for text in ("", "-", "1e5", "1.0", "9 9", "３", "٣", "+-1"):
        assert whole_within(text, 0, 10) is None, text


def _cells(op_name: str, field: str, value: str) -> RawTable:
    base = {
        "called-route": {"id": "1125397061153369092", "devicetype": "1", "deviceId": "1"},
        "appointment": {"vdnId": "1", "appointId": "17472", "userAccount": "agent1"},
        "silence-rule": {"silence_id": "9", "name": "rule", "score": "4", "seconds": "5", "times": "2"},
    }[op_name]
    cells = {**base, field: value}
    return RawTable(Path("n.xlsx"), "xlsx", "Data", 1, list(cells), list(range(len(cells))),
                    [list(cells.values())], [2])


INTEGER_FIELDS = [(op.name, f.name) for op in OPERATIONS.values() for f in op.fields if f.kind is Kind.INTEGER]


@pytest.mark.parametrize(("op_name", "field"), INTEGER_FIELDS, ids=[f"{o}.{f}" for o, f in INTEGER_FIELDS])
def test_every_integer_range_holds_at_any_length(op_name, field, unlimited_int):
    op = OPERATIONS[op_name]
    fld = op.field(field)

    @settings(max_examples=25, derandomize=True, database=None, deadline=None)
    @given(text=st.builds(lambda sign, zeros, digits: sign + zeros + digits, st.sampled_from(["", "-"]), ZEROS,
                          st.one_of(SHORT, HUGE)))
    def check(text: str) -> None:
        report = validate_table(_cells(op_name, field, text), op, UTC)
        inside = fld.minimum <= int(text) <= fld.maximum
        assert report.ok is inside, (len(text), [i.message for i in report.errors])
        if not inside:
            assert [i.code for i in report.errors] == ["out_of_range"]

    check()


def test_ten_thousand_nines_as_a_device_id_are_refused_from_a_csv(tmp_path):
    path = tmp_path / "routes.csv"
    path.write_text("id,devicetype,deviceId\n1125397061153369092,1," + "9" * 10_000 + "\n", encoding="utf-8")
    report = validate_file(path)
    assert report.operation is CALLED_ROUTE
    assert [(i.cell, i.code) for i in report.errors] == [("C2", "out_of_range")]
    message = report.errors[0].message
    assert message.startswith("'" + "9" * 59 + "…' (10,000 digits) is outside the range;")
    assert message.endswith("deviceId takes a whole number from 1 to 2147483647.")
    assert report.summary() == "routes.csv: 1 row for called-route; 1 error in 1 row"


def test_epoch_cells_of_thousands_of_digits_are_refused_not_a_crash():
    report = validate_table(_cells("appointment", "appointTime", "9" * 5_000), APPOINTMENT, UTC)
    assert [(i.cell, i.code) for i in report.errors] == [("D2", "out_of_range")]
    assert report.errors[0].message == ("9" * 39 + "… (5,000 digits) is after 9999-12-31; appointTime takes "
                                        "a date-time up to 9999-12-31.")
    report = validate_table(_cells("silence-rule", "call_from", "1" + "0" * 4_999), SILENCE_RULE, UTC)
    assert [i.code for i in report.errors] == ["unit"]
    assert "(5,000 digits) looks like epoch milliseconds" in report.errors[0].message


def test_the_last_showable_moment_is_accepted_and_the_next_refused():
    ok = validate_table(_cells("appointment", "appointTime", "253402300799999"), APPOINTMENT, UTC)
    assert ok.ok
    late = validate_table(_cells("appointment", "appointTime", "253402300800000"), APPOINTMENT, UTC)
    assert [i.message for i in late.errors] == [("253402300800000 is after 9999-12-31; appointTime takes a "
                                                 "date-time up to 9999-12-31.")]


def test_call_window_order_is_exact_beyond_float_precision():
    """Two epoch seconds 1 apart beyond 2**53 compare as a float would say equal; here they do not."""
    cells = {"silence_id": "9", "name": "r", "score": "4", "seconds": "5", "times": "2",
             "call_from": "1623911885", "call_end": "1623911884"}
    t = RawTable(Path("n.xlsx"), "xlsx", "Data", 1, list(cells), list(range(len(cells))), [list(cells.values())], [2])
    assert [i.code for i in validate_table(t, SILENCE_RULE, UTC).errors] == ["order"]
    frame = pd.DataFrame({"silence_id": ["9", "10"], "name": ["r", "s"], "score": ["4", "4"], "seconds": ["5", "5"],
                          "times": ["2", "2"], "call_from": ["9007199254740993", None],
                          "call_end": ["9007199254740992", "1"]})
    assert [(f.index, f.code) for f in run_schema(SILENCE_RULE, frame)] == [(0, "order")]


def test_full_width_digits_are_refused_with_the_fix():
    report = validate_table(_cells("called-route", "deviceId", "１２"), CALLED_ROUTE, UTC)
    assert [i.code for i in report.errors] == ["not_integer"]
    assert report.errors[0].message.endswith("It holds full-width or other non-ASCII digits; type them as 0-9 "
                                             "(switch the keyboard to half-width).")


def test_show_timestamp_leaves_what_no_date_can_show_as_digits():
    fld = APPOINTMENT.field("appointTime")
    assert show_timestamp(fld, "9" * 5_000, UTC) == "9" * 5_000
    assert show_timestamp(fld, "1764552600000", UTC) == "2025-12-01 01:30:00+00:00 (1764552600000)"


def test_a_cell_reference_of_thousands_of_digits_does_not_stop_validation(tmp_path):
    """A formula cell whose ``r`` names row 99…9 (5,000 digits): found by position, reported, no crash."""
    xml = sheet_xml({1: ["id", "devicetype", "deviceId"],
                                    2: ["1125397061153369092", "1", ("f", "1+1")]})
    path = write_xlsx(tmp_path / "hostile.xlsx",
                                     [("Data", "visible", xml.replace('r="C2"', f'r="C{"9" * 5_000}"'))])
    report = validate_file(path)
    assert [(i.cell, i.code) for i in report.errors] == [("C2", "formula")]


def test_server_answers_of_thousands_of_digits_are_kept_as_text_not_a_crash():
    from batchops.remote.answers import epoch_text

    assert epoch_text("9" * 5_000, millis=True) == "9" * 5_000
    assert epoch_text("²", millis=False) == "²"
    assert epoch_text("1623998284", millis=True) == "1623998284000"
