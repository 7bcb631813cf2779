"""Lambda's Invoke API over HTTP, as `sam local start-lambda` serves it: `aws lambda invoke
--endpoint-url`, boto3's lambda client and the SDKs reach the same LambdaService the gateway uses.

    POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=$LATEST]

FunctionName is a logical id (as `sam local` takes it), the function's name, or its ARN (full or
partial, with `:$LATEST` or not). X-Amz-Invocation-Type: RequestResponse (the default) answers the
function's result, with `X-Amz-Function-Error: Unhandled` when it failed; Event answers 202 at
once and runs it; DryRun answers 204. `X-Amz-Log-Type: Tail` adds the last 4 KB of the
invocation's log, base64, in X-Amz-Log-Result. Errors are Lambda's: the status and
x-amzn-ErrorType botocore turns into the exception (ResourceNotFoundException, ...).

Traced as a direct invoke is in AWS: with no X-Amzn-Trace-Id, the AWS::Lambda segment starts the
trace (nothing calls it); with one, the trace is continued.

Like every server of the stack it binds 127.0.0.1 and answers only loopback Host names. A request
with an Origin is refused: a web page must not run functions, and no SDK sends one.
"""

import base64
import json
import logging
import re
import socket
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from emulator.app.model import FunctionSpec
from emulator.connection_cap import ConnectionCap, answer_and_close
from emulator.http_body import BadFraming, BodyTooLarge, read_body
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES
from emulator.lambda_.service import InvokeResult, LambdaService, ServiceClosed
from emulator.loopback import is_loopback_host
from emulator.loopback_server import LoopbackHTTPServer
from emulator.tracing.trace_header import TraceHeader, parse_trace_header

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3001  # `sam local start-lambda`'s
IDLE_TIMEOUT_SECONDS = 60.0
MAX_CONNECTIONS = 128
LOG_TAIL_BYTES = 4096  # what Lambda returns of the log with X-Amz-Log-Type: Tail
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# arn:aws:lambda:region:account:function:name[:qualifier], or account:function:name[:qualifier]
_ARN = re.compile(
    r"^(?:arn:[^:]+:lambda:[^:]*:)?(?:\d{12}:)?function:(?P<name>[^:]+)(?::(?P<qualifier>.+))?$"
)


def find_function(functions: dict[str, FunctionSpec], name: str) -> tuple[FunctionSpec | None, str | None]:
    """The function FunctionName names (logical id, name or ARN), and the qualifier it carries."""
    qualifier = None
    match = _ARN.match(name)
    if match:
        name, qualifier = match["name"], match["qualifier"]
    elif ":" in name:  # name:qualifier
        name, _, qualifier = name.partition(":")
    for spec in functions.values():
        if name in (spec.logical_id, spec.function_name):
            return spec, qualifier
    return None, qualifier


class InvokeApiServer(ConnectionCap, LoopbackHTTPServer):
    thread_name = "lambda-invoke-api"

    def __init__(
        self,
        service: LambdaService,
        async_invoker: AsyncInvoker,
        *,
        region: str,
        account_id: str,
        port: int = 0,
    ) -> None:
        self.service = service
        self.async_invoker = async_invoker
        self.region = region
        self.account_id = account_id
        self.idle_timeout = IDLE_TIMEOUT_SECONDS
        self.max_connections = MAX_CONNECTIONS
        super().__init__(port, InvokeRequestHandler)

    def refuse_connection(self, connection: socket.socket) -> None:
        message = f"serving {self.max_connections} connections; retry"
        body = json.dumps({"Type": "Service", "message": message})
        head = (
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nx-amzn-ErrorType: TooManyRequestsException\r\n"
            "Connection: close\r\n\r\n"
        )
        answer_and_close(connection, (head + body).encode())

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("Invoke API connection from %s failed", client_address, exc_info=True)


