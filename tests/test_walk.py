"""The walk from agents to their agent settings: querySysInfo's accountId as userId, checked by agentName.

Against the sandbox, whose agents include every case api-notes.md warns of: no accountCode to check, no
accountId, an accountId without settings, settings whose agentName is someone else's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import openpyxl
import pytest
from roundtrip_helpers import cli, file_text, use_sandbox

from batchops.catalogue import AGENT_SETTINGS
from batchops.checking.validation import validate_file
from batchops.errors import RemoteError
from batchops.http.client import Client
from batchops.journal import Journal
from batchops.remote.walk import read_users, walk
from batchops.reports.export import CONTEXT_SHEET, UNMATCHED_SHEET
from batchops.settings import load_settings

CHINESE_PATH = "/apiaccess/CC-Mangemant/v1/querySysInfo"


@pytest.fixture
def env(sandbox, monkeypatch, tmp_path):
    """The sandbox's settings in the environment and a journal in tmp_path; returns the sandbox."""
    use_sandbox(sandbox, monkeypatch, tmp_path)
    return sandbox


def expected_walk(sandbox) -> tuple[dict[str, dict], dict[str, str]]:
    """From the sandbox's own data: workNo -> setting of every agent that matches, workNo -> why of the rest."""
    settings = {s["userId"]: s for s in sandbox.agent_settings()}
    matched, unmatched = {}, {}
    for agent in sandbox.agents():
        work_no, account, user = str(agent["workNo"]), agent.get("accountCode"), agent.get("accountId")
        setting = settings.get(user)
        if user is None:
            unmatched[work_no] = "querySysInfo gives no accountId for it"
        elif setting is None:
            unmatched[work_no] = f"its accountId {user} has no agent settings"
        elif not account:
            unmatched[work_no] = (f"it has no accountCode, so the agentName of the settings of userId {user} "
                                  "cannot be checked")
        elif setting["agentName"] != account:
            unmatched[work_no] = (f"the settings of userId {user} have agentName {setting['agentName']!r}, "
                                  f"not its accountCode {account!r}")
        else:
            matched[work_no] = setting
    return matched, unmatched


def sheet(path: Path, name: str) -> list[list]:
    return [list(r) for r in openpyxl.load_workbook(path)[name].iter_rows(values_only=True)]


def test_every_agent_s_settings_with_its_workno_account_and_name_and_who_was_left_out(env, tmp_path, capsys):
    matched, unmatched = expected_walk(env)
    assert len(matched) > 200 and {w.split()[0] for w in unmatched.values()} == {"querySysInfo", "its", "it", "the"}
    target = tmp_path / "settings.xlsx"
    capsys.readouterr()
    assert cli("export", "agent-settings", "-o", target) == 0
    out, err = capsys.readouterr()
    assert f"Wrote {target}: {len(matched):,} agent-settings (agent-settings layout)" in out
    assert f"{len(unmatched)} agent(s) could not be matched to their agent-settings and are not in the file:" in err

    rows = sheet(target, AGENT_SETTINGS.name)
    assert [r[0] for r in rows[1:]] == [s["id"] for s in matched.values()]
    # workNo, account and name beside each record, read-only; the settings' own agentName on the Context sheet
    assert rows[0] == [*AGENT_SETTINGS.columns, "workNo (read-only)", "accountCode (read-only)",
                       "accountName (read-only)"]
    context = sheet(target, CONTEXT_SHEET)
    assert context[0][:2] == ["id", "agentName"]
    agents = {str(a["workNo"]): a for a in env.agents()}
    for line, facts in zip(rows[1:], context[1:], strict=True):
        agent = agents[line[7]]
        assert (line[0], line[8], line[9]) == (matched[line[7]]["id"], agent["accountCode"], agent["accountName"])
        assert facts[:2] == [line[0], agent["accountCode"]]
    left_out = sheet(target, UNMATCHED_SHEET)
    assert left_out[0] == ["workNo", "accountCode", "userId", "why it is not in the file"]
    assert {r[0]: r[3] for r in left_out[1:]} == unmatched
    report = validate_file(target)
    assert report.ok and report.operation is AGENT_SETTINGS and report.issues == []


