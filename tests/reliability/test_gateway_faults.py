"""The gateway under bad input and load, over real sockets: 4xx for what the client got wrong,
502 only for what the function got wrong, bounded connections, and never a hang.

Most cases run the real Gateway in front of a stand-in Lambda (answers in microseconds, so
hypothesis can send hundreds of requests); the 6 MB case runs the whole stack.
"""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.apigateway.gateway import Gateway
from emulator.apigateway.proxy_integration import RESULT_KEYS, MalformedResult, parse_result
from emulator.app.model import AppSpec, FunctionSpec, Route
from tests.raw_http import raw_exchange, split_response
from tests.stack_helpers import request, running_stack

INTERNAL_ERROR = {"message": "Internal server error"}
OK_RESULT = json.dumps({"statusCode": 200, "headers": {"X-Fn": "yes"}, "body": "ok"}).encode()


@dataclass
class Outcome:
    """What the stand-in Lambda answers: InvokeResult's fields the gateway reads."""

    payload: bytes
    outcome: str = "success"
    status_code: int = 200
    request_id: str = "00000000-0000-0000-0000-000000000000"


class StandInLambda:
    """Answers every invoke with `answer` (OK_RESULT unless a test sets another)."""

    def __init__(self) -> None:
        self.answer = Outcome(OK_RESULT)
        self.lock = threading.Lock()

    def invoke(self, logical_id: str, event: bytes, trace: object) -> Outcome:
        return self.answer


@dataclass
class GatewayUnderTest:
    gateway: Gateway
    function: StandInLambda
    logs: list[str]

    @property
    def port(self) -> int:
        return self.gateway.port

    def exchange(self, data: bytes, *, half_close: bool = False) -> bytes:
        return raw_exchange("127.0.0.1", self.port, data, half_close=half_close)

    def get(self, path: str = "/fn", headers: dict[str, str] | None = None) -> Any:
        return request("GET", f"{self.gateway.url}{path}", headers=headers)


def app_spec() -> AppSpec:
    function = FunctionSpec(
        logical_id="Fn",
        function_name="sam-app-Fn-TEST0123",
        handler="app.handler",
        runtime="python3.11",
        code_dir=Path("."),
        timeout=3,
        memory_size=128,
        environment={},
        tracing="PassThrough",
    )
    return AppSpec(
        stack_name="sam-app",
        region="ap-northeast-1",
        account_id="123456789012",
        stage="Prod",
        api_id="abcdef0123",
        api_tracing=False,
        functions={"Fn": function},
        routes=[Route("ANY", "/fn", "Fn")],
        tables=[],
    )


@pytest.fixture()
def make_gateway() -> Iterator[Callable[..., GatewayUnderTest]]:
    started: list[Gateway] = []

    def make(**options: Any) -> GatewayUnderTest:
        function, logs = StandInLambda(), list[str]()
        gateway = Gateway(app_spec(), function, port=0, log=logs.append, **options)
        gateway.start()
        started.append(gateway)
        return GatewayUnderTest(gateway, function, logs)

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture()
def gw(make_gateway: Callable[..., GatewayUnderTest]) -> GatewayUnderTest:
    return make_gateway()


