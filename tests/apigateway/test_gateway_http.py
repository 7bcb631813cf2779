"""The gateway over real HTTP, with the real LambdaService running the fixture app's functions."""

import http.client
import json
import re
import socket
import time

import pytest

from emulator.apigateway.gateway import Gateway
from emulator.tracing.trace_header import new_segment_id, new_trace_id
from tests import raw_http
from tests.raw_http import split_response
from tests.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow

INTERNAL_ERROR = {"message": "Internal server error"}
MISSING_TOKEN = {"message": "Missing Authentication Token"}


@pytest.fixture(scope="module")
def stack(fixture_app_template, lambda_runtime_dir):
    with running_stack(fixture_app_template, lambda_runtime_dir) as running:
        yield running


def echo(stack: RunningStack, method: str, path: str, **kwargs) -> tuple[dict, dict]:
    response = request(method, stack.url + path, **kwargs)
    assert response.status == 200, response.body
    answer = response.json()
    return answer["event"], answer


def test_echo_event_has_every_proxy_field(stack):
    response = request(
        "GET",
        stack.url + "/Prod/echo?color=red&color=blue&single=1",
        headers={"X-Custom": "yes", "User-Agent": "pytest-agent"},
    )
    assert response.status == 200
    answer = response.json()
    event = answer["event"]
    assert event["resource"] == "/echo"
    assert event["path"] == "/echo"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"color": "blue", "single": "1"}
    assert event["multiValueQueryStringParameters"] == {"color": ["red", "blue"], "single": ["1"]}
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == stack.app.account_id
    assert context["apiId"] == stack.app.api_id
    assert context["domainName"] == f"{stack.app.api_id}.execute-api.{stack.app.region}.amazonaws.com"
    assert context["domainPrefix"] == stack.app.api_id
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/Prod/echo"
    assert context["protocol"] == "HTTP/1.1"
    assert context["stage"] == "Prod"
    assert context["resourcePath"] == "/echo"
    assert re.fullmatch(r"[0-9a-f]{6}", context["resourceId"])
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "pytest-agent"
    assert context["identity"]["accessKey"] is None and context["identity"]["userArn"] is None
    # The ids in the event are the ones API Gateway answers with.
    assert context["requestId"] == response.header("x-amzn-RequestId")
    assert context["extendedRequestId"] == response.header("x-amz-apigw-id")
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 60
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    # The function's own headers and multiValueHeaders both reach the client.
    assert response.header("X-Echo") == "yes"
    assert response.header_values("Set-Cookie") == ["a=1", "b=2"]
    assert response.header("Content-Type") == "application/json"
    # Template environment (Globals merged, !Ref resolved) and the function's identity.
    assert answer["environ"]["FROM_GLOBALS"] == "globals-value"
    assert answer["environ"]["TABLE_NAME"] == "Items"
    assert answer["function_name"] == stack.app.functions["EchoFunction"].function_name
    assert answer["memory_limit_in_mb"] == "256"


def test_routes_answer_with_and_without_the_stage_prefix(stack):
    with_stage, _ = echo(stack, "GET", "/Prod/echo")
    without, _ = echo(stack, "GET", "/echo")
    assert with_stage["path"] == without["path"] == "/echo"
    assert with_stage["requestContext"]["path"] == without["requestContext"]["path"] == "/Prod/echo"


def test_path_parameter(stack):
    event, _ = echo(stack, "GET", "/items/item%2042")
    assert event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "item 42"}
    assert event["path"] == "/items/item 42"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_greedy_proxy_parameter_with_any_method(stack, method):
    event, _ = echo(stack, method, "/Prod/files/a/b/c.txt?v=1")
    assert event["resource"] == "/files/{proxy+}"
    assert event["httpMethod"] == method
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["queryStringParameters"] == {"v": "1"}


def test_text_body_arrives_as_text(stack):
    event, _ = echo(
        stack, "POST", "/echo", body=b'{"key": "value"}', headers={"Content-Type": "application/json"}
    )
    assert event["body"] == '{"key": "value"}'
    assert event["isBase64Encoded"] is False


def test_body_is_text_when_the_api_declares_no_binary_media_types(stack):
    # API Gateway base64-encodes only BinaryMediaTypes (tests/apigateway/test_api_templates.py);
    # this API declares none, so even an octet-stream body reaches the function as text.
    event, _ = echo(
        stack, "POST", "/echo", body=b"plain bytes", headers={"Content-Type": "application/octet-stream"}
    )
    assert (event["body"], event["isBase64Encoded"]) == ("plain bytes", False)


def test_function_status_code_is_passed_on(stack):
    response = request("GET", stack.url + "/echo?status=418")
    assert response.status == 418


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("GET", "/Prod/nope"), ("POST", "/items/1"), ("DELETE", "/crash"), ("GET", "/files")],
)
def test_unknown_route_or_method_is_403_missing_authentication_token(stack, method, path):
    response = request(method, stack.url + path)
    assert response.status == 403
    assert response.json() == MISSING_TOKEN
    assert response.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"


