"""The console's figures: time to a drawn trace map and to a filled trace list in Chromium, with
10,000 traces stored and at the 1,000,000-document cap, beside the X-Ray API calls behind them
measured in the same run, and the bytes each page load transfers.

    python -m bench.console_figures [--documents 40000 1000000] [--repeats 3]

A store is filled (bench/query_figures.py: tutorial traces, some failing, spread over the hour
before now), a local X-Ray serves it and a ConsoleServer the page. Each load opens the view
with the window in its address, so page and API read the same traces:

- page: from the start of navigation to the page's own mark (map.js "map-drawn", the traces
  view "traces-listed"), so Chromium's start and the test driver are not counted;
- API in the page: the duration of the page's fetch of that call, through the console's proxy;
- API direct: the same call straight to the X-Ray API from this process.
"""

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rich.console import Console
from rich.table import Table
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from bench.chromium import chromium
from bench.query_figures import fill
from console.web.server import ConsoleServer
from emulator.xray.server import XRayServer

DEFAULT_DOCUMENTS = (40_000, 1_000_000)  # 10,000 tutorial traces of 4 documents; the cap
SPREAD_SECONDS = 3600.0
PAGE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class View:
    name: str
    route: str
    mark: str  # the performance mark the page sets when it has drawn
    api_path: str  # the X-Ray call behind it

    def body(self, start: float, end: float) -> dict[str, Any]:
        if self.api_path == "/ServiceGraph":
            return {"StartTime": start, "EndTime": end}
        return {"StartTime": start, "EndTime": end, "Sampling": False}


VIEWS = (
    View("trace map", "#/map", "map-drawn", "/ServiceGraph"),
    View("trace list", "#/traces", "traces-listed", "/TraceSummaries"),
)


@dataclass
class Row:
    view: str
    documents: int
    page_ms: float
    page_api_ms: float
    direct_api_ms: float
    transferred_bytes: int


def load_once(driver: WebDriver, url: str, view: View) -> tuple[float, float, int]:
    """One load of the view: (ms to the page's mark, ms of its API fetch, bytes transferred)."""
    driver.get("about:blank")
    driver.get(url)
    script = "return performance.getEntriesByName(arguments[0]).map((entry) => entry.startTime)"
    marks = WebDriverWait(driver, PAGE_TIMEOUT_SECONDS, poll_frequency=0.02).until(
        lambda d: d.execute_script(script, view.mark), f"the page's {view.mark!r} mark"
    )
    timings = driver.execute_script(
        """
        const entries = ['navigation', 'resource'].flatMap((type) => performance.getEntriesByType(type));
        const api = entries.filter((entry) => entry.name.endsWith(arguments[0]));
        return {
          api: api.length ? api[0].duration : null,
          bytes: entries.reduce((sum, entry) => sum + (entry.transferSize || 0), 0),
        };
        """,
        "/xray" + view.api_path,
    )
    return float(marks[0]), float(timings["api"] or 0.0), int(timings["bytes"])


def direct_call(api_url: str, view: View, start: float, end: float) -> float:
    """Milliseconds of the view's call straight to the X-Ray API."""
    data = json.dumps(view.body(start, end)).encode()
    request = urllib.request.Request(api_url + view.api_path, data=data, method="POST")
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=PAGE_TIMEOUT_SECONDS) as answer:
        answer.read()
    return (time.perf_counter() - began) * 1000


def measure(documents_sizes: tuple[int, ...] = DEFAULT_DOCUMENTS, repeats: int = 3) -> Table:
    rows: list[Row] = []
    with chromium() as driver:
        for documents in documents_sizes:
            with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
                path = Path(folder) / "traces.db"
                now = time.time()
                fill(path, documents, now, spread_seconds=SPREAD_SECONDS)
                start, end = now - SPREAD_SECONDS - 60, now + 60
                address = urlencode({"start": f"{start:.0f}", "end": f"{end:.0f}"})
                with (
                    XRayServer(port=0, db_path=path) as xray,
                    ConsoleServer(xray.api_url, xray.api_url) as page,
                ):
                    for view in VIEWS:
                        url = f"{page.url}{view.route}?{address}"
                        loads = [load_once(driver, url, view) for _ in range(repeats)]
                        direct = [direct_call(xray.api_url, view, start, end) for _ in range(repeats)]
                        rows.append(
                            Row(
                                view.name,
                                documents,
                                statistics.median(load[0] for load in loads),
                                statistics.median(load[1] for load in loads),
                                statistics.median(direct),
                                loads[0][2],
                            )
                        )
    return table(rows, repeats)


def table(rows: list[Row], repeats: int) -> Table:
    result = Table(title=f"The console in Chromium (median of {repeats} loads)")
    for column in ("view", "documents", "page ms", "its call ms", "API ms", "page adds ms", "KB"):
        result.add_column(column, justify="right")
    for row in rows:
        result.add_row(
            row.view, f"{row.documents:,}", f"{row.page_ms:.0f}", f"{row.page_api_ms:.0f}",
            f"{row.direct_api_ms:.0f}", f"{row.page_ms - row.direct_api_ms:.0f}",
            f"{row.transferred_bytes / 1024:.0f}",
        )  # fmt: skip
    result.caption = (
        "page: navigation start to the map drawn / the list filled; its call: the page's API call, through "
        "the console's proxy; API: the same call from Python to the X-Ray API; page adds: page - API; "
        "KB: every file and answer of one load"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_figures", description=__doc__)
    parser.add_argument("--documents", type=int, nargs="+", default=list(DEFAULT_DOCUMENTS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    Console().print(measure(tuple(args.documents), args.repeats))


if __name__ == "__main__":
    main()
