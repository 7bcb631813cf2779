"""ConsoleServer: the page's files and a read-only pass-through to the X-Ray and Logs APIs.

    GET  /, /app.js, ...            files of console/web/static/
    GET  /source.json               {"aws", "region", "xray", "logs"}: where the calls go
    POST /xray/<X-Ray REST path>    -> the X-Ray API, unchanged (e.g. /xray/TraceSummaries)
    POST /logs                      -> CloudWatch Logs (JSON 1.1, X-Amz-Target: Logs_20140328.<Op>)

The page calls its own origin only, so the browser needs no CORS and the user's AWS
credentials never reach the page: the server signs each call (upstream.py). Who may call is
request_guard.py's job; which calls, operations.py's.
"""

import ipaddress
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from console.web.operations import LOGS_TARGET_PREFIX, logs_operation, xray_operation
from console.web.request_guard import api_refusal, host_refusal
from console.web.static_files import content_type, resolve
from console.web.upstream import NoCredentials, Upstream, UpstreamUnavailable, aws_upstream, local_upstream

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page's requests are a few hundred bytes of JSON; anything much larger is not the page's.
MAX_BODY_BYTES = 1024 * 1024
IDLE_TIMEOUT_SECONDS = 60.0
XRAY_PREFIX = "/xray/"
LOGS_PATH = "/logs"
SOURCE_PATH = "/source.json"  # where the page's calls go, for its header (no file has this name)
# Sent with everything: scripts only from this origin (no inline script, so an escaped value
# can never run), no framing, no referrer leaking trace ids, nothing cached between runs.
# Styles may be inline because graph drawing sets style attributes on SVG elements.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ConsoleServer:
    """Start with start(), stop with stop(); `url` is where the page is. A None URL means AWS."""

    def __init__(
        self,
        xray_url: str | None,
        logs_url: str | None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "ap-northeast-1",
        aws_endpoint_urls: dict[str, str] | None = None,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        """A None `xray_url` means AWS (the user's credentials), and then a None `logs_url` too.
        A local X-Ray with a None `logs_url` has no logs: the user's AWS account is never read
        unless they asked for AWS. `aws_endpoint_urls` ({"xray": ..., "logs": ...}) replaces AWS's
        endpoints, still signed with the user's credentials (tests point it at a local X-Ray)."""
        if not _is_loopback_address(host):
            # With --aws the proxy reads the user's account with their credentials: it must
            # never listen where another machine can reach it.
            raise ValueError(f"the console serves on a loopback address only, not {host!r}")
        overrides = aws_endpoint_urls or {}
        self.aws = xray_url is None
        self.xray = _upstream("xray", xray_url, region, "X-Ray", overrides.get("xray"))
        self.logs: Upstream | None = None
        if logs_url is not None or xray_url is None:
            self.logs = _upstream("logs", logs_url, region, "CloudWatch Logs", overrides.get("logs"))
        self.static_dir = static_dir
        self._host = host
        self._port = port
        self._httpd: _ConsoleHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the console server is already running")
        self._httpd = _ConsoleHTTPServer((self._host, self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="console-web", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._httpd = None
        self._thread = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the console server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> "ConsoleServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _upstream(service: str, url: str | None, region: str, what: str, aws_override: str | None) -> Upstream:
    if url is None:
        return aws_upstream(service, region, what, endpoint_url=aws_override)
    return local_upstream(url, service, region, what)


class _ConsoleHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], console: ConsoleServer
    ):
        self.console = console
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sam-app-console"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # An answer goes out as headers, then body: with Nagle's algorithm the body waits for the
    # browser to acknowledge the headers, and Chromium delays that acknowledgement by 40 ms
    # (measured: every fetch took 50 ms against 1 ms from Python; with this, as fast).
    disable_nagle_algorithm = True
    server: _ConsoleHTTPServer

    # -- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve_static(with_body=True)

    def do_HEAD(self) -> None:
        self._serve_static(with_body=False)

    def do_POST(self) -> None:
        if self._refused_host():
            return
        reason = api_refusal(
            self.headers.get("Host", ""), self.headers.get("Origin"), self.headers.get("Sec-Fetch-Site")
        )
        if reason is not None:
            self._send_json_error(HTTPStatus.FORBIDDEN, reason, close=True)
            return
        # Read first, so that every answer below leaves the connection ready for the next call.
        body = self._read_json_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        if path.startswith(XRAY_PREFIX):
            self._proxy_xray("/" + path[len(XRAY_PREFIX) :], body)
        elif path == LOGS_PATH:
            self._proxy_logs(body)
        else:
            self._send_json_error(
                HTTPStatus.NOT_FOUND, f"no API at {path[:200]!r}; use /xray/<path> or /logs"
            )

    def _other_method(self) -> None:
        if self._refused_host():
            return
        self._send_json_error(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not served here")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other_method

    # -- static files --------------------------------------------------------------------

    def _serve_static(self, *, with_body: bool) -> None:
        if self._refused_host():
            return
        if self.path.split("?", 1)[0] == SOURCE_PATH:
            self._send_source(with_body=with_body)
            return
        found = resolve(self.server.console.static_dir, self.path)
        if found is None:
            self._send_json_error(HTTPStatus.NOT_FOUND, f"no file {self.path[:200]!r}", with_body=with_body)
            return
        body = found.read_bytes()
        self._send(HTTPStatus.OK, {"Content-Type": content_type(found)}, body, with_body=with_body)

    def _send_source(self, *, with_body: bool) -> None:
        """What the page reads, for its header: local or AWS, and where."""
        console = self.server.console
        source = {
            "aws": console.aws,
            "region": console.xray.region,
            "xray": console.xray.where,
            "logs": console.logs.where if console.logs is not None else None,
        }
        body = json.dumps(source).encode()
        self._send(HTTPStatus.OK, {"Content-Type": "application/json"}, body, with_body=with_body)

    # -- the APIs ------------------------------------------------------------------------

    def _proxy_xray(self, api_path: str, body: bytes) -> None:
        operation = xray_operation(api_path)
        if operation is None:
            self._send_json_error(
                HTTPStatus.FORBIDDEN,
                f"the console makes only read-only X-Ray calls; {api_path[:200]!r} is not one",
            )
            return
        self._forward(self.server.console.xray, api_path, body, {"Content-Type": "application/json"})

    def _proxy_logs(self, body: bytes) -> None:
        target = self.headers.get("X-Amz-Target", "")
        operation = logs_operation(target)
        if operation is None:
            self._send_json_error(
                HTTPStatus.FORBIDDEN,
                f"the console makes only read-only CloudWatch Logs calls; X-Amz-Target {target[:100]!r} "
                f"is not one ({LOGS_TARGET_PREFIX}.FilterLogEvents, GetLogEvents, DescribeLogStreams, "
                "DescribeLogGroups)",
            )
            return
        logs = self.server.console.logs
        if logs is None:
            self._send_json_error(
                HTTPStatus.SERVICE_UNAVAILABLE, "this console has no CloudWatch Logs to read"
            )
            return
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{LOGS_TARGET_PREFIX}.{operation}",
        }
        self._forward(logs, "/", body, headers)

    def _read_json_body(self) -> bytes | None:
        """The request's body if it is a JSON object within the limit; else answers 4xx, None."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_json_error(
                HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length", close=True
            )
            return None
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._send_json_error(
                HTTPStatus.LENGTH_REQUIRED, "a JSON body with a Content-Length is required", close=True
            )
            return None
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._send_json_error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY_BYTES} bytes", close=True
            )
            return None
        body = self.rfile.read(length)
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            self._send_json_error(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return None
        if not isinstance(parsed, dict):
            self._send_json_error(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
            return None
        return body

    def _forward(self, upstream: Upstream, path: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            answer = upstream.call(path, body, headers)
        except NoCredentials as error:
            self._send_json_error(HTTPStatus.UNAUTHORIZED, str(error))
            return
        except UpstreamUnavailable as error:
            self._send_json_error(HTTPStatus.BAD_GATEWAY, str(error))
            return
        headers_back = {"Content-Type": "application/json", **answer.headers}
        self._send(answer.status, headers_back, answer.body)

    # -- answers -------------------------------------------------------------------------

    def _refused_host(self) -> bool:
        reason = host_refusal(self.headers.get("Host", ""))
        if reason is None:
            return False
        self._send_json_error(HTTPStatus.FORBIDDEN, reason, with_body=self.command != "HEAD", close=True)
        return True

    def _send_json_error(
        self, status: HTTPStatus, message: str, *, with_body: bool = True, close: bool = False
    ) -> None:
        body = json.dumps({"message": message}).encode()
        self._send(status, {"Content-Type": "application/json"}, body, with_body=with_body, close=close)

    def _send(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        with_body: bool = True,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in {**SECURITY_HEADERS, **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, header too long) as JSON too."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        self._send_json_error(status, message or status.phrase, close=True)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)
