"""The Lambda Runtime API (version 2018-06-01) for ONE worker process.

The real runtime interface client (awslambdaric) talks to this server exactly as it talks to
Lambda's: it long-polls `GET /invocation/next`, then posts `/invocation/{id}/response` or
`/invocation/{id}/error`, or `/init/error` if the handler cannot be loaded. One worker runs
one invocation at a time, so the state here is a single slot: the invocation waiting to be
handed out, the one in flight, and the one just answered (whose Overhead ends at the next
`/next`).

The client keeps its connection open, so each connection gets one long-lived thread (no
thread per request) and TCP_NODELAY, so small responses are not held back by Nagle's
algorithm waiting for a delayed ACK. Like every server of the stack it answers only loopback
`Host` names, and bounds what a stray client can hold: a few connections, each closed after
`idle_timeout` without a request (a long-polled /next is not idle: it waits for an event).
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from emulator.http_body import BadFraming, BodyTooLarge, ByteStream, read_body
from emulator.loopback import is_loopback_host

API_PREFIX = "/2018-06-01/runtime"
NEXT_PATH = f"{API_PREFIX}/invocation/next"
INIT_ERROR_PATH = f"{API_PREFIX}/init/error"
INVOCATION_PREFIX = f"{API_PREFIX}/invocation/"
# Lambda's synchronous payload limit, for events and responses alike.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
_MAX_HEADER_LINE = 64 * 1024
_MAX_HEADERS = 100
# awslambdaric uses one connection; a few more leave room for a reconnect or a curl by hand.
MAX_CONNECTIONS = 16
# A connection that sends no request for this long is closed.
IDLE_TIMEOUT = 60.0
LISTEN_BACKLOG = 128


def error_payload(error_type: str, message: str) -> bytes:
    """The error document Lambda answers with when the runtime itself failed."""
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class Invocation:
    """One event on its way through a worker. Completed exactly once: by the runtime's
    response or error, by the worker's exit, or by the timeout (whoever comes first)."""

    def __init__(
        self,
        request_id: str,
        event: bytes,
        function_arn: str,
        trace_header: str | None,
        timeout_s: float,
        client_context: str | None = None,
        cognito_identity: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.event = event
        self.function_arn = function_arn
        self.trace_header = trace_header
        self.timeout_s = timeout_s
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.queued_mono = time.monotonic()
        # Set when the runtime receives it from /next (wall clock for X-Ray, monotonic for timeouts).
        self.delivered_at: float | None = None
        self.delivered_mono: float | None = None
        self.done = threading.Event()
        self.outcome: str | None = None  # success | error | timeout | crash
        self.payload = b""
        self.error_type: str | None = None
        self.completed_at: float | None = None
        self._lock = threading.Lock()
        self._worker_ready_reported = False
        self._worker_ready_at: float | None = None
        self._worker_ready_listener: Callable[[float | None], None] | None = None

    def mark_delivered(self) -> int:
        """Record the hand-over to the runtime; return the deadline in epoch milliseconds."""
        self.delivered_mono = time.monotonic()
        self.delivered_at = time.time()
        return int((self.delivered_at + self.timeout_s) * 1000)

    def complete(self, outcome: str, payload: bytes, error_type: str | None = None) -> bool:
        """Record the outcome unless another one got there first; True if this one won."""
        with self._lock:
            if self.outcome is not None:
                return False
            self.outcome = outcome
            self.payload = payload
            self.error_type = error_type
            self.completed_at = time.time()
        self.done.set()
        return True

    def report_worker_ready(self, at: float | None) -> None:
        """The worker asked for its next event (at = wall time), or ended (None)."""
        with self._lock:
            if self._worker_ready_reported:
                return
            self._worker_ready_reported = True
            self._worker_ready_at = at
            listener = self._worker_ready_listener
        if listener is not None:
            listener(at)

    def when_worker_ready(self, listener: Callable[[float | None], None]) -> None:
        """Call listener once the worker is ready for more (now, if it already is)."""
        with self._lock:
            if not self._worker_ready_reported:
                self._worker_ready_listener = listener
                return
            at = self._worker_ready_at
        listener(at)


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    body_too_large: bool
    hosts: list[str]  # every Host field sent


class _BadRequest(Exception):
    pass


class RuntimeApiServer:
    """Serves the Runtime API on 127.0.0.1:<free port> for one worker."""

    def __init__(self, *, idle_timeout: float = IDLE_TIMEOUT, max_connections: int = MAX_CONNECTIONS) -> None:
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(LISTEN_BACKLOG)
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._cond = threading.Condition()
        self._pending: Invocation | None = None
        self._in_flight: Invocation | None = None
        self._awaiting_next: Invocation | None = None
        self._next_waiting = False
        self._stopped = False  # worker exited or server closed: no more invocations
        self._exit_description: str | None = None
        self.init_done_at: float | None = None  # wall time of the first /next
        self.init_error_type: str | None = None
        self._connections: set[socket.socket] = set()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"runtime-api-{self.address}", daemon=True
        )
        self._accept_thread.start()

    # -- what the Lambda service calls --------------------------------------------------

    def dispatch(self, invocation: Invocation) -> None:
        """Queue the worker's next event; the runtime's /next (waiting or coming) takes it."""
        with self._cond:
            if self._pending is not None or self._in_flight is not None:
                raise RuntimeError("the worker already has an invocation")
            if not self._stopped:
                self._pending = invocation
                self._cond.notify_all()
                return
            exit_description = self._exit_description or "runtime stopped"
        # It died between being picked and being handed the event.
        _fail_as_exited(invocation, exit_description)

    def worker_exited(self, exit_description: str) -> None:
        """The process is gone (exit status or signal): fail what it was running."""
        with self._cond:
            self._stopped = True
            self._exit_description = exit_description
            unfinished = self._in_flight or self._pending
            self._in_flight = self._pending = None
            awaiting, self._awaiting_next = self._awaiting_next, None
            self._cond.notify_all()
        if unfinished is not None:
            _fail_as_exited(unfinished, exit_description)
        if awaiting is not None:
            awaiting.report_worker_ready(None)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            unfinished = self._in_flight or self._pending
            self._in_flight = self._pending = None
            awaiting, self._awaiting_next = self._awaiting_next, None
            connections = list(self._connections)
            self._cond.notify_all()
        if unfinished is not None:
            _fail_as_exited(unfinished, self._exit_description or "runtime stopped")
        if awaiting is not None:
            awaiting.report_worker_ready(None)
        # shutdown() wakes the accept() blocked in the other thread; close() alone does not.
        for sock in [self._listener, *connections]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._accept_thread.join(timeout=2)

    # -- HTTP ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                stopped, full = self._stopped, len(self._connections) >= self.max_connections
                if not stopped and not full:
                    self._connections.add(connection)
            if stopped or full:
                if full:
                    with contextlib.suppress(OSError):
                        connection.settimeout(1)
                        _send_error(
                            connection, 429, "TooManyRequestsException", "Too many connections", close=True
                        )
                connection.close()
                continue
            threading.Thread(
                target=self._serve_connection, args=(connection,), name="runtime-api-conn", daemon=True
            ).start()

    def _serve_connection(self, connection: socket.socket) -> None:
        # Bounds every read and write; waiting in /next for an event is no socket call.
        connection.settimeout(self.idle_timeout)
        reader = connection.makefile("rb", buffering=64 * 1024)
        try:
            while True:
                request = _read_request(reader, connection)
                if request is None:
                    return
                if not all(is_loopback_host(host) for host in request.hosts):
                    _send_error(connection, 403, "Forbidden", "Host is not a loopback name", close=True)
                    return
                if not self._handle(request, connection):
                    return
        except (BadFraming, _BadRequest) as error:
            # Where this request ends, and so where the next one starts, is unknown: answer
            # and close.
            reason = error.reason if isinstance(error, BadFraming) else "Bad request syntax"
            with contextlib.suppress(OSError):
                _send_error(connection, 400, "BadRequest", reason, close=True)
            return
        except OSError:  # the client went away, or sent nothing for idle_timeout
            return
        finally:
            with self._cond:
                self._connections.discard(connection)
            reader.close()
            connection.close()

    def _handle(self, request: _Request, connection: socket.socket) -> bool:
        """Answer one request; False closes the connection."""
        if request.path == NEXT_PATH:
            if request.method != "GET":
                return _send_error(connection, 405, "MethodNotAllowed", "Method not allowed")
            return self._next(connection)
        if request.path == INIT_ERROR_PATH:
            if request.method != "POST":
                return _send_error(connection, 405, "MethodNotAllowed", "Method not allowed")
            return self._init_error(request, connection)
        if request.path.startswith(INVOCATION_PREFIX):
            request_id, _, verb = request.path[len(INVOCATION_PREFIX) :].partition("/")
            if request_id and verb in ("response", "error"):
                if request.method != "POST":
                    return _send_error(connection, 405, "MethodNotAllowed", "Method not allowed")
                return self._invocation_result(request, connection, request_id, verb)
        return _send_error(connection, 404, "NotFound", f"No such endpoint: {request.path}")

    def _next(self, connection: socket.socket) -> bool:
        now = time.time()
        with self._cond:
            if self._next_waiting or self._in_flight is not None:
                return _send_error(
                    connection,
                    500,
                    "InvalidStateTransition",
                    "State transition from Running to Ready failed: an invocation is already in progress",
                )
            if self.init_done_at is None:
                self.init_done_at = now
            answered, self._awaiting_next = self._awaiting_next, None
        # The previous invocation's Overhead ends here; its listener sends X-Ray segments.
        if answered is not None:
            answered.report_worker_ready(now)
        with self._cond:
            self._next_waiting = True
            while self._pending is None and not self._stopped:
                self._cond.wait()
            self._next_waiting = False
            invocation = self._pending
            if invocation is None:
                return False  # stopped: the runtime is being shut down
            self._pending = None
            self._in_flight = invocation
            deadline_ms = invocation.mark_delivered()
        headers = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn),
        ]
        if invocation.trace_header:
            headers.append(("Lambda-Runtime-Trace-Id", invocation.trace_header))
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        if invocation.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", invocation.cognito_identity))
        return _send(connection, 200, "OK", headers, invocation.event)

    def _invocation_result(
        self, request: _Request, connection: socket.socket, request_id: str, verb: str
    ) -> bool:
        with self._cond:
            invocation = self._in_flight
            if invocation is None or invocation.request_id != request_id:
                invocation = None
            else:
                self._in_flight = None
                self._awaiting_next = invocation
        if invocation is None:
            return _send_error(connection, 400, "InvalidRequestID", "Invalid request ID")
        if request.body_too_large:
            message = (
                f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
            )
            invocation.complete(
                "error",
                error_payload("Function.ResponseSizeTooLarge", message),
                "Function.ResponseSizeTooLarge",
            )
            return _send_error(
                connection,
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
            )
        if verb == "response":
            invocation.complete("success", request.body)
        else:
            error_type = request.headers.get(ERROR_TYPE_HEADER)
            invocation.complete("error", _error_document(request.body, error_type), error_type)
        return _send_accepted(connection)

    def _init_error(self, request: _Request, connection: socket.socket) -> bool:
        with self._cond:
            if self.init_done_at is not None:
                forbidden = True
                pending = None
            else:
                forbidden = False
                pending, self._pending = self._pending, None
                self._stopped = True  # an environment that failed to init is never used again
                self.init_error_type = request.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown"
                self._cond.notify_all()
        if forbidden:
            return _send_error(connection, 403, "InvalidStateTransition", "Init already completed")
        if request.body_too_large:
            return _send_error(connection, 413, "RequestEntityTooLarge", "Init error too large")
        if pending is not None:
            error_type = self.init_error_type
            pending.complete("error", _error_document(request.body, error_type), error_type)
        return _send_accepted(connection)


