"""Debian's headless Chromium driven through chromium-driver by Selenium: one way to start it,
for the console's browser tests (tests/browser/conftest.py) and its bench figures.

`make browser` installs both (Debian: apt-get install chromium chromium-driver).
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOW_TO_GET_IT = "run make browser (Debian: apt-get install chromium chromium-driver)"
# Without the background-networking flags Chromium keeps calling Google's services, which on
# a machine with no network means a stream of failed connections and slow starts.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1500,1100",
)


class ChromiumMissing(Exception):
    """Chromium or its driver is not there, or did not start; the message says how to get it."""


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with an empty profile, quit and removed afterwards. Its page
    console messages are kept, so a caller can hold a page to "no JavaScript errors"."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        raise ChromiumMissing(f"{', '.join(missing)} missing: {HOW_TO_GET_IT}")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as error:
        shutil.rmtree(profile, ignore_errors=True)
        raise ChromiumMissing(f"Chromium did not start ({error.msg}): {HOW_TO_GET_IT}") from None
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