@pytest.mark.parametrize("how", ["workNos", "account codes", "agents.xlsx", "agents.csv", "user IDs"])
def test_users_may_be_named_by_workno_account_code_user_id_or_the_agents_export(env, tmp_path, capsys, how):
    matched, unmatched = expected_walk(env)
    agents = {str(a["workNo"]): a for a in env.agents()}
    chosen = [*list(matched)[:3], next(iter(unmatched))]
    if how == "workNos":
        users = tmp_path / "users.txt"
        users.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    elif how == "account codes":
        users = tmp_path / "users.csv"
        users.write_text("accountCode\n" + "\n".join(agents[w].get("accountCode", "") for w in chosen[:3]))
    elif how == "user IDs":
        users = tmp_path / "users.txt"
        users.write_text("\n".join(matched[w]["userId"] for w in chosen[:3]) + "\n")
    else:
        users = tmp_path / how
        assert cli("export", "agents", "-o", users) == 0
    target = tmp_path / "settings.xlsx"
    assert cli("export", "agent-settings", "--users", users, "-o", target) == 0
    ids = [r[0] for r in sheet(target, AGENT_SETTINGS.name)[1:]]
    if how.startswith("agents"):  # the whole agents export: every agent, as without --users
        assert ids == [s["id"] for s in matched.values()]
    else:
        assert ids == [matched[w]["id"] for w in chosen[:3]]
    work_nos = [r[7] for r in sheet(target, AGENT_SETTINGS.name)[1:]]
    assert work_nos[:3] == chosen[:3]
    if how == "workNos":
        assert sheet(target, UNMATCHED_SHEET)[1][0] == chosen[3]


def test_a_workno_userid_file_is_the_fallback_for_agents_that_cannot_be_matched(env, tmp_path):
    matched, unmatched = expected_walk(env)
    no_account_id = next(w for w, why in unmatched.items() if why.startswith("querySysInfo"))
    spare = next(iter(matched.values()))  # the operator knows which settings this agent has
    users = tmp_path / "map.csv"
    users.write_text(f"workNo,userId\n{no_account_id},{spare['userId']}\n", encoding="utf-8")
    target = tmp_path / "settings.xlsx"
    assert cli("export", "agent-settings", "--users", users, "-o", target) == 0
    assert sheet(target, AGENT_SETTINGS.name)[1][0] == spare["id"]
    assert sheet(target, AGENT_SETTINGS.name)[1][7] == no_account_id  # shown with the workNo the file gave


