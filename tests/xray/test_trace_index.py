"""The per-trace facts the store keeps as documents arrive equal the facts computed from all
the documents (traces.trace_facts and traces.summary), whatever order and batches they came in."""

import json
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.xray import trace_index, traces
from emulator.xray.backend import XRayBackend
from emulator.xray.daemon import Daemon
from emulator.xray.documents import parse_document
from emulator.xray.filters import TraceDetail, TraceFacts
from emulator.xray.store import TraceStore, WriteLockBusy
from tests.xray.random_traces import TRACE_FILES, random_documents
from tests.xray.xray_support import datagram, fresh_trace, send


def assert_stored_facts_agree(store: TraceStore) -> int:
    with store.reader() as db:
        ids = [row[0] for row in db.execute("SELECT DISTINCT trace_id FROM docs")]
        computed = traces.trace_facts(db, ids)
        stored = trace_index.stored_facts(db, ids)
        assert stored == computed
        annotations = traces.annotation_services(db, ids)
        for trace_id, facts in computed.items():
            [summary] = db.execute(
                "SELECT summary FROM trace_index WHERE trace_id = ?", (trace_id,)
            ).fetchone()
            assert json.loads(summary) == json.loads(
                json.dumps(traces.summary(facts, annotations.get(trace_id, {})))
            )
            services = db.execute(
                "SELECT name, type FROM trace_services WHERE trace_id = ? ORDER BY name, type", (trace_id,)
            ).fetchall()
            assert services == sorted({(name, node_type or "") for name, node_type in facts.services})
        return len(computed)


