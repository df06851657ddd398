"""`batchops demo`: the whole walk runs, and an installed copy (no sample_data/) can run it too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchops.cli import demo_cmd, run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One run of the demo for the tests of this module: (its folder, what it printed on stdout and stderr)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "demo"
    printed, errors = io.StringIO(), io.StringIO()  # the consoles write to whatever sys.stdout/stderr are
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = run(["demo", "--out", str(out)])
    assert code == 0, printed.getvalue()[-2000:] + errors.getvalue()[-2000:]
    return out, printed.getvalue(), errors.getvalue()


@pytest.mark.timeout(180)
def test_the_demo_runs_the_whole_pipeline_and_lists_its_files(demo_run):
    out, printed, _errors = demo_run
    for step in ("$ batchops export agents", "$ batchops template agent-settings", "$ batchops validate",
                 "$ batchops plan", "$ batchops apply", "$ batchops audit", "$ batchops export agent-settings",
                 "$ batchops export called-routes"):
        assert step in printed
    made = {p.name for p in out.iterdir()}
    assert {"agents.xlsx", "agent-settings.xlsx", "agent-settings-flawed.xlsx", "audit.xlsx",
            "called-routes-nightly.results.csv", "journal.sqlite3", "agent-settings-export.xlsx",
            "agent-settings-edited.xlsx", "agent-settings-resaved.csv", "agent-settings-resaved.results.csv",
            "agent-settings-fixed.csv", "called-routes-export.xlsx"} <= made
    assert "Done in" in printed


def test_the_demo_walks_from_the_agents_to_their_settings_issue_10_item_1(demo_run):
    out, printed, errors = demo_run
    assert "$ batchops export agent-settings -o " in printed  # no user list: every agent's
    assert re.search(r"Wrote \S+agent-settings-export\.xlsx: \d+ agent-settings \(agent-settings layout\)", printed)
    assert re.search(r"\d+ agent\(s\) could not be matched to their agent-settings and are not in the file: "
                     r"workNo \d+", errors)
    import openpyxl

    headers = [c.value for c in openpyxl.load_workbook(out / "agent-settings-export.xlsx").worksheets[0][1]]
    assert headers[-3:] == ["workNo (read-only)", "accountCode (read-only)", "accountName (read-only)"]


def test_the_demo_refuses_a_csv_whose_leading_zeros_excel_dropped_then_plans_the_fixed_one_item_8(demo_run):
    out, printed, errors = demo_run
    import csv

    with (out / "agent-settings-resaved.csv").open(encoding="utf-8") as handle:
        resaved = list(csv.reader(handle))
    assert resaved[1][3:5] == ["07552000,075520001", "7552000"]  # a list is text to Excel: it keeps its zero
    assert ("cannot: callNumber 7552000 is the current 07552000 without its leading zero: Excel probably dropped "
            "it.") in printed
    assert "6 rows: 0 change (0 fields), 0 no change, 6 cannot, 0 unread" in printed
    assert ("6 row(s) held back (2, 3, 4, 5, 6, 7): a number Excel probably stripped of its leading zero (see the "
            "Results). Fix the cells, or pass --accept-lost-zeros if the numbers are right.") in errors
    with (out / "agent-settings-resaved.results.csv").open(encoding="utf-8-sig") as handle:
        results = list(csv.DictReader(handle))
    assert [(r["status"], r["reason"]) for r in results] == [("not-sent", "lost-zeros")] * 6
    assert "6 rows: 0 change (0 fields), 0 no change, 0 cannot, 0 unread, 6 applied already." in printed


def test_the_demo_keeps_a_helper_column_with_its_note_and_sends_only_the_edits_item_9(demo_run):
    out, printed, errors = demo_run
    note = ("Note: 1 column(s) are not columns of agent-settings and are ignored (nothing in them is sent): "
            "'Checked by' (K).")
    notes = [line for line in (printed + errors).splitlines() if line.startswith("Note:")]
    assert notes.count(note) == 2  # validate, then apply: the read-only context columns get no note at all
    assert not [line for line in notes if "read-only" in line]
    assert re.search(r"run \S+: 5 ok, \d+ skipped \(\d+ already applied, \d+ no change\)", printed)
    import openpyxl

    results = openpyxl.load_workbook(out / "agent-settings-edited.xlsx")["Results"]
    statuses = [row[3] for row in results.iter_rows(min_row=2, values_only=True)]
    assert statuses.count("ok") == 5 and set(statuses) == {"ok", "skipped"}


def test_the_demo_plans_unedited_exports_as_no_change_item_12(demo_run):
    _out, printed, _errors = demo_run
    # The unedited export of the called routes: no row, locked ones included, is "change" or "cannot" (those
    # the nightly CSV set are "applied already").
    assert re.search(r"\d+ rows: 0 change \(0 fields\), \d+ no change, 0 cannot, 0 unread", printed)


def test_without_sample_data_the_demo_plants_the_mistakes_itself(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo_cmd, "SAMPLES", tmp_path / "no-such-folder")
    template = tmp_path / "template.xlsx"
    assert run(["template", "agent-settings", "-o", str(template)]) == 0
    filled = tmp_path / "filled.xlsx"
    import openpyxl

    wb = openpyxl.load_workbook(template)
    for i in range(8):
        wb.worksheets[0].append([f"13071452596622151{i:02d}", f"16602708456270024{i:02d}", "1", "123", "456",
                                 "789", "012"])
    wb.save(filled)
    flawed = tmp_path / "flawed.xlsx"
    demo_cmd._flawed_sample(template, filled, flawed)
    assert run(["validate", str(flawed), "--no-write", "--json"]) == 2
    printed = capsys.readouterr().out
    for code in ("rounded", "too_many", "too_long", "not_allowed", "duplicate", "formula"):
        assert f'"code": "{code}"' in printed
    assert Path(flawed).exists()
