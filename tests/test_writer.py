"""Streaming xlsx and CSV writers: cells Excel cannot damage, formula injection neutralised, flat memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from batchops.sheets.writer import (
    SheetSpec,
    info_sheet,
    neutralise_csv_text,
    restore_csv_text,
    write_csv,
    write_xlsx,
)

ID19 = "1307145259662215123"


def test_ids_stay_text_with_leading_zeros_and_all_digits(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "agents.xlsx",
        [
            SheetSpec(
                "Agents",
                ["workNo", "sipAccount", "count"],
                [["0012", ID19, 3], [12, 1307145259662215123, 12345678901234567890]],
                text_columns={0, 1},
            )
        ],
    )
    ws = openpyxl.load_workbook(path)["Agents"]
    assert [c.value for c in ws[2]] == ["0012", ID19, 3]
    assert [c.value for c in ws[3]] == ["12", ID19, "12345678901234567890"]
    assert ws["A2"].data_type == "s" and ws["A2"].number_format == "@"
    assert ws["C2"].data_type == "n" and ws["C2"].number_format == "General"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C3"
    assert ws["A1"].font.b


@pytest.mark.parametrize("value", ["=1+1", "+8613800000000", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_kept_as_text_with_quote_prefix(tmp_path: Path, value: str) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", [SheetSpec("S", ["v", "w"], [[value, value]], text_columns={0})])
    ws = openpyxl.load_workbook(path)["S"]
    for cell in (ws["A2"], ws["B2"]):
        # openpyxl leaves Excel's escape of a CR (_x000D_) as it is; Excel and calamine decode it.
        assert cell.value == value.replace("\r", "_x000D_") and cell.data_type == "s" and cell.quotePrefix


def test_hidden_sheets_and_info_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "x.xlsx",
        [
            SheetSpec("_lists", ["v"], [["a"]], hidden=True),
            SheetSpec("Agents", ["workNo"], [["1"]]),
            info_sheet({"SIP server": "10.0.0.1", "port": 5060}),
        ],
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["_lists", "Agents", "Info"]
    assert wb["_lists"].sheet_state == "hidden"
    assert wb.active.title == "Agents"
    assert list(wb["Info"].values) == [("key", "value"), ("SIP server", "10.0.0.1"), ("port", "5060")]


def test_writer_refuses_all_hidden_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="visible"):
        write_xlsx(tmp_path / "x.xlsx", [SheetSpec("A", ["v"], [], hidden=True)])
    with pytest.raises(ValueError):
        write_xlsx(tmp_path / "x.xlsx", [SheetSpec("a/b", ["v"], [])])
    assert list(tmp_path.iterdir()) == []  # no half-written file


def test_xlsx_memory_stays_flat(tmp_path: Path) -> None:
    def rows(n: int) -> Iterator[list[str]]:
        for i in range(n):
            yield [f"{i:06d}", f"sip{i:08d}", "0" * 19, "agent name", "+86138000"]

    peaks = []
    for n in (3_000, 24_000):  # both past the first chunk of rows and of deflate input
        tracemalloc.start()
        write_xlsx(tmp_path / "big.xlsx", [SheetSpec("Agents", ["a", "b", "c", "d", "e"], rows(n))])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] * 1.2  # eight times the rows, the same memory


def test_csv_is_utf8_bom_crlf_and_neutralised(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "x.csv",
        ["id", "name", "n"],
        [["0012", "=cmd|' /C calc'!A0", -5], [ID19, '李雷, "quoted"', None], ["+86", "@x", 1.0]],
    )
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["id", "name", "n"],
        ["0012", "'=cmd|' /C calc'!A0", "-5"],
        [ID19, '李雷, "quoted"', ""],
        ["'+86", "'@x", "1"],
    ]


def test_csv_guard_round_trips() -> None:
    for text in ["=1", "+86", "-", "@", "\tx", "plain", "'quoted", ""]:
        assert restore_csv_text(neutralise_csv_text(text)) == text
    assert neutralise_csv_text("plain") == "plain"
    assert neutralise_csv_text("-1") == "'-1"
