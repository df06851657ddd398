"""Leading zeros Excel dropped: said plainly, and apply holds such rows back unless told (issue 10, item 8).

Three ways a zero is lost: a CSV Excel re-saved (every zero gone: only the current value shows it), a CSV
whose other rows still write theirs, and a number cell in an xlsx number column.
"""

from __future__ import annotations

import json

import pytest
from reliability_helpers import results, update_requests, use_sandbox, workbook

from batchops.catalogue import AGENT_SETTINGS
from batchops.cli import run
from batchops.remote.current import FieldChange, LostZero, lost_zeros


def test_lost_zeros_compares_numbers_and_lists_item_by_item():
    changes = [FieldChange("callNumber", "12,07773217", "7773217,12"),
               FieldChange("callNumberDefault", "0755", "755"),
               FieldChange("callerPresentDefault", "0755", "0756"),
               FieldChange("userId", "0123", "123")]  # an ID, not a number column
    assert lost_zeros(AGENT_SETTINGS, changes) == [LostZero("callNumber", "7773217", "07773217"),
                                                   LostZero("callNumberDefault", "755", "0755")]
    assert lost_zeros(AGENT_SETTINGS, [FieldChange("callNumber", "07773217", "07773217")]) == []
    assert LostZero("callNumber", "7773217", "07773217").message() == (
        "callNumber 7773217 is the current 07773217 without its leading zero: Excel probably dropped it. Type "
        "07773217 (format the column as Text first), or pass --accept-lost-zeros to send 7773217 as it is.")


@pytest.fixture
def zero_led(sandbox):
    """Two agent settings whose default display number starts with 0."""
    found = [r for r in sandbox.agent_settings() if r["callerPresentDefault"].startswith("0")][:2]
    assert len(found) == 2
    return found


