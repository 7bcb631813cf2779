"""The Runtime API server for one worker, spoken to over real HTTP as a runtime would."""

import http.client
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES, Invocation, RuntimeApiServer
from tests import raw_http
from tests.raw_http import split_response

ARN = "arn:aws:lambda:ap-northeast-1:123456789012:function:sam-app-EchoFunction-TEST0123"
BASE = "/2018-06-01/runtime"


@pytest.fixture()
def server() -> Iterator[RuntimeApiServer]:
    api = RuntimeApiServer()
    yield api
    api.close()


def connect(server: RuntimeApiServer) -> http.client.HTTPConnection:
    host, port = server.address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def invocation(request_id: str = "req-1", **options: str) -> Invocation:
    return Invocation(
        request_id,
        b'{"hello": "world"}',
        ARN,
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        3.0,
        **options,
    )


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"", headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_next_hands_over_the_event_with_lambdas_headers(server):
    queued = invocation(client_context='{"custom": {"a": 1}}')
    server.dispatch(queued)

    status, headers, body = call(connect(server), "GET", f"{BASE}/invocation/next")

    assert status == 200
    assert body == b'{"hello": "world"}'
    assert headers["Content-Type"] == "application/json"
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert headers["Lambda-Runtime-Trace-Id"] == queued.trace_header
    assert headers["Lambda-Runtime-Client-Context"] == '{"custom": {"a": 1}}'
    assert "Lambda-Runtime-Cognito-Identity" not in headers
    assert queued.delivered_at is not None
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) == int((queued.delivered_at + 3.0) * 1000)


def test_next_waits_until_there_is_an_invocation(server):
    answers: list[bytes] = []
    runtime = threading.Thread(
        target=lambda: answers.append(call(connect(server), "GET", f"{BASE}/invocation/next")[2])
    )
    runtime.start()
    runtime.join(0.3)
    assert runtime.is_alive() and answers == []

    server.dispatch(invocation())
    runtime.join(5)

    assert answers == [b'{"hello": "world"}']


def test_a_whole_cycle_on_one_kept_alive_connection(server):
    conn = connect(server)
    first, second = invocation("req-1"), invocation("req-2")
    server.dispatch(first)
    call(conn, "GET", f"{BASE}/invocation/next")
    local_port = conn.sock.getsockname()[1]

    status, _, body = call(conn, "POST", f"{BASE}/invocation/req-1/response", b'{"ok": true}')
    assert (status, json.loads(body)) == (202, {"status": "OK"})
    assert first.done.is_set() and (first.outcome, first.payload) == ("success", b'{"ok": true}')

    ready_at: list[float | None] = []
    first.when_worker_ready(ready_at.append)
    server.dispatch(second)
    call(conn, "GET", f"{BASE}/invocation/next")
    assert len(ready_at) == 1 and ready_at[0] is not None  # the Overhead of req-1 ends here

    error = {"errorMessage": "boom", "errorType": "DemoError", "stackTrace": []}
    headers = {"Lambda-Runtime-Function-Error-Type": "DemoError"}
    status, _, _ = call(conn, "POST", f"{BASE}/invocation/req-2/error", json.dumps(error).encode(), headers)
    assert status == 202
    assert (second.outcome, second.error_type, json.loads(second.payload)) == ("error", "DemoError", error)
    assert conn.sock.getsockname()[1] == local_port  # same TCP connection throughout
    # Small answers must not wait for a delayed ACK (Nagle): every accepted socket has NODELAY.
    accepted = list(server._connections)
    assert accepted and all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted)


def test_unknown_request_id_is_400_and_changes_nothing(server):
    conn = connect(server)
    pending = invocation("req-1")
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")

    status, _, body = call(conn, "POST", f"{BASE}/invocation/not-this-one/response", b"{}")

    assert status == 400
    assert json.loads(body)["errorType"] == "InvalidRequestID"
    assert not pending.done.is_set()
    assert call(conn, "POST", f"{BASE}/invocation/req-1/response", b"{}")[0] == 202


