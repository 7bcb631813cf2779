"""The per-trace facts the store keeps as documents arrive equal the facts computed from all
the documents (traces.trace_facts and traces.summary), whatever order and batches they came in."""

import json
import random
from pathlib import Path

import pytest

from emulator.xray import trace_index, traces
from emulator.xray.documents import parse_document
from emulator.xray.store import TraceStore
from tests.xray.random_traces import TRACE_FILES, random_documents
from tests.xray.xray_support import fresh_trace


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
