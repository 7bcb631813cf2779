"""bench/console_figures.py reads what the page marks: with a few traces stored, each view's
load gives a time to its mark, its API fetch and the bytes it moved (a renamed mark or call
would make `make bench` wait forever or print zeros)."""

import time
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from bench.console_figures import VIEWS, direct_call, load_once
from bench.query_figures import fill
from console.web.server import ConsoleServer
from emulator.xray.server import XRayServer


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: view.name)
def test_each_view_is_timed_from_its_own_mark(driver: WebDriver, tmp_path: Path, view) -> None:
    path = tmp_path / "traces.db"
    now = time.time()
    fill(path, 400, now, spread_seconds=60)
    start, end = now - 120, now + 60
    with XRayServer(port=0, db_path=path) as xray, ConsoleServer(xray.api_url, xray.api_url) as page:
        page_ms, api_ms, transferred = load_once(
            driver, f"{page.url}{view.route}?start={start:.0f}&end={end:.0f}", view
        )
        direct_ms = direct_call(xray.api_url, view, start, end)
    assert 0 < api_ms < page_ms, "the page's own API fetch is part of its time to the mark"
    assert direct_ms > 0
    # The page's files and its answer: more than the index alone.
    assert transferred > 10_000