def _fail_as_exited(invocation: Invocation, exit_description: str) -> None:
    message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {exit_description}"
    invocation.complete("crash", error_payload("Runtime.ExitError", message), "Runtime.ExitError")


def _error_document(body: bytes, error_type: str | None) -> bytes:
    """The runtime's error JSON as posted; a non-JSON body is wrapped the way Lambda does."""
    try:
        document = json.loads(body)
        if isinstance(document, dict):
            return body
    except ValueError:
        pass
    return error_payload(error_type or "Unhandled", body.decode("utf-8", "replace"))


def _read_request(reader: ByteStream, connection: socket.socket) -> _Request | None:
    request_line = reader.readline(_MAX_HEADER_LINE)
    while request_line in (b"\r\n", b"\n"):  # tolerate blank lines between requests
        request_line = reader.readline(_MAX_HEADER_LINE)
    if not request_line:
        return None  # the client closed the connection
    parts = request_line.decode("latin-1").split()
    if len(parts) != 3:
        raise _BadRequest(request_line)
    method, target, _version = parts
    fields: list[tuple[str, str]] = []  # every field, repeats included: the body framing needs them
    for _ in range(_MAX_HEADERS):
        line = reader.readline(_MAX_HEADER_LINE)
        if line in (b"\r\n", b"\n", b""):
            break
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _BadRequest(line)
        fields.append((name.strip().lower(), value.strip()))
    else:
        raise _BadRequest("too many headers")
    headers = dict(fields)
    path = target.split("?", 1)[0]
    if headers.get("expect", "").lower() == "100-continue":
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        # drain: an oversized body is read to its end and dropped, so the runtime's connection
        # stays usable after the 413.
        body, too_large = read_body(reader, fields, MAX_PAYLOAD_BYTES, drain=True), False
    except BodyTooLarge:
        body, too_large = b"", True
    hosts = [value for name, value in fields if name == "host"]
    return _Request(method, path, headers, body, too_large, hosts)


def _send(
    connection: socket.socket,
    status: int,
    reason: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    close: bool = False,
) -> bool:
    head = f"HTTP/1.1 {status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    if close:
        head += "Connection: close\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    # One write: headers and body leave in the same segment(s).
    connection.sendall(head.encode("latin-1") + body)
    return True


def _send_accepted(connection: socket.socket) -> bool:
    return _send(connection, 202, "Accepted", [("Content-Type", "application/json")], b'{"status":"OK"}')


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error"}


def _send_error(
    connection: socket.socket, status: int, error_type: str, message: str, *, close: bool = False
) -> bool:
    body = error_payload(error_type, message)
    headers = [("Content-Type", "application/json")]
    return _send(connection, status, _REASONS[status], headers, body, close=close)
