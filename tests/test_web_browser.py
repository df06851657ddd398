"""The page in a real headless Chromium: what a person sees and clicks, screenshots of each step kept.

Skipped, with one line saying why, where no Chromium is installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import threading

import openpyxl
import pytest
from browser import Shots, browser, chromium, text_of, wait_for
from web_helpers import serving, settings_rows, settings_workbook

FOUND = chromium()
if isinstance(FOUND, str):
    pytest.skip(f"browser tests skipped: {FOUND}", allow_module_level=True)

from selenium.webdriver.common.by import By

XSS = "<img src=x onerror=window.hacked=1>"


def flawed_workbook(tmp_path):
    rows = settings_rows(120)
    rows[0][2] = "3"  # callType outside 0/1/2
    rows[4][4] = "1,2,3,4,5,6"  # six numbers
    rows[9][3] = XSS  # markup in a cell
    return settings_workbook(tmp_path / "agent-settings.xlsx", rows)


@pytest.fixture(scope="module")
def chromium_session(tmp_path_factory):
    """One headless Chromium for the module (each test has its own server, so its own cookie)."""
    downloads = tmp_path_factory.mktemp("downloads")
    with browser(downloads) as driver:
        yield driver, downloads


@pytest.fixture
def downloads(chromium_session):
    """The browser's downloads folder, emptied for this test."""
    folder = chromium_session[1]
    for old in folder.iterdir():
        old.unlink()
    return folder


@pytest.fixture
def driver(chromium_session, downloads):
    """The module's browser."""
    return chromium_session[0]


def open_page(driver, running):
    driver.get(running.link)
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1", "the start page")


@pytest.fixture
def page(tmp_path, driver, downloads):
    with serving(tmp_path) as running:
        open_page(driver, running)
        yield running, driver, downloads


def upload_with(driver, input_id, path):
    driver.find_element(By.ID, input_id).send_keys(str(path))
    button = "upload-button" if input_id == "file-input" else "replace-button"
    driver.find_element(By.ID, button).click()


def test_check_a_flawed_workbook_then_its_correction(page, tmp_path):
    running, driver, downloads = page
    shots = Shots("check")
    assert driver.current_url == f"{running.url}/"  # the token left the address bar
    assert driver.title == "Start · batchops"
    shots.take(driver, "start")

    upload_with(driver, "file-input", flawed_workbook(tmp_path))
    wait_for(driver, lambda d: text_of(d, "verdict").startswith("4 errors in 3 rows"), "the errors of the flawed file")
    assert text_of(driver, "operation") == "agent-settings"
    assert text_of(driver, "row-count") == "120"
    cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#error-table td.value")]
    assert XSS in cells  # shown as text ...
    assert driver.execute_script("return window.hacked") is None  # ... never run
    shots.take(driver, "check errors")

    driver.find_element(By.ID, "only-bad").click()
    wait_for(driver, lambda d: "rows 1–3 of 3" in text_of(d, "grid-range"), "only the rows with errors")
    bad = driver.find_elements(By.CSS_SELECTOR, "#data-grid td.bad-cell")
    assert [c.text for c in bad] == ["3", "1,2,3,4,5,6", XSS]
    assert bad[0].get_attribute("title").startswith("'3' is not allowed; callType takes one of 0")
    shots.take(driver, "grid with bad cells")

    driver.find_element(By.ID, "download-workbook").click()
    target = downloads / "agent-settings.xlsx"
    wait_for(driver, lambda d: target.exists() and not list(downloads.glob("*.crdownload")), "the download")
    workbook = openpyxl.load_workbook(target)
    assert workbook["Errors"].max_row == 5  # a header and the four errors

    upload_with(driver, "replace-input", settings_workbook(tmp_path / "fixed.xlsx", settings_rows(120)))
    wait_for(driver, lambda d: text_of(d, "verdict") == "Every row is valid.", "the corrected file valid")
    shots.take(driver, "corrected file")


