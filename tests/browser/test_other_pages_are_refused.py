"""What the console's server assumes of Chromium, checked in Chromium: a page of another
origin that POSTs to the proxy (a "simple" request, which needs no CORS preflight) gets
nothing through to the X-Ray API, while the console's own page reads it."""

import functools
import logging
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from console.web.server import ConsoleServer
from emulator.loopback import free_port
from emulator.xray.server import XRayServer
from tests.browser.page_support import trace_rows, wait_for
from tests.console_web.console_support import recording_forwarder
from tests.xray.xray_support import fresh_trace, send_documents

ATTACK = """
const target = decodeURIComponent(location.hash.slice(1));
const body = JSON.stringify({StartTime: 0, EndTime: Date.now() / 1000});
Promise.allSettled([
  fetch(target + 'xray/TraceSummaries', {method: 'POST', mode: 'no-cors', body}),
  fetch(target + 'xray/TraceSummaries', {method: 'POST', body}),
]).then(() => { document.title = 'sent'; });
"""


@pytest.fixture
def xray_server(tmp_path: Path) -> Iterator[XRayServer]:
    with XRayServer(port=0, db_path=tmp_path / "traces.db") as server:
        yield server


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[str]:
    """A page on another origin (another port of 127.0.0.1), served as any web page would be:
    by a plain file server, with no Content-Security-Policy to hold its script back."""
    static = tmp_path / "other-site"
    static.mkdir()
    page = '<!doctype html><title>other</title><script type="module" src="attack.js"></script>'
    (static / "index.html").write_text(page)
    (static / "attack.js").write_text(ATTACK)
    handler = functools.partial(QuietFiles, directory=str(static))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_page_of_another_origin_gets_no_call_through(
    driver: WebDriver, xray_server: XRayServer, other_site: str, caplog: pytest.LogCaptureFixture
):
    documents = fresh_trace("tutorial_hello_trace.json")
    send_documents(xray_server, documents)
    with (
        recording_forwarder(xray_server.api_url) as (xray_url, seen),
        ConsoleServer(xray_url, None) as console,
    ):
        with caplog.at_level(logging.DEBUG, logger="console.web.server"):
            driver.get(f"{other_site}#{console.url}")
            wait_for(driver, lambda d: d.title == "sent", "the other page's calls made")
        # Both calls reached the console and were refused there, before anything was sent on.
        refused = [
            r.getMessage()
            for r in caplog.records
            if '"POST /xray/TraceSummaries HTTP/1.1" 403' in r.getMessage()
        ]
        assert len(refused) == 2, [r.getMessage() for r in caplog.records]
        assert seen == []
        # The console's own page, in the same browser, is let through.
        driver.get(console.url + "#/traces")
        wait_for(driver, lambda d: documents[0]["trace_id"] in trace_rows(d), "the console's own list")
        assert seen and all(request.path == "/TraceSummaries" for request in seen)
