"""The local X-Ray's query figures: GetTraceSummaries and GetServiceGraph at 100k documents and
at the 1,000,000-document cap, each beside a bare SQLite query for the same answer on the same
file (the ratio is the figure: what the API adds over reading the answer straight from SQLite).

The store is filled quickly, not through the daemon: tutorial traces (4 documents each, some
with an error, a fault or a throttle, each with an annotation) written through
TraceStore.insert in big batches, in a child process so the fill's memory is given back.
"""

import functools
import json
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from rich.table import Table

from bench.xray_figures import tutorial_trace
from emulator.xray.backend import XRayBackend
from emulator.xray.documents import DocumentFacts, parse_document
from emulator.xray.store import TraceStore

DOCUMENTS_PER_TRACE = 4
FILL_BATCH = 4_000
# Traces are spread over this many seconds before now: minutes of history, as a busy stack has.
SPREAD_SECONDS = 6 * 3600
PAGE_SIZE = 100


def _varied_trace(index: int, when: float) -> list[dict[str, Any]]:
    """A tutorial trace; every 7th is an error (404), every 11th a fault (502), every 13th throttled."""
    documents = tutorial_trace(when)
    stage = documents[0]
    put_item = documents[3]
    put_item["annotations"] = {"customer": f"c{index % 50}", "attempt": index % 5}
    if index % 7 == 0:
        stage["error"] = True
        stage["http"]["response"]["status"] = 404
    elif index % 11 == 0:
        stage["fault"] = True
        stage["http"]["response"]["status"] = 502
    elif index % 13 == 0:
        stage["throttle"] = True
        stage["error"] = True
        stage["http"]["response"]["status"] = 429
    return documents


def _fill(path: str, documents: int, now: float, spread_seconds: float) -> None:
    store = TraceStore(path, max_documents=max(documents, 1))
    traces = documents // DOCUMENTS_PER_TRACE
    batch: list[DocumentFacts] = []
    try:
        for index in range(traces):
            when = now - spread_seconds * (1 - index / traces)
            batch.extend(parse_document(json.dumps(d)) for d in _varied_trace(index, when))
            if len(batch) >= FILL_BATCH:
                store.insert(batch)
                batch = []
        if batch:
            store.insert(batch)
        # The traces' facts, as the daemon's writer computes them when it has time.
        store.refresh_index()
        # Sum the settled minutes of the graph, as a running stack's writer will have.
        store.settle_minutes()
    finally:
        store.close()


