"""The daemon's wire format and the store's durability and bounds, over real UDP and SQLite."""

import json
import sqlite3

from emulator.xray.documents import parse_document
from emulator.xray.groups import GroupStore
from emulator.xray.server import XRayServer
from emulator.xray.store import TraceStore
from tests.xray.xray_support import HEADER, datagram, fresh_trace, make_client, send, send_documents


def test_malformed_datagrams_are_counted_by_kind_and_a_good_one_still_lands(xray_server, xray):
    good = fresh_trace("tutorial_hello_trace.json")[0]
    no_end = dict(good, id="1234567890abcdef")
    del no_end["end_time"]
    orphan_subsegment = {k: v for k, v in good.items() if k != "subsegments"} | {"type": "subsegment"}
    send(
        xray_server.udp_port,
        json.dumps(good).encode(),  # no header line at all
        b'{"format":"json","version":2}\n' + json.dumps(good).encode(),
        b"not json\n" + json.dumps(good).encode(),
        HEADER + b'{"name": "x", "id": ',
        HEADER + json.dumps(no_end).encode(),
        HEADER + json.dumps(orphan_subsegment).encode(),
        HEADER + json.dumps(dict(good, trace_id="not-a-trace-id")).encode(),
        datagram(good),
    )
    assert xray_server.wait_idle(10)

    assert xray_server.rejected == {"bad_header": 3, "bad_json": 1, "invalid_document": 3}
    assert xray_server.accepted == 1
    traces = xray.batch_get_traces(TraceIds=[good["trace_id"]])["Traces"]
    # Only the stage segment arrived; its unanswered "Lambda" call shows as an inferred segment.
    documents = [json.loads(segment["Document"]) for segment in traces[0]["Segments"]]
    assert [document["id"] for document in documents if not document.get("inferred")] == [good["id"]]
    assert [document["origin"] for document in documents if document.get("inferred")] == ["AWS::Lambda"]


def test_a_complete_document_replaces_the_in_progress_one_and_not_the_reverse(xray_server, xray):
    segment = fresh_trace("tutorial_hello_trace.json")[0]
    in_progress = {k: v for k, v in segment.items() if k not in ("end_time", "subsegments")} | {
        "in_progress": True
    }
    send_documents(xray_server, [in_progress])
    partial = xray.get_trace_summaries(
        StartTime=segment["start_time"] - 60, EndTime=segment["start_time"] + 60
    )
    assert partial["TraceSummaries"][0]["IsPartial"] is True

    send_documents(xray_server, [segment])
    send_documents(xray_server, [in_progress])  # late and stale: must not win

    trace = xray.batch_get_traces(TraceIds=[segment["trace_id"]])["Traces"][0]
    documents = [json.loads(item["Document"]) for item in trace["Segments"]]
    [stored] = [document for document in documents if not document.get("inferred")]
    assert stored["end_time"] == segment["end_time"]
    assert "in_progress" not in stored


def test_the_store_survives_a_restart(db_path):
    documents = fresh_trace("tutorial_ddb_trace.json")
    first = XRayServer(port=0, db_path=db_path)
    first.start()
    try:
        send_documents(first, documents)
    finally:
        first.stop()

    second = XRayServer(port=0, db_path=db_path)
    second.start()
    try:
        client = make_client(second)
        trace = client.batch_get_traces(TraceIds=[documents[0]["trace_id"]])["Traces"][0]
        graph = client.get_service_graph(
            StartTime=documents[0]["start_time"] - 60, EndTime=documents[0]["end_time"] + 60
        )
    finally:
        second.stop()
    assert {segment["Id"] for segment in trace["Segments"]} >= {documents[0]["id"], documents[1]["id"]}
    assert "Demo" in {service["Name"] for service in graph["Services"]}


def test_a_store_of_another_schema_is_set_aside_and_its_documents_carried_over(db_path):
    documents = fresh_trace("tutorial_ddb_trace.json")
    first = TraceStore(db_path)
    try:
        first.insert([parse_document(json.dumps(document)) for document in documents])
    finally:
        first.close()
    # As a file written by an older (or newer) local X-Ray would say.
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version=1")

    second = TraceStore(db_path)
    try:
        assert second.count() == len(documents)
    finally:
        second.close()
    kept = db_path.with_name(db_path.name + ".schema-1")
    assert kept.exists(), "the old file must be kept, never deleted"
    with sqlite3.connect(kept) as db:
        assert db.execute("SELECT count(*) FROM bodies").fetchone()[0] == len(documents)


def test_a_schema_change_keeps_the_groups(db_path):
    TraceStore(db_path).close()
    groups = GroupStore(db_path)
    try:
        groups.create("slow", filter_expression="responsetime > 1")
    finally:
        groups.close()
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA user_version=1")

    TraceStore(db_path).close()  # sets the file aside and starts a new one
    groups = GroupStore(db_path)
    try:
        assert groups.filter_expression("slow") == "responsetime > 1"
    finally:
        groups.close()


def test_the_size_bound_drops_the_oldest_documents(tmp_path):
    store = TraceStore(tmp_path / "t.db", max_documents=3)
    try:
        traces = [fresh_trace("tutorial_hello_trace.json", ago=100 - i)[0] for i in range(5)]
        store.insert(parse_document(json.dumps(document)) for document in traces)
        assert store.count() == 3
        with store.reader() as db:
            kept = {row[0] for row in db.execute("SELECT trace_id FROM docs")}
            orphans = db.execute("SELECT count(*) FROM spans WHERE doc_seq NOT IN (SELECT seq FROM docs)")
            assert orphans.fetchone()[0] == 0
    finally:
        store.close()
    assert kept == {document["trace_id"] for document in traces[2:]}


def test_the_retention_bound_drops_documents_older_than_30_days(tmp_path):
    old = fresh_trace("tutorial_hello_trace.json", ago=31 * 24 * 3600)[0]
    recent = fresh_trace("tutorial_hello_trace.json", ago=29 * 24 * 3600)[0]
    store = TraceStore(tmp_path / "t.db")
    try:
        store.insert([parse_document(json.dumps(old)), parse_document(json.dumps(recent))])
        store.prune()
        with store.reader() as db:
            kept = [row[0] for row in db.execute("SELECT trace_id FROM docs")]
    finally:
        store.close()
    assert kept == [recent["trace_id"]]
