"""Make the README's screenshots of `batchops serve`: the page against the bundled sandbox, in headless Chromium.

    .venv/bin/python docs/make_screenshots.py       # writes docs/serve-check.png and docs/serve-apply.png

Needs the test extras (selenium) and Debian's chromium and chromium-driver (what the browser tests use).
Everything runs on this computer: a sandbox and the page on free loopback ports, a journal in a temporary
folder. The workbook is the sandbox's own agent settings with new numbers and two mistakes a person makes
(a callType outside 0/1/2, an ID Excel rounded), so the Check page shows what it is for.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 900
"""The window: a laptop screen; the shot is the part of the page a person sees first."""
HEADERS = ["id", "userId", "callType", "callerPresent", "callNumber", "callNumberDefault", "callerPresentDefault"]


def main() -> int:
    """Start the sandbox and the page, walk to the Check and Apply steps, save one screenshot of each."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from batchops.sandbox import SandboxOptions, start_sandbox
    from batchops.sheets.writer import SheetSpec, write_xlsx
    from batchops.web import ServeOptions, WebApp, start_web

    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver_path:
        print("no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="batchops-shots-"))
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}",
                 "--lang=en-US", f"--user-data-dir={work / 'profile'}"):
        options.add_argument(flag)
    with start_sandbox(SandboxOptions(agents=300)) as sandbox:
        os.environ.update(sandbox.env())
        records = sorted(sandbox.agent_settings(), key=lambda s: s["id"])[:40]
        rows = [[r["id"], r["userId"], "1", f"0755{3000 + i},0755{3000 + i}1", f"0755{3000 + i}",
                 f"0755{3000 + i}", f"0755{9000 + i}"] for i, r in enumerate(records)]
        fixed = write_xlsx(work / "team.xlsx", [SheetSpec("agent-settings", HEADERS, rows)])
        flawed_rows = [list(r) for r in rows]
        flawed_rows[2][2] = "5"
        flawed_rows[7][0] = "1.30714525966221E+18"
        (work / "first").mkdir()  # the same name as the corrected file, as a person would have it
        flawed = write_xlsx(work / "first" / "team.xlsx", [SheetSpec("agent-settings", HEADERS, flawed_rows)])
        web = WebApp(ServeOptions(port=0, upload_root=work / "uploads", journal_path=str(work / "journal.sqlite3")))
        with start_web(web) as running:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
            wait = WebDriverWait(driver, 30, poll_frequency=0.05)
            try:
                driver.get(running.link)
                wait.until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
                driver.find_element(By.ID, "file-input").send_keys(str(flawed))
                driver.find_element(By.ID, "upload-button").click()
                wait.until(lambda d: d.find_elements(By.ID, "error-table"))
                shoot(driver, HERE / "serve-check.png")

                driver.find_element(By.ID, "replace-input").send_keys(str(fixed))
                driver.find_element(By.ID, "replace-button").click()
                wait.until(lambda d: d.find_elements(By.ID, "to-plan"))
                driver.find_element(By.ID, "to-plan").click()
                wait.until(lambda d: d.find_elements(By.ID, "make-plan"))
                driver.find_element(By.ID, "make-plan").click()
                wait.until(lambda d: d.find_elements(By.ID, "to-apply"))
                driver.find_element(By.ID, "to-apply").click()
                wait.until(lambda d: d.find_elements(By.ID, "apply-button"))
                time.sleep(0.2)  # let the page settle its layout before the picture
                shoot(driver, HERE / "serve-apply.png")
            finally:
                driver.quit()
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {HERE / 'serve-check.png'} and {HERE / 'serve-apply.png'}")
    return 0


def shoot(driver: object, target: Path) -> None:
    """The visible part of the page, at the window's size, as a PNG."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})  # type: ignore[attr-defined]
    target.write_bytes(base64.b64decode(shot["data"]))


if __name__ == "__main__":
    sys.exit(main())
