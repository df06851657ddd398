"""Real headless Chromium for the browser tests: Debian's chromium and chromedriver, never a download.

``chromium()`` finds the browser and its driver (``BATCHOPS_CHROMIUM`` / ``BATCHOPS_CHROMEDRIVER`` name
others) or says why not; ``browser(...)`` starts a fresh profile in a temporary folder with no
networking of its own; ``Shots`` keeps a screenshot of each step under ``test-artifacts/browser/``
(git-ignored; ``BATCHOPS_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US")
MAX_SHOT_HEIGHT = 2400
"""Pixels: a taller page is cut there, so a screenshot stays readable."""
WAIT = 30.0
"""Seconds an explicit wait gives the page to reach a state (a busy CI machine can be slow)."""


def chromium() -> tuple[str, str] | str:
    """``(browser, driver)`` paths, or the reason the browser tests cannot run here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    browser = os.environ.get("BATCHOPS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("BATCHOPS_CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not driver:
        return "no Chromium found (apt-get install chromium chromium-driver; .ci/run does it)"
    return browser, driver


@contextmanager
def browser(download_dir: Path) -> Iterator[Any]:
    """A headless Chromium on a fresh profile; downloads land in ``download_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = chromium()
    assert isinstance(found, tuple), found
    binary, driver_path = found
    profile = tempfile.mkdtemp(prefix="batchops-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(download_dir)})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """Wait (explicitly, up to ``WAIT``) until ``condition(driver)`` is truthy; fails naming ``what``."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page re-renders as events arrive: an element found a moment ago may be gone; look again.
    waiting = WebDriverWait(driver, WAIT, poll_frequency=0.05,
                            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    return waiting.until(condition, f"the page never showed {what}")


def text_of(driver: Any, element_id: str) -> str:
    """The visible text of the element with this id ('' when there is none, or the page is changing)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = driver.find_elements(By.ID, element_id)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:  # the page was replaced while we read it: not there yet
        return ""


class Shots:
    """Numbered full-page screenshots of one test's steps."""

    def __init__(self, name: str) -> None:
        base = Path(os.environ.get("BATCHOPS_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
        self.folder = base / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def take(self, driver: Any, step: str) -> Path:
        """Save the whole page as ``NN-step.png``."""
        import base64

        self.count += 1
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        metrics = {"width": 1280, "height": max(600, min(height, MAX_SHOT_HEIGHT)), "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        try:
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