def responses(reply: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every response in `reply`, in order; AssertionError if anything is not one."""
    found = []
    while reply:
        if reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):  # interim: no body, the answer follows
            reply = reply[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
            continue
        status_line, headers, body, reply = split_response(reply)
        version, status, *_ = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1", status_line
        found.append((int(status), headers, body))
    return found


def assert_still_serving(gw: GatewayUnderTest) -> None:
    response = gw.get()
    assert response.status == 200 and response.body == b"ok"


# -- framing and request lines -------------------------------------------------------------


@pytest.mark.parametrize("size", [b"-1", b"+5", b"-0", b"0x10", b" 5", b"f" * 40, b"1" * 5000])
def test_a_bad_or_huge_chunk_size_is_refused_without_reading_the_body(gw, size):
    data = b"POST /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n"
    # The body that would follow is never sent: the answer must come from the size line alone.
    [(status, headers, body)] = responses(gw.exchange(data))

    assert status in (400, 413)
    assert headers["connection"] == "close"
    assert "message" in json.loads(body)
    assert_still_serving(gw)


MALFORMED_REQUEST_LINES = {
    "one word": b"GARBAGE\r\n\r\n",
    "no version (HTTP/0.9)": b"GET /fn\r\n\r\n",
    "four words": b"GET /fn HTTP/1.1 extra\r\nHost: 127.0.0.1\r\n\r\n",
    "HTTP/2.0 on an HTTP/1.1 port": b"GET /fn HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n",
    "not HTTP": b"GET /fn FTP/1.0\r\n\r\n",
    "a header without a colon": b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon\r\n\r\n",
    # Dropped silently before, with the framing it announced: the chunks became the next request.
    "space before a header's colon": b"POST /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "a folded header line": b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n\r\n",
    "request line of 70,000 bytes": b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("case", list(MALFORMED_REQUEST_LINES))
def test_a_malformed_request_gets_a_json_4xx_with_a_status_line(gw, case):
    [(status, headers, body)] = responses(gw.exchange(MALFORMED_REQUEST_LINES[case], half_close=True))

    assert 400 <= status < 500
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"message"}
    assert_still_serving(gw)


def test_an_unknown_method_is_answered_like_a_method_the_api_lacks(gw):
    [(status, headers, body)] = responses(gw.exchange(b"BREW /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))

    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


# -- the function's result -----------------------------------------------------------------


HEADER_INJECTIONS: dict[str, dict[str, Any]] = {
    "CRLF in a value": {"headers": {"X-A": "a\r\nSet-Cookie: evil=1"}},
    "LF in a value": {"headers": {"X-A": "a\nSet-Cookie: evil=1"}},
    "CR in a multi-value": {"multiValueHeaders": {"X-A": ["ok", "b\rSet-Cookie: evil=1"]}},
    "CRLF in a name": {"headers": {"X-A\r\nSet-Cookie": "evil=1"}},
    "a space in a name": {"headers": {"Set-Cookie evil": "1"}},
    "NUL in a value": {"headers": {"X-A": "a\x00evil"}},
    "a lone surrogate": {"headers": {"X-A": "\ud800evil"}},
}


@pytest.mark.parametrize("case", list(HEADER_INJECTIONS))
def test_a_result_header_that_would_inject_is_502_and_logged(gw, case):
    gw.function.answer = Outcome(
        json.dumps({"statusCode": 200, "body": "x", **HEADER_INJECTIONS[case]}).encode()
    )

    reply = gw.exchange(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    [(status, headers, body)] = responses(reply)
    assert status == 502 and json.loads(body) == INTERNAL_ERROR
    assert b"evil" not in reply and "set-cookie" not in headers
    assert any("malformed Lambda proxy response" in line and "header" in line for line in gw.logs)


def test_a_header_value_beyond_latin_1_goes_out_as_utf_8(gw):
    gw.function.answer = Outcome(json.dumps({"statusCode": 200, "headers": {"X-Name": "日本"}}).encode())

    reply = gw.exchange(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    assert reply.startswith(b"HTTP/1.1 200 ")
    assert "X-Name: 日本\r\n".encode() in reply


def test_lambdas_refusal_is_502_with_its_reason_logged(gw):
    error = {
        "errorMessage": "Request must be smaller than 6291456 bytes",
        "errorType": "RequestTooLargeException",
    }
    gw.function.answer = Outcome(json.dumps(error).encode(), outcome="error", status_code=413)

    response = gw.get()

    assert response.status == 502 and response.json() == INTERNAL_ERROR
    [line] = [line for line in gw.logs if "Lambda invocation failed" in line]
    assert "sam-app-Fn-TEST0123" in line and "413" in line and "RequestTooLargeException" in line


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
HEADER_MAPS = st.dictionaries(
    st.text(max_size=8), JSON_SCALARS | st.lists(JSON_SCALARS, max_size=2), max_size=3
)
PROXY_RESULTS = st.fixed_dictionaries(
    {},
    optional={
        "statusCode": st.integers(0, 700) | st.text(max_size=5) | JSON_VALUES,
        "headers": HEADER_MAPS | JSON_VALUES,
        "multiValueHeaders": HEADER_MAPS | JSON_VALUES,
        "body": st.text() | JSON_VALUES,
        "isBase64Encoded": st.booleans() | JSON_VALUES,
    },
) | st.dictionaries(st.sampled_from([*sorted(RESULT_KEYS), "extra"]), JSON_VALUES, max_size=4)


@settings(max_examples=300, deadline=None)
@given(result=PROXY_RESULTS)
def test_any_result_maps_to_a_safe_response_or_malformed(result):
    try:
        response = parse_result(json.dumps(result).encode())
    except MalformedResult:
        return
    assert 100 <= response.status <= 599
    for name, value in response.headers:
        assert name and all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}' for c in name)
        assert not any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value)
        value.encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=PROXY_RESULTS)
def test_any_result_through_the_gateway_is_a_response_or_502(gw, result):
    gw.function.answer = Outcome(json.dumps(result).encode())

    [(status, _, body)] = responses(
        gw.exchange(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    )

    try:
        expected = parse_result(json.dumps(result).encode())
    except MalformedResult:
        assert status == 502 and json.loads(body) == INTERNAL_ERROR
    else:
        assert status == expected.status


# -- arbitrary bytes -------------------------------------------------------------------------

REQUEST_PIECES = st.sampled_from(
    [
        b"GET /fn HTTP/1.1\r\n", b"POST /Prod/fn HTTP/1.1\r\n", b"GET /nope HTTP/1.0\r\n",
        b"Host: 127.0.0.1\r\n", b"Host: evil.example\r\n", b"Content-Length: 5\r\n",
        b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n", b"Connection: close\r\n",
        b"Expect: 100-continue\r\n", b"\r\n", b"\n", b"\r", b"5\r\nhello\r\n", b"-1\r\n", b"0\r\n\r\n",
        b"ffffffffffffffffffff\r\n", b" ", b":", b"\x00", b"\xff",
    ]
)  # fmt: skip
REQUEST_BYTES = st.lists(REQUEST_PIECES | st.binary(max_size=20), max_size=12).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=REQUEST_BYTES)
def test_arbitrary_request_bytes_never_get_a_5xx_or_a_hang(gw, data):
    # raw_exchange's socket timeout (10 s) turns a hang into a failure.
    for status, headers, body in responses(gw.exchange(data, half_close=True)):
        assert status < 500, (status, body)
        assert headers["content-type"] == "application/json" or body == b"ok"
    assert_still_serving(gw)


# -- Host: DNS rebinding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3000", "localhost.evil.example", "10.0.0.1", ""]
)
def test_a_host_that_is_not_loopback_is_403(gw, host):
    reply = gw.exchange(f"GET /fn HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())

    [(status, headers, body)] = responses(reply)
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    assert "x-fn" not in headers  # the function never ran


def test_a_second_host_header_that_is_not_loopback_is_403(gw):
    [(status, _, _)] = responses(
        gw.exchange(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n")
    )
    assert status == 403


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:3000", "api.localhost:1", "127.0.0.1:80", "[::1]:3000"]
)
def test_loopback_hosts_are_served(gw, host):
    response = gw.get(headers={"Host": host})
    assert response.status == 200 and response.body == b"ok"


def test_the_gateway_adds_no_cors_header_of_its_own(gw):
    response = gw.get(headers={"Origin": "http://evil.example"})

    assert response.status == 200
    assert not [name for name, _ in response.headers if name.lower().startswith("access-control-")]


# -- connections -----------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    event = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        event.wait(0.02)
    raise AssertionError("condition not met")


def test_connections_over_the_cap_get_429_and_are_closed(make_gateway):
    gw = make_gateway(max_connections=4)
    idle = [socket.create_connection(("127.0.0.1", gw.port), timeout=10) for _ in range(4)]
    try:
        # Accepted in order: the fifth finds four open and is refused at once.
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as fifth:
            fifth.sendall(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while chunk := fifth.recv(65536):
                reply += chunk
        [(status, headers, body)] = responses(reply)
        assert status == 429 and json.loads(body) == {"message": "Too Many Requests"}
        assert headers["connection"] == "close"
    finally:
        idle.pop().close()

    # One slot is free again once the gateway has seen that client leave.
    def served() -> bool:
        try:
            return gw.get().status == 200
        except ConnectionError:
            return False

    wait_until(served)
    for connection in idle:
        connection.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout(make_gateway):
    gw = make_gateway(idle_timeout=0.3)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as connection:
        connection.sendall(b"GET /fn HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        # Kept alive after the answer, then closed by the gateway: recv sees the end (b"").
        while chunk := connection.recv(65536):
            reply += chunk
    [(status, headers, _)] = responses(reply)
    assert status == 200 and "connection" not in headers


def test_32_concurrent_clients_are_all_served(gw):
    def client(_: int) -> list[int]:
        statuses = []
        for _ in range(25):  # a new connection each time: every request goes through accept()
            statuses.append(gw.get().status)
        return statuses

    with ThreadPoolExecutor(32) as pool:
        statuses = [status for batch in pool.map(client, range(32)) for status in batch]

    assert statuses == [200] * 800


# -- the whole stack: Lambda's 6 MB limit ----------------------------------------------------


@pytest.mark.slow
def test_a_body_over_lambdas_6_mb_is_502_with_lambdas_reason_logged(fixture_app_template, lambda_runtime_dir):
    with running_stack(fixture_app_template, lambda_runtime_dir) as stack:
        response = request("POST", stack.url + "/echo", body=b"x" * (7 * 1024 * 1024))

        assert response.status == 502 and response.json() == INTERNAL_ERROR
        reasons = [line for _, line in stack.logs if "Lambda invocation failed with status: 413" in line]
        assert len(reasons) == 1 and "RequestTooLargeException" in reasons[0]
