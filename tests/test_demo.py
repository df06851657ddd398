"""`batchops demo`: the whole walk runs, and an installed copy (no sample_data/) can run it too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchops.cli import demo_cmd, run


@pytest.mark.timeout(180)
def test_the_demo_runs_the_whole_pipeline_and_lists_its_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for step in ("$ batchops export agents", "$ batchops template agent-settings", "$ batchops validate",
                 "$ batchops plan", "$ batchops apply", "$ batchops audit", "$ batchops export agent-settings",
                 "$ batchops export called-routes"):
        assert step in printed
    made = {p.name for p in out.iterdir()}
    assert {"agents.xlsx", "agent-settings.xlsx", "agent-settings-flawed.xlsx", "audit.xlsx",
            "called-routes-nightly.results.csv", "journal.sqlite3", "agent-settings-export.xlsx",
            "called-routes-export.xlsx"} <= made
    # The unedited export of the called routes: no row, locked ones included, is "change" or "cannot" (those
    # the nightly CSV set are "applied already").
    assert re.search(r"\d+ rows: 0 change \(0 fields\), \d+ no change, 0 cannot, 0 unread", printed)
    assert "Done in" in printed


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