def test_unknown_path_is_404_and_wrong_method_405(server):
    conn = connect(server)
    status, _, body = call(conn, "GET", f"{BASE}/nothing/here")
    assert status == 404 and "errorType" in json.loads(body)
    assert call(conn, "POST", f"{BASE}/invocation/next", b"{}")[0] == 405
    assert call(conn, "GET", f"{BASE}/invocation/req-1/response")[0] == 405


def test_a_response_over_6_mb_is_413_and_fails_the_invocation(server):
    conn = connect(server)
    pending = invocation()
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")

    status, _, body = call(conn, "POST", f"{BASE}/invocation/req-1/response", b"x" * (MAX_PAYLOAD_BYTES + 1))

    assert status == 413
    assert json.loads(body)["errorType"] == "RequestEntityTooLarge"
    assert pending.outcome == "error"
    assert json.loads(pending.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    # The connection is still usable: the oversized body was read to its end.
    assert call(conn, "GET", f"{BASE}/nothing")[0] == 404


def test_exactly_6_mb_is_accepted(server):
    conn = connect(server)
    pending = invocation()
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")

    assert call(conn, "POST", f"{BASE}/invocation/req-1/response", b"x" * MAX_PAYLOAD_BYTES)[0] == 202
    assert len(pending.payload) == MAX_PAYLOAD_BYTES


def test_next_again_with_an_invocation_in_flight_is_500(server):
    conn = connect(server)
    server.dispatch(invocation())
    call(conn, "GET", f"{BASE}/invocation/next")

    status, _, body = call(connect(server), "GET", f"{BASE}/invocation/next")

    assert status == 500
    assert json.loads(body)["errorType"] == "InvalidStateTransition"


def test_init_error_fails_the_waiting_invocation(server):
    pending = invocation()
    server.dispatch(pending)
    error = {"errorMessage": "Unable to import module 'app'", "errorType": "Runtime.ImportModuleError"}
    headers = {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"}

    status, _, _ = call(connect(server), "POST", f"{BASE}/init/error", json.dumps(error).encode(), headers)

    assert status == 202
    assert pending.outcome == "error" and pending.error_type == "Runtime.ImportModuleError"
    assert json.loads(pending.payload) == error
    assert server.init_error_type == "Runtime.ImportModuleError"


def test_init_error_after_init_is_403(server):
    conn = connect(server)
    server.dispatch(invocation())
    call(conn, "GET", f"{BASE}/invocation/next")

    status, _, _ = call(connect(server), "POST", f"{BASE}/init/error", b"{}", {})

    assert status == 403


def test_chunked_and_expect_continue_bodies_are_read(server):
    conn = connect(server)
    pending = invocation()
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")

    conn.putrequest("POST", f"{BASE}/invocation/req-1/response")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    conn.send(b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n')
    response = conn.getresponse()
    response.read()

    assert response.status == 202
    assert pending.payload == b'{"a": 1}'


def raw_exchange(server: RuntimeApiServer, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes to the Runtime API on a fresh connection; everything it answers until it closes."""
    host, port = server.address.split(":")
    return raw_http.raw_exchange(host, int(port), data, half_close=half_close, timeout=5)


def post_response(headers: str, body: bytes) -> bytes:
    return f"POST {BASE}/invocation/req-1/response HTTP/1.1\r\n{headers}\r\n".encode() + body


# Would complete req-1 if the server took it for the next request on the connection.
SMUGGLED = f"POST {BASE}/invocation/req-1/response HTTP/1.1\r\nContent-Length: 10\r\n\r\n".encode()
SMUGGLED += b'"smuggled"'

BAD_FRAMING = {
    "non-numeric Content-Length": (
        post_response("Content-Length: abc\r\n", b"{}" + SMUGGLED),
        "Invalid Content-Length: 'abc'",
    ),
    "negative Content-Length": (
        post_response("Content-Length: -2\r\n", b"{}" + SMUGGLED),
        "Invalid Content-Length: '-2'",
    ),
    "bad chunk size": (
        post_response("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n" + SMUGGLED),
        "Invalid chunk size: b'zz'",
    ),
    "chunk missing its CRLF": (
        post_response("Transfer-Encoding: chunked\r\n", b"2\r\n{}0\r\n\r\n" + SMUGGLED),
        "Chunk data is not followed by CRLF",
    ),
    "both Content-Length and Transfer-Encoding": (
        post_response("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED),
        "Both Transfer-Encoding and Content-Length are present",
    ),
    "unsupported Transfer-Encoding": (
        post_response("Transfer-Encoding: gzip\r\n", b"{}" + SMUGGLED),
        "Unsupported Transfer-Encoding: gzip",
    ),
}


def assert_bad_request(reply: bytes, message: str) -> None:
    status_line, headers, body, after = split_response(reply)
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"errorType": "BadRequest", "errorMessage": message}
    assert after == b""  # nothing after the 400: the leftover bytes were not served


@pytest.mark.parametrize("case", list(BAD_FRAMING))
def test_bad_framing_is_400_closes_and_leaves_the_invocation_alone(server, case):
    data, message = BAD_FRAMING[case]
    pending = invocation()
    server.dispatch(pending)
    call(connect(server), "GET", f"{BASE}/invocation/next")

    assert_bad_request(raw_exchange(server, data), message)  # returns once the server has closed

    assert not pending.done.is_set()  # neither the bad request nor the smuggled one reached it
    assert call(connect(server), "POST", f"{BASE}/invocation/req-1/response", b'{"ok": 1}')[0] == 202
    assert (pending.outcome, pending.payload) == ("success", b'{"ok": 1}')


@pytest.mark.parametrize(
    ("headers", "partial_body"),
    [("Content-Length: 10\r\n", b"{}"), ("Transfer-Encoding: chunked\r\n", b"a\r\n{}")],
)
def test_a_body_cut_short_is_400(server, headers, partial_body):
    pending = invocation()
    server.dispatch(pending)
    call(connect(server), "GET", f"{BASE}/invocation/next")

    reply = raw_exchange(server, post_response(headers, partial_body), half_close=True)

    assert_bad_request(reply, "Request body cut short")
    assert not pending.done.is_set()
    assert call(connect(server), "POST", f"{BASE}/invocation/req-1/response", b"{}")[0] == 202


def test_a_chunked_response_over_6_mb_is_413_and_the_connection_stays_usable(server):
    conn = connect(server)
    pending = invocation()
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")
    piece = b"x" * (1024 * 1024)

    conn.putrequest("POST", f"{BASE}/invocation/req-1/response")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for _ in range(7):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()

    assert response.status == 413
    assert json.loads(response.read())["errorType"] == "RequestEntityTooLarge"
    assert json.loads(pending.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    assert call(conn, "GET", f"{BASE}/nothing")[0] == 404


def test_worker_exit_fails_the_invocation_in_flight_as_a_crash(server):
    conn = connect(server)
    pending = invocation()
    server.dispatch(pending)
    call(conn, "GET", f"{BASE}/invocation/next")

    server.worker_exited("signal: killed")

    assert pending.outcome == "crash"
    assert json.loads(pending.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: req-1 Error: Runtime exited with error: signal: killed",
    }


def test_close_releases_a_runtime_blocked_in_next(server):
    conn = connect(server)
    outcome: list[object] = []

    def wait_for_next() -> None:
        try:
            outcome.append(call(conn, "GET", f"{BASE}/invocation/next")[0])
        except (OSError, http.client.HTTPException) as error:
            outcome.append(error)

    runtime = threading.Thread(target=wait_for_next)
    runtime.start()
    runtime.join(0.2)
    server.close()
    runtime.join(5)

    assert not runtime.is_alive()
    assert len(outcome) == 1 and not isinstance(outcome[0], int)


def test_dispatch_to_a_worker_that_already_exited_fails_at_once(server):
    server.worker_exited("exit status 1")
    late = invocation()

    server.dispatch(late)

    assert late.outcome == "crash"
    assert (
        json.loads(late.payload)["errorMessage"]
        == "RequestId: req-1 Error: Runtime exited with error: exit status 1"
    )
