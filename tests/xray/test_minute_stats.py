"""GetServiceGraph over long windows reads per-minute aggregates for whole minutes and the
documents for the rest: the answer is the one computed from the documents alone, however the
documents arrived (late, out of order, dropped at the cap)."""

import json
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, cast

import pytest

from emulator.xray import minute_stats
from emulator.xray.documents import parse_document
from emulator.xray.graph import Scope, build_services, edge_rows, inferred_rows, node_rows
from emulator.xray.store import TraceStore
from tests.xray.random_traces import split, vary
from tests.xray.xray_support import fresh_trace


def old_traces(rng: random.Random, count: int) -> list[dict[str, Any]]:
    documents = []
    for _ in range(count):
        trace = fresh_trace(
            rng.choice(["tutorial_ddb_trace.json", "tutorial_hello_trace.json"]), ago=rng.uniform(150, 1500)
        )
        documents.extend(vary(split(trace, rng), rng))
    rng.shuffle(documents)
    return documents


def insert(store: TraceStore, documents: list[dict[str, Any]]) -> None:
    store.insert([parse_document(json.dumps(document)) for document in documents])


Answers = tuple[list[Any], list[Any], minute_stats.Plan | None]


def graphs(store: TraceStore, monkeypatch: pytest.MonkeyPatch, start: float, end: float) -> Answers:
    with store.reader() as db:
        planned = minute_stats.plan(db, start, end)
        summed = build_services(db, Scope(start=start, end=end))
    with monkeypatch.context() as patch:
        patch.setattr(minute_stats, "plan", lambda db, start, end: None)
        with store.reader() as db:
            exact = build_services(db, Scope(start=start, end=end))
    return summed, exact, planned


def windows(now: float) -> list[tuple[float, float]]:
    return [(now - 3000, now + 10), (now - 1000.5, now - 130.25), (now - 601, now - 59), (0, 2**32)]


@pytest.mark.parametrize("seed", range(4))
def test_summed_minutes_give_the_graph_the_documents_give(tmp_path: Path, monkeypatch, seed):
    rng = random.Random(seed)
    store = TraceStore(tmp_path / "traces.db")
    documents = old_traces(rng, 30)
    # A request that started 200 s before a window below begins and ended inside it.
    long_one = fresh_trace("tutorial_hello_trace.json", ago=900)
    long_one[0]["start_time"] -= 200
    documents.insert(0, long_one[0])
    half = len(documents) // 2
    insert(store, documents[:half])
    store.settle_minutes()
    now = time.time()
    used = 0
    for start, end in windows(now):
        summed, exact, planned = graphs(store, monkeypatch, start, end)
        assert summed == exact
        used += planned is not None
    assert used >= 2, "the aggregates were not used at all"
    # The rest arrives late: documents of traces already summed, in minutes already summed.
    for index in range(half, len(documents), 5):
        insert(store, documents[index : index + 5])
        for start, end in windows(now):
            summed, exact, _ = graphs(store, monkeypatch, start, end)
            assert summed == exact
    store.settle_minutes()
    with store.reader() as db:
        assert db.execute("SELECT count(*) FROM graph_minutes_dirty").fetchone()[0] == 0
    for start, end in windows(now):
        summed, exact, _ = graphs(store, monkeypatch, start, end)
        assert summed == exact
    store.close()


def test_documents_dropped_at_the_cap_leave_the_summed_minutes(tmp_path: Path, monkeypatch):
    rng = random.Random(11)
    store = TraceStore(tmp_path / "traces.db", max_documents=60)
    insert(store, old_traces(rng, 12))
    store.settle_minutes()
    insert(store, old_traces(rng, 12))
    now = time.time()
    for start, end in windows(now):
        summed, exact, _ = graphs(store, monkeypatch, start, end)
        assert summed == exact
    store.close()


def test_the_parts_of_a_window_read_from_documents_are_found_by_start_time(tmp_path: Path):
    # The parts read exactly (a window's edges, unsettled minutes) are start time ranges: read
    # by the end time indexes they were every document from the window's start on, the whole
    # store when the window covers it.
    store = TraceStore(tmp_path / "traces.db")
    insert(store, old_traces(random.Random(3), 4))
    plans: list[str] = []

    class Explaining:
        def __init__(self, db: Any) -> None:
            self.db = db

        def execute(self, sql: str, params: Any = ()) -> Any:
            plans.append(" / ".join(row[3] for row in self.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)))
            return self.db.execute(sql, params)

    now = time.time()
    with store.reader() as db:
        scope = Scope(now - 3600, now, starts=(now - 300, now))
        for rows in (node_rows, edge_rows, inferred_rows):
            list(rows(cast(sqlite3.Connection, Explaining(db)), scope))
    store.close()
    assert len(plans) == 3
    for plan in plans:
        assert "docs_graph" not in plan and "spans_inferred" not in plan, plan
        assert "docs_starts" in plan or "spans_starts" in plan, plan
