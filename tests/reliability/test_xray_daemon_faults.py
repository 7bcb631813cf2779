"""The X-Ray daemon survives any datagram: each bad one is rejected alone, over real UDP.

Every case sends the real datagram to a real running daemon and then checks the one thing
that matters: a good segment sent after it is still stored and drawn.
"""

import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.service_map import main as map_main
from console.traces import main as traces_main
from emulator.xray import daemon as daemon_module
from emulator.xray.documents import DocumentFacts, parse_document
from emulator.xray.server import XRayServer
from emulator.xray.store import TraceStore
from tests.xray.xray_fixtures import db_path, xray, xray_server
from tests.xray.xray_support import HEADER, datagram, fresh_trace, send, send_documents

__all__ = ["db_path", "xray", "xray_server"]  # the fixtures, for pytest to find


def stored_ids(server: XRayServer) -> set[tuple[str, str]]:
    assert server.store is not None
    with server.store.reader() as db:
        return {(row[0], row[1]) for row in db.execute("SELECT trace_id, id FROM docs")}


def good_segment() -> dict[str, Any]:
    """A fresh, valid stage segment of its own trace."""
    return fresh_trace("tutorial_hello_trace.json")[0]


def assert_still_stores(server: XRayServer) -> None:
    """A good segment sent now is stored: the writer thread is alive and the store works."""
    good = good_segment()
    send_documents(server, [good])
    assert (good["trace_id"], good["id"]) in stored_ids(server)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def stall_writer(server: XRayServer, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make the store wait (as a slow disk would) until the returned event is set.

    Sends a first datagram, which the writer takes and holds: whatever is sent next queues.
    """
    assert server.store is not None
    release = threading.Event()
    real = server.store.insert_salvaging

    def stalled(documents: Any) -> Any:
        release.wait(30)
        return real(documents)

    monkeypatch.setattr(server.store, "insert_salvaging", stalled)
    first = datagram(good_segment())
    send(server.udp_port, first)
    assert wait_until(lambda: server.queued_bytes == len(first))
    return release


def send_into_queue(server: XRayServer, payloads: list[bytes], chunk: int = 50) -> None:
    """Send to a stalled writer a few at a time, each chunk queued before the next is sent,
    so the kernel's receive buffer never overflows (it would drop datagrams uncounted)."""
    for start in range(0, len(payloads), chunk):
        part = payloads[start : start + chunk]
        expected = server.queued_bytes + sum(map(len, part))
        send(server.udp_port, *part)
        assert wait_until(lambda: server.queued_bytes == expected), "datagrams were lost before the queue"  # noqa: B023


# --- the datagrams of the issue, one by one ---------------------------------------------------


def test_sixty_kilobytes_of_brackets_are_one_bad_json_and_the_writer_lives(xray_server):
    send(xray_server.udp_port, HEADER + b"[" * 60_000)

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"bad_json": 1}
    assert_still_stores(xray_server)
    assert xray_server.accepted == 1


def test_a_deeply_nested_header_line_is_a_bad_header(xray_server):
    send(xray_server.udp_port, b"[" * 5_000 + b"\n" + json.dumps(good_segment()).encode())

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"bad_header": 1}
    assert_still_stores(xray_server)


@pytest.mark.parametrize(
    "body",
    [
        b"1" * 5_000,  # beyond Python's int digit limit: a ValueError, not a JSONDecodeError
        '{"name": "caf\u00e9"}'.encode("utf-16"),  # JSON, but not UTF-8
        b"\xff\xfe\xfd",
        b'{"a": ' * 2_000 + b"1" + b"}" * 2_000,
    ],
    ids=["digits", "utf-16", "not-utf-8", "nested-objects"],
)
def test_undecodable_documents_are_bad_json(xray_server, body):
    send(xray_server.udp_port, HEADER + body)

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"bad_json": 1}
    assert_still_stores(xray_server)


def test_a_remote_subsegment_with_an_unsplittable_url_is_stored_under_its_name(xray_server, xray):
    segment = good_segment()
    segment["subsegments"] = [
        {
            "id": "00000000000000a1",
            "name": "flaky-api",
            "namespace": "remote",
            "start_time": segment["start_time"],
            "end_time": segment["end_time"],
            "http": {"request": {"url": "http://[oops", "method": "GET"}},
        }
    ]

    send_documents(xray_server, [segment])

    assert xray_server.rejected == {}
    graph = xray.get_service_graph(StartTime=segment["start_time"] - 60, EndTime=segment["end_time"] + 60)
    assert ("flaky-api", "remote") in {(s["Name"], s.get("Type")) for s in graph["Services"]}
    assert_still_stores(xray_server)


