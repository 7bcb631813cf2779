"""TraceStore.reader(): read connections kept in a pool between queries, each query in one
snapshot that sees every write made before it began, whatever connection it is given; and the
write-ahead log those snapshots read, kept bounded."""

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from emulator.xray import store as store_module
from emulator.xray.documents import parse_document
from emulator.xray.store import READER_POOL_SIZE, TraceStore
from tests.xray.xray_support import fresh_trace


def store_trace(store: TraceStore, ago: float) -> None:
    store.insert([parse_document(json.dumps(d)) for d in fresh_trace("tutorial_hello_trace.json", ago=ago)])


def traces_in(store: TraceStore) -> int:
    with store.reader() as db:
        return int(db.execute("SELECT count(*) FROM trace_index").fetchone()[0])


def test_a_pooled_connection_sees_the_writes_made_since_its_last_query(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    try:
        store_trace(store, 5)
        assert traces_in(store) == 1
        store_trace(store, 4)
        assert traces_in(store) == 2
    finally:
        store.close()


def test_a_query_that_fails_leaves_no_open_snapshot_behind(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    try:
        store_trace(store, 5)
        with pytest.raises(ZeroDivisionError), store.reader() as db:
            db.execute("SELECT count(*) FROM trace_index").fetchone()
            raise ZeroDivisionError
        store_trace(store, 4)
        # The failed query's connection is closed, not pooled inside its old snapshot.
        assert traces_in(store) == 2
    finally:
        store.close()


def test_queries_on_many_threads_at_once_each_read_their_own_connection(tmp_path: Path):
    store = TraceStore(tmp_path / "traces.db")
    store_trace(store, 5)
    inside = threading.Barrier(READER_POOL_SIZE + 2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            with store.reader() as db:
                inside.wait(10)  # every thread holds a connection at the same time
                counts.append(db.execute("SELECT count(*) FROM trace_index").fetchone()[0])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=query) for _ in range(READER_POOL_SIZE + 2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert errors == []
        assert counts == [1] * (READER_POOL_SIZE + 2)
        # More connections were open at once than the pool keeps: the rest were closed.
        assert len(store._readers) == READER_POOL_SIZE
    finally:
        store.close()
    assert store._readers == []
    with pytest.raises(RuntimeError, match="closed"), store.reader():
        pass


def wal_bytes(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


def test_a_write_ahead_log_past_its_bound_is_copied_into_the_file_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(store_module, "WAL_RESTART_BYTES", 0)
    monkeypatch.setattr(store_module, "WAL_RESTART_INTERVAL_SECONDS", 0.0)
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    try:
        store_trace(store, 50)
        first = wal_bytes(path)
        for ago in range(40, 0, -1):
            store_trace(store, ago)
        # Each write starts the log again from its beginning: it holds one write, not 41
        # (SQLite's own checkpoint runs only past 1,000 pages, which these writes never reach).
        assert wal_bytes(path) <= 2 * first
        assert traces_in(store) == 41
    finally:
        store.close()


def test_a_reader_keeping_an_old_snapshot_delays_the_restart_not_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(store_module, "WAL_RESTART_BYTES", 0)
    monkeypatch.setattr(store_module, "WAL_RESTART_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(store_module, "WAL_RESTART_WAIT_SECONDS", 0.05)
    path = tmp_path / "traces.db"
    store = TraceStore(path)
    store_trace(store, 9)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        before = reader.execute("SELECT count(*) FROM docs").fetchone()[0]
        for ago in (8, 7, 6):
            store_trace(store, ago)  # stored although the log cannot start again meanwhile
        # The reader's snapshot is untouched: its pages were not overwritten under it.
        assert reader.execute("SELECT count(*) FROM docs").fetchone()[0] == before
        reader.execute("COMMIT")
        assert traces_in(store) == 4
    finally:
        reader.close()
        store.close()
