"""One headless Chromium for the session (Debian's chromium and chromedriver, started as
bench/chromium.py starts it), driven by Selenium; each test module opens the console's pages.

Missing Chromium is a failure with the one line that says how to get it, never a skip: a
console nobody tested in a browser is not tested.
"""

import contextlib
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.remote.webdriver import WebDriver

from bench.chromium import ChromiumMissing, chromium
from console.web.server import ConsoleServer
from emulator.xray.server import XRayServer
from tests.browser.page_support import page_errors


@pytest.fixture(scope="session")
def driver() -> Iterator[webdriver.Chrome]:
    with contextlib.ExitStack() as stack:
        try:
            browser = stack.enter_context(chromium())
        except ChromiumMissing as error:
            pytest.fail(str(error), pytrace=False)
        yield browser


@pytest.fixture(scope="module")
def xray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    """A local X-Ray of the test module's own, so a module knows every trace in it."""
    with XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray") / "traces.db") as server:
        yield server


@pytest.fixture(scope="module")
def console(xray_server: XRayServer) -> Iterator[ConsoleServer]:
    """The console over that X-Ray, with no CloudWatch Logs (a module with logs overrides it)."""
    with ConsoleServer(xray_server.api_url, None) as server:
        yield server


@pytest.fixture
def page(driver: WebDriver, console: ConsoleServer) -> Iterator[WebDriver]:
    """The browser on a blank page (a fresh document per test), its error log emptied; after the
    test, the page must have reported no JavaScript error."""
    driver.get("about:blank")
    page_errors(driver)
    yield driver
    assert page_errors(driver) == []
