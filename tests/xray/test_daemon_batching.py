"""The daemon's writer groups datagrams into transactions, over real UDP and SQLite.

A long batch window makes the grouping deterministic: a batch then ends only at the batch
limit, at a wait_idle() marker or at stop(), never at a moment a slow machine could miss.
"""

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from emulator.xray import daemon as daemon_module
from emulator.xray.daemon import Daemon
from emulator.xray.documents import DocumentFacts
from emulator.xray.store import TraceStore
from tests.xray.xray_support import HEADER, datagram, fresh_trace, send

# Far longer than any test: if a batch were closed by the clock, the test would notice.
LONG_WINDOW_SECONDS = 60.0


class RecordingStore(TraceStore):
    """A real store that remembers how many documents each call to it carried."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batch_sizes: list[int] = []

    def insert_salvaging(
        self, documents: Sequence[DocumentFacts]
    ) -> tuple[int, list[tuple[DocumentFacts, Exception]]]:
        self.batch_sizes.append(len(documents))
        return super().insert_salvaging(documents)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordingStore]:
    store = RecordingStore(tmp_path / "traces.db")
    try:
        yield store
    finally:
        store.close()


def running_daemon(store: TraceStore, batch_window: float) -> Daemon:
    daemon = Daemon(store, port=0, batch_window=batch_window)
    daemon.start()
    return daemon


def stored_ids(store: TraceStore) -> set[str]:
    with store.reader() as db:
        return {row[0] for row in db.execute("SELECT id FROM docs")}


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_requests_segments_sent_one_by_one_share_one_transaction(store):
    documents = fresh_trace("tutorial_ddb_trace.json")
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        for document in documents:  # one datagram at a time, as a request's segments arrive
            send(daemon.address[1], datagram(document))
        assert daemon.wait_idle(10)
        assert daemon.batches == 1
        assert daemon.accepted == len(documents)
    finally:
        daemon.stop()
    assert store.batch_sizes == [len(documents)]
    assert stored_ids(store) == {document["id"] for document in documents}


def test_a_burst_goes_in_full_batches_of_the_batch_limit(store, monkeypatch):
    monkeypatch.setattr(daemon_module, "BATCH_LIMIT", 10)
    documents = [fresh_trace("tutorial_hello_trace.json")[0] for _ in range(35)]
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        send(daemon.address[1], *(datagram(document) for document in documents))
        assert daemon.wait_idle(10)
    finally:
        daemon.stop()
    assert store.batch_sizes == [10, 10, 10, 5]
    assert stored_ids(store) == {document["id"] for document in documents}


def test_a_bad_datagram_in_a_gathered_batch_is_rejected_alone(store):
    goods = [fresh_trace("tutorial_hello_trace.json")[0] for _ in range(2)]
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        send(daemon.address[1], datagram(goods[0]), HEADER + b'{"name": ', datagram(goods[1]))
        assert daemon.wait_idle(10)
        assert daemon.rejected == {"bad_json": 1}
        assert daemon.accepted == 2
    finally:
        daemon.stop()
    assert store.batch_sizes == [2]


def test_a_lone_datagram_is_stored_without_anyone_waiting_for_it(store):
    """With the default window, the batch closes by itself: no marker, no stop()."""
    document = fresh_trace("tutorial_hello_trace.json")[0]
    daemon = running_daemon(store, daemon_module.BATCH_WINDOW_SECONDS)
    try:
        send(daemon.address[1], datagram(document))
        assert wait_until(lambda: store.count() == 1), "a lone segment was never stored"
        assert daemon.accepted == 1
    finally:
        daemon.stop()
    assert stored_ids(store) == {document["id"]}


def test_stop_stores_what_an_open_batch_holds(store):
    documents = fresh_trace("tutorial_ddb_trace.json")
    payloads = [datagram(document) for document in documents]
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        send(daemon.address[1], *payloads)
        # Received: in the queue or in the writer's open batch, not yet written.
        assert wait_until(lambda: daemon.queued_bytes == sum(map(len, payloads)))
    finally:
        daemon.stop()  # waits 30 s for the writer at most: less than the window
    assert store.count() == len(documents)
    assert store.batch_sizes == [len(documents)]


def test_a_negative_window_is_refused(store):
    with pytest.raises(ValueError, match="batch_window"):
        Daemon(store, port=0, batch_window=-1)


def dirty_in_file(store: TraceStore) -> set[str]:
    """What the file says is dirty, read beside the store (a reader would compute it first)."""
    with sqlite3.connect(store.path) as db:
        return {row[0] for row in db.execute("SELECT trace_id FROM dirty_traces")}


def test_the_writer_computes_a_traces_facts_once_its_queue_is_idle_without_a_query(store):
    documents = fresh_trace("tutorial_ddb_trace.json")
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        for document in documents:  # each its own batch: the trace is dirtied by every one
            send(daemon.address[1], datagram(document))
            assert daemon.wait_idle(10)
        assert wait_until(lambda: daemon.indexed >= 1), "an idle writer must compute the dirty traces"
        assert dirty_in_file(store) == set()
        assert store.refresh_index() == 0, "nothing was left for the next query"
    finally:
        daemon.stop()
    assert store.batch_sizes == [1] * len(documents)


def test_a_writer_that_is_never_idle_computes_the_facts_between_batches(store, monkeypatch):
    monkeypatch.setattr(daemon_module, "INDEX_IDLE_SECONDS", 3600.0)  # as if datagrams never stopped
    monkeypatch.setattr(daemon_module, "INDEX_INTERVAL_SECONDS", 0.0)  # due after every batch
    documents = fresh_trace("tutorial_hello_trace.json")
    daemon = running_daemon(store, LONG_WINDOW_SECONDS)
    try:
        send(daemon.address[1], *(datagram(document) for document in documents))
        assert daemon.wait_idle(10)
        assert wait_until(lambda: daemon.indexed == 1)
        assert dirty_in_file(store) == set()
    finally:
        daemon.stop()
