"""The edge port: one URL (`AWS_ENDPOINT_URL`) for DynamoDB, CloudWatch Logs, X-Ray and Lambda.

Like every server of the stack it binds 127.0.0.1 and answers only loopback Host names (a page
re-pointing its own name at 127.0.0.1 still sends that name). A request with an Origin, or a
cross-site Sec-Fetch-Site, is refused: no SDK sends one, and a web page must not reach the
tables, the traces or the functions through here (moto would even reflect its Origin). moto's
management endpoints (/moto-api/) are not reachable through it either.
"""

import contextlib
import json
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from emulator.connection_cap import ConnectionCap, answer_and_close
from emulator.edge.proxy import UpstreamFailed, forward
from emulator.edge.routing import Unrouted, route, signed_service
from emulator.http_body import BadFraming, BodyTooLarge, read_body
from emulator.loopback import is_loopback_host
from emulator.loopback_server import LoopbackHTTPServer

logger = logging.getLogger(__name__)

DEFAULT_PORT = 4566  # LocalStack's edge port, which users' AWS_ENDPOINT_URL already names
IDLE_TIMEOUT_SECONDS = 60.0
MAX_CONNECTIONS = 256
# The largest request a served service takes is a DynamoDB batch (16 MB); Lambda's is 6 MB.
MAX_BODY_BYTES = 32 * 1024 * 1024
_BROWSER_SITES = {"cross-site", "same-site"}


class EdgeServer(ConnectionCap, LoopbackHTTPServer):
    thread_name = "edge"

    def __init__(self, upstreams: dict[str, str | None], *, port: int = 0) -> None:
        """`upstreams`: signing name → the local service's URL (None: not running)."""
        self.upstreams = upstreams
        self.idle_timeout = IDLE_TIMEOUT_SECONDS
        self.max_connections = MAX_CONNECTIONS
        super().__init__(port, EdgeRequestHandler)

    def refuse_connection(self, connection: socket.socket) -> None:
        body = json.dumps(
            {"__type": "ThrottlingException", "message": f"serving {self.max_connections} connections; retry"}
        )
        head = (
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"Content-Length: {len(body)}\r\nx-amzn-ErrorType: ThrottlingException\r\n"
            "Connection: close\r\n\r\n"
        )
        answer_and_close(connection, (head + body).encode())

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("edge connection from %s failed", client_address, exc_info=True)


class EdgeRequestHandler(BaseHTTPRequestHandler):
    server: EdgeServer
    protocol_version = "HTTP/1.1"
    server_version = "local-edge"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line or headers), as AWS JSON errors."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        status = code if code < 500 else HTTPStatus.BAD_REQUEST
        self._error(Unrouted(status, "BadRequest", message or HTTPStatus(status).phrase))

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _proxy(self) -> None:
        refused = self._refusal()
        if refused is not None:
            self.close_connection = True
            self._error(refused)
            return
        service = signed_service(self.headers.get("Authorization"), self.path)
        upstream = route(service, self.server.upstreams)
        if isinstance(upstream, Unrouted):
            self._drain_or_close()
            self._error(upstream)
            return
        try:
            body = read_body(self.rfile, self.headers.items(), MAX_BODY_BYTES)
        except BadFraming as error:
            self.close_connection = True
            self._error(Unrouted(400, "SerializationException", str(error)))
            return
        except BodyTooLarge:
            self.close_connection = True
            self._error(Unrouted(413, "RequestEntityTooLargeException", f"over {MAX_BODY_BYTES} bytes"))
            return
        try:
            forward(upstream, self.command, self.path, self.headers.items(), body, self._answer)
        except UpstreamFailed as error:
            self._error(Unrouted(502, "ServiceUnavailableException", f"{service} did not answer: {error}"))
        except OSError:  # the client went away mid-answer
            self.close_connection = True

    def _refusal(self) -> Unrouted | None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not is_loopback_host(hosts[0]):
            return Unrouted(
                403,
                "AccessDeniedException",
                "the Host header is not a loopback name; use 127.0.0.1 or localhost",
            )
        if "Origin" in self.headers or self.headers.get("Sec-Fetch-Site", "").lower() in _BROWSER_SITES:
            return Unrouted(
                403, "AccessDeniedException", "requests from web pages are refused by the local endpoint"
            )
        if self.path.split("?")[0].startswith("/moto-api"):
            return Unrouted(
                403, "AccessDeniedException", "moto's management API is not served on the local endpoint"
            )
        return None

    def _drain_or_close(self) -> None:
        """The body of a refused request is not read: close the connection after answering, so
        it is never taken for the next request."""
        if self.headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True

    def _answer(self, status: int, reason: str, headers: list[tuple[str, str]]) -> Callable[[bytes], None]:
        self.send_response_only(status, reason)
        chunked = self.command != "HEAD" and not any(name.lower() == "content-length" for name, _ in headers)
        for name, value in headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(piece: bytes) -> None:
            if not chunked:
                self.wfile.write(piece)
            elif piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(b"0\r\n\r\n")
            if not piece:
                self.wfile.flush()

        return write

    def _error(self, error: Unrouted) -> None:
        body = json.dumps({"__type": error.error_type, "message": error.message}).encode()
        with contextlib.suppress(OSError):
            self.send_response(error.status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-ErrorType", error.error_type)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("edge: " + format, *args)
