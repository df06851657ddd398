"""The thin commands over the workflow: ``--json`` prints exactly each step's summary; the words a person sees
before and after an apply (the prompt's counts, the summary, an interruption, a dry run's requests)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
from typing import Any

import pytest
from roundtrip_helpers import cli, cli_json, rows_of, sheet, use_sandbox

from batchops.apply.replay import RowResult
from batchops.catalogue import CALLED_ROUTE
from batchops.workflow import Job

HEADERS = ["id", "devicetype", "deviceId"]


class Terminal(io.StringIO):
    """Standard input as a person at a terminal: answers typed ahead."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def steps(monkeypatch) -> dict[str, Any]:
    """What each Job step returned during a CLI run, by step name."""
    seen: dict[str, Any] = {}
    for name in ("validate", "plan", "apply"):
        real = getattr(Job, name)

        def spy(self: Job, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            seen[_name] = _real(self, *args, **kwargs)
            return seen[_name]

        monkeypatch.setattr(Job, name, spy)
    return seen


def as_printed(summary: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(summary, ensure_ascii=False, default=str))


def routes_file(sandbox: Any, tmp_path: Any, count: int, name: str = "routes.xlsx") -> tuple[Any, list[dict]]:
    routes = [r for r in sandbox.routes() if r["editable"] == 0][:count]
    queues = sorted(sandbox.skill_queues())
    rows = [[r["id"], "1", str(next(q for q in queues if not (r["devicetype"] == 1 and r["deviceId"] == q)))]
            for r in routes]
    return sheet(tmp_path / name, "called-route", HEADERS, rows), routes


def test_validate_json_is_the_validation_summary(tmp_path, capsys, steps):
    path = sheet(tmp_path / "routes.xlsx", "called-route", HEADERS, [["1", "2", "5"], ["2", "1", "5"]])
    code, printed = cli_json(capsys, "validate", path)
    assert printed == as_printed(steps["validate"].summary())
    assert code == printed["exit_code"] == 2 and printed["report"] == str(path)


def test_plan_json_is_the_plan_summary(sandbox, monkeypatch, tmp_path, capsys, steps):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 3)
    code, printed = cli_json(capsys, "plan", path)
    assert printed == as_printed(steps["plan"].summary())
    assert code == printed["exit_code"] == 0 and printed["counts"]["change"] == 3 and printed["to_send"] == 3


def test_apply_json_is_the_apply_summary(sandbox, monkeypatch, tmp_path, capsys, steps):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 3)
    code, printed = cli_json(capsys, "apply", path, "--yes")
    assert printed == as_printed(steps["apply"].summary())
    assert code == printed["exit_code"] == 0 and printed["counts"]["ok"] == 3 and printed["results"] == str(path)


def test_a_refused_file_prints_the_validation_summary(sandbox, monkeypatch, tmp_path, capsys, steps):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path = sheet(tmp_path / "routes.xlsx", "called-route", HEADERS, [["1", "2", "5"]])
    for command in ("plan", "apply"):
        code, printed = cli_json(capsys, command, path, *(["--yes"] if command == "apply" else []))
        assert printed == as_printed(steps["validate"].summary()) and code == 2
    assert sandbox.request_log("modifyCalledRoute") == []


