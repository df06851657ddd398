"""The target the page talks to: the CLI's profiles and BATCHOPS_* variables, shown without a secret."""

from __future__ import annotations

import pytest
from web_helpers import client_for, sandbox_rows, serving, settings_rows, settings_workbook, upload

APP_SECRET = "app-secret-value-0123456789"
ISALES_SK = "isales-sk-value-9876543210"
CONFIG = f"""
default_profile = "test"

[profiles.test]
base_url = "https://test.example:8443"
app_key = "key-test"
app_secret = "{APP_SECRET}"
isales_url = "https://isales-test.example:28050"
isales_ak = "ak-test"
isales_sk = "{ISALES_SK}"

[profiles.prod]
base_url = "https://prod.example"
app_key = "key-prod"
app_secret = "{APP_SECRET}-prod"
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_the_page_shows_the_profile_and_urls_and_no_secret(tmp_path, config):
    with serving(tmp_path, config_path=str(config)) as running, client_for(running) as client:
        target = client.get("/api/target").json()
        page = client.get("/").text
    assert target == {"profile": "test", "config_path": str(config), "base_url": "https://test.example:8443",
                      "isales_url": "https://isales-test.example:28050", "c1_ready": True, "isales_ready": True,
                      "profiles": ["prod", "test"], "problem": None}
    assert "https://test.example:8443" in page and "https://isales-test.example:28050" in page
    assert '<option value="prod" >prod</option>' in page or 'value="prod"' in page


def test_switching_profile_changes_the_target_for_the_whole_server(tmp_path, config):
    with serving(tmp_path, config_path=str(config)) as running, client_for(running) as client:
        answer = client.post("/api/target", json={"profile": "prod"})
        assert answer.status_code == 200
        assert answer.json()["base_url"] == "https://prod.example"
        assert answer.json()["isales_ready"] is False
        assert client.get("/api/target").json()["profile"] == "prod"
        refused = client.post("/api/target", json={"profile": "staging"})
        assert refused.status_code == 400
        assert refused.json() == {"error": "Profile 'staging' is not in the config file (profiles: prod, test)."}
        assert client.post("/api/target", json=["prod"]).status_code == 400
        assert client.post("/api/target", content=b"{not json").status_code == 400


def test_environment_variables_win_over_the_profile_as_on_the_command_line(tmp_path, config, monkeypatch):
    monkeypatch.setenv("BATCHOPS_BASE_URL", "http://127.0.0.1:9")
    with serving(tmp_path, config_path=str(config)) as running, client_for(running) as client:
        assert client.get("/api/target").json()["base_url"] == "http://127.0.0.1:9"


def test_a_broken_configuration_is_shown_as_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[profiles.x]\nbase_url = 'ftp://nope'\n", encoding="utf-8")
    with serving(tmp_path, config_path=str(bad), profile="x") as running, client_for(running) as client:
        target = client.get("/api/target").json()
        page = client.get("/").text
    assert target["problem"] == f"{'base_url'} in profile 'x' of {bad} must be an http:// or https:// URL, not 'ftp://nope'."
    assert "must be an http:// or https:// URL" in page


def test_no_secret_reaches_any_page_or_answer(tmp_path, config, monkeypatch):
    monkeypatch.setenv("BATCHOPS_ISALES_SK", ISALES_SK)
    path = settings_workbook(tmp_path / "agents.xlsx", settings_rows(3))
    with serving(tmp_path, config_path=str(config)) as running, client_for(running) as client:
        file_id = upload(client, path).json()["id"]
        answers = [client.get(url) for url in (
            "/", "/runs", f"/files/{file_id}", "/api/target", "/api/runs", f"/api/files/{file_id}",
            f"/api/files/{file_id}/errors", f"/api/files/{file_id}/rows", "/static/app.js")]
        answers.append(client.post("/api/target", json={"profile": "prod"}))
    for answer in answers:
        assert answer.status_code == 200, answer.url
        text = answer.text + str(answer.headers)
        for secret in (APP_SECRET, ISALES_SK, "key-test", "ak-test"):
            assert secret not in text, (answer.url, secret)


def test_the_apply_step_shows_a_plans_figures_only_for_the_target_it_was_read_from(tmp_path, sandbox,
                                                                                     monkeypatch):
    for name in sandbox.env():
        monkeypatch.delenv(name, raising=False)
    o = sandbox.options
    port = sandbox.url.rsplit(":", 1)[1]
    profiles = "".join(
        f'[profiles.{name}]\nbase_url = "{url}"\napp_key = "{o.app_key}"\napp_secret = "{o.app_secret}"\n'
        f'isales_url = "{url}"\nisales_ak = "{o.isales_ak}"\nisales_sk = "{o.isales_sk}"\nuser_id = "{o.user_id}"\n\n'
        for name, url in (("here", sandbox.url), ("there", f"http://localhost:{port}")))
    config = tmp_path / "config.toml"
    config.write_text('default_profile = "here"\n\n' + profiles, encoding="utf-8")
    with serving(tmp_path, config_path=str(config)) as running, client_for(running) as client:
        file_id = upload(client, settings_workbook(tmp_path / "team.xlsx", sandbox_rows(sandbox, 4))).json()["id"]
        assert client.post(f"/api/files/{file_id}/plan").json()["to_send"] == 4
        assert "the plan, when it read the current values: 4 rows change something" in \
            client.get(f"/files/{file_id}/apply").text
        assert client.post("/api/target", json={"profile": "there"}).status_code == 200
        page = client.get(f"/files/{file_id}/apply").text
    assert "the plan, when it read" not in page  # another server's figures are not this one's
    assert (f"no plan was read from http://localhost:{port} (the plan was read from {sandbox.url})") in page