class InvokeRequestHandler(BaseHTTPRequestHandler):
    server: InvokeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "local-lambda"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not is_loopback_host(hosts[0]):
            self.close_connection = True
            message = "the Host header is not a loopback name"
            self._error(HTTPStatus.FORBIDDEN, "AccessDeniedException", message)
            return False
        if "Origin" in self.headers:
            self.close_connection = True
            self._error(HTTPStatus.FORBIDDEN, "AccessDeniedException", "requests from web pages are refused")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line or headers), as Lambda's JSON errors."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        status = HTTPStatus(code) if code < 500 else HTTPStatus.BAD_REQUEST
        self._error(status, "InvalidRequestContentException", message or status.phrase)

    def do_GET(self) -> None:
        self._unknown()

    def do_PUT(self) -> None:
        self._unknown()

    def do_DELETE(self) -> None:
        self._unknown()

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        match = _INVOKE_PATH.match(parts.path)
        try:
            raw = read_body(self.rfile, self.headers.items(), MAX_PAYLOAD_BYTES)
        except BodyTooLarge:
            self.close_connection = True
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "RequestTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
            )
            return
        except BadFraming as error:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", str(error))
            return
        if match is None:
            self._unknown()
            return
        name = unquote(match["name"])
        spec, qualifier = find_function(self.server.service.functions, name)
        given = parse_qs(parts.query).get("Qualifier")
        if given:
            qualifier = given[0]
        if spec is None or qualifier not in (None, "$LATEST"):
            arn = name if name.startswith("arn:") else self._arn(name)
            self._error(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", f"Function not found: {arn}")
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            self._error(
                HTTPStatus.BAD_REQUEST,
                "ValidationException",
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )
            return
        event = raw if raw.strip() else b"{}"
        try:
            json.loads(event)
        except ValueError as error:
            self._error(
                HTTPStatus.BAD_REQUEST,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error}",
            )
            return
        trace = parse_trace_header(self.headers.get("X-Amzn-Trace-Id"))
        if invocation_type == "DryRun":
            self._send(HTTPStatus.NO_CONTENT, b"", {})
        elif invocation_type == "Event":
            self._invoke_async(spec, event, trace)
        else:
            self._invoke(spec, event, trace, tail=self.headers.get("X-Amz-Log-Type") == "Tail")

    def _invoke(self, spec: FunctionSpec, event: bytes, trace: TraceHeader | None, *, tail: bool) -> None:
        try:
            result = self.server.service.invoke(spec.logical_id, event, trace, tail_log=tail)
        except ServiceClosed:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "ServiceException", "the local Lambda is stopping")
            return
        if result.status_code != 200:  # refused before running: throttled, too large
            error_type = result.error.error_type if result.error else "ServiceException"
            message = result.error.message if result.error else ""
            self._error(HTTPStatus(result.status_code), error_type, message, request_id=result.request_id)
            return
        headers = {
            "X-Amz-Executed-Version": "$LATEST",
            "X-Amzn-Trace-Id": _trace_header(result),
        }
        if result.outcome != "success":
            # Whatever failed (the handler raised, init failed, a timeout, a crash): Lambda still
            # answers 200 and says so in this header, with the error document as the payload.
            headers["X-Amz-Function-Error"] = "Unhandled"
        if tail:
            log = "".join(f"{line.rstrip()}\n" for line in result.log_lines).encode()
            headers["X-Amz-Log-Result"] = base64.b64encode(log[-LOG_TAIL_BYTES:]).decode()
        self._send(HTTPStatus.OK, result.payload, headers, request_id=result.request_id)

    def _invoke_async(self, spec: FunctionSpec, event: bytes, trace: TraceHeader | None) -> None:
        """Accepted at once (202) into Lambda's queue for the function (async_invoke.py), with
        the request id every try of it will run as."""
        try:
            request_id = self.server.async_invoker.submit(spec.logical_id, event, trace)
        except ServiceClosed:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "ServiceException", "the local Lambda is stopping")
            return
        self._send(HTTPStatus.ACCEPTED, b"", {}, request_id=request_id)

    def _unknown(self) -> None:
        self.close_connection = True
        self._error(
            HTTPStatus.NOT_FOUND,
            "UnknownOperationException",
            "the local Lambda serves Invoke: POST /2015-03-31/functions/{FunctionName}/invocations",
        )

    def _arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.server.region}:{self.server.account_id}:function:{name}"

    def _error(
        self, status: HTTPStatus, error_type: str, message: str, *, request_id: str | None = None
    ) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, {"x-amzn-ErrorType": error_type}, request_id=request_id)

    def _send(
        self, status: HTTPStatus, body: bytes, headers: dict[str, str], *, request_id: str | None = None
    ) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def _trace_header(result: InvokeResult) -> str:
    return f"Root={result.trace_id}" if result.trace_id else ""