def test_one_integer_beyond_64_bits_costs_only_its_own_document(xray_server, monkeypatch):
    goods = [good_segment() for _ in range(1_000)]
    bad = dict(good_segment(), http={"response": {"status": 2**63}})
    payloads = [datagram(document) for document in goods]
    payloads.insert(500, datagram(bad))
    # Queued behind a stalled writer, so that it takes them as one batch, the bad one inside.
    release = stall_writer(xray_server, monkeypatch)
    send_into_queue(xray_server, payloads)

    release.set()

    assert xray_server.wait_idle(30)
    assert xray_server.rejected == {"invalid_document": 1}
    assert xray_server.accepted == 1 + 1_000
    ids = stored_ids(xray_server)
    assert {(doc["trace_id"], doc["id"]) for doc in goods} <= ids
    assert (bad["trace_id"], bad["id"]) not in ids


def test_a_huge_integer_annotation_is_kept_as_the_double_it_is(xray_server, xray):
    segment = dict(good_segment(), annotations={"big": 2**64, "small": 7})

    send_documents(xray_server, [segment])

    summary = xray.get_trace_summaries(
        StartTime=segment["start_time"] - 60, EndTime=segment["end_time"] + 60
    )["TraceSummaries"][0]
    values = {key: items[0]["AnnotationValue"] for key, items in summary["Annotations"].items()}
    assert values == {"big": {"NumberValue": float(2**64)}, "small": {"NumberValue": 7}}


ABSURD_TIMES = {
    "-1e308 to 1e308": (-1e308, 1e308),
    "NaN start": (math.nan, 1.0e9),
    "Infinity end": (1.0e9, math.inf),
    "start after end": (1.7e9 + 10, 1.7e9),
    "before 1970": (-5.0, 1.0e9),
    "after 2106": (1.0e9, 2.0**33),
    "integer past a double": (1.0e9, 10**400),
}


@pytest.mark.parametrize("times", ABSURD_TIMES.values(), ids=ABSURD_TIMES.keys())
def test_absurd_times_are_refused_and_the_map_and_traces_still_draw(xray_server, capsys, times):
    start, end = times
    bad = dict(good_segment(), start_time=start, end_time=end)
    subsegment_bad = good_segment()
    subsegment_bad["subsegments"][0].update(start_time=start, end_time=end)
    recent = fresh_trace("tutorial_ddb_trace.json")

    send_documents(xray_server, [bad, subsegment_bad, *recent])

    assert xray_server.rejected == {"invalid_document": 2}
    assert_drawn(xray_server, capsys, recent[0]["name"])


def assert_drawn(server: XRayServer, capsys: pytest.CaptureFixture[str], service: str) -> None:
    """`make map` and `make traces --latest` against the server both draw, naming `service`."""
    capsys.readouterr()
    assert map_main(["--endpoint-url", server.api_url, "--minutes", "10"]) == 0
    assert service in capsys.readouterr().out
    assert traces_main(["--endpoint-url", server.api_url, "--minutes", "10"]) == 0
    assert traces_main(["--endpoint-url", server.api_url, "--latest"]) == 0
    assert service in capsys.readouterr().out


def test_a_store_written_before_the_time_checks_still_draws(db_path, capsys):
    # What older code let in: stored straight into the file, as it was then.
    old = TraceStore(db_path)
    facts = parse_document(json.dumps(good_segment()))
    absurd = dataclasses.replace(facts, start_time=-1e308, end_time=1e308)
    absurd = dataclasses.replace(
        absurd, spans=[dataclasses.replace(span, start_time=-1e308, end_time=1e308) for span in absurd.spans]
    )
    old.insert([absurd])
    old.close()
    recent = fresh_trace("tutorial_ddb_trace.json")

    with XRayServer(port=0, db_path=db_path) as server:
        send_documents(server, recent)
        assert_drawn(server, capsys, recent[0]["name"])


def test_strings_that_are_not_utf8_are_refused_whole(xray_server):
    # "\ud800" is valid JSON text, but no UTF-8 string: SQLite and the terminal would choke.
    text = json.dumps(dict(good_segment(), name="x\ud800"))

    send(xray_server.udp_port, HEADER + text.encode())

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"invalid_document": 1}
    assert_still_stores(xray_server)


# --- the writer's own safety nets -------------------------------------------------------------


def test_a_document_the_database_refuses_is_rejected_alone(xray_server, monkeypatch):
    """A document that passes intake but that SQLite refuses: the batch falls back to one by one."""
    goods = [good_segment() for _ in range(20)]
    poisoned = good_segment()

    def parse(body: bytes) -> DocumentFacts:
        facts = parse_document(body)
        # Past intake's checks, as a future field might slip through: SQLite's INTEGER overflows.
        return dataclasses.replace(facts, http_status=2**63) if facts.id == poisoned["id"] else facts

    monkeypatch.setattr(daemon_module, "parse_document", parse)
    release = stall_writer(xray_server, monkeypatch)
    send_into_queue(xray_server, [datagram(document) for document in [*goods[:10], poisoned, *goods[10:]]])

    release.set()

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"store_error": 1}
    assert xray_server.accepted == 1 + 20
    assert {(doc["trace_id"], doc["id"]) for doc in goods} <= stored_ids(xray_server)


