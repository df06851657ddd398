"""sample_data: every valid sample validates; every planted mistake is reported at its cell with its code."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from batchops.checking.validation import validate_file
from batchops.cli import run
from batchops.sheets.reader import read_table

SAMPLES = Path(__file__).parent.parent / "sample_data"
TZ = "Asia/Shanghai"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


make_samples = _load_generator()
VALID = make_samples.valid_samples()
FLAWED = make_samples.flawed_samples()
NIGHTLY = make_samples.nightly_csvs()


@pytest.mark.parametrize("name", [s.name for s in VALID] + [n.name for n in NIGHTLY])
def test_valid_sample_has_no_error_and_no_warning(name):
    report = validate_file(SAMPLES / name, timezone=TZ)
    assert [(i.cell, i.code, i.message) for i in report.issues] == []
    assert report.ok and len(report.valid_records) == len(report.records) >= 10


@pytest.mark.parametrize("sample", VALID + FLAWED, ids=lambda s: s.name)
def test_workbook_samples_carry_the_template_stamp(sample):
    report = validate_file(SAMPLES / sample.name, timezone=TZ)
    table = read_table(SAMPLES / sample.name)
    assert table.stamp is not None and table.stamp.operation == sample.op.name
    assert table.stamp.fingerprint == sample.op.fingerprint()
    assert report.operation is sample.op
    assert not any("older" in note for note in report.notes)


@pytest.mark.parametrize("sample", FLAWED, ids=lambda s: s.name)
def test_every_planted_mistake_is_reported_at_its_cell(sample):
    report = validate_file(SAMPLES / sample.name, timezone=TZ)
    reported = {(i.cell, i.code, i.severity.value) for i in report.issues}
    expected = {(e.cell, e.code, e.severity) for e in sample.expected()}
    assert expected - reported == set(), "planted mistakes not reported"
    # No false alarm: every error is on a cell where a mistake was planted.
    planted_cells = {e.cell for e in sample.expected()}
    assert {i.cell for i in report.errors} <= planted_cells
    assert not report.ok


@pytest.mark.parametrize("sample", FLAWED, ids=lambda s: s.name)
def test_rows_without_a_planted_mistake_stay_valid(sample):
    report = validate_file(SAMPLES / sample.name, timezone=TZ)
    bad_rows = {int("".join(ch for ch in e.cell if ch.isdigit())) for e in sample.expected()
                if e.severity == "error"}
    assert {r.row for r in report.records if not r.valid} == bad_rows


def test_the_messages_a_user_reads_for_the_classic_mistakes():
    report = validate_file(SAMPLES / "agent-settings-flawed.xlsx", timezone=TZ)
    by_cell = {(i.cell, i.code): i.message for i in report.issues}
    assert by_cell[("A3", "rounded")] == (
        "Excel stored 1.30714525966221E+18 as a number and kept only 15 significant digits, so the ID may "
        "have been rounded; format the column as Text and type the ID again.")
    assert by_cell[("E5", "too_many")] == (
        "'880101,880102,880103,880104,880105,880106' lists 6 numbers; callNumber takes at most 5.")
    assert by_cell[("G6", "too_long")] == "'0755860012345678' has 16 characters; callerPresentDefault allows at most 15."
    assert by_cell[("B10", "formula")].startswith('holds the formula =B2&"1"')
    assert by_cell[("F16", "fraction")].startswith("12323.5 has a fraction where digits belong")
    assert by_cell[("B12", "required")] == (
        "is empty; userId is mandatory (an ID typed as text: format the column as Text so Excel keeps "
        "every digit).")


def test_cli_validate_exits_0_for_a_valid_sample_and_2_for_a_flawed_one(tmp_path, capsys):
    assert run(["validate", str(SAMPLES / "called-route-valid.xlsx"), "--no-write"]) == 0
    capsys.readouterr()
    flawed = tmp_path / "called-route-flawed.xlsx"
    shutil.copy(SAMPLES / flawed.name, flawed)
    assert run(["validate", str(flawed), "--no-write", "--json"]) == 2
    issues = json.loads(capsys.readouterr().out)["issues"]
    assert {(i["cell"], i["code"]) for i in issues} == {(e.cell, e.code) for e in _sample("called-route-flawed.xlsx").expected()}


def test_samples_are_up_to_date_with_the_generator(tmp_path):
    written = make_samples.main(tmp_path)
    for path in written:
        committed = SAMPLES / path.name
        assert committed.exists(), f"sample_data/{path.name} is missing; run sample_data/make_samples.py"
        if path.suffix == ".xlsx":
            fresh, old = read_table(path), read_table(committed)
            assert (fresh.headers, fresh.rows, fresh.damage, fresh.stamp) == (
                old.headers, old.rows, old.damage, old.stamp), f"sample_data/{path.name} is out of date"
        else:
            assert path.read_bytes() == committed.read_bytes(), f"sample_data/{path.name} is out of date"


def _sample(name: str):
    return next(s for s in VALID + FLAWED if s.name == name)
