"""GetTraceSummaries pages with a keyset NextToken: newest first, every trace once, opaque and
checked tokens, the same answers under every TimeRangeType and filter."""

import base64
import json
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.xray import backend as backend_module
from emulator.xray import trace_index
from emulator.xray.backend import InvalidRequest, XRayBackend
from emulator.xray.documents import parse_document
from emulator.xray.store import TraceStore
from tests.xray.random_traces import TRACE_FILES
from tests.xray.xray_support import fresh_trace


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[XRayBackend]:
    """40 traces, a fifth of them errors, with small pages so paging has work to do."""
    monkeypatch.setattr(backend_module, "SUMMARIES_PAGE_SIZE", 7)
    store = TraceStore(tmp_path / "traces.db")
    for index in range(40):
        documents = fresh_trace("tutorial_hello_trace.json", ago=5 + index * 3)
        if index % 5 == 0:
            documents[0]["error"] = True
        store.insert([parse_document(json.dumps(document)) for document in documents])
    yield XRayBackend(store)
    store.close()


def all_pages(backend: XRayBackend, **query) -> tuple[list[str], list[dict]]:
    ids: list[str] = []
    answers = []
    token = None
    while True:
        answer = backend.get_trace_summaries(next_token=token, **query)
        answers.append(answer)
        ids.extend(summary["Id"] for summary in answer["TraceSummaries"])
        token = answer.get("NextToken")
        if token is None:
            return ids, answers


def window() -> dict:
    now = time.time()
    return {"start": now - 600, "end": now + 5}


@pytest.mark.parametrize("time_range_type", ["TraceId", "Event", "Service"])
def test_every_trace_comes_once_newest_first_page_by_page(stored, time_range_type):
    ids, answers = all_pages(stored, time_range_type=time_range_type, **window())
    assert len(ids) == len(set(ids)) == 40
    starts = [s["StartTime"] for a in answers for s in a["TraceSummaries"]]
    assert starts == sorted(starts, reverse=True)
    assert [len(a["TraceSummaries"]) for a in answers] == [7, 7, 7, 7, 7, 5]
    assert all(a["TracesProcessedCount"] == 40 for a in answers)


def test_a_filter_pages_through_its_matches_only(stored):
    ids, answers = all_pages(stored, filter_expression="error", **window())
    assert len(ids) == len(set(ids)) == 8
    assert all(s["HasError"] for a in answers for s in a["TraceSummaries"])
    not_ok, _ = all_pages(stored, filter_expression="!error AND responsetime >= 0", **window())
    assert set(not_ok).isdisjoint(ids) and len(not_ok) == 32


def test_the_last_full_page_has_no_token(stored):
    _, answers = all_pages(stored, filter_expression="error OR error", **window())
    # 8 matches: a page of 7, then one of 1 and no token after it.
    assert [len(a["TraceSummaries"]) for a in answers] == [7, 1]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(json.dumps({"after": [1.0], "query": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"after": ["a", "b"], "query": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"after": [1e999, "b"], "query": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"offset": 7, "query": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"after": [1.0, "b"], "query": "x", "processed": -1}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"after": [1.0, "b"], "query": "x", "processed": "7"}).encode()
        ).decode(),
    ],
)
def test_a_bad_token_is_an_invalid_request(stored, token):
    with pytest.raises(InvalidRequest, match="NextToken is not valid"):
        stored.get_trace_summaries(next_token=token, **window())


def test_a_token_of_another_query_is_an_invalid_request(stored):
    token = stored.get_trace_summaries(**window())["NextToken"]
    with pytest.raises(InvalidRequest, match="different query"):
        stored.get_trace_summaries(next_token=token, filter_expression="ok", **window())


def test_later_pages_report_the_count_the_first_page_made(stored):
    # TracesProcessedCount is the window's on every page; the NextToken carries it, so a trace
    # stored between two pages does not make the count of one listing change halfway.
    query = window()
    first = stored.get_trace_summaries(**query)
    assert first["TracesProcessedCount"] == 40
    stored.store.insert(
        [parse_document(json.dumps(d)) for d in fresh_trace("tutorial_hello_trace.json", ago=2)]
    )
    second = stored.get_trace_summaries(next_token=first["NextToken"], **query)
    assert second["TracesProcessedCount"] == 40
    assert stored.get_trace_summaries(**query)["TracesProcessedCount"] == 41


def counted_in_index(db, first: int, last: int) -> int:
    return db.execute(
        "SELECT count(*) FROM trace_index WHERE trace_epoch >= ? AND trace_epoch <= ?", (first, last)
    ).fetchone()[0]