def test_the_prompt_counts_what_plan_counts_and_the_summary_agrees(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    routes = [r for r in sandbox.routes() if r["editable"] == 0][:4]
    path, _ = routes_file(sandbox, tmp_path, 1)
    assert cli("apply", path, "--yes") == 0  # the first route applied by this file ...
    first = sandbox.route(routes[0]["id"])
    before = [sandbox.route(r["id"]) for r in routes]
    sheet(path, "called-route", HEADERS, [  # ... then: that row again, a row that changes nothing, two changes
        [first["id"], str(first["devicetype"]), str(first["deviceId"])],
        [routes[1]["id"], str(routes[1]["devicetype"]), str(routes[1]["deviceId"])],
        [routes[2]["id"], "3", str(min(sandbox.ivrs()))],
        [routes[3]["id"], "3", str(min(sandbox.ivrs()))],
    ])
    capsys.readouterr()
    assert cli("plan", path) == 0
    planned = capsys.readouterr().out
    assert re.search(r"^4 rows: 2 change \(\d fields\), 1 no change, 0 cannot, 0 unread, 1 applied already\. ",
                     planned, re.MULTILINE), planned
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert cli("apply", path) == 0
    captured = capsys.readouterr()
    assert (f"called-route (calledRoute/modifyCalledRoute) → {sandbox.url}: 2 row(s) to send, 1 change nothing, "
            "1 already applied, 0 invalid, from routes.xlsx sheet 'called-route'.") in captured.err
    for row, route in ((4, before[2]), (5, before[3])):
        codes = ", ".join(f"{k} {route[k]}" for k in ("accessCode", "extCode") if route.get(k))
        name = f"{route['id']} ({codes})"
        changes = [f"{field} {route[field]} -> {value}" for field, value in
                   (("devicetype", 3), ("deviceId", min(sandbox.ivrs()))) if route[field] != value]
        assert f"  row {row} {name}: {', '.join(changes)}\n" in captured.err, captured.err
    assert "Send 2 row(s)? [y/N]" in captured.err
    assert re.search(r"^run \S+: 2 ok, 2 skipped \(1 already applied, 1 no change\) in \d+\.\ds$",
                     captured.out, re.MULTILINE), captured.out


def test_saying_no_sends_nothing(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 2)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert cli("apply", path) == 2
    assert capsys.readouterr().err.endswith("Nothing was sent.\n")
    assert sandbox.request_log("modifyCalledRoute") == []


def test_dry_run_shows_each_request_as_http(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, routes = routes_file(sandbox, tmp_path, 1)
    queue = sheet(path, "called-route", HEADERS, [[routes[0]["id"], "3", str(min(sandbox.ivrs()))]])
    assert cli("apply", queue, "--dry-run") == 0
    out = capsys.readouterr().out
    assert (f"row 2 ({routes[0]['id']}):\n"
            f"  POST {sandbox.url}{CALLED_ROUTE.path}\n"
            f'  {{"id": "{routes[0]["id"]}", "devicetype": 3, "deviceId": {min(sandbox.ivrs())}}}\n') in out, out
    assert "{'method'" not in out
    assert "Dry run, nothing sent: 1 not-sent in " in out


def test_ctrl_c_says_interrupted_and_how_to_finish(sandbox, monkeypatch, tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    records = sandbox.agent_settings()[:30]
    path = sheet(tmp_path / "agents.xlsx", "agent-settings", ["id", "userId", "callNumber"],
                 [[r["id"], r["userId"], f"0755{i:07d}"] for i, r in enumerate(records)])
    from batchops.cli import apply_cmd

    real = apply_cmd.RowProgress

    class CtrlC(real):  # type: ignore[misc,valid-type]
        """The progress bar, with a person pressing Ctrl-C once three rows are done."""

        def __call__(self, result: RowResult) -> None:
            super().__call__(result)
            if sum(self.counts.values()) == 3:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(apply_cmd, "RowProgress", CtrlC)
    assert cli("apply", path, "--yes", "--concurrency", "1", "--no-before") == 130
    out = capsys.readouterr().out
    found = re.search(r"^Interrupted: run \S+: (\d+) ok, (\d+) not-sent in \d+\.\ds$", out, re.MULTILINE)
    assert found, out
    ok, rest = int(found[1]), int(found[2])
    assert ok >= 3 and ok + rest == 30
    assert f"Run the same command again to send the other {rest} row(s): rows already applied are skipped." in out
    monkeypatch.setattr(apply_cmd, "RowProgress", real)
    assert cli("apply", path, "--yes", "--no-before") == 0
    assert re.search(rf"^run \S+: {rest} ok, {ok} skipped \({ok} already applied\) in ", capsys.readouterr().out, re.MULTILINE)


def spy_on(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    """Record what ``module.name`` returns each time the CLI calls it."""
    made: list[Any] = []
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(module, name, spy)
    return made


def test_runs_audit_undo_and_export_json_are_their_summaries(sandbox, monkeypatch, tmp_path, capsys):
    from batchops.cli import audit_cmd, export_cmd, undo_cmd
    from batchops.workflow import list_runs

    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 2)
    code, applied = cli_json(capsys, "apply", path, "--yes")
    assert code == 0
    code, printed = cli_json(capsys, "runs")
    assert code == 0 and printed == as_printed(list_runs(journal).summary())
    assert [r["run_id"] for r in printed["runs"]] == [applied["run_id"]]

    audits = spy_on(monkeypatch, audit_cmd, "make_audit")
    code, printed = cli_json(capsys, "audit", "-o", tmp_path / "audit.xlsx")
    assert code == 0 and printed == as_printed(audits[0].summary())
    changes = rows_of(tmp_path / "audit.xlsx", "Changes")
    assert (printed["rows"], printed["runs"], printed["file"]) == (0, 1, str(tmp_path / "audit.xlsx"))
    assert printed["changes"] == len(changes) >= 2 and {c["run_id"] for c in changes} == {applied["run_id"]}

    undos = spy_on(monkeypatch, undo_cmd, "make_undo")
    code, printed = cli_json(capsys, "undo", applied["run_id"], "-o", tmp_path / "undo.xlsx")
    assert code == 0 and printed == as_printed(undos[0].summary()) and printed["rows"] == 2

    exports = spy_on(monkeypatch, export_cmd, "export_data")
    code, printed = cli_json(capsys, "export", "called-routes", "-o", tmp_path / "routes-now.xlsx")
    assert code == 0 and printed == as_printed(exports[0].summary())
    assert printed["rows"] == len(sandbox.routes()) and printed["operation"] == "called-route"


def readme_keys() -> dict[str, set[str]]:
    """The keys the README's "JSON output" section names for each ``COMMAND --json``."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## JSON output", 1)[1].split("\n### ", 1)[0]
    bullets = re.findall(r"^- `(\w+) --json`: (.*?)(?=^- |\Z)", section, re.MULTILINE | re.DOTALL)
    return {command: set(re.findall(r"`([\w-]+)`", body)) for command, body in bullets}


def test_the_readme_names_every_key_of_every_summary(sandbox, monkeypatch, tmp_path):
    from batchops.apply.replay import ApplyOptions
    from batchops.settings import load_settings
    from batchops.workflow import export_data, list_runs, make_audit, make_undo

    journal = use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 2)
    job = Job(path, journal_path=journal)
    summaries = {"validate": job.validate().summary(), "plan": job.plan().summary(),
                 "apply": job.apply(ApplyOptions(read_before=True)).summary()}
    summaries["runs"] = list_runs(journal).summary()
    summaries["audit"] = make_audit(tmp_path / "audit.xlsx", journal_path=journal).summary()
    summaries["undo"] = make_undo(summaries["apply"]["run_id"], tmp_path / "undo.xlsx", journal_path=journal).summary()
    summaries["export"] = export_data("called-routes", tmp_path / "export.xlsx", settings=load_settings()).summary()
    documented = readme_keys()
    assert set(documented) == set(summaries)
    for command, summary in summaries.items():
        assert set(summary) <= documented[command], (command, set(summary) - documented[command])
    assert set(summaries["runs"]["runs"][0]) <= documented["runs"]


def test_the_line_before_sending_says_rows_that_change_nothing_are_skipped_only_when_they_are(sandbox, monkeypatch,
                                                                                               tmp_path, capsys):
    use_sandbox(sandbox, monkeypatch, tmp_path)
    path, _ = routes_file(sandbox, tmp_path, 2)
    skipped = "Each record is read just before its row is sent; a row that changes nothing is skipped."
    assert cli("apply", path, "--yes") == 0
    assert skipped in capsys.readouterr().err
    for flag in ("--force", "--no-before"):
        assert cli("apply", path, "--yes", "--force", flag) == 0
        err = capsys.readouterr().err
        assert "2 row(s) to send, 0 already applied, 0 invalid" in err and skipped not in err
