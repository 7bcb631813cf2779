"""One headless Chromium for the session (Debian's chromium and chromedriver, started as
bench/chromium.py starts it), driven by Selenium; each test module opens the console's pages.

Missing Chromium is a failure with the one line that says how to get it, never a skip: a
console nobody tested in a browser is not tested.
"""

import contextlib
from collections.abc import Iterator

import pytest
from selenium import webdriver

from bench.chromium import ChromiumMissing, chromium


@pytest.fixture(scope="session")
def driver() -> Iterator[webdriver.Chrome]:
    with contextlib.ExitStack() as stack:
        try:
            browser = stack.enter_context(chromium())
        except ChromiumMissing as error:
            pytest.fail(str(error), pytrace=False)
        yield browser
