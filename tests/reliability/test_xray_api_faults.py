"""The X-Ray API answers abuse with a JSON 4xx, never a 500 or a dropped connection; it
bounds its connections, and answers no web page. Real HTTP to a real running server.
"""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.xray import api
from emulator.xray.backend import XRayBackend
from emulator.xray.server import XRayServer
from emulator.xray.store import TraceStore
from tests.raw_http import split_response
from tests.xray.xray_fixtures import db_path, xray, xray_server
from tests.xray.xray_support import fresh_trace, send_documents, window

__all__ = ["db_path", "xray", "xray_server"]  # the fixtures, for pytest to find


def post(server: XRayServer, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    """POST over urllib (Host: 127.0.0.1:port, as boto3 sends it); the status, headers and JSON."""
    request = urllib.request.Request(server.api_url + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def raw(server: XRayServer, data: bytes) -> tuple[int, dict[str, str], Any]:
    """Raw bytes on a fresh connection: the status, headers (lower-case) and JSON body."""
    with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=10) as connection:
        connection.sendall(data)
        return read_response(connection)


def read_response(connection: socket.socket) -> tuple[int, dict[str, str], Any]:
    """One whole response from `connection`: status, headers (lower-case) and JSON body.

    Reads only as far as Content-Length: a server that closes a connection it has not read to
    the end may reset it after answering, and what matters is the answer.
    """
    reply = b""
    while True:
        _, separator, rest = reply.partition(b"\r\n\r\n")
        if separator:
            status_line, headers, body, _ = split_response(reply)
            if len(rest) >= int(headers["content-length"]):
                return int(status_line.split()[1]), headers, json.loads(body)
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed before a whole response: {reply!r}"
        reply += chunk


def request_bytes(path: str = "/ServiceGraph", body: bytes = b"{}", host: str | None = "127.0.0.1") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    if host is not None:
        head += f"Host: {host}\r\n"
    return head.encode() + b"\r\n" + body


def stored_count(server: XRayServer) -> int:
    assert server.store is not None
    return server.store.count()


def assert_json_4xx(status: int, headers: dict[str, str], answer: Any) -> None:
    assert 400 <= status < 500
    assert isinstance(answer, dict) and isinstance(answer.get("message"), str) and answer["message"]
    assert any(name.lower() == "x-amzn-errortype" for name in headers)


# --- bodies and members that used to get a 500 or drop the connection -------------------------

NOW = int(time.time())
# A valid GetServiceGraph body: 200 with no services.
EMPTY_GRAPH = b'{"StartTime": 0, "EndTime": 1}'
ABUSIVE_REQUESTS = {
    "StartTime 1e400 (Infinity)": ("/TraceSummaries", b'{"StartTime": 1e400, "EndTime": 1e400}'),
    "StartTime NaN": ("/ServiceGraph", b'{"StartTime": NaN, "EndTime": 1}'),
    "EndTime Infinity": ("/TraceSummaries", f'{{"StartTime": {NOW}, "EndTime": Infinity}}'.encode()),
    "EndTime -Infinity": ("/ServiceGraph", b'{"StartTime": 0, "EndTime": -Infinity}'),
    "EndTime 1e300": ("/TraceSummaries", f'{{"StartTime": {NOW}, "EndTime": 1e300}}'.encode()),
    "EndTime 10**30": ("/ServiceGraph", f'{{"StartTime": {NOW}, "EndTime": {10**30}}}'.encode()),
    "StartTime of 5000 digits": ("/ServiceGraph", b'{"StartTime": ' + b"9" * 5000 + b', "EndTime": 1}'),
    "StartTime negative": ("/TraceSummaries", f'{{"StartTime": -1e12, "EndTime": {NOW}}}'.encode()),
    "StartTime year 1": ("/ServiceGraph", b'{"StartTime": "0001-01-01T00:00:00", "EndTime": 1}'),
    "Timestamp NaN in sampling": (
        "/SamplingTargets",
        b'{"SamplingStatisticsDocuments": [{"RuleName": "Default", "ClientID": "c",'
        b' "RequestCount": 1, "SampledCount": 1, "Timestamp": NaN}]}',
    ),
    "246 nested parentheses": (
        "/TraceSummaries",
        json.dumps(
            {"StartTime": NOW - 60, "EndTime": NOW, "FilterExpression": "(" * 246 + "ok" + ")" * 246}
        ).encode(),
    ),
    "982 NOTs": (
        "/TraceSummaries",
        json.dumps({"StartTime": NOW - 60, "EndTime": NOW, "FilterExpression": "NOT " * 982 + "ok"}).encode(),
    ),
    "982 !s": (
        "/TraceSummaries",
        json.dumps({"StartTime": NOW - 60, "EndTime": NOW, "FilterExpression": "!" * 982 + "ok"}).encode(),
    ),
    "TimeRangeType a 5000-digit integer": (
        "/TraceSummaries",
        f'{{"StartTime": {NOW - 60}, "EndTime": {NOW}, "TimeRangeType": '.encode() + b"7" * 4000 + b"}",
    ),
    "NextToken not a token": (
        "/TraceSummaries",
        json.dumps({"StartTime": NOW - 60, "EndTime": NOW, "NextToken": "W" * 2000}).encode(),
    ),
    "100,000 nested arrays": ("/ServiceGraph", b"[" * 100_000 + b"]" * 100_000),
    "100,000 nested objects": ("/TraceSegments", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "unterminated nesting": ("/Traces", b"[" * 100_000),
    "not UTF-8": ("/ServiceGraph", b'{"StartTime": "\xff\xfe"}'),
    "TraceIds nested": ("/Traces", b'{"TraceIds": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
}


@pytest.mark.parametrize("path, body", ABUSIVE_REQUESTS.values(), ids=ABUSIVE_REQUESTS.keys())
def test_abusive_requests_get_a_json_4xx_and_change_nothing(xray_server, path, body):
    before = stored_count(xray_server)

    status, headers, answer = post(xray_server, path, body)

    assert_json_4xx(status, headers, answer)
    assert stored_count(xray_server) == before


@pytest.mark.parametrize("expression", ["(" * 65 + "ok" + ")" * 65, "NOT " * 65 + "ok", "!" * 65 + "ok"])
def test_filters_nested_too_deeply_say_so_and_where(xray, expression):
    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.get_trace_summaries(**window(), FilterExpression=expression)

    message = raised.value.response["Error"]["Message"]
    assert "nests" in message and "64 levels" in message
    assert "(at position 64)" in message or f"(at position {4 * 64})" in message


def test_filters_nested_within_the_bound_still_work(xray_server, xray):
    documents = fresh_trace("tutorial_hello_trace.json")
    send_documents(xray_server, documents)

    def matching(expression: str) -> list[str]:
        answer = xray.get_trace_summaries(**window(), FilterExpression=expression)
        return [summary["Id"] for summary in answer["TraceSummaries"]]

    # The trace is ok: an even number of NOTs keeps it, an odd number drops it.
    assert matching("(" * 30 + "NOT " * 30 + "ok" + ")" * 30) == [documents[0]["trace_id"]]
    assert matching("(" * 30 + "NOT " * 31 + "ok" + ")" * 30) == []


def test_bad_put_trace_segments_documents_are_unprocessed_and_stored_alone(xray_server, xray):
    good = fresh_trace("tutorial_hello_trace.json")[0]
    bad_documents = [
        "[" * 60_000,
        json.dumps(dict(good, id="00000000000000b1", http={"response": {"status": 2**63}})),
        json.dumps(dict(good, id="00000000000000b2", start_time=-1e308, end_time=1e308)),
        json.dumps(dict(good, id="00000000000000b3", start_time=float("nan"))),
        json.dumps(dict(good, id="00000000000000b4", name="\ud800")),
        "1" * 5000,
    ]

    answer = xray.put_trace_segments(TraceSegmentDocuments=[*bad_documents, json.dumps(good)])

    assert len(answer["UnprocessedTraceSegments"]) == len(bad_documents)
    assert {item["ErrorCode"] for item in answer["UnprocessedTraceSegments"]} == {"InvalidSegment"}
    assert stored_count(xray_server) == 1
    assert xray.batch_get_traces(TraceIds=[good["trace_id"]])["Traces"]


# --- the HTTP layer: framing, size, methods --------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(xray_server):
    head = (
        f"POST /TraceSegments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {api.MAX_BODY_BYTES + 1}\r\n\r\n"
    )

    status, headers, answer = raw(xray_server, head.encode())

    assert status == 413
    assert_json_4xx(status, headers, answer)
    assert str(api.MAX_BODY_BYTES) in answer["message"]


CHUNKED = b"POST /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    "data, expected",
    [
        (CHUNKED, 411),
        (b"POST /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
         413),
        (b"POST /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{}", 400),
        (b"PUT /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 405),
        (b"OPTIONS /ServiceGraph HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n", 405),
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /ServiceGraph HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 400),
        (b"POST /ServiceGraph HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"POST /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
    ids=["chunked", "length-not-a-number", "length-negative", "length-5000-digits", "body-cut-short", "PUT",
         "OPTIONS", "garbage", "http-2.0", "header-too-long", "request-line-too-long"],
)  # fmt: skip
def test_broken_framing_and_unknown_methods_get_a_json_4xx(xray_server, data, expected):
    with socket.create_connection(("127.0.0.1", xray_server.tcp_port), timeout=10) as connection:
        connection.sendall(data)
        if b"Content-Length: 10\r\n" in data:
            connection.shutdown(socket.SHUT_WR)  # the body ends short of its Content-Length
        status, headers, answer = read_response(connection)

    assert status == expected
    assert_json_4xx(status, headers, answer)
    assert "access-control-allow-origin" not in headers


# --- no web page gets in ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:2000", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:65535"]
)
def test_loopback_host_names_are_answered(xray_server, host):
    status, _, answer = raw(xray_server, request_bytes(body=EMPTY_GRAPH, host=host))

    assert status == 200, answer
    assert answer["Services"] == []


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:2000", "127.0.0.1.evil.example", "localhost.evil.example", "localhost:abc",
     "localhost:", "[::2]", "", "0.0.0.0", "10.0.0.1"],
)  # fmt: skip
def test_other_host_names_are_403_naming_the_problem_and_change_nothing(xray_server, host):
    document = json.dumps(fresh_trace("tutorial_hello_trace.json")[0])
    body = json.dumps({"TraceSegmentDocuments": [document]}).encode()

    status, headers, answer = raw(xray_server, request_bytes("/TraceSegments", body, host=host))

    assert status == 403
    assert_json_4xx(status, headers, answer)
    assert "Host" in answer["message"] and "loopback" in answer["message"]
    assert stored_count(xray_server) == 0


def test_no_host_header_or_two_of_them_are_403(xray_server):
    status, _, _ = raw(xray_server, request_bytes(host=None))
    assert status == 403
    twice = request_bytes(host="127.0.0.1").replace(b"Host:", b"Host: evil.example\r\nHost:")
    status, _, _ = raw(xray_server, twice)
    assert status == 403


def test_an_origin_is_never_reflected(xray_server):
    data = request_bytes(body=EMPTY_GRAPH).replace(b"\r\n\r\n", b"\r\nOrigin: http://evil.example\r\n\r\n", 1)

    status, headers, _ = raw(xray_server, data)

    assert status == 200
    assert not [name for name in headers if name.startswith("access-control-")]


# --- bounded connections -----------------------------------------------------------------------


def small_api(db_path: Path, **options: Any) -> XRayServer:
    server = XRayServer(port=0, db_path=db_path, **options)
    server.start()
    return server


def test_an_idle_keep_alive_connection_is_closed(db_path):
    server = small_api(db_path, api_idle_timeout=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=10) as connection:
            connection.sendall(
                request_bytes(body=EMPTY_GRAPH).replace(b"Connection: close", b"X-Keep: alive")
            )
            status, headers, _ = read_response(connection)
            assert status == 200 and headers.get("connection") != "close"
            # Then nothing more is sent: the server closes the connection rather than keep it.
            assert connection.recv(65536) == b""
    finally:
        server.stop()


def test_a_connection_that_never_sends_is_closed(db_path):
    server = small_api(db_path, api_idle_timeout=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=10) as connection:
            assert connection.recv(65536) == b""
    finally:
        server.stop()


def test_connections_beyond_the_cap_get_503_json_and_the_others_carry_on(db_path):
    server = small_api(db_path, api_max_connections=4)
    idle = [socket.create_connection(("127.0.0.1", server.tcp_port), timeout=10) for _ in range(4)]
    try:
        # Each idle connection holds a slot (they are accepted in order, before the next one).
        status, headers, answer = raw(server, request_bytes(body=EMPTY_GRAPH))
        assert status == 503
        assert headers["x-amzn-errortype"] == "ServiceUnavailableException"
        assert "4 connections" in answer["message"]
        for connection in idle:
            connection.close()
        # Slots free up as the server sees those connections close.
        deadline = time.monotonic() + 10
        while (status := raw(server, request_bytes(body=EMPTY_GRAPH))[0]) != 200:
            assert time.monotonic() < deadline, f"still {status} after the idle connections closed"
            time.sleep(0.05)
    finally:
        for connection in idle:
            connection.close()
        server.stop()


class StalledApi(api.XRayApiServer):
    """An API whose accepting thread waits on `gate` before serving the first connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.gate = threading.Event()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.gate.wait(30)
        super().process_request(request, client_address)


def test_a_hundred_clients_at_once_wait_in_the_backlog_instead_of_being_reset(db_path):
    store = TraceStore(db_path)
    server = StalledApi(XRayBackend(store), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    connections: list[socket.socket] = []
    try:
        # The accepting thread is stuck: every handshake must complete in the listen backlog.
        for _ in range(100):
            connections.append(socket.create_connection(("127.0.0.1", server.server_port), timeout=5))
        for connection in connections:
            connection.sendall(request_bytes(body=EMPTY_GRAPH))
        server.gate.set()
        statuses = [read_response(connection)[0] for connection in connections]
        assert statuses == [200] * 100
    finally:
        server.gate.set()
        for connection in connections:
            connection.close()
        server.shutdown()
        server.server_close()
        store.close()


# --- property-based: any body, any filter: < 500 and JSON --------------------------------------


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    """One server for every example; it holds one stored trace for filters to run over."""
    server = XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray-api-fuzz") / "traces.db")
    server.start()
    try:
        send_documents(server, fresh_trace("tutorial_ddb_trace.json"))
        yield server
    finally:
        server.stop()


FUZZ_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
MEMBERS = [
    "StartTime", "EndTime", "TimeRangeType", "FilterExpression", "NextToken", "TraceIds", "GroupName",
    "GroupARN", "TraceSegmentDocuments", "SamplingStatisticsDocuments",
]  # fmt: skip


def assert_answers_json_below_500(server: XRayServer, path: str, body: bytes) -> None:
    status, _, answer = post(server, path, body)  # json.loads inside: the answer is JSON
    assert status < 500, answer
    assert isinstance(answer, dict)


@FUZZ_SETTINGS
@given(
    path=st.sampled_from(sorted(api.ROUTES)),
    body=st.one_of(
        JSON_VALUES.map(json.dumps),
        st.dictionaries(st.sampled_from(MEMBERS), JSON_VALUES, max_size=4).map(json.dumps),
    ),
)
def test_any_json_body_gets_an_answer_below_500(fuzz_api, path, body):
    assert_answers_json_below_500(fuzz_api, path, body.encode())


# Times as a client might get them wrong: any number, huge integers, NaN, Infinity, any text.
TIMES = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**100), max_value=2**100)
    | st.text(max_size=30)
    | st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "2026-01-01T00:00:00+14:00"])
)


@FUZZ_SETTINGS
@given(
    path=st.sampled_from(["/TraceSummaries", "/ServiceGraph"]),
    start=TIMES,
    end=TIMES,
    extra=st.dictionaries(st.sampled_from(MEMBERS[2:]), JSON_VALUES, max_size=2),
)
def test_any_time_window_gets_an_answer_below_500(fuzz_api, path, start, end, extra):
    body = json.dumps({"StartTime": start, "EndTime": end, **extra})
    assert_answers_json_below_500(fuzz_api, path, body.encode())


@FUZZ_SETTINGS
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_body_get_an_answer_below_500(fuzz_api, body):
    assert_answers_json_below_500(fuzz_api, "/TraceSummaries", body)


FILTER_TOKENS = st.sampled_from(
    ["(", ")", "NOT", "!", "AND", "OR", "ok", "error", "fault", "http.status", "http.url", "=", "!=",
     "<", ">=", "CONTAINS", "200", "-1e999", '"x"', '"', "annotation.k", "annotation[", "]", "service",
     "id", "name", ":", ",", "{", "}", "true", "1e308", "\\", "responsetime"]
)  # fmt: skip


@FUZZ_SETTINGS
@given(
    expression=st.one_of(
        st.text(max_size=200),
        st.lists(FILTER_TOKENS, max_size=60).map(" ".join),
        st.integers(1, 2000).map(lambda depth: "(" * depth + "ok" + ")" * depth),
    )
)
def test_any_filter_expression_gets_an_answer_below_500(fuzz_api, expression):
    now = time.time()
    body = {"StartTime": now - 600, "EndTime": now + 5, "FilterExpression": expression}
    assert_answers_json_below_500(fuzz_api, "/TraceSummaries", json.dumps(body).encode())
