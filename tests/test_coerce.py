"""Raw cells to canonical text: Excel damage is caught from the raw cell type."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, SILENCE_RULE
from batchops.checking.coerce import (
    coerce_column,
    resolve_timezone,
    show_number,
    show_timestamp,
    typed_values,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def one(field, raw, tz=SHANGHAI):
    texts, problems = coerce_column(field, [raw], tz)
    return texts[0], [(p.code, p.warning) for p in problems]


def test_text_id_is_kept_exactly():
    assert one(AGENT_SETTINGS.field("id"), " 1307145259662215169 ") == ("1307145259662215169", [])


def test_id_excel_rounded_to_a_float_is_rejected():
    text, problems = one(AGENT_SETTINGS.field("id"), 1.307145259662215e18)
    assert text is None
    assert problems == [("rounded", False)]


def test_small_number_cell_is_read_back_as_its_digits_with_a_warning():
    assert one(AGENT_SETTINGS.field("callNumberDefault"), 12323.0) == ("12323", [("lost_zero", True)])
    assert one(AGENT_SETTINGS.field("userId"), 12323.0) == ("12323", [("number_cell", True)])


def test_fraction_in_a_digits_column_is_rejected():
    assert one(AGENT_SETTINGS.field("callNumberDefault"), 12.5) == (None, [("fraction", False)])


def test_scientific_notation_text_from_a_csv_is_rejected():
    assert one(AGENT_SETTINGS.field("userId"), "1.30714525966221E+18") == (None, [("rounded", False)])


def test_fifteen_digit_number_is_still_exact():
    assert one(AGENT_SETTINGS.field("callNumberDefault"), 999999999999999.0)[0] == "999999999999999"
    assert one(AGENT_SETTINGS.field("callNumberDefault"), 1e15)[1] == [("rounded", False)]


def test_list_accepts_spaces_and_chinese_commas_and_drops_empty_items():
    assert one(AGENT_SETTINGS.field("callNumber"), "12323, 232343，233,,")[0] == "12323,232343,233"


def test_date_cell_in_an_id_column_is_rejected():
    assert one(AGENT_SETTINGS.field("id"), datetime(2026, 1, 2))[1] == [("wrong_type", False)]


def test_codes_accept_whole_number_cells_and_csv_decimals():
    assert one(CALLED_ROUTE.field("devicetype"), 3.0)[0] == "3"
    assert one(CALLED_ROUTE.field("devicetype"), "1.0")[0] == "1"
    assert one(CALLED_ROUTE.field("deviceId"), 2.5)[1] == [("not_integer", False)]


def test_appoint_time_from_text_is_read_in_the_given_zone():
    text, problems = one(APPOINTMENT.field("appointTime"), "2026-12-01 09:30")
    assert problems == []
    assert int(text) == int(datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI).timestamp() * 1000)


def test_appoint_time_offset_wins_over_the_zone():
    text, _ = one(APPOINTMENT.field("appointTime"), "2026-12-01T01:30:00Z")
    assert int(text) == int(datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc).timestamp() * 1000)


def test_appoint_time_date_cell_and_epoch_millis():
    text, _ = one(APPOINTMENT.field("appointTime"), datetime(2026, 12, 1, 9, 30))
    assert show_timestamp(APPOINTMENT.field("appointTime"), text, SHANGHAI).startswith("2026-12-01 09:30:00+08:00")
    assert one(APPOINTMENT.field("appointTime"), "1749204000000")[0] == "1749204000000"
    assert one(APPOINTMENT.field("appointTime"), 1749204000000.0)[0] == "1749204000000"


def test_appoint_time_mistakes():
    field = APPOINTMENT.field("appointTime")
    assert one(field, "1749204000")[1] == [("unit", False)]
    assert one(field, "2026-12-01")[1] == [("needs_time", False)]
    assert one(field, date(2026, 12, 1))[1] == [("needs_time", False)]
    assert one(field, "tomorrow")[1] == [("not_datetime", False)]


def test_call_window_takes_seconds():
    field = SILENCE_RULE.field("call_from")
    assert one(field, "1623911884")[0] == "1623911884"
    assert one(field, "1623911884000")[1] == [("unit", False)]
    assert one(field, "2021-06-17 14:38:04", timezone.utc)[0] == "1623940684"


def test_typed_values_give_the_documented_json_types():
    values = typed_values(SILENCE_RULE, {"silence_id": "9", "score": "4", "before_staff": "1,2", "call_from": "5"})
    assert values == {"silence_id": "9", "score": 4, "before_staff": ["1", "2"], "call_from": 5}
    route = typed_values(CALLED_ROUTE, {"id": "1", "devicetype": "3", "deviceId": "7"})
    assert route == {"id": "1", "devicetype": 3, "deviceId": 7}
    appoint = typed_values(APPOINTMENT, {"vdnId": "1", "workNo": "125"})
    assert appoint == {"vdnId": "1", "workNo": "125"}  # workNo is a String on the page


def test_show_number_matches_what_excel_displays():
    assert show_number(int(1.307145259662215e18)) == "1.30714525966221E+18"
    assert show_number(12323) == "12323"


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        resolve_timezone("Mars/Base")
    assert resolve_timezone("UTC") is timezone.utc


def test_a_wrong_list_separator_is_named():
    text, problems = one(AGENT_SETTINGS.field("callerPresent"), "075586001234;075586001235")
    assert (text, problems) == (None, [("separator", False)])
