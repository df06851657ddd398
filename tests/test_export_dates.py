"""Exported date-times are date-time cells (text with an offset in a CSV) that come back exactly.

appointTime (epoch milliseconds) and call_from/call_end (epoch seconds) are written as the wall-clock time
in the zone validation reads them in; an unedited export then plans as "no change" row for row. The hour
that clocks show twice when they go back cannot be a plain cell and is text with its offset.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from roundtrip_helpers import cli, cli_json, sheet, use_sandbox

from batchops.catalogue import APPOINTMENT, SILENCE_RULE
from batchops.checking.validation import validate_file

ZONE = "America/New_York"
NEW_YORK = ZoneInfo(ZONE)
FIRST_0130 = int(datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc).timestamp() * 1000)  # 01:30 EDT
SECOND_0130 = int(datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc).timestamp() * 1000)  # 01:30 EST, an hour on
WITH_MILLIS = 1_783_080_461_123


@pytest.fixture
def env(sandbox, monkeypatch, tmp_path):
    """The sandbox in the environment, date-times in New York (it has a repeated hour), three awkward
    appointment times on VDN 2. Returns the sandbox and the three appointment IDs."""
    use_sandbox(sandbox, monkeypatch, tmp_path)
    monkeypatch.setenv("BATCHOPS_TIMEZONE", ZONE)
    stored = sandbox.sandbox.state.data.appointments[2]
    ids = list(stored)[:3]
    for appoint_id, when in zip(ids, (FIRST_0130, SECOND_0130, WITH_MILLIS)):
        stored[appoint_id]["appointTime"] = when
    return sandbox, ids


def column(path: Path, name: str, sheet_name: str | None = None) -> list[openpyxl.cell.Cell]:
    ws = openpyxl.load_workbook(path)[sheet_name or APPOINTMENT.name]
    index = [c.value for c in ws[1]].index(name)
    return [row[index] for row in ws.iter_rows(min_row=2)]


def wall_clock(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, NEW_YORK).replace(tzinfo=None)


def test_appointment_times_are_date_time_cells_and_an_unedited_export_plans_as_no_change(env, tmp_path, capsys):
    sandbox, (first, second, millis) = env
    path = tmp_path / "appointments.xlsx"
    assert cli("export", "appointments", "--vdn", "2", "-o", path) == 0
    cells = {c.row: c for c in column(path, "appointTime")}
    ids = [c.value for c in column(path, "appointId")]
    by_id = {appoint_id: cells[n + 2] for n, appoint_id in enumerate(ids)}
    plain = next(a for a in sandbox.appointments(2) if a["appointId"] not in (first, second, millis))
    cell = by_id[plain["appointId"]]
    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm:ss"
    assert cell.value == wall_clock(plain["appointTime"])
    # Milliseconds, which a date-time cell would hide, and 01:30, which happens twice that night: text that
    # says exactly which moment.
    assert by_id[millis].value == "2026-07-03 08:07:41.123-04:00"
    assert (by_id[first].value, by_id[second].value) == ("2026-11-01 01:30:00-04:00", "2026-11-01 01:30:00-05:00")
    info = {row[0]: row[1] for row in openpyxl.load_workbook(path)["Info"].iter_rows(values_only=True)}
    assert info["date-times"].startswith(f"in {ZONE}, as validate, plan and apply read them")

    report = validate_file(path, timezone=ZONE)
    assert report.ok
    texts = {r.texts["appointId"]: r.texts["appointTime"] for r in report.records}
    assert texts == {a["appointId"]: str(a["appointTime"]) for a in sandbox.appointments(2)}
    code, plan = cli_json(capsys, "plan", path)
    assert code == 0 and plan["counts"]["no-change"] == len(ids) and plan["counts"]["change"] == 0


def test_a_csv_export_writes_date_times_as_text_with_their_offset(env, tmp_path, capsys):
    _, (first, second, millis) = env
    path = tmp_path / "appointments.csv"
    assert cli("export", "appointments", "--vdn", "2", "-o", path) == 0
    rows = {r["appointId"]: r["appointTime"] for r in csv.DictReader(path.read_text(encoding="utf-8-sig")
                                                                       .splitlines())}
    assert (rows[first], rows[second], rows[millis]) == (
        "2026-11-01 01:30:00-04:00", "2026-11-01 01:30:00-05:00", "2026-07-03 08:07:41.123-04:00")
    code, plan = cli_json(capsys, "plan", path)
    assert code == 0 and plan["counts"]["no-change"] == len(rows)


def test_silence_rule_windows_in_seconds_round_trip(env, tmp_path, capsys):
    sandbox, _ = env
    path = tmp_path / "rules.xlsx"
    assert cli("export", "silence-rules", "-o", path) == 0
    ws = openpyxl.load_workbook(path)[SILENCE_RULE.name]
    headers = [c.value for c in ws[1]]
    rules = {r["silence_id"]: r for r in sandbox.silence_rules()}
    windows = 0
    for row in ws.iter_rows(min_row=2, values_only=True):
        rule = rules[row[0]]
        if "other" in rule:
            windows += 1
            start = row[headers.index("call_from")]
            assert start == datetime.fromtimestamp(rule["other"]["call_from"], NEW_YORK).replace(tzinfo=None)
    assert windows > 5
    code, plan = cli_json(capsys, "plan", path)
    assert code == 0 and plan["counts"]["no-change"] == len(rules)


def test_epoch_numbers_are_still_accepted(env, tmp_path):
    sandbox, _ = env
    appointment = sandbox.appointments(2)[5]
    path = sheet(tmp_path / "epoch.xlsx", "appointment", ["vdnId", "appointId", "userAccount", "appointTime"],
                 [["2", appointment["appointId"], appointment["userAccount"], str(appointment["appointTime"])]])
    report = validate_file(path)
    assert report.ok and report.records[0].texts["appointTime"] == str(appointment["appointTime"])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_shows_the_dates_and_keeps_them_when_it_saves_the_workbook(env, tmp_path, capsys):
    sandbox, (first, _, millis) = env
    path = tmp_path / "appointments.xlsx"
    assert cli("export", "appointments", "--vdn", "2", "-o", path) == 0
    saved = tmp_path / "saved"
    profile = (tmp_path / "lo-profile").as_uri()  # its own profile: no clash with another soffice running
    for kind in ("csv", "xlsx"):
        subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", kind,
                        "--outdir", str(saved), str(path)], check=True, capture_output=True, timeout=300)
    shown = {r["appointId"]: r["appointTime"] for r in csv.DictReader(
        (saved / "appointments.csv").read_text(encoding="utf-8-sig").splitlines())}
    plain = next(a for a in sandbox.appointments(2) if a["appointId"] not in env[1])
    assert shown[plain["appointId"]] == wall_clock(plain["appointTime"]).isoformat(sep=" ")
    assert shown[millis] == "2026-07-03 08:07:41.123-04:00" and shown[first] == "2026-11-01 01:30:00-04:00"
    # Saved by LibreOffice, as a user's spreadsheet program would: still exactly the same values.
    code, plan = cli_json(capsys, "plan", saved / "appointments.xlsx")
    assert code == 0 and plan["counts"]["no-change"] == len(shown)


def test_date_time_cells_read_back_to_the_millisecond(tmp_path):
    import random
    from datetime import timedelta

    from batchops.sheets import read_table
    from batchops.sheets.writer import SheetSpec, write_xlsx

    rng = random.Random(11)
    moments = [datetime(1973, 3, 3) + timedelta(seconds=rng.randrange(120 * 365 * 86_400),
                                                milliseconds=rng.randrange(1000) * (n % 2)) for n in range(5000)]
    write_xlsx(tmp_path / "d.xlsx", [SheetSpec("d", ["t"], [[m] for m in moments], text_columns=())])
    assert [row[0] for row in read_table(tmp_path / "d.xlsx").rows] == moments