def test_a_bug_on_one_datagram_costs_only_that_datagram(xray_server, monkeypatch):
    def parse(body: bytes) -> DocumentFacts:
        if b"boom" in body:
            raise KeyError("a bug in the daemon's own code")
        return parse_document(body)

    monkeypatch.setattr(daemon_module, "parse_document", parse)
    send(xray_server.udp_port, HEADER + b'{"boom": 1}')

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"internal_error": 1}
    assert_still_stores(xray_server)


def test_a_failing_store_call_does_not_end_the_writer(xray_server, monkeypatch):
    assert xray_server.store is not None
    real = xray_server.store.insert_salvaging
    calls = 0

    def fail_once(documents: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the disk went away")
        return real(documents)

    monkeypatch.setattr(xray_server.store, "insert_salvaging", fail_once)
    send(xray_server.udp_port, datagram(good_segment()))

    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"internal_error": 1}
    assert_still_stores(xray_server)


# --- the queue's bound in bytes ---------------------------------------------------------------


@pytest.fixture
def small_queue_server(db_path: Path) -> Iterator[XRayServer]:
    server = XRayServer(port=0, db_path=db_path, queue_bytes_limit=1_000_000)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def padded_datagram(size: int) -> bytes:
    """A valid segment datagram of exactly `size` bytes (padded in metadata)."""
    document = good_segment()
    document["metadata"] = {"default": {"padding": ""}}
    base = len(datagram(document))
    document["metadata"]["default"]["padding"] = "x" * (size - base)
    payload = datagram(document)
    assert len(payload) == size
    return payload


def test_the_queue_is_bounded_in_bytes_and_drops_the_excess_as_queue_full(small_queue_server, monkeypatch):
    server = small_queue_server
    release = stall_writer(server, monkeypatch)  # a store that cannot keep up
    first = server.queued_bytes
    size = 60_000
    sent = 0
    for _ in range(20):
        before = (server.queued_bytes, server.rejected.get("queue_full", 0))
        send(server.udp_port, padded_datagram(size))
        sent += 1
        # One at a time, so the kernel's receive buffer never overflows (that would drop uncounted).
        assert wait_until(lambda: (server.queued_bytes, server.rejected.get("queue_full", 0)) != before)  # noqa: B023
        assert server.queued_bytes <= 1_000_000

    fits = (1_000_000 - first) // size
    assert server.rejected == {"queue_full": sent - fits}
    release.set()
    assert server.wait_idle(30)
    assert server.queued_bytes == 0
    assert server.accepted == 1 + fits
    assert_still_stores(server)


# --- property-based: nothing sent before a good segment keeps it from being stored ------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    """One daemon for every example: starting one per example would cost more than the checks."""
    server = XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray-fuzz") / "traces.db")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def assert_good_segment_lands_after(server: XRayServer, payload: bytes) -> None:
    good = good_segment()
    send(server.udp_port, payload, datagram(good))
    assert server.wait_idle(10), "the daemon stopped processing datagrams"
    assert (good["trace_id"], good["id"]) in stored_ids(server)


# What a UDP datagram can carry on loopback, minus a margin.
MAX_PAYLOAD = 65_000
FUZZ_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ_SETTINGS
@given(
    payload=st.one_of(
        st.binary(max_size=2_000),
        st.binary(max_size=2_000).map(lambda body: HEADER + body),
        st.sampled_from([b"[", b"{", b'{"a":', b"-", b"9", b"\\u"]).flatmap(
            lambda unit: st.integers(1, MAX_PAYLOAD // len(unit) - len(HEADER)).map(
                lambda count: HEADER + unit * count
            )
        ),
    )
)
def test_any_bytes_leave_the_daemon_storing(fuzz_server, payload):
    assert_good_segment_lands_after(fuzz_server, payload)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["http://[oops", "\ud800", "1-58406520-a006649127e371903a2de979", "0123456789abcdef"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
SEGMENT_FIELDS = [
    "trace_id", "id", "parent_id", "type", "name", "origin", "start_time", "end_time",
    "in_progress", "error", "fault", "throttle", "http", "annotations", "subsegments",
    "namespace", "aws", "user", "cause",
]  # fmt: skip


def document_text(document: dict[str, Any]) -> bytes:
    """JSON as Python writes it: NaN and Infinity included, strings with lone surrogates escaped."""
    return json.dumps(document).encode()


@FUZZ_SETTINGS
@given(
    changes=st.dictionaries(st.sampled_from(SEGMENT_FIELDS), JSON_VALUES, min_size=1, max_size=4),
    nested=st.booleans(),
)
def test_any_segment_fields_leave_the_daemon_storing(fuzz_server, changes, nested):
    document = good_segment()
    # Into the segment itself, or into its first subsegment (validated on another path).
    target = document["subsegments"][0] if nested else document
    target.update(changes)
    assert_good_segment_lands_after(fuzz_server, HEADER + document_text(document))


@FUZZ_SETTINGS
@given(document=JSON_VALUES)
def test_any_json_document_leaves_the_daemon_storing(fuzz_server, document):
    assert_good_segment_lands_after(fuzz_server, HEADER + json.dumps(document).encode())