def test_a_file_too_large_is_refused_on_the_page(tmp_path, driver):
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"\0" * (1024 * 1024 + 10))
    with serving(tmp_path, max_upload_bytes=1024 * 1024) as running:
        open_page(driver, running)
        upload_with(driver, "file-input", big)
        wait_for(driver, lambda d: "larger than the upload limit" in text_of(d, "upload-status"), "the refusal")


def test_a_run_page_follows_the_run_live_and_can_cancel_it(page):
    running, driver, _downloads = page
    shots = Shots("run")
    release, handles = threading.Event(), []

    async def work(handle):
        handles.append(handle)
        handle.on_cancel(release.set)
        await asyncio.to_thread(release.wait, 60)
        return {"counts": {"ok": 3, "not-sent": 7}, "done": 3}

    run = running.call(lambda: running.web.runs.start(work, file_id=None, total=10, label="agents.xlsx"))
    driver.get(f"{running.url}/runs/{run.id}")
    wait_for(driver, lambda d: d.find_element(By.ID, "run-state").get_attribute("data-state") == "running",
             "the run running")
    wait_for(driver, lambda d: handles, "the run started")
    handles[0].progress({"done": 3, "counts": {"ok": 3}, "rate": 12.0})
    wait_for(driver, lambda d: text_of(d, "run-counts").startswith("3 / 10 · 3 ok"), "live progress")
    shots.take(driver, "run live")
    driver.find_element(By.ID, "run-cancel").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "run-state").get_attribute("data-state") == "cancelled",
             "the run cancelled")
    # At the end the page reloads as the finished run's page: wait for that one before reading it.
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.runEnded") == "1", "the end")
    assert not driver.find_element(By.ID, "run-cancel").is_enabled()
    shots.take(driver, "run cancelled")


def test_without_the_token_the_browser_sees_nothing(tmp_path, driver):
    with serving(tmp_path) as running:
        driver.get(f"{running.url}/runs")
        assert "open the link that `batchops serve` printed" in driver.find_element(By.TAG_NAME, "body").text
        driver.get(f"{running.url}/?token=wrong")
        assert "Unauthorized" in driver.find_element(By.TAG_NAME, "body").text


def test_the_whole_walk_against_the_sandbox(sandbox, monkeypatch, tmp_path, driver, downloads):
    """Upload a flawed workbook → errors → the fixed one → plan → apply → results → download: all ok."""
    from roundtrip_helpers import rows_of
    from web_helpers import sandbox_rows

    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    rows = sandbox_rows(sandbox, 40)
    flawed = [list(r) for r in rows]
    flawed[2][2] = "5"
    flawed[7][0] = "1.30714525966221E+18"
    shots = Shots("walk")
    with serving(tmp_path) as running:
        open_page(driver, running)
        assert sandbox.url in text_of(driver, "target")
        shots.take(driver, "start")

        upload_with(driver, "file-input", settings_workbook(tmp_path / "team.xlsx", flawed))
        wait_for(driver, lambda d: text_of(d, "verdict").startswith("2 errors in 2 rows"), "the two errors")
        shots.take(driver, "check flawed")

        upload_with(driver, "replace-input", settings_workbook(tmp_path / "team.xlsx", rows))
        wait_for(driver, lambda d: text_of(d, "verdict") == "Every row is valid.", "the fixed file valid")
        shots.take(driver, "check fixed")

        driver.find_element(By.ID, "to-plan").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "make-plan"), "the plan step")
        driver.find_element(By.ID, "make-plan").click()
        wait_for(driver, lambda d: "40 change" in text_of(d, "plan-counts"), "the plan's counts")
        before_after = driver.find_elements(By.CSS_SELECTOR, "#plan-table td.after")
        assert before_after and before_after[0].text.startswith("0755")
        shots.take(driver, "plan")

        driver.find_element(By.ID, "to-apply").click()
        wait_for(driver, lambda d: text_of(d, "to-send") == "40", "the confirmation")
        assert text_of(driver, "apply-target") == sandbox.url
        shots.take(driver, "confirm")
        driver.find_element(By.ID, "apply-button").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "run-verdict"), "the run's outcome")
        assert text_of(driver, "run-verdict").startswith("40 ok")
        statuses = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#results-table td b")]
        assert statuses == ["ok"] * 40
        shots.take(driver, "results")

        driver.find_element(By.ID, "download-results").click()
        target = downloads / "team.xlsx"
        wait_for(driver, lambda d: target.exists() and not list(downloads.glob("*.crdownload")), "the download")
        assert [r["status"] for r in rows_of(target, "Results")] == ["ok"] * 40

        driver.find_element(By.ID, "journal-run").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "download-audit"), "the run in the journal")
        shots.take(driver, "journal run")
        driver.get(f"{running.url}/runs")
        wait_for(driver, lambda d: d.find_elements(By.ID, "journal-runs"), "the runs")
        shots.take(driver, "runs")