def test_the_tutorial_traces_stored_whole_have_the_facts_computed_from_their_documents(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    for name in TRACE_FILES:
        store.insert([parse_document(json.dumps(document)) for document in fresh_trace(name)])
    assert assert_stored_facts_agree(store) == len(TRACE_FILES)
    store.close()


@pytest.mark.parametrize("seed", range(6))
def test_random_traces_in_any_order_and_batches_have_the_facts_of_all_their_documents(tmp_path: Path, seed):
    rng = random.Random(seed)
    store = TraceStore(tmp_path / "traces.db")
    documents = random_documents(rng, 12)
    while documents:
        size = rng.randint(1, 9)
        batch, documents = documents[:size], documents[size:]
        store.insert([parse_document(json.dumps(document)) for document in batch])
        # Facts hold after every batch, not only once everything has arrived.
        assert_stored_facts_agree(store)
    store.close()


def test_documents_dropped_at_the_cap_take_their_traces_facts_with_them(tmp_path: Path):
    rng = random.Random(7)
    store = TraceStore(tmp_path / "traces.db", max_documents=15)
    for _ in range(3):
        store.insert([parse_document(json.dumps(d)) for d in random_documents(rng, 4)])
        assert_stored_facts_agree(store)
    with store.reader() as db:
        indexed = {row[0] for row in db.execute("SELECT trace_id FROM trace_index")}
        stored = {row[0] for row in db.execute("SELECT trace_id FROM docs")}
    assert indexed <= stored
    store.close()


# -- the index is computed after the writes, before the reads (store.py: dirty_traces) -----------


def dirty_in_file(path: Path) -> set[str]:
    """What the file says is dirty, read beside the store (a reader would compute it first)."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT trace_id FROM dirty_traces")}


def test_a_query_right_after_an_insert_sees_the_new_trace_and_its_latest_documents(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    backend = XRayBackend(store)
    documents = fresh_trace("tutorial_ddb_trace.json")
    trace_id = documents[0]["trace_id"]
    stage = next(d for d in documents if d.get("origin") == "AWS::ApiGateway::Stage")
    try:
        store.insert([parse_document(json.dumps(d)) for d in documents if d is not stage])
        [summary] = backend.get_trace_summaries(0, 2**32)["TraceSummaries"]
        url = stage["http"]["request"]["url"]
        assert summary["Id"] == trace_id and summary.get("Http", {}).get("HttpURL") != url
        store.insert([parse_document(json.dumps(stage))])
        [summary] = backend.get_trace_summaries(0, 2**32)["TraceSummaries"]
        assert summary["Http"]["HttpURL"] == url
        assert assert_stored_facts_agree(store) == 1
    finally:
        store.close()


def test_a_trace_written_in_several_transactions_is_computed_once(tmp_path: Path, monkeypatch):
    store = TraceStore(tmp_path / "traces.db")
    computed: list[str] = []
    summary = traces.summary

    def counting(facts: TraceFacts, notes: dict, *detail: TraceDetail) -> dict:
        computed.append(facts.trace_id)
        return summary(facts, notes, *detail)

    monkeypatch.setattr(traces, "summary", counting)
    documents = fresh_trace("tutorial_ddb_trace.json")
    try:
        for document in documents:
            store.insert([parse_document(json.dumps(document))])
        assert dirty_in_file(store.path) == {documents[0]["trace_id"]}
        assert computed == []
        assert store.refresh_index() == 1
        assert computed == [documents[0]["trace_id"]]
        assert store.refresh_index() == 0 and dirty_in_file(store.path) == set()
    finally:
        store.close()


def test_traces_left_dirty_by_a_crash_are_computed_when_the_file_is_opened_again(tmp_path: Path):
    path = tmp_path / "traces.db"
    first = TraceStore(path)
    documents = fresh_trace("tutorial_hello_trace.json")
    first.insert([parse_document(json.dumps(d)) for d in documents])
    # Closed with the index not computed: what a crash right after the insert leaves on disk.
    first.close()
    assert dirty_in_file(path) == {documents[0]["trace_id"]}
    second = TraceStore(path)
    try:
        assert assert_stored_facts_agree(second) == 1
        assert dirty_in_file(path) == set()
    finally:
        second.close()


def test_a_trace_whose_facts_fail_costs_only_itself(tmp_path: Path, monkeypatch, caplog):
    store = TraceStore(tmp_path / "traces.db")
    good, bad = fresh_trace("tutorial_hello_trace.json"), fresh_trace("tutorial_ddb_trace.json")
    summary = traces.summary

    def failing(facts: TraceFacts, notes: dict, *detail: TraceDetail) -> dict:
        if facts.trace_id == bad[0]["trace_id"]:
            raise ValueError("a bug in traces.py")
        return summary(facts, notes, *detail)

    monkeypatch.setattr(traces, "summary", failing)
    try:
        store.insert([parse_document(json.dumps(d)) for d in good + bad])
        with store.reader() as db:
            indexed = {row[0] for row in db.execute("SELECT trace_id FROM trace_index")}
        assert indexed == {good[0]["trace_id"]}
        assert bad[0]["trace_id"] in caplog.text
        assert dirty_in_file(store.path) == set(), "a failing trace must not be retried by every query"
    finally:
        store.close()


# -- the index's own computation (traces.computed_traces) against the reference ----------------


def test_documents_starting_at_the_same_time_give_the_reference_root_and_summary(tmp_path: Path):
    # Ties in start time: which segment is the root (and the order of everything after it)
    # must not depend on how each computation happened to read the rows.
    rng = random.Random(11)
    store = TraceStore(tmp_path / "traces.db")
    documents = random_documents(rng, 8)
    for document in documents:
        span = document.get("end_time", document["start_time"]) - document["start_time"]
        document["start_time"] = round(document["start_time"])
        if "end_time" in document:
            document["end_time"] = document["start_time"] + span
    store.insert([parse_document(json.dumps(d)) for d in documents])
    assert assert_stored_facts_agree(store) == 8
    store.close()


def test_stored_times_intake_refuses_today_are_left_out_as_the_reference_leaves_them(tmp_path: Path):
    # A store written before intake checked times may hold them: such documents are not drawn,
    # and a trace made only of them is not listed at all.
    rng = random.Random(5)
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    store.insert([parse_document(json.dumps(d)) for d in random_documents(rng, 6)])
    with store.reader() as db:
        trace_ids = sorted({row[0] for row in db.execute("SELECT trace_id FROM docs")})
    with sqlite3.connect(path) as raw:
        # One document of one trace, and every document of another, get times out of range.
        raw.execute(
            "UPDATE docs SET start_time = -1e308 WHERE seq = (SELECT min(seq) FROM docs WHERE trace_id = ?)",
            (trace_ids[0],),
        )
        raw.execute("UPDATE docs SET end_time = 1e308 WHERE trace_id = ?", (trace_ids[1],))
        raw.executemany("INSERT INTO dirty_traces (trace_id) VALUES (?)", [(trace_ids[0],), (trace_ids[1],)])
    store.close()
    reopened = TraceStore(path)
    try:
        assert assert_stored_facts_agree(reopened) == 5
        with reopened.reader() as db:
            assert (
                db.execute("SELECT 1 FROM trace_index WHERE trace_id = ?", (trace_ids[1],)).fetchone() is None
            )
    finally:
        reopened.close()


@pytest.mark.parametrize("seed", range(4))
def test_computed_traces_answer_what_trace_facts_and_summary_answer(tmp_path: Path, seed):
    # Directly, not through the index: every trace of a random store, in one call.
    rng = random.Random(100 + seed)
    store = TraceStore(tmp_path / "traces.db")
    store.insert([parse_document(json.dumps(d)) for d in random_documents(rng, 10)])
    with store.reader() as db:
        ids = sorted({row[0] for row in db.execute("SELECT trace_id FROM docs")})
        reference = traces.trace_facts(db, ids)
        notes = traces.annotation_services(db, ids)
        computed = traces.computed_traces(db, ids)
        assert {facts.trace_id: facts for facts, _ in computed} == reference
        for facts, summary in computed:
            assert summary == traces.summary(reference[facts.trace_id], notes.get(facts.trace_id, {}))
    store.close()


# -- the facts computed beside the writer (TraceStore.index_dirty, emulator/xray/indexer.py) ----


@pytest.mark.parametrize("seed", range(6))
def test_facts_computed_from_snapshots_between_batches_equal_the_reference(tmp_path: Path, seed):
    rng = random.Random(200 + seed)
    store = TraceStore(tmp_path / "traces.db")
    documents = random_documents(rng, 12)
    while documents:
        size = rng.randint(1, 9)
        batch, documents = documents[:size], documents[size:]
        store.insert([parse_document(json.dumps(document)) for document in batch])
        while store.index_dirty(limit=rng.randint(1, 4)):
            pass
        # Computed by index_dirty alone: nothing is left for the query to compute.
        assert dirty_in_file(store.path) == set()
        assert_stored_facts_agree(store)
    store.close()


def test_a_trace_written_while_its_facts_are_computed_stays_dirty_and_is_not_stored_stale(
    tmp_path: Path, monkeypatch
):
    path = tmp_path / "traces.db"
    indexer, writer = TraceStore(path), TraceStore(path)
    documents = fresh_trace("tutorial_ddb_trace.json")
    trace_id = documents[0]["trace_id"]
    stage = next(d for d in documents if d.get("origin") == "AWS::ApiGateway::Stage")
    writer.insert([parse_document(json.dumps(d)) for d in documents if d is not stage])
    compute_traces = traces.compute_traces

    def written_meanwhile(read: traces.TraceRows) -> Any:
        # Read in the indexer's snapshot; then the writer (another connection, as the daemon's
        # process is) stores the trace's last document before the facts are written.
        result = compute_traces(read)
        writer.insert([parse_document(json.dumps(stage))])
        return result

    monkeypatch.setattr(traces, "compute_traces", written_meanwhile)
    try:
        assert indexer.index_dirty() == 0
        assert dirty_in_file(path) == {trace_id}
        with sqlite3.connect(path) as raw:
            assert raw.execute("SELECT count(*) FROM trace_index").fetchone()[0] == 0
        monkeypatch.setattr(traces, "compute_traces", compute_traces)
        assert indexer.index_dirty() == 1 and dirty_in_file(path) == set()
        assert assert_stored_facts_agree(indexer) == 1
    finally:
        indexer.close()
        writer.close()


def test_a_file_whose_dirty_table_has_no_marks_gains_them_and_keeps_its_dirty_traces(tmp_path: Path):
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    documents = fresh_trace("tutorial_hello_trace.json")
    store.insert([parse_document(json.dumps(d)) for d in documents])
    store.close()
    with sqlite3.connect(path) as raw:  # the table as the previous version wrote it
        raw.execute("DROP TABLE dirty_traces")
        raw.execute("CREATE TABLE dirty_traces (trace_id TEXT PRIMARY KEY) WITHOUT ROWID")
        raw.execute("INSERT INTO dirty_traces VALUES (?)", (documents[0]["trace_id"],))
    reopened = TraceStore(path)
    try:
        assert reopened.index_dirty() == 1
        assert assert_stored_facts_agree(reopened) == 1
    finally:
        reopened.close()


def test_the_daemons_indexer_process_computes_the_facts_and_stops_with_it(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    daemon = Daemon(store, port=0, index_process=True)
    daemon.start()
    indexer = daemon._indexer
    assert indexer is not None
    try:
        names = ["tutorial_hello_trace.json", "tutorial_ddb_trace.json"]
        for document in (d for name in names for d in fresh_trace(name)):
            send(daemon.address[1], datagram(document))
        assert daemon.wait_idle(10)
        # The child computes them (the writer leaves them to it): the file says none is dirty.
        deadline = time.monotonic() + 30
        while dirty_in_file(store.path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dirty_in_file(store.path) == set()
        assert daemon.indexed == 0
        assert assert_stored_facts_agree(store) == 2
        assert indexer.running
    finally:
        daemon.stop()
        store.close()
    assert not indexer.running


@pytest.mark.parametrize("seed", range(4))
def test_root_causes_read_back_from_the_stored_summary_equal_those_of_the_documents(tmp_path: Path, seed):
    # rootcause.* filters read them from the summary (trace_index.row_facts), not the documents.
    rng = random.Random(300 + seed)
    store = TraceStore(tmp_path / "traces.db")
    store.insert([parse_document(json.dumps(d)) for d in random_documents(rng, 10)])
    with store.reader() as db:
        reference = traces.trace_facts(
            db, sorted({row[0] for row in db.execute("SELECT trace_id FROM docs")})
        )
        rows = db.execute(f"SELECT {trace_index.COLUMNS}, summary FROM trace_index").fetchall()
        assert len(rows) == len(reference)
        for row in rows:
            facts = trace_index.row_facts(db, row)
            detail = reference[facts.trace_id].detail()
            assert facts.root_causes("fault") == detail.fault_root_causes
            assert facts.root_causes("error") == detail.error_root_causes
            assert facts.root_causes("responsetime") == detail.response_time_root_causes
    store.close()


def test_the_indexer_waits_for_a_write_lock_held_past_sqlites_busy_handler_and_keeps_its_facts(
    tmp_path: Path,
):
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    store.insert([parse_document(json.dumps(d)) for d in fresh_trace("tutorial_hello_trace.json")])
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # Another writer holds the lock: index_dirty gives up only after its own wait, and
        # the trace stays dirty for the next batch.
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(WriteLockBusy):
            store.index_dirty(lock_wait=0.2)
        assert len(dirty_in_file(path)) == 1
        # Released while index_dirty waits: the facts it computed are stored.
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        assert store.index_dirty(lock_wait=10) == 1
        release.join()
        assert dirty_in_file(path) == set()
        assert assert_stored_facts_agree(store) == 1
    finally:
        holder.close()
        store.close()


def test_the_indexer_computes_outside_its_read_snapshot(tmp_path: Path, monkeypatch):
    # A snapshot held while computing kept the writer from starting the write-ahead log again.
    store = TraceStore(tmp_path / "traces.db")
    store.insert([parse_document(json.dumps(d)) for d in fresh_trace("tutorial_ddb_trace.json")])
    compute_traces = traces.compute_traces
    in_snapshot: list[bool] = []

    def noting(read: traces.TraceRows) -> Any:
        in_snapshot.append(read.db.in_transaction)
        return compute_traces(read)

    monkeypatch.setattr(traces, "compute_traces", noting)
    try:
        assert store.index_dirty() == 1
        assert in_snapshot == [False]
        assert assert_stored_facts_agree(store) == 1
    finally:
        store.close()