@pytest.mark.parametrize("cap", [10_000, 37])
def test_counts_by_minute_equal_a_count_of_the_index_in_any_window(tmp_path: Path, cap):
    # Traces over ~17 minutes, some dropped again at the cap (37 documents: the oldest go).
    rng = random.Random(cap)
    store = TraceStore(tmp_path / "traces.db", max_documents=cap)
    for _ in range(30):
        documents = fresh_trace(rng.choice(TRACE_FILES), ago=rng.uniform(0, 1000))
        store.insert([parse_document(json.dumps(d)) for d in documents])
        # Indexed at once, as the daemon's writer does: a trace dropped later is uncounted.
        store.refresh_index()
    try:
        with store.reader() as db:
            epochs = [row[0] for row in db.execute("SELECT trace_epoch FROM trace_index")]
            assert dict(db.execute("SELECT minute, traces FROM trace_minutes").fetchall()) == dict(
                Counter(epoch // 60 for epoch in epochs)
            )
            low, high = min(epochs) - 130, max(epochs) + 130
            windows = [(low, high), (0, 2**32), (min(epochs), min(epochs)), (high, high + 500)]
            for _ in range(200):
                a, b = rng.randint(low, high), rng.randint(low, high)
                windows.append((min(a, b), max(a, b)))
            for first, last in windows:
                assert trace_index.count_by_epoch(db, first, last) == counted_in_index(db, first, last)
    finally:
        store.close()


def test_a_file_older_than_the_counts_has_them_counted_when_opened(tmp_path: Path):
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    for index in range(5):
        store.insert([parse_document(json.dumps(d)) for d in fresh_trace(TRACE_FILES[0], ago=5 + 70 * index)])
    store.refresh_index()
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE trace_minutes")
    reopened = XRayBackend(TraceStore(path))
    try:
        assert reopened.get_trace_summaries(0, 2**32)["TracesProcessedCount"] == 5
    finally:
        reopened.store.close()


# (Not Event: every trace of the fixture was received within the same moment.)
@pytest.mark.parametrize("time_range_type", ["TraceId", "Service"])
def test_a_window_that_fits_in_one_page_counts_what_the_page_holds(stored, time_range_type):
    # A page that is not full, with no filter, is the whole window: its length is the count,
    # and a filtered query over the same window (which counts in SQL) agrees.
    now = time.time()
    narrow = {"start": now - 18, "end": now + 5, "time_range_type": time_range_type}
    whole = stored.get_trace_summaries(**narrow)
    assert "NextToken" not in whole
    assert whole["TracesProcessedCount"] == len(whole["TraceSummaries"]) == 5
    filtered = stored.get_trace_summaries(filter_expression="error", **narrow)
    assert filtered["TracesProcessedCount"] == 5
    assert len(filtered["TraceSummaries"]) == 1


def test_a_filter_whose_matches_fit_in_one_page_still_counts_the_window(stored):
    answer = stored.get_trace_summaries(filter_expression='http.method = "NOPE"', **window())
    assert answer["TraceSummaries"] == []
    assert answer["TracesProcessedCount"] == 40


def counted_in_documents(db, column: str, start: float, end: float) -> int:
    # What TracesProcessedCount of an Event or Service window means: indexed traces with a
    # document received (ending) in the window.
    return db.execute(
        f"SELECT count(*) FROM trace_index WHERE trace_id IN"
        f" (SELECT trace_id FROM docs WHERE {column} >= ? AND {column} <= ?)",
        (start, end),
    ).fetchone()[0]


def test_event_and_service_windows_from_the_index_equal_a_reading_of_the_documents(tmp_path: Path):
    rng = random.Random(7)
    received = [1_000_000.0]
    store = TraceStore(tmp_path / "traces.db", clock=lambda: received[0])
    for _ in range(30):
        documents = fresh_trace(rng.choice(TRACE_FILES), ago=rng.uniform(0, 1000))
        # A trace's documents received apart, some far apart: windows fall between them.
        for document in documents:
            received[0] += rng.choice([0.5, 3.0, 40.0])
            store.insert([parse_document(json.dumps(document))])
        store.refresh_index()
    try:
        with store.reader() as db:
            straddled = 0
            for time_range_type, column in (("Event", "received"), ("Service", "end_time")):
                values = [
                    row[0] for row in db.execute(f"SELECT {column} FROM docs WHERE {column} IS NOT NULL")
                ]
                low, high = min(values) - 5, max(values) + 5
                windows = [(low, high), (high, high + 10), (values[3], values[3])]
                for _ in range(300):
                    a, b = rng.uniform(low, high), rng.uniform(low, high)
                    windows.append((min(a, b), max(a, b)))
                for start, end in windows:
                    expected = counted_in_documents(db, column, start, end)
                    assert trace_index.count_in_window(db, time_range_type, start, end) == expected
                    # The page lists the same traces (30 of them: one page).
                    listed = XRayBackend(store).get_trace_summaries(
                        start, end, time_range_type=time_range_type
                    )
                    assert {summary["Id"] for summary in listed["TraceSummaries"]} == {
                        row[0]
                        for row in db.execute(
                            f"SELECT trace_id FROM trace_index WHERE trace_id IN"
                            f" (SELECT trace_id FROM docs WHERE {column} >= ? AND {column} <= ?)",
                            (start, end),
                        )
                    }
                    if time_range_type == "Event":
                        straddled += db.execute(
                            "SELECT count(*) FROM trace_index WHERE first_received < ? AND last_received > ?",
                            (start, end),
                        ).fetchone()[0]
            # (The documents of one trace end within milliseconds: only Event windows fall
            # between them.)
            assert straddled > 0, "some windows fall inside a trace's documents"
    finally:
        store.close()


def test_a_file_older_than_the_first_and_last_documents_has_them_found_when_opened(tmp_path: Path):
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    for index in range(5):
        store.insert([parse_document(json.dumps(d)) for d in fresh_trace(TRACE_FILES[0], ago=5 + 70 * index)])
    store.refresh_index()
    store.close()
    with sqlite3.connect(path) as db:  # the table as the previous version wrote it
        db.execute("DROP INDEX trace_index_received")
        db.execute("DROP INDEX trace_index_ends")
        for column in ("first_received", "last_received", "first_end", "last_end"):
            db.execute(f"ALTER TABLE trace_index DROP COLUMN {column}")
    reopened = XRayBackend(TraceStore(path))
    try:
        for time_range_type in ("Event", "Service"):
            answer = reopened.get_trace_summaries(0, 2**32, time_range_type=time_range_type)
            assert answer["TracesProcessedCount"] == 5
    finally:
        reopened.store.close()