def _resaved_csv(path, records):
    """What Excel writes back: the zeros of every number gone."""
    lines = ["id,userId,callerPresentDefault"] + [
        f"{r['id']},{r['userId']},{r['callerPresentDefault'].lstrip('0')}" for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_resaved_csv_is_caught_by_plan_and_held_back_by_apply(tmp_path, sandbox, zero_led, monkeypatch, capsys):
    use_sandbox(monkeypatch, sandbox)
    path = _resaved_csv(tmp_path / "agents.csv", zero_led)
    journal = str(tmp_path / "j.sqlite3")
    first, second = zero_led
    assert run(["validate", str(path)]) == 0  # nothing in the file itself shows it
    capsys.readouterr()

    assert run(["plan", str(path), "--journal", journal, "--json"]) == 1
    plan = json.loads(capsys.readouterr().out)
    assert plan["counts"]["cannot"] == 2 and plan["counts"]["change"] == 0
    assert plan["rows"][0]["message"] == (
        f"callerPresentDefault {first['callerPresentDefault'].lstrip('0')} is the current "
        f"{first['callerPresentDefault']} without its leading zero: Excel probably dropped it. Type "
        f"{first['callerPresentDefault']} (format the column as Text first), or pass --accept-lost-zeros to send "
        f"{first['callerPresentDefault'].lstrip('0')} as it is.")

    assert run(["apply", str(path), "--yes", "--journal", journal, "--json"]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["counts"]["not-sent"] == 2 and outcome["counts"]["ok"] == 0
    assert outcome["lost_zero_rows"] == {"held": [2, 3], "accepted": []}
    assert update_requests(sandbox) == []
    rows = results(path.with_name("agents.results.csv"))
    assert [r["status"] for r in rows] == ["not-sent", "not-sent"]
    assert rows[0]["reason"] == "lost-zeros" and "Excel probably dropped it" in rows[0]["message"]

    assert run(["plan", str(path), "--journal", journal, "--json", "--accept-lost-zeros"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["change"] == 2
    assert run(["apply", str(path), "--yes", "--journal", journal, "--accept-lost-zeros"]) == 0
    capsys.readouterr()
    assert len(update_requests(sandbox)) == 2
    assert {r["id"]: r["callerPresentDefault"] for r in sandbox.agent_settings()}[second["id"]] == \
        second["callerPresentDefault"].lstrip("0")


def test_a_csv_number_without_the_zero_its_neighbours_have_is_refused(tmp_path, sandbox, zero_led, monkeypatch,
                                                                      capsys):
    use_sandbox(monkeypatch, sandbox)
    first, second = zero_led
    number = first["callerPresentDefault"]
    path = tmp_path / "agents.csv"
    path.write_text("id,userId,callerPresentDefault\n"
                    f"{first['id']},{first['userId']},{number}\n"
                    f"{second['id']},{second['userId']},{number[1:]}\n", encoding="utf-8")
    assert run(["validate", str(path), "--no-write"]) == 2
    out, err = capsys.readouterr()
    assert (f"agents.csv, cell C3 (callerPresentDefault): error [lost_zero] {number[1:]} has no leading zero, "
            f"but other rows of callerPresentDefault write theirs ({number}, row 2): Excel probably dropped it "
            f"when the file was saved. Type {number} (format the column as Text first), or pass "
            f"--accept-lost-zeros if {number[1:]} is right.") in out
    journal = str(tmp_path / "j.sqlite3")
    assert run(["apply", str(path), "--yes", "--journal", journal]) == 2
    out, err = capsys.readouterr()
    assert ("Nothing was sent. 1 row with a number Excel probably stripped of its leading zero: type it again "
            "with its 0 (format the column as Text first), or, if the numbers are right as they are, pass "
            "--accept-lost-zeros. Or use --skip-invalid to send the valid rows.") in err
    assert run(["apply", str(path), "--yes", "--journal", journal, "--skip-invalid", "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert "1 invalid (1 with leading zeros probably lost: --accept-lost-zeros sends them)" in err
    assert run(["validate", str(path), "--no-write", "--accept-lost-zeros", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lost_zero_rows"] == {"held": [], "accepted": [3]} and report["warnings"] == 1
    assert update_requests(sandbox) == []


def test_a_number_cell_in_an_xlsx_number_column_is_held_back_until_accepted(tmp_path, sandbox, monkeypatch,
                                                                            capsys):
    use_sandbox(monkeypatch, sandbox)
    record = sandbox.agent_settings()[0]
    path = workbook(tmp_path / "agents.xlsx", ["id", "userId", "callNumberDefault"],
                    [[record["id"], record["userId"], 7773217]])
    journal = str(tmp_path / "j.sqlite3")
    assert run(["validate", str(path), "--no-write"]) == 2
    out, _ = capsys.readouterr()
    assert ("cell C2 (callNumberDefault): error [lost_zero] 7773217 is stored as a number, so Excel dropped any "
            "leading zero (07773217 becomes 7773217). Format the column as Text and type the number again, or "
            "pass --accept-lost-zeros if 7773217 is right.") in out
    assert run(["apply", str(path), "--yes", "--journal", journal, "--json"]) == 2
    assert update_requests(sandbox) == []
    capsys.readouterr()
    assert run(["apply", str(path), "--yes", "--journal", journal, "--accept-lost-zeros"]) == 0
    out, err = capsys.readouterr()
    assert ("Note: numbers Excel may have stripped of their leading zeros are used as they are "
            "(--accept-lost-zeros), in 1 row: 2.") in err
    assert [e.body["callNumberDefault"] for e in update_requests(sandbox)] == ["7773217"]


def test_the_preview_counts_rows_held_back_for_lost_zeros_out_of_those_to_send(tmp_path, sandbox, zero_led,
                                                                               monkeypatch):
    from batchops.apply.replay import ApplyOptions
    from batchops.cli.apply_cmd import preview_line
    from batchops.workflow import Job

    use_sandbox(monkeypatch, sandbox)
    path = _resaved_csv(tmp_path / "agents.csv", zero_led)
    journal = tmp_path / "j.sqlite3"
    job = Job(path, journal_path=journal)
    preview = job.preview(ApplyOptions(), read=True)
    assert (preview.to_send, preview.cannot, preview.zeros_held, preview.rows_to_send()) == (0, 0, [2, 3], [])
    assert preview.summary()["lost_zero_rows"] == {"held": [2, 3], "accepted": []}
    assert preview_line(preview) == (
        f"agent-settings (agentsettings/update) → {sandbox.url}: 0 row(s) to send, 0 change nothing, 0 already "
        "applied, 0 invalid, 2 held back (a number is the current one without its leading zeros: "
        "--accept-lost-zeros sends them), from agents.csv.")
    forced = job.preview(ApplyOptions(force=True), read=True)  # apply holds them back even when forced
    assert (forced.to_send, forced.zeros_held) == (0, [2, 3])
    blind = job.preview(ApplyOptions(read_before=False), read=True)  # --no-before reads nothing: sends them
    assert (blind.to_send, blind.zeros_held, blind.cannot) == (2, [], 2)
    applied = job.apply(ApplyOptions())
    assert applied.outcome.sent == preview.to_send == 0
    assert applied.summary()["lost_zero_rows"] == preview.summary()["lost_zero_rows"]

    accepting = Job(path, journal_path=journal, accept_lost_zeros=True)
    accepted = accepting.preview(ApplyOptions(), read=True)
    assert (accepted.to_send, accepted.zeros_held) == (2, [])
    assert accepting.apply(ApplyOptions()).outcome.sent == accepted.to_send == 2