def test_payload_over_10_mb_is_413(stack):
    host, port = "127.0.0.1", stack.gateway.port
    with socket.create_connection((host, port), timeout=10) as conn:
        head = f"POST /echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: {10 * 1024 * 1024 + 1}\r\n\r\n"
        conn.sendall(head.encode() + b"x" * 1024)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1]) == {"message": "Request Too Long"}


# A request that must never be served: if the gateway took it for the next request on the
# connection, a second answer (403 Missing Authentication Token) would follow the 400.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def raw_exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes to the gateway on a fresh connection; everything it answers until it closes."""
    return raw_http.raw_exchange("127.0.0.1", port, data, half_close=half_close)


def post(headers: str, body: bytes) -> bytes:
    return f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode() + body


BAD_FRAMING = {
    "non-numeric Content-Length": (
        post("Content-Length: abc\r\n", b"hello" + SMUGGLED),
        "Invalid Content-Length: 'abc'",
    ),
    "negative Content-Length": (
        post("Content-Length: -5\r\n", b"hello" + SMUGGLED),
        "Invalid Content-Length: '-5'",
    ),
    "differing Content-Lengths": (
        post("Content-Length: 5\r\nContent-Length: 7\r\n", b"hello" + SMUGGLED),
        "Differing Content-Length values",
    ),
    "bad chunk size": (
        post("Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        "Invalid chunk size: b'zz'",
    ),
    "chunk missing its CRLF": (
        post("Transfer-Encoding: chunked\r\n", b"5\r\nhello0\r\n\r\n" + SMUGGLED),
        "Chunk data is not followed by CRLF",
    ),
    "both Content-Length and Transfer-Encoding": (
        post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED),
        "Both Transfer-Encoding and Content-Length are present",
    ),
    "unsupported Transfer-Encoding": (
        post("Transfer-Encoding: gzip\r\n", b"hello" + SMUGGLED),
        "Unsupported Transfer-Encoding: gzip",
    ),
    "chunked not last": (
        post("Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n" + SMUGGLED),
        "Transfer-Encoding chunked must be the last transfer coding",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FRAMING))
def test_bad_framing_is_400_and_closes_the_connection(stack, case):
    data, message = BAD_FRAMING[case]

    reply = raw_exchange(stack.gateway.port, data)  # returns once the gateway has closed

    status_line, headers, body, after = split_response(reply)
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"message": message}
    assert after == b""  # the leftover bytes were not served as a next request
    event, _ = echo(stack, "POST", "/echo", body=b"next")  # a fresh connection is served
    assert event["body"] == "next"


@pytest.mark.parametrize(
    ("headers", "partial_body"),
    [("Content-Length: 10\r\n", b"hello"), ("Transfer-Encoding: chunked\r\n", b"a\r\nhello")],
)
def test_a_body_cut_short_is_400(stack, headers, partial_body):
    reply = raw_exchange(stack.gateway.port, post(headers, partial_body), half_close=True)

    status_line, _, body, after = split_response(reply)
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert json.loads(body) == {"message": "Request body cut short"}
    assert after == b""
    event, _ = echo(stack, "POST", "/echo", body=b"next")
    assert event["body"] == "next"


def test_a_chunked_body_with_extensions_and_trailers_arrives_whole(stack):
    chunked = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
    data = post("Transfer-Encoding: chunked\r\nConnection: close\r\n", chunked)

    status_line, _, body, after = split_response(raw_exchange(stack.gateway.port, data))

    assert status_line == b"HTTP/1.1 200 OK"
    assert json.loads(body)["event"]["body"] == "hello, world"
    assert after == b""


def test_stop_does_not_wait_for_a_poll_interval(stack):
    gateway = Gateway(stack.app, stack.stack.lambda_service, port=0)
    gateway.start()
    time.sleep(0.05)  # serve_forever is asleep in select()
    started = time.monotonic()
    gateway.stop()
    assert time.monotonic() - started < 0.2  # socketserver's loop would take up to 0.5 s


@pytest.mark.parametrize("path", ["/raise", "/bad", "/crash", "/missing", "/sleep"])
def test_function_failures_are_502(stack, path):
    started = time.monotonic()
    response = request("GET", stack.url + path)
    assert response.status == 502
    assert response.json() == INTERNAL_ERROR
    if path == "/sleep":  # Timeout: 1 in the template; the handler would sleep 5 s
        assert 0.9 < time.monotonic() - started < 4


def test_the_stack_still_answers_after_a_crash(stack):
    assert request("GET", stack.url + "/crash").status == 502
    event, _ = echo(stack, "GET", "/echo")
    assert event["path"] == "/echo"


