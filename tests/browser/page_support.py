"""Reading the console as a person would: waits for what the page shows, screenshots, and
the page's own JavaScript errors."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ROOT

SCREENSHOTS = ROOT / "build" / "screenshots"
# Long enough for a Lambda cold start on a loaded machine; the waits end as soon as the page shows it.
WAIT_SECONDS = 30.0

T = TypeVar("T")


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], T], message: str, timeout: float = WAIT_SECONDS
) -> T:
    """condition's first truthy value; on timeout a failure naming what never showed."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(Exception,)).until(
        condition, message
    )


def css(driver: WebDriver | WebElement, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def trace_rows(driver: WebDriver) -> list[str]:
    """The trace ids the traces table shows, top to bottom."""
    return [row.get_attribute("data-trace-id") or "" for row in css(driver, "tr.trace-row")]


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def page_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """JavaScript errors the page reported since the last call. Answers with an error status
    (a bad filter's 400) are the page's business to show, not errors of the page."""
    return [
        entry
        for entry in driver.get_log("browser")  # type: ignore[attr-defined]  # Chromium's own
        if entry.get("level") == "SEVERE" and entry.get("source") != "network"
    ]