def test_a_plan_is_cancelled_and_lost_zeros_accepted_with_a_click(sandbox, monkeypatch, tmp_path, driver):
    """The plan step's Cancel while it reads; then numbers Excel stripped of their zeros, accepted knowingly."""
    from web_helpers import sandbox_rows

    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    shots = Shots("plan-choices")
    sandbox.set_faults(latency_ms=200)
    with serving(tmp_path) as running:
        open_page(driver, running)
        upload_with(driver, "file-input", settings_workbook(tmp_path / "slow.xlsx", sandbox_rows(sandbox, 40)))
        wait_for(driver, lambda d: text_of(d, "verdict") == "Every row is valid.", "the file valid")
        driver.find_element(By.ID, "to-plan").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "make-plan"), "the plan step")
        driver.find_element(By.ID, "make-plan").click()
        wait_for(driver, lambda d: text_of(d, "plan-status").startswith("Read "), "the plan reading")
        shots.take(driver, "plan reading")
        driver.find_element(By.ID, "plan-cancel").click()
        wait_for(driver, lambda d: text_of(d, "plan-status").startswith("The plan was cancelled after reading "),
                 "the plan cancelled")
        assert "of 40 record(s): nothing was planned." in text_of(driver, "plan-status")
        assert driver.find_element(By.ID, "make-plan").is_enabled()
        assert not driver.find_elements(By.ID, "plan-counts")  # no half plan shown
        shots.take(driver, "plan cancelled")
        sandbox.set_faults(latency_ms=0)

        zero_led = [r for r in sandbox.agent_settings() if r["callerPresentDefault"].startswith("0")][:2]
        resaved = tmp_path / "resaved.csv"
        resaved.write_text("id,userId,callerPresentDefault\n" + "".join(
            f"{r['id']},{r['userId']},{r['callerPresentDefault'].lstrip('0')}\n" for r in zero_led))
        driver.get(f"{running.url}/")
        wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1", "the start page")
        upload_with(driver, "file-input", resaved)
        wait_for(driver, lambda d: text_of(d, "verdict") == "Every row is valid.", "the CSV valid")
        driver.find_element(By.ID, "to-plan").click()
        wait_for(driver, lambda d: d.find_elements(By.ID, "make-plan"), "the plan step")
        driver.find_element(By.ID, "make-plan").click()
        wait_for(driver, lambda d: "2 cannot" in text_of(d, "plan-counts"), "the rows held back")
        assert text_of(driver, "lost-zeros-line").startswith("2 rows would set a number to the current one without")
        shots.take(driver, "lost zeros held")
        driver.find_element(By.ID, "lost-zeros-choice").click()
        wait_for(driver, lambda d: "2 change" in text_of(d, "plan-counts"), "the plan read again, accepted")
        assert "you accepted them" in text_of(driver, "lost-zeros-accepted")
        shots.take(driver, "lost zeros accepted")
