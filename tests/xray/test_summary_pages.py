"""GetTraceSummaries pages with a keyset NextToken: newest first, every trace once, opaque and
checked tokens, the same answers under every TimeRangeType and filter."""

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.xray import backend as backend_module
from emulator.xray.backend import InvalidRequest, XRayBackend
from emulator.xray.documents import parse_document
from emulator.xray.store import TraceStore
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
    ],
)
def test_a_bad_token_is_an_invalid_request(stored, token):
    with pytest.raises(InvalidRequest, match="NextToken is not valid"):
        stored.get_trace_summaries(next_token=token, **window())


def test_a_token_of_another_query_is_an_invalid_request(stored):
    token = stored.get_trace_summaries(**window())["NextToken"]
    with pytest.raises(InvalidRequest, match="different query"):
        stored.get_trace_summaries(next_token=token, filter_expression="ok", **window())