def test_agents_that_name_nobody_are_listed_with_why(env, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("workNo\n99\nnobody.here\n", encoding="utf-8")
    target = tmp_path / "settings.xlsx"
    assert cli("export", "agent-settings", "--users", users, "-o", target) == 0
    assert sheet(target, UNMATCHED_SHEET)[1:] == [["99", None, None, "querySysInfo has no agent with workNo 99"],
                                                  ["nobody.here", None, None,
                                                   "querySysInfo has no agent with workNo nobody.here"]]


def test_the_sysinfo_path_is_a_setting(env, tmp_path, monkeypatch):
    monkeypatch.setenv("BATCHOPS_SYSINFO_PATH", CHINESE_PATH)
    assert cli("export", "agent-settings", "-o", tmp_path / "s.xlsx") == 0
    assert [e.path for e in env.request_log("querySysInfo")] == [CHINESE_PATH]


def _client(answers: dict[str, object]) -> Client:
    """A client whose calls get canned answers by path ending (MockTransport), 404 for any other path."""
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("tokenByAkSk"):
            return httpx.Response(200, json={"AccessToken": "t", "Expires": "600"})
        for ending, answer in answers.items():
            if request.url.path.endswith(ending):
                if callable(answer):
                    answer = answer(json.loads(request.content or b"{}"))
                return httpx.Response(200, json=answer)
        return httpx.Response(404, json={"returnDesc": "no such path"})

    env = {"BATCHOPS_BASE_URL": "https://gw.example", "BATCHOPS_APP_KEY": "k", "BATCHOPS_APP_SECRET": "s"}
    return Client(load_settings(env=env), transport=httpx.MockTransport(handler))


SETTING = {"id": "1307145259662215169", "callType": "1", "callerPresent": [], "callNumber": ["88881619"],
           "userId": "1660270845627002401", "callNumberDefault": "88881619", "callerPresentDefault": "",
           "agentName": "aaaa", "returnCode": "0", "returnDesc": "ok"}


def test_an_edition_without_account_ids_leaves_every_agent_unmatched_and_says_why():
    english_2023 = {"agents": [{"workNo": 1522, "sipAccount": "88881619", "sipPwd": "x", "password": "y"}]}
    with _client({"querySysInfo": english_2023, "agentsettings/query": SETTING}) as client:
        found = walk(client, AGENT_SETTINGS)
    assert found.records == []
    assert [(u.who, u.why) for u in found.unmatched] == [
        ("workNo 1522", ("querySysInfo gives no accountId for it (this edition of querySysInfo lists none for any "
                        "agent)"))]


def test_without_sysinfo_user_ids_still_work_and_worknos_say_what_to_do(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("1660270845627002401\n")
    with _client({"agentsettings/query": SETTING}) as client:
        found = walk(client, AGENT_SETTINGS, read_users(ids))
        assert [r["id"] for r in found.records] == [SETTING["id"]]
        assert found.notes == [("the agents could not be read (querySysInfo (/apiaccess/CC-Management/v1/"
                               "querySysInfo): HTTP 404: no such path): the --users values were taken as user IDs, "
                               "so no workNo or account is shown beside them.")]
        work_nos = tmp_path / "w.csv"
        work_nos.write_text("workNo\n101\n")
        with pytest.raises(RemoteError) as caught:
            walk(client, AGENT_SETTINGS, read_users(work_nos))
    assert "set BATCHOPS_SYSINFO_PATH" in str(caught.value) and "workNo,userId file" in str(caught.value)


def test_no_sip_password_or_agent_password_reaches_a_file_a_log_or_the_journal(env, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secrets = {a[k] for a in env.agents() for k in ("sipPwd", "password")}
    assert len(secrets) > 500
    files = [tmp_path / "agents.xlsx", tmp_path / "agents.csv", tmp_path / "all.xlsx", tmp_path / "all.csv",
             tmp_path / "some.xlsx"]
    for path in files[:2]:
        assert cli("export", "agents", "-o", path) == 0
    assert cli("export", "agent-settings", "-o", files[2]) == 0
    assert cli("export", "agent-settings", "-o", files[3]) == 0
    assert cli("export", "agent-settings", "--users", files[0], "-o", files[4]) == 0
    # Edit the walked export and run it through plan, apply, audit and undo: every file they write too.
    book = openpyxl.load_workbook(files[2])
    ws = book[AGENT_SETTINGS.name]
    for r in range(3, ws.max_row + 1):
        ws.delete_rows(3)
    ws.cell(2, 3).value = "2" if ws.cell(2, 3).value != "2" else "1"
    book.save(files[2])
    assert cli("plan", files[2]) == 0
    assert cli("apply", files[2], "--yes") == 0
    files += [tmp_path / "audit.csv", tmp_path / "undo.xlsx"]
    assert cli("audit", "-o", files[5]) == 0
    with Journal(tmp_path / "journal.sqlite3") as journal:
        run_id = journal.runs()[0].id
    journal_bytes = (tmp_path / "journal.sqlite3").read_bytes()
    assert cli("undo", run_id, "-o", files[6]) == 0
    printed = "".join(capsys.readouterr())
    texts = [file_text(p) for p in files] + [caplog.text, printed, journal_bytes.decode("utf-8", "replace")]
    leaked = {s for s in secrets for text in texts if s in text}
    assert leaked == set()


def test_plan_results_and_the_prompt_name_agent_settings_by_agent_and_workno(env, tmp_path, capsys):
    from batchops.reports.plan import make_plan

    matched, _ = expected_walk(env)
    work_no, setting = next(iter(matched.items()))
    account = next(a for a in env.agents() if str(a["workNo"]) == work_no)["accountCode"]
    named = f"agentName {account}, workNo {work_no}"
    path = tmp_path / "settings.xlsx"
    assert cli("export", "agent-settings", "--users", _lines(tmp_path, work_no), "-o", path) == 0
    book = openpyxl.load_workbook(path)
    ws = book[AGENT_SETTINGS.name]
    ws.cell(2, 3).value = "2" if setting["callType"] != "2" else "1"
    book.save(path)
    with Client(load_settings()) as client:
        plan = make_plan(validate_file(path), client)
    assert [(r.key, r.label) for r in plan.rows] == [(setting["id"], named)]
    capsys.readouterr()
    assert cli("plan", path) == 0
    assert f"row 2 {setting['id']} ({named}): callType: {setting['callType']} -> " in capsys.readouterr().out
    assert cli("apply", path, "--yes") == 0
    results = sheet(path, "Results")
    assert results[0][:4] == ["row", "key", "name", "status"] and results[1][:4] == [2, setting["id"], named, "ok"]


def _lines(tmp_path: Path, *values: str) -> Path:
    path = tmp_path / "users.txt"
    path.write_text("\n".join(values) + "\n", encoding="utf-8")
    return path


def test_a_sysinfo_path_that_is_not_a_path_is_refused_by_name():
    from batchops.errors import ConfigError

    assert load_settings(env={}).sysinfo_path == "/apiaccess/CC-Management/v1/querySysInfo"
    assert load_settings(env={"BATCHOPS_SYSINFO_PATH": CHINESE_PATH}).sysinfo_path == CHINESE_PATH
    with pytest.raises(ConfigError, match="BATCHOPS_SYSINFO_PATH must be a path starting with /"):
        load_settings(env={"BATCHOPS_SYSINFO_PATH": "querySysInfo"})


def test_the_agent_beside_each_record_is_read_only_context_that_validation_ignores_and_apply_never_sends(
        env, tmp_path, capsys):
    from batchops.reports.export import READ_ONLY_NOTE

    matched, _ = expected_walk(env)
    chosen = list(matched)[:3]
    path = tmp_path / "settings.xlsx"
    assert cli("export", "agent-settings", "--users", _lines(tmp_path, *chosen), "-o", path) == 0
    book = openpyxl.load_workbook(path)
    ws = book[AGENT_SETTINGS.name]
    headers = [c.value for c in ws[1]]
    assert headers[7:] == ["workNo (read-only)", "accountCode (read-only)", "accountName (read-only)"]
    data, context = ws.cell(1, 1), ws.cell(1, 8)
    assert context.font.i and not data.font.i and context.fill.fgColor.rgb != data.fill.fgColor.rgb  # marked apart
    assert ws.cell(2, 8).number_format == "@" and ws.cell(2, 8).value == chosen[0]
    notes = [v for v in ws.data_validations.dataValidation if v.showInputMessage]
    assert [(v.promptTitle, v.prompt, str(v.sqref)) for v in notes] == [
        ("Read-only", READ_ONLY_NOTE, "H1:H1048576 I1:I1048576 J1:J1048576")]
    instructions = {r[0]: r[2] for r in sheet(path, "Instructions")[1:]}
    assert instructions["workNo (read-only)"] == "read-only"

    # Edit as in Excel: new softphone numbers for two agents, and a typo in the read-only workNo beside one.
    ws.cell(2, 5).value, ws.cell(3, 5).value = "07551111", "07552222"
    ws.cell(3, 8).value = "99999"
    book.save(path)
    report = validate_file(path)
    assert report.ok and report.issues == [] and report.notes == []  # not a word about the context columns
    capsys.readouterr()
    assert cli("validate", path, "--no-write") == 0
    assert "ignored" not in capsys.readouterr().out
    assert cli("plan", path) == 0
    assert "3 rows: 2 change (2 fields), 1 no change" in capsys.readouterr().out
    before = len(env.request_log("agentsettings/update"))
    assert cli("apply", path, "--yes") == 0
    sent = [e.body for e in env.request_log("agentsettings/update")[before:]]
    assert len(sent) == 2 and all(set(body) <= set(AGENT_SETTINGS.columns) for body in sent)
    assert {matched[w]["id"]: env.agent_setting(matched[w]["id"])["callNumber"] for w in chosen[:2]} == {
        matched[chosen[0]]["id"]: ["07551111"], matched[chosen[1]]["id"]: ["07552222"]}

    as_csv = tmp_path / "settings.csv"  # the same columns in a CSV, recognised by its headers alone
    assert cli("export", "agent-settings", "--users", _lines(tmp_path, *chosen), "-o", as_csv) == 0
    assert as_csv.read_text(encoding="utf-8-sig").splitlines()[0].endswith(
        "workNo (read-only),accountCode (read-only),accountName (read-only)")
    report = validate_file(as_csv)
    assert report.ok and report.operation is AGENT_SETTINGS and report.issues == []


def test_context_headers_are_the_read_sides_and_other_unknown_columns_still_get_their_note():
    from batchops.catalogue import CALLED_ROUTE
    from batchops.checking.headers import match_headers

    headers = ["id", "userId", "callNumber", "workNo (read-only)", "Account code", "Agent name", "callNumbr"]
    match = match_headers(AGENT_SETTINGS, headers)
    assert (match.context, match.ignored, [j for j, _ in match.close]) == ([3, 4], [5], [6])
    routes = match_headers(CALLED_ROUTE, ["id", "devicetype", "deviceId", "workNo (read-only)"])
    assert routes.context == [] and routes.ignored == [3]  # only where the read side declares it