def test_keep_alive_serves_several_requests_on_one_connection(stack):
    port = stack.gateway.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        first = request("GET", stack.url + "/echo", connection=conn)
        sock = conn.sock
        second = request("GET", stack.url + "/echo", connection=conn)
        assert (first.status, second.status) == (200, 200)
        assert conn.sock is sock  # the same TCP connection
    finally:
        conn.close()


def test_incoming_trace_is_continued_and_recorded(stack):
    root, parent = new_trace_id(), new_segment_id()
    response = request(
        "GET", stack.url + "/echo", headers={"X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1"}
    )
    assert response.status == 200
    assert response.header("X-Amzn-Trace-Id") == f"Root={root};Sampled=1"
    answer = response.json()
    passed = dict(part.split("=", 1) for part in answer["event"]["headers"]["X-Amzn-Trace-Id"].split(";"))
    assert passed["Root"] == root and passed["Sampled"] == "1"
    assert answer["environ"]["_X_AMZN_TRACE_ID"].startswith(f"Root={root};")

    [stage] = stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage")
    assert stage["name"] == "sam-app/Prod"
    assert stage["parent_id"] == parent
    assert stage["http"]["response"]["status"] == 200
    assert stage["http"]["request"]["method"] == "GET"
    # As the API Gateway developer guide's stage segment has them.
    assert stage["aws"]["api_gateway"] == {
        "account_id": stack.app.account_id,
        "rest_api_id": stack.app.api_id,
        "stage": "Prod",
        "request_id": response.header("x-amzn-RequestId"),
    }
    assert stage["aws"]["xray"] == {"sampling_rule_name": "Default"}
    assert stage["metadata"]["default"]["extended_request_id"] == response.header("x-amz-apigw-id")
    assert stage["http"]["response"]["content_length"] == len(response.body)
    [lambda_call] = stage["subsegments"]
    # The Lambda subsegment is the parent the gateway passed on to Lambda.
    assert lambda_call["id"] == passed["Parent"]
    assert lambda_call["aws"]["function_name"] == stack.app.functions["EchoFunction"].function_name
    assert lambda_call["http"]["request"]["method"] == "GET"
    assert lambda_call["http"]["response"]["content_length"] > len(response.body)  # the proxy result
    assert stage["start_time"] <= lambda_call["start_time"] <= lambda_call["end_time"] <= stage["end_time"]
    service = stack.collector.for_trace(root, origin="AWS::Lambda")
    assert service and service[0]["parent_id"] == lambda_call["id"]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_lambda_subsegment_records_the_api_method(stack, method):
    root = new_trace_id()
    response = request(method, stack.url + "/echo", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert response.status == 200
    [stage] = stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage")
    [lambda_call] = stage["subsegments"]
    assert stage["http"]["request"]["method"] == lambda_call["http"]["request"]["method"] == method


def test_new_trace_when_none_is_sent(stack):
    response = request("GET", stack.url + "/echo")
    match = re.fullmatch(
        r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Sampled=1", response.header("X-Amzn-Trace-Id") or ""
    )
    assert match
    [stage] = stack.collector.for_trace(match.group(1), origin="AWS::ApiGateway::Stage")
    assert "parent_id" not in stage


def test_failed_invocation_is_a_fault_on_the_stage_segment(stack):
    root = new_trace_id()
    response = request("GET", stack.url + "/raise", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert response.status == 502
    [stage] = stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage")
    assert stage["fault"] is True and stage["http"]["response"]["status"] == 502


def test_sampled_0_is_passed_on_and_nothing_is_recorded(stack):
    root = new_trace_id()
    response = request("GET", stack.url + "/echo", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=0"})
    assert response.status == 200
    assert response.header("X-Amzn-Trace-Id") == f"Root={root};Sampled=0"
    answer = response.json()
    assert "Sampled=0" in answer["event"]["headers"]["X-Amzn-Trace-Id"]
    assert "Sampled=0" in answer["environ"]["_X_AMZN_TRACE_ID"]
    assert stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage", timeout=1.0) == []
    assert stack.collector.for_trace(root, origin="AWS::Lambda", timeout=0.2) == []


def test_function_logs_are_prefixed_with_the_function(stack):
    # This request's own lines, found by its request id: the shared stack logs other tests' too.
    request_id = request("GET", stack.url + "/echo").json()["request_id"]
    own = [(name, line) for name, line in stack.logs if request_id in line]
    assert ("EchoFunction", f"START RequestId: {request_id} Version: $LATEST") in own
    assert {name for name, _ in own} == {"EchoFunction"}


def test_stop_closes_keep_alive_connections(fixture_app_template, lambda_runtime_dir):
    with running_stack(fixture_app_template, lambda_runtime_dir) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.gateway.port, timeout=20)
        assert request("GET", running.url + "/echo", connection=conn).status == 200
        sock = conn.sock
    try:
        sock.settimeout(5)
        assert sock.recv(1) == b""  # closed by the gateway, not left to a 60 s idle timeout
    finally:
        conn.close()
