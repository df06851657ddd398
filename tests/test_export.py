"""``batchops export`` against the sandbox: layouts, round trip through validate and apply, secrets, Excel safety."""

from __future__ import annotations

import csv
import stat
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from batchops.catalogue import AGENT_SETTINGS, APPOINTMENT, CALLED_ROUTE, OPERATIONS, SILENCE_RULE
from batchops.checking.validation import validate_file
from batchops.cli import run
from batchops.reports.export import AGENT_COLUMNS, CONTEXT_SHEET, INFO_SHEET, read_users
from batchops.secrets import MASK
from batchops.sheets import read_table
from batchops.sheets.table import STAMP_SHEET


@pytest.fixture
def env(sandbox, monkeypatch):
    """The sandbox's BATCHOPS_* settings in the environment; returns the sandbox."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture
def users_file(env, tmp_path) -> Path:
    """A user-ID file: a header, three users with settings, one without."""
    path = tmp_path / "users.csv"
    ids = [s["userId"] for s in env.agent_settings()[:3]]
    path.write_text("userId\n" + "\n".join(ids) + "\n4040404040\n", encoding="utf-8")
    return path


def export(*args: str) -> int:
    return run(["export", *args])


def sheet_rows(path: Path, sheet: str | None = None) -> list[list[object]]:
    book = openpyxl.load_workbook(path)
    ws = book[sheet] if sheet else book.worksheets[0]
    return [list(row) for row in ws.iter_rows(values_only=True)]


OPERATION_EXPORTS = [
    ("called-routes", CALLED_ROUTE, ()),
    ("silence-rules", SILENCE_RULE, ()),
    ("appointments", APPOINTMENT, ("--vdn", "2")),
    ("agent-settings", AGENT_SETTINGS, None),
]


@pytest.mark.parametrize(("what", "op", "extra"), OPERATION_EXPORTS, ids=[w for w, _, _ in OPERATION_EXPORTS])
def test_operation_exports_are_in_the_template_layout(env, tmp_path, users_file, what, op, extra, capsys):
    target = tmp_path / f"{what}.xlsx"
    args = ("--users", str(users_file)) if extra is None else extra
    assert export(what, "-o", str(target), *args) == 0
    book = openpyxl.load_workbook(target)
    assert book.sheetnames[0] == op.name and book.sheetnames[-1] == STAMP_SHEET
    assert {CONTEXT_SHEET, INFO_SHEET} <= set(book.sheetnames)
    assert book[STAMP_SHEET].sheet_state == "hidden"
    stamp = {row[0]: row[1] for row in book[STAMP_SHEET].iter_rows(values_only=True)}
    assert stamp["operation"] == op.name and stamp["fingerprint"] == op.fingerprint()
    rows = sheet_rows(target)
    beside = tuple(f"{name} (read-only)" for name in op.read.beside)  # agent-settings: the agent, read-only
    assert tuple(rows[0]) == op.columns + beside
    stamps = {i for i, f in enumerate(op.fields) if f.kind.value.startswith("timestamp")}
    # Every cell is text but the date-times, which are date-time cells.
    assert all(isinstance(v, datetime if i in stamps else str) for row in rows[1:] for i, v in enumerate(row)
               if v is not None)
    report = validate_file(target)
    assert report.ok and report.operation is op and report.issues == []
    expected = {"called-routes": len(env.routes()), "silence-rules": len(env.silence_rules()),
                "appointments": len(env.appointments(2)), "agent-settings": 3}[what]
    assert len(rows) - 1 == expected
    assert f"Wrote {target}: {expected:,} {what} ({op.name} layout)" in capsys.readouterr().out


def test_agent_settings_name_users_without_settings(env, tmp_path, users_file, capsys):
    assert export("agent-settings", "--users", str(users_file), "-o", str(tmp_path / "s.xlsx")) == 0
    assert "1 user(s) have no agent-settings and are not in the file: 4040404040" in capsys.readouterr().err


def test_csv_export_is_the_data_columns_with_a_bom(env, tmp_path):
    target = tmp_path / "routes.csv"
    assert export("called-routes", "-o", str(target)) == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == CALLED_ROUTE.columns
    assert [r[0] for r in rows[1:]] == [r["id"] for r in env.routes()]
    assert validate_file(target).ok


def test_round_trip_export_edit_validate_apply_export(env, tmp_path):
    first = tmp_path / "routes.xlsx"
    assert export("called-routes", "-o", str(first)) == 0
    route = next(r for r in env.routes() if r["editable"] in (0, 2) and r["devicetype"] == 1)
    new_device = next(q for q in env.skill_queues() if q != route["deviceId"])
    book = openpyxl.load_workbook(first)
    ws = book[CALLED_ROUTE.name]
    keep = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == route["id"])
    ws.cell(keep, 3).value = str(new_device)
    for r in range(ws.max_row, 1, -1):  # apply only the edited row
        if r != keep:
            ws.delete_rows(r)
    book.save(first)

    assert run(["validate", str(first)]) == 0
    assert run(["apply", str(first), "--yes", "--journal", str(tmp_path / "journal.db")]) == 0
    assert env.route(route["id"])["deviceId"] == new_device

    second = tmp_path / "again.xlsx"
    assert export("called-routes", "-o", str(second)) == 0
    rows = {row[0]: row for row in sheet_rows(second)[1:]}
    assert rows[route["id"]] == [route["id"], str(route["devicetype"]), str(new_device)]
    context = {row[0]: row for row in sheet_rows(second, CONTEXT_SHEET)[1:]}
    assert context[route["id"]][1] == f"{route['editable']}: can be edited"


def _all_bytes(path: Path) -> bytes:
    if path.suffix == ".csv":
        return path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        return b"".join(zf.read(name) for name in zf.namelist())


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_sip_passwords_never_leave_without_include_secrets(env, tmp_path, suffix, capsys):
    passwords = [a["sipPwd"] for a in env.agents()]
    target = tmp_path / f"agents{suffix}"
    assert export("agents", "-o", str(target)) == 0
    content = _all_bytes(target)
    leaked = [p for p in passwords if p.encode() in content or _xml(p) in content]
    assert leaked == []
    assert MASK.encode() in content
    assert "password" not in capsys.readouterr().err


def _xml(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def test_include_secrets_writes_them_and_marks_the_file(env, tmp_path, capsys):
    target = tmp_path / "agents.xlsx"
    assert export("agents", "-o", str(target), "--include-secrets") == 0
    rows = sheet_rows(target)
    assert tuple(rows[0]) == AGENT_COLUMNS
    assert rows[1][3] == env.agents()[0]["sipPwd"]
    info = {row[0]: row[1] for row in sheet_rows(target, INFO_SHEET)[1:]}
    assert info["contains secrets"].startswith("YES")
    assert (info["sipServiceIp"], info["sipServicePort"]) == ("10.10.96.98", "5060")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert "agents.xlsx holds the agents' SIP passwords in clear text" in err
    assert "'SECRETS'" in err


def test_ids_and_leading_zeros_survive(env, tmp_path, users_file):
    agents = tmp_path / "agents.xlsx"
    assert export("agents", "-o", str(agents)) == 0
    book = openpyxl.load_workbook(agents)
    ws = book.worksheets[0]
    zero = next(a for a in env.agents() if a["sipAccount"].startswith("00"))
    cells = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(2, ws.max_row + 1)}
    cell = cells[str(zero["workNo"])]
    assert cell.value == zero["sipAccount"] and cell.data_type == "s" and cell.number_format == "@"

    settings = tmp_path / "settings.xlsx"
    assert export("agent-settings", "--users", str(users_file), "-o", str(settings)) == 0
    rows = sheet_rows(settings)[1:]
    expected = env.agent_settings()[:3]
    assert [(r[0], r[1]) for r in rows] == [(s["id"], s["userId"]) for s in expected]
    assert all(isinstance(r[0], str) and len(r[0]) == 19 for r in rows)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x","y")'])
def test_formula_like_values_come_back_neutralised(env, tmp_path, value):
    env.sandbox.state.data.agents[0]["accountCode"] = value
    env.sandbox.agent_info_cache = None
    xlsx, csv_file = tmp_path / "a.xlsx", tmp_path / "a.csv"
    assert export("agents", "-o", str(xlsx)) == 0 and export("agents", "-o", str(csv_file)) == 0
    cell = openpyxl.load_workbook(xlsx).worksheets[0].cell(2, 3)
    assert cell.value == value and cell.data_type == "s" and cell.quotePrefix
    with zipfile.ZipFile(xlsx) as zf:
        assert b"<f>" not in zf.read("xl/worksheets/sheet1.xml")
    line = csv_file.read_text(encoding="utf-8-sig").splitlines()[1]
    assert next(csv.reader([line]))[2] == "'" + value
    assert read_table(csv_file).rows[0][2] == value  # the guard comes off when batchops reads it


def test_read_users_takes_a_headed_column_and_leaves_repeats_out(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes("\ufeffuser id\r\n123\r\n\r\n456\r\n123\r\n".encode())
    users = read_users(path)
    assert users.columns == ("userId",)
    assert [e.user_id for e in users.entries] == ["123", "456"]


def test_usage_errors_are_one_line(env, tmp_path, capsys):
    assert export("appointments", "-o", str(tmp_path / "a.xlsx")) == 2
    assert "appointments needs --vdn N." in capsys.readouterr().err
    existing = tmp_path / "x.xlsx"
    existing.write_bytes(b"")
    assert export("agents", "-o", str(existing)) == 2
    assert f"Error: '{existing}' already exists. Pass --force" in capsys.readouterr().err
    assert export("agents", "-o", str(tmp_path / "a.txt")) == 2
    assert "give a file name ending in .xlsx or .csv" in capsys.readouterr().err


def test_every_operation_has_an_export():
    from batchops.reports.export import EXPORTS

    assert {op.name for op in EXPORTS.values() if op is not None} == set(OPERATIONS)
    assert {w for w, op in EXPORTS.items() if op is not None} == {op.read.export_name for op in OPERATIONS.values()}


def test_a_csv_export_validates_without_its_formula_guard(env, tmp_path):
    # The CSV carries '-call back (so Excel shows text); read back, the remark is -call back again,
    # not a remark with a ' the iSales server would refuse.
    appointment = env.appointments(2)[0]
    env.sandbox.state.data.appointments[2][appointment["appointId"]]["remark"] = "-call back"
    target = tmp_path / "appointments.csv"
    assert export("appointments", "--vdn", "2", "-o", str(target)) == 0
    assert ",'-call back" in target.read_text(encoding="utf-8-sig")
    report = validate_file(target)
    record = next(r for r in report.records if r.texts.get("appointId") == appointment["appointId"])
    assert record.texts["remark"] == "-call back" and record.valid