def fill(path: Path, documents: int, now: float, spread_seconds: float = SPREAD_SECONDS) -> float:
    """Fill a store in a child process with traces spread over `spread_seconds` before `now`;
    return the seconds it took."""
    began = time.perf_counter()
    arguments = (str(path), documents, now, spread_seconds)
    child = multiprocessing.get_context("spawn").Process(target=_fill, args=arguments)
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"filling the store failed (exit code {child.exitcode})")
    return time.perf_counter() - began


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of `repeats` calls, and the last answer."""
    times = []
    answer = None
    for _ in range(repeats):
        began = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), answer


@dataclass
class Row:
    what: str
    api_seconds: float
    bare_seconds: float | None
    note: str = ""
    # The same bare query on a connection already open (no schema to read, statement cached).
    open_seconds: float | None = None


@dataclass
class QueryFigures:
    documents: int
    fill_seconds: float
    rows: list[Row] = field(default_factory=list)

    def table(self) -> Table:
        title = f"X-Ray queries at {self.documents:,} stored documents (filled in {self.fill_seconds:.0f} s)"
        table = Table(title=title)
        columns = (
            "query",
            "API (ms)",
            "bare SQLite (ms)",
            "API / bare",
            "bare, open conn. (ms)",
            "API / that",
        )
        for column in (*columns, "note"):
            table.add_column(column, justify="right")
        for row in self.rows:
            cells = [row.what, f"{row.api_seconds * 1000:.2f}"]
            for bare in (row.bare_seconds, row.open_seconds):
                cells += ["", ""] if not bare else [f"{bare * 1000:.2f}", f"{row.api_seconds / bare:.1f}"]
            table.add_row(*cells, row.note)
        table.caption = (
            "API: XRayBackend in this process over the file; bare: one SQLite query, same file, on a new"
            " connection each call (as the API did before it kept its connections) and on one kept open"
        )
        return table


def _bare_both(path: Path, sql: str, params: dict[str, Any], repeats: int) -> tuple[float, float, list[Any]]:
    """Seconds of the bare query on a new connection each call, then on one kept open (median
    of `repeats` each), and its rows."""
    new, rows = timed(_bare(path, sql, params), repeats)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute(sql, params).fetchall()  # the schema read, the statement prepared
        kept, _ = timed(lambda: db.execute(sql, params).fetchall(), repeats)
    finally:
        db.close()
    return new, kept, rows


def _bare(path: Path, sql: str, params: dict[str, Any]) -> Callable[[], list[Any]]:
    def run() -> list[Any]:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    return run


# Filters of each kind compiled to SQL, with the bare query's WHERE for the same traces.
FILTERS = (
    ("responsetime > 0.015", "t.response_time > 0.015"),
    ("duration < 0.019", "t.duration < 0.019"),
    ("http.status = 502", "t.http_status = 502"),
    ('http.url CONTAINS "ddb"', "instr(t.http_url, 'ddb') > 0"),
    ("error", "t.error = 1"),
    ("fault OR throttle", "(t.fault = 1 OR t.throttle = 1)"),
    ("!ok AND !partial", "(t.error OR t.fault OR t.throttle) AND NOT t.partial"),
    (
        'annotation.customer = "c7"',
        "EXISTS (SELECT 1 FROM annotations a WHERE a.trace_id = t.trace_id"
        " AND a.key = 'customer' AND a.str = 'c7')",
    ),
    (
        'service("Demo")',
        "EXISTS (SELECT 1 FROM trace_services s WHERE s.trace_id = t.trace_id AND s.name = 'Demo')",
    ),
)
# Needs the trace's documents: evaluated in Python per trace, shown without a bare query.
PYTHON_FILTERS = ('rootcause.fault.service { name = "sam-app/Prod" }',)


def measure(documents: int, repeats: int = 5, keep: Path | None = None) -> QueryFigures:
    """Fill a temporary store with `documents`, then time each query beside its bare query.

    keep: a file to fill once and measure again on later runs (the fill of the cap takes
    minutes; two versions of the code are compared on the same file). Its fill time and `now`
    are kept beside it, so the window holds the same traces on every run."""
    with tempfile.TemporaryDirectory() as tmp:
        if keep is None:
            path = Path(tmp) / "traces.db"
            now = time.time()
            return measure_file(path, documents, now, fill(path, documents, now), repeats)
        sidecar = keep.with_name(keep.name + ".fill.json")
        if not sidecar.exists():
            now = time.time()
            seconds = fill(keep, documents, now)
            sidecar.write_text(json.dumps({"documents": documents, "now": now, "seconds": seconds}))
        kept = json.loads(sidecar.read_text())
        if kept["documents"] != documents:
            raise ValueError(f"{keep} holds {kept['documents']:,} documents, not {documents:,}")
        return measure_file(keep, documents, kept["now"], kept["seconds"], repeats)


def measure_file(path: Path, documents: int, now: float, fill_seconds: float, repeats: int) -> QueryFigures:
    """Time each query on a file filled by `fill(path, documents, now)`."""
    from emulator.xray import minute_stats

    figures = QueryFigures(documents, fill_seconds)
    start, end = now - SPREAD_SECONDS - 3600, now + 60
    store = TraceStore(path, max_documents=documents)
    backend = XRayBackend(store)
    window = {"first": int(start), "last": end}
    page_sql = (
        "SELECT t.summary FROM trace_index t INDEXED BY trace_index_newest"
        " WHERE t.trace_epoch >= :first AND t.trace_epoch <= :last AND {where}"
        f" ORDER BY t.start_time DESC, t.trace_id DESC LIMIT {PAGE_SIZE + 1}"
    )
    try:
        # The API's answer is the response body the HTTP server sends (get_trace_summaries_json);
        # the bare query's, the page's stored summaries.
        api, body = timed(lambda: backend.get_trace_summaries_json(start, end), repeats)
        bare, kept, _ = _bare_both(path, page_sql.format(where="1"), window, repeats)
        processed = json.loads(body)["TracesProcessedCount"]
        figures.rows.append(
            Row("first page, no filter", api, bare, f"{processed:,} traces in the window", kept)
        )
        decoded, _ = timed(lambda: backend.get_trace_summaries(start, end), repeats)
        figures.rows.append(
            Row(
                "first page, no filter, as Python dicts",
                decoded,
                bare,
                "the body decoded (in-process callers)",
            )
        )
        for expression, where in FILTERS:
            api, body = timed(
                functools.partial(backend.get_trace_summaries_json, start, end, filter_expression=expression),
                repeats,
            )
            bare, kept, rows = _bare_both(path, page_sql.format(where=where), window, repeats)
            assert len(json.loads(body)["TraceSummaries"]) == min(PAGE_SIZE, len(rows)), expression
            figures.rows.append(Row(f"first page, {expression}", api, bare, open_seconds=kept))
        for expression in PYTHON_FILTERS:
            api, _ = timed(
                functools.partial(backend.get_trace_summaries_json, start, end, filter_expression=expression),
                repeats,
            )
            figures.rows.append(Row(f"first page, {expression}", api, None, "Python per trace"))
        began = time.perf_counter()
        pages, listed = _list_all(backend, start, end)
        api = time.perf_counter() - began
        bare, kept, rows = _bare_both(path, page_sql.format(where="1").rsplit(" LIMIT", 1)[0], window, 1)
        assert listed == len(rows)
        figures.rows.append(Row(f"full listing, {pages:,} pages", api, bare, f"{listed:,} traces", kept))
        api, _ = timed(lambda: backend.get_service_graph(start, end), repeats)
        bare, kept, _ = _bare_both(path, _SUMMED_GRAPH, {}, repeats)
        figures.rows.append(
            Row("GetServiceGraph, whole window", api, bare, "bare: the summed minutes alone", kept)
        )
        with mock.patch.object(minute_stats, "plan", return_value=None):
            exact, _ = timed(lambda: backend.get_service_graph(start, end), 1)
        figures.rows.append(Row("GetServiceGraph, documents only", exact, None, "as before the aggregates"))
    finally:
        store.close()
    return figures


_SUMMED_GRAPH = (
    "SELECT part, a_name, a_type, b_name, b_type, bucket, sum(count), sum(total), sum(faults), sum(errors),"
    " sum(throttles), min(first_start), max(last_end) FROM graph_minutes"
    " GROUP BY part, a_name, a_type, b_name, b_type, bucket"
)


def _list_all(backend: XRayBackend, start: float, end: float) -> tuple[int, int]:
    """Every page's response body, NextToken after NextToken: (pages, traces). The token and
    the count are read from the members after the summaries (the last "ApproximateTime" is
    the body's own: it follows every summary); each summary opens with its trace id."""
    pages = listed = 0
    token = None
    while True:
        body = backend.get_trace_summaries_json(start, end, next_token=token)
        pages += 1
        tail = body.rindex('"ApproximateTime"')
        listed += body.count('{"Id":"1-', 0, tail)
        token = json.loads("{" + body[tail:]).get("NextToken")
        if token is None:
            return pages, listed


def main() -> None:
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(
        prog="python -m bench.query_figures", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--documents", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5, help="calls per figure (the median is shown)")
    parser.add_argument(
        "--keep-dir",
        type=Path,
        default=None,
        help="fill traces-<documents>.db here once; later runs reuse it",
    )
    args = parser.parse_args()
    console = Console(width=200)
    for documents in args.documents:
        keep = None if args.keep_dir is None else args.keep_dir / f"traces-{documents}.db"
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
        console.print(measure(documents, args.repeats, keep).table())


if __name__ == "__main__":
    main()
