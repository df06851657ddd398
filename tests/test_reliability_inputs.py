"""Hostile and broken inputs through the CLI, end to end against the sandbox.

Each case makes its file in tmp_path and runs ``batchops apply FILE --yes`` (then ``validate``) as a user
would. A file that cannot be used at all is one ``Error:`` line naming the file (and the sheet or row when
there is one) with the fix, exit 2; a file that is read but whose rows are wrong is reported cell by cell,
exit 2; either way no update call reaches the server. A file that is actually fine (BOM, GB18030, lone CR,
a workbook open in Excel…) is applied. Never a traceback. The reader-level checks of the same files (and
more) are in test_reader_hostile.py; this file checks what a user sees and what the server receives.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from reliability_helpers import (
    ROUTE_HEADERS,
    assert_no_traceback,
    free_routes,
    queue_id,
    results,
    update_requests,
    use_sandbox,
    workbook,
)
from sheet_builders import DECL, MAIN, sheet_xml, simple_xlsx, write_xlsx

from batchops.cli import run
from batchops.workflow import job as workflow_job

FILE, ROWS, OK = "file", "rows", "ok"

BILLION_LAUGHS_SHEET = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 2 else "") + ";") * 10}">' for i in range(2, 10))
    + f']><worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c>'
    "</row></sheetData></worksheet>"
)


@dataclass(frozen=True)
class Case:
    """One input: how to make it, what apply must answer, and the words the user must see."""

    build: Callable[[Path, object], Path]
    level: str  # FILE: one Error line; ROWS: cell-by-cell report; OK: the file is fine and is applied
    exit_code: int
    words: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    validate: bool = True  # also run `validate` (not for files that vanish or are applied only once)


# -- builders -----------------------------------------------------------------------------------------


def _route_row(sandbox, i: int = 0) -> list[str]:
    route = free_routes(sandbox, i + 1)[i]
    return [route["id"], "1", str(queue_id(sandbox))]


def _csv(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _routes_xlsx(d: Path, sandbox, name: str = "routes.xlsx") -> Path:
    return workbook(d / name, ROUTE_HEADERS, [_route_row(sandbox, 0), _route_row(sandbox, 1)])


def _zip(path: Path, parts: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _encrypted(d: Path, sandbox) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _routes_xlsx(d, sandbox, "plain.xlsx")
    locked = d / "locked.xlsx"
    with plain.open("rb") as src, locked.open("wb") as dst:
        OOXMLFile(src).encrypt("secret", dst)
    return locked


def _ole2_xls(d: Path, _sb) -> Path:
    """An OLE2 compound file whose directory names a ``Workbook`` stream: the shape of an Excel 97 .xls."""
    header = bytearray(512)
    header[:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    header[24:26] = (0x3E).to_bytes(2, "little")  # minor version
    header[26:28] = (3).to_bytes(2, "little")  # major version 3: 512-byte sectors
    header[28:30] = (0xFFFE).to_bytes(2, "little")  # little-endian
    header[30:32] = (9).to_bytes(2, "little")
    header[32:34] = (6).to_bytes(2, "little")
    entry = bytearray(128)
    name = "Workbook".encode("utf-16-le") + b"\x00\x00"
    entry[: len(name)] = name
    entry[64:66] = len(name).to_bytes(2, "little")
    entry[66] = 2  # a stream
    root = bytearray(128)
    rname = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    root[: len(rname)] = rname
    root[64:66] = len(rname).to_bytes(2, "little")
    root[66] = 5
    path = d / "old.xls"
    path.write_bytes(bytes(header) + bytes(root) + bytes(entry) + bytes(256) + bytes(512))
    return path


def _empty_workbook(d: Path, _sb) -> Path:
    path = d / "empty.xlsx"
    openpyxl.Workbook().save(path)
    return path


def _merged(d: Path, sandbox) -> Path:
    path = _routes_xlsx(d, sandbox, "merged.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.active.merge_cells("B2:C2")
    wb.save(path)
    return path


def _formula(d: Path, sandbox) -> Path:
    rows = [_route_row(sandbox, 0), _route_row(sandbox, 1)]
    rows[1][2] = "=1+1"
    return workbook(d / "formula.xlsx", ROUTE_HEADERS, rows)


def _error_value(d: Path, sandbox) -> Path:
    first, second = _route_row(sandbox, 0), _route_row(sandbox, 1)
    return simple_xlsx(d / "errval.xlsx", {1: ROUTE_HEADERS, 2: first, 3: [second[0], "1", ("e", "#N/A")]})


def _rounded_ids(d: Path, sandbox) -> Path:
    row = _route_row(sandbox)
    return workbook(d / "rounded.xlsx", ROUTE_HEADERS, [row, [1307145259662215169, "1", row[2]]])


def _many_formatted_rows(d: Path, sandbox) -> Path:
    row = _route_row(sandbox)
    cells = "".join(f'<c r="{c}2" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in zip("ABC", row))
    head = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in zip("ABC", ROUTE_HEADERS))
    empty = "".join(f'<row r="{i}" s="1" customFormat="1"><c r="A{i}" s="1"/><c r="B{i}" s="1"/></row>'
                    for i in range(3, 1_048_577))
    xml = (f'{DECL}<worksheet xmlns="{MAIN}"><sheetData><row r="1">{head}</row><row r="2">{cells}</row>'
           f"{empty}</sheetData></worksheet>")
    return write_xlsx(d / "million.xlsx", [("Data", "visible", xml)], compresslevel=1)


def _long_cell(d: Path, sandbox) -> Path:
    record = sandbox.agent_settings()[0]
    return workbook(d / "long.xlsx", ["id", "userId", "callNumberDefault"],
                    [[record["id"], record["userId"], "1" * 10_000]])


def _folder(d: Path, _sb) -> Path:
    (d / "folder.xlsx").mkdir()
    return d / "folder.xlsx"


def _excel_lock(d: Path, sandbox) -> Path:
    path = _routes_xlsx(d, sandbox, "open.xlsx")
    (d / "~$open.xlsx").write_bytes(b"\x05operator" + bytes(150))
    return path


def _line(sandbox, sep: str = ",") -> str:
    return sep.join(_route_row(sandbox))


CASES: dict[str, Case] = {
    # -- not a spreadsheet at all -----------------------------------------------------------------
    "not a zip": Case(lambda d, _: _csv(d / "nz.xlsx", bytes(range(256)) * 8), FILE, 2,
                      ("nz.xlsx: is named .xlsx but is not a workbook", "save it again as .xlsx")),
    "a zip that is not xlsx": Case(lambda d, _: _zip(d / "arch.xlsx", {"readme.txt": "hi", "a/b.bin": b"\x00"}),
                                   FILE, 2, ("arch.xlsx: is a zip archive, not an Excel workbook",
                                             "save it as an Excel workbook (.xlsx)")),
    "truncated xlsx": Case(lambda d, sb: _csv(d / "cut.xlsx", _routes_xlsx(d, sb).read_bytes()[:400]), FILE, 2,
                           ("cut.xlsx: is not a valid .xlsx workbook",)),
    "xml bomb in the sheet part": Case(
        lambda d, _: write_xlsx(d / "bomb.xlsx", [("Data", "visible", BILLION_LAUGHS_SHEET)]), FILE, 2,
        ("bomb.xlsx: declares XML entities in xl/worksheets/sheet1.xml (a possible XML bomb); it was not opened",)),
    "zip bomb": Case(lambda d, _: write_xlsx(d / "zb.xlsx", [("Data", "visible", sheet_xml({1: ["id"]}))],
                                             extra_parts={"xl/media/x.bin": b"\x00" * (12 << 20)},
                                             compresslevel=9), FILE, 2, ("zb.xlsx: looks like a zip bomb",)),
    "encrypted workbook": Case(_encrypted, FILE, 2, ("locked.xlsx: is protected with a password",
                                                     "Remove the password")),
    "old .xls": Case(_ole2_xls, FILE, 2, ("old.xls: is an old Excel 97-2003 workbook (.xls)",
                                          "save it as .xlsx")),
    "html saved as .xls": Case(lambda d, _: _csv(d / "web.xls", b"<html><table><tr><td>id</td></tr></table>"),
                               FILE, 2, ("web.xls: is a web page (HTML), not an Excel workbook",)),
    "a pdf": Case(lambda d, _: _csv(d / "doc.xlsx", b"%PDF-1.7\n%\xe2\xe3\n"), FILE, 2,
                  ("doc.xlsx: is a PDF document, not a spreadsheet",)),
    "zero bytes": Case(lambda d, _: _csv(d / "zero.xlsx", b""), FILE, 2, ("zero.xlsx: is empty (0 bytes)",
                                                                          "Save the sheet again")),
    "missing file": Case(lambda d, _: d / "nope.xlsx", FILE, 2, ("nope.xlsx: does not exist",
                                                                 "Check the file name and folder")),
    "a folder instead of a file": Case(_folder, FILE, 2, ("folder.xlsx: is a folder, not a file",
                                                          "Name the spreadsheet file inside it")),
    # -- a workbook, but not a usable table -------------------------------------------------------
    "empty workbook": Case(_empty_workbook, FILE, 2, ("empty.xlsx, sheet 'Sheet': has no header row",
                                                     "Put the column headers in the first row")),
    "unknown sheet name": Case(_routes_xlsx, FILE, 2, ("routes.xlsx: has no sheet 'Nope'; its sheets are 'Data'",
                                                           "Pass one of those names to --sheet"), ("--sheet", "Nope")),
    "headers fit no operation": Case(lambda d, _: workbook(d / "h.xlsx", ["Who", "Phone"], [["1", "1"]]),
                                     FILE, 2, ("h.xlsx, sheet 'Data': the headers match no operation",
                                               "Pass --operation")),
    "headers closest to one operation": Case(lambda d, sb: workbook(d / "hc.xlsx", ["id", "devicetype"],
                                                                    [_route_row(sb)[:2]]),
                                             ROWS, 2, ("row 1 (deviceId)", "[missing_column]")),
    "headers only": Case(lambda d, _: workbook(d / "ho.xlsx", ROUTE_HEADERS, []), ROWS, 2, ("[no_rows]",)),
    "duplicated headers": Case(lambda d, sb: workbook(d / "dup.xlsx", [*ROUTE_HEADERS, "Device ID"],
                                                      [[*_route_row(sb), "5"]]),
                               ROWS, 2, ("cell D1 (Device ID)", "[duplicate_column]")),
    "missing headers": Case(lambda d, sb: workbook(d / "mh.xlsx", ["id", "devicetype"], [_route_row(sb)[:2]]),
                            ROWS, 2, ("row 1 (deviceId)", "[missing_column]"), ("--operation", "called-route")),
    "unknown headers": Case(lambda d, sb: workbook(d / "uh.xlsx", [*ROUTE_HEADERS, "devise"],
                                                   [[*_route_row(sb), "x"]]),
                            ROWS, 2, ("cell D1 (devise)", "[unknown_column]"), ("--operation", "called-route")),
    "merged cells": Case(_merged, ROWS, 2, ("cell C2 (deviceId)", "[merged]", "B2:C2", "unmerge")),
    "a formula": Case(_formula, ROWS, 2, ("cell C3 (deviceId)", "[formula]", "=1+1", "Paste Values")),
    "an error value": Case(_error_value, ROWS, 2, ("cell C3 (deviceId)", "[error_value]", "#N/A")),
    "19-digit id stored as a number": Case(_rounded_ids, ROWS, 2, ("cell A3 (id)", "[rounded]", "as Text")),
    "scientific notation text": Case(lambda d, sb: _csv(d / "sci.csv", (
        f"id,devicetype,deviceId\n1.30714525966221E+18,1,{queue_id(sb)}\n").encode()), ROWS, 2, ("cell A2 (id)", "[rounded]", "scientific notation", "as Text")),
    "a 10,000-character cell": Case(_long_cell, ROWS, 2, ("cell C2 (callNumberDefault)", "[too_long]",
                                                                   "has 10000 characters; callNumberDefault allows at most 15")),
    # -- CSV text ---------------------------------------------------------------------------------
    "ragged csv rows": Case(lambda d, sb: _csv(d / "rag.csv", (
        f"id,devicetype,deviceId\n{_line(sb)}\n{_line(sb)},extra,more\n").encode()), FILE, 2,
        ("rag.csv, row 3: has values in columns D and E ('extra', 'more') beyond the 3 header columns (A to C)",
         "double quotes")),
    "nul bytes": Case(lambda d, sb: _csv(d / "nul.csv", f"id,devicetype,deviceId\n{_line(sb)}\n1\x002,1,1\n"
                                         .encode()), FILE, 2, ("nul.csv: contains NUL bytes", "Export it again")),
    "neither utf-8 nor gb18030": Case(lambda d, _: _csv(d / "bad.csv", b"id,devicetype,deviceId\n\x80\xff,1,1\n"),
                                      FILE, 2, ("bad.csv: is not UTF-8, and reads as neither Chinese (GB18030) nor Japanese (Shift-JIS) text",
                                                "--encoding", "CSV UTF-8")),
    "unbalanced quote": Case(lambda d, sb: _csv(d / "q.csv", f'id,devicetype,deviceId\n"{_line(sb)}\n'.encode()),
                             FILE, 2, ("q.csv, row 2: could not be parsed as CSV", "Check the quotes")),
    "empty csv": Case(lambda d, _: _csv(d / "blank.csv", b"\r\n\r\n"), FILE, 2,
                      ("blank.csv: has no header row", "Put the column headers on the first line")),
    "gb18030 csv with chinese headers": Case(lambda d, sb: _csv(d / "gb.csv", (
        "被叫路由ID,设备类型,设备ID\n" + _line(sb) + "\n").encode("gb18030")), OK, 0),
    "csv with a bom": Case(lambda d, sb: _csv(d / "bom.csv", ("\ufeffid,devicetype,deviceId\r\n" + _line(sb)
                                                              + "\r\n").encode()), OK, 0),
    "lone cr line endings": Case(lambda d, sb: _csv(d / "cr.csv", (f"id,devicetype,deviceId\r{_line(sb)}\r")
                                                    .encode()), OK, 0),
    "semicolon csv": Case(lambda d, sb: _csv(d / "semi.csv", (f"id;devicetype;deviceId\n{_line(sb, ';')}\n")
                                             .encode()), OK, 0),
    "workbook open in excel": Case(_excel_lock, OK, 0, ("open.results.xlsx",)),
}

SLOW_CASES: dict[str, Case] = {
    "a million formatted empty rows": Case(_many_formatted_rows, OK, 0),
}


def _check(case: Case, path: Path, code: int, out: str, err: str, sandbox) -> None:
    assert_no_traceback(out, err)
    assert code == case.exit_code, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    if case.level == FILE:
        assert len(errors) == 1, err
        assert len(err.strip().splitlines()) == 1, err  # the Error line is all there is
        line = errors[0]
        assert path.name in line
        for words in case.words:
            assert words in line, line
        assert len(line) < 400 and line.rstrip().endswith("."), line  # a sentence, then the fix
    elif case.level == ROWS:
        assert errors == [], err
        assert path.name in out
        for words in case.words:
            assert words in out, out
        assert len(out) + len(err) < 4000  # a 10,000-character value is never echoed whole
    else:
        assert errors == [], err
        for words in case.words:
            assert words in out + err


def _run_case(case: Case, name: str, tmp_path: Path, sandbox, monkeypatch, capsys) -> None:
    use_sandbox(monkeypatch, sandbox)
    path = case.build(tmp_path, sandbox)
    capsys.readouterr()
    code = run(["apply", str(path), "--yes", "--journal", str(tmp_path / "journal.sqlite3"), *case.args])
    captured = capsys.readouterr()
    _check(case, path, code, captured.out, captured.err, sandbox)
    sent = update_requests(sandbox)
    if case.level != OK:
        assert sent == [], f"{name}: an update was sent for a bad input"
    else:
        rows = results(path.with_name(path.stem + ".results.csv") if path.suffix == ".csv" else
                       path.with_name(path.stem + ".results.xlsx") if "excel" in name else path)
        assert [r["status"] for r in rows] == ["ok"] * len(rows) and rows
        assert len(sent) == len(rows)
        assert sum(sandbox.applied_counts().values()) == len(rows)
    if case.validate:
        code = run(["validate", str(path), "--no-write", *case.args])
        captured = capsys.readouterr()
        expected = case.exit_code if case.level != OK else 0
        assert_no_traceback(captured.out, captured.err)
        assert code == expected, captured
        if case.level == FILE:
            assert captured.err.count("Error:") == 1 and path.name in captured.err
    assert update_requests(sandbox) == sent  # validate never sends


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_through_the_cli(name, tmp_path, sandbox, monkeypatch, capsys):
    _run_case(CASES[name], name, tmp_path, sandbox, monkeypatch, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_CASES))
def test_hostile_input_through_the_cli_slow(name, tmp_path, sandbox, monkeypatch, capsys):
    _run_case(SLOW_CASES[name], name, tmp_path, sandbox, monkeypatch, capsys)


def test_workbook_open_in_excel_keeps_the_workbook_untouched(tmp_path, sandbox, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    path = _excel_lock(tmp_path, sandbox)
    before = path.read_bytes()
    assert run(["apply", str(path), "--yes", "--journal", str(tmp_path / "j.sqlite3")]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1 and "open.results.xlsx" in warning[0] and "open.xlsx" in warning[0]
    assert path.read_bytes() == before, "a workbook open in Excel is never rewritten under it"
    assert [r["status"] for r in results(tmp_path / "open.results.xlsx")] == ["ok", "ok"]


def test_file_that_vanishes_between_validate_and_apply(tmp_path, sandbox, monkeypatch, capsys):
    """The file is deleted right after validation read it, before the run starts: nothing is sent."""
    use_sandbox(monkeypatch, sandbox)
    path = _routes_xlsx(tmp_path, sandbox, "gone.xlsx")
    real = workflow_job.validate_file

    def validate_then_vanish(*args, **kwargs):
        report = real(*args, **kwargs)
        path.unlink()
        return report

    monkeypatch.setattr(workflow_job, "validate_file", validate_then_vanish)
    code = run(["apply", str(path), "--yes", "--journal", str(tmp_path / "j.sqlite3")])
    captured = capsys.readouterr()
    assert_no_traceback(captured.out, captured.err)
    errors = [line for line in captured.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "gone.xlsx" in errors[0] and "run apply again" in errors[0], captured.err
    assert code == 2
    assert update_requests(sandbox) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_file_without_read_permission(tmp_path, sandbox, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    path = _routes_xlsx(tmp_path, sandbox, "secret.xlsx")
    path.chmod(0)
    try:
        code = run(["apply", str(path), "--yes", "--journal", str(tmp_path / "j.sqlite3")])
    finally:
        path.chmod(0o600)
    captured = capsys.readouterr()
    assert_no_traceback(captured.out, captured.err)
    assert code == 2
    assert captured.err.startswith("Error: secret.xlsx: cannot be read: permission denied.")
    assert update_requests(sandbox) == []
