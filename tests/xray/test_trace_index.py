"""The per-trace facts the store keeps as documents arrive equal the facts computed from all
the documents (traces.trace_facts and traces.summary), whatever order and batches they came in."""

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from emulator.xray import trace_index, traces
from emulator.xray.documents import parse_document
from emulator.xray.store import TraceStore
from tests.xray.xray_support import fresh_trace

TRACE_FILES = ("tutorial_ddb_trace.json", "tutorial_hello_trace.json")


def split(documents: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Some subsegments sent on their own (as the SDK does for long ones), as X-Ray takes them."""
    out = []
    for document in copy.deepcopy(documents):
        pending = [document]
        while pending:
            parent = pending.pop()
            kept = []
            for child in parent.get("subsegments", []):
                if rng.random() < 0.4:
                    alone = dict(
                        child, type="subsegment", trace_id=document["trace_id"], parent_id=parent["id"]
                    )
                    out.append(alone)
                    pending.append(alone)
                else:
                    kept.append(child)
                    pending.append(child)
            if "subsegments" in parent:
                parent["subsegments"] = kept
        out.append(document)
    return out


def vary(documents: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Statuses, annotations, users and in-progress segments at random."""
    for document in documents:
        if rng.random() < 0.3:
            document[rng.choice(["error", "fault", "throttle"])] = True
        if rng.random() < 0.3:
            document.setdefault("annotations", {})[rng.choice(["k", "n", "b"])] = rng.choice(
                ["x", "yz", 3, 4.5, True, False]
            )
        if rng.random() < 0.2:
            document["user"] = rng.choice(["alice", "bob"])
        if rng.random() < 0.1 and document.get("type") != "subsegment":
            document.pop("end_time", None)
            document.pop("subsegments", None)
            document["in_progress"] = True
    return documents


def random_documents(rng: random.Random, traces_count: int) -> list[dict[str, Any]]:
    documents = []
    for _ in range(traces_count):
        trace = fresh_trace(rng.choice(TRACE_FILES), ago=rng.uniform(1, 300))
        documents.extend(vary(split(trace, rng), rng))
    rng.shuffle(documents)
    return documents


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
