"""emulator.edge forwards a request as it was signed (body, headers, Host) and streams the
answer back, against an upstream that echoes what it got."""

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from emulator.edge.server import EdgeServer

AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/xray/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=ab"
)


class Echo(BaseHTTPRequestHandler):
    """Answers what it received, in a chunked answer with no Content-Length."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"headers": dict(self.headers.items()), "body": body.decode(), "path": self.path})
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Upstream", "echo")
        self.end_headers()
        for piece in (answer[:10], answer[10:]):
            data = piece.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def edge() -> Iterator[EdgeServer]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    server = EdgeServer({"xray": f"http://127.0.0.1:{upstream.server_address[1]}", "dynamodb": None})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        upstream.shutdown()
        upstream.server_close()


def test_the_request_goes_on_as_signed_and_the_answer_comes_back(edge: EdgeServer) -> None:
    port = edge.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = '{"StartTime": 1, "x": "é"}'.encode()
    # Chunked on the way in: read whole at the edge, sent on with its length.
    connection.putrequest("POST", "/TraceSummaries?a=1", skip_host=True)
    for name, value in {
        "Host": f"localhost:{port}",
        "Authorization": AUTHORIZATION,
        "X-Amz-Date": "20260101T000000Z",
        "Transfer-Encoding": "chunked",
    }.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("X-Upstream") == "echo"
    echoed = json.loads(response.read())
    assert echoed["path"] == "/TraceSummaries?a=1"
    assert echoed["body"] == body.decode()
    assert echoed["headers"]["Host"] == f"localhost:{port}"  # what the client signed
    assert echoed["headers"]["Authorization"] == AUTHORIZATION
    assert echoed["headers"]["X-Amz-Date"] == "20260101T000000Z"
    assert echoed["headers"]["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in echoed["headers"]
    # The connection is kept for the next request.
    connection.request("POST", "/again", body=b"{}", headers={"Authorization": AUTHORIZATION})
    assert json.loads(connection.getresponse().read())["path"] == "/again"
    connection.close()


def test_a_service_that_is_not_running_is_named(edge: EdgeServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", edge.server_address[1], timeout=10)
    authorization = AUTHORIZATION.replace("/xray/", "/dynamodb/")
    connection.request("POST", "/", body=b"{}", headers={"Authorization": authorization})
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 400 and response.getheader("x-amzn-ErrorType") == "UnknownServiceException"
    assert "'dynamodb' is not running" in answer["message"] and "serves: xray" in answer["message"]
