"""The X-Ray API over HTTP: rest-json wire format and routing (moto's "responses" + "urls").

Paths, members and shapes follow botocore's xray service model, so boto3's
`client("xray", endpoint_url=...)` and `aws xray ... --endpoint-url` work unchanged. Errors are
rest-json errors: the status, an `x-amzn-ErrorType` header and `{"message": ...}`. A request
with a wrong shape is refused as a whole (400, nothing stored).
"""

import json
import logging
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.xray.backend import InvalidRequest, XRayBackend
from emulator.xray.times import epoch_seconds
from emulator.xray.traces import TIME_RANGE_TYPES

logger = logging.getLogger(__name__)

# Larger bodies are refused before they are read.
MAX_BODY_BYTES = 16 * 1024 * 1024
# TraceId's length bounds in the service model.
MAX_TRACE_ID_LENGTH = 35
# Enough for any console or CLI use; keeps one request's SQL parameter list bounded.
MAX_TRACE_IDS = 100
MAX_SAMPLING_DOCUMENTS = 25

Body = dict[str, Any]


def put_trace_segments(backend: XRayBackend, body: Body) -> Body:
    documents = _string_list(body, "TraceSegmentDocuments")
    return backend.put_trace_segments(documents)


def batch_get_traces(backend: XRayBackend, body: Body) -> Body:
    return backend.batch_get_traces(_trace_ids(body))


def get_trace_summaries(backend: XRayBackend, body: Body) -> Body:
    start, end = _time_range(body)
    time_range_type = body.get("TimeRangeType", "TraceId")
    if time_range_type not in TIME_RANGE_TYPES:
        raise InvalidRequest(
            f"TimeRangeType must be one of {', '.join(TIME_RANGE_TYPES)}, got {time_range_type!r}"
        )
    filter_expression = _optional_string(body, "FilterExpression")
    next_token = _optional_string(body, "NextToken")
    return backend.get_trace_summaries(start, end, time_range_type, filter_expression, next_token)


def get_service_graph(backend: XRayBackend, body: Body) -> Body:
    start, end = _time_range(body)
    for member in ("GroupName", "GroupARN"):
        # Only the default group exists locally; an unknown group is an error, as in AWS.
        value = _optional_string(body, member)
        if value not in (None, "Default") and not (
            member == "GroupARN" and value and value.endswith("/Default")
        ):
            raise InvalidRequest(
                f"{member} {value!r} does not exist; the local X-Ray has only the Default group"
            )
    return backend.get_service_graph(start, end)


def get_trace_graph(backend: XRayBackend, body: Body) -> Body:
    return backend.get_trace_graph(_trace_ids(body))


def get_sampling_rules(backend: XRayBackend, body: Body) -> Body:
    return backend.get_sampling_rules()


def get_sampling_targets(backend: XRayBackend, body: Body) -> Body:
    documents = body.get("SamplingStatisticsDocuments")
    if not isinstance(documents, list):
        raise InvalidRequest("SamplingStatisticsDocuments is required and must be a list")
    if len(documents) > MAX_SAMPLING_DOCUMENTS:
        raise InvalidRequest(
            f"SamplingStatisticsDocuments has {len(documents)} items; at most 25 are allowed"
        )
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise InvalidRequest(f"SamplingStatisticsDocuments[{index}] must be an object")
        for member in ("RuleName", "ClientID"):
            if not isinstance(document.get(member), str):
                raise InvalidRequest(f"SamplingStatisticsDocuments[{index}].{member} is required (a string)")
        for member in ("RequestCount", "SampledCount"):
            if not _is_int(document.get(member)):
                raise InvalidRequest(
                    f"SamplingStatisticsDocuments[{index}].{member} is required (an integer)"
                )
        _timestamp(document, "Timestamp", f"SamplingStatisticsDocuments[{index}].")
    return backend.get_sampling_targets(documents)


# POST path -> operation, as botocore's model routes them.
ROUTES: dict[str, Callable[[XRayBackend, Body], Body]] = {
    "/TraceSegments": put_trace_segments,
    "/Traces": batch_get_traces,
    "/TraceSummaries": get_trace_summaries,
    "/ServiceGraph": get_service_graph,
    "/TraceGraph": get_trace_graph,
    "/GetSamplingRules": get_sampling_rules,
    "/SamplingTargets": get_sampling_targets,
}


class XRayApiServer(ThreadingHTTPServer):
    daemon_threads = True
    # Restarts on the same port must not wait for TIME_WAIT sockets.
    allow_reuse_address = True

    def __init__(self, backend: XRayBackend, host: str = "127.0.0.1", port: int = 2000) -> None:
        self.backend = backend
        super().__init__((host, port), XRayRequestHandler)


class XRayRequestHandler(BaseHTTPRequestHandler):
    server: XRayApiServer
    protocol_version = "HTTP/1.1"
    server_version = "local-xray"

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        operation = ROUTES.get(path)
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length else 0
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestException", "Content-Length is not a number")
            return
        if size < 0 or size > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(
                HTTPStatus.BAD_REQUEST, "InvalidRequestException", f"body over {MAX_BODY_BYTES} bytes"
            )
            return
        raw = self.rfile.read(size) if size else b""
        if operation is None:
            self._error(
                HTTPStatus.NOT_FOUND, "UnknownOperationException", f"no X-Ray operation at POST {path}"
            )
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            self._error(
                HTTPStatus.BAD_REQUEST, "InvalidRequestException", f"request body is not JSON: {error}"
            )
            return
        if not isinstance(body, dict):
            self._error(
                HTTPStatus.BAD_REQUEST, "InvalidRequestException", "request body must be a JSON object"
            )
            return
        try:
            result = operation(self.server.backend, body)
        except InvalidRequest as error:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestException", str(error))
            return
        except Exception:
            logger.exception("X-Ray API %s failed", path)
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "InternalFailure", "internal error in the local X-Ray"
            )
            return
        self._send(HTTPStatus.OK, result)

    def do_GET(self) -> None:
        self._error(HTTPStatus.NOT_FOUND, "UnknownOperationException", "the X-Ray API takes POST requests")

    def _error(self, status: HTTPStatus, error_type: str, message: str) -> None:
        self._send(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def _send(self, status: HTTPStatus, body: Body, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def _time_range(body: Body) -> tuple[float, float]:
    start = _timestamp(body, "StartTime")
    end = _timestamp(body, "EndTime")
    if end < start:
        raise InvalidRequest("EndTime must not be before StartTime")
    return start, end


def _timestamp(body: Body, member: str, prefix: str = "") -> float:
    """Epoch seconds (what botocore sends for rest-json) or an ISO 8601 string."""
    value = body.get(member)
    if value is None:
        raise InvalidRequest(f"{prefix}{member} is required")
    seconds = epoch_seconds(value)
    if seconds is None:
        raise InvalidRequest(f"{prefix}{member} must be epoch seconds or an ISO 8601 time, got {value!r}")
    return seconds


def _string_list(body: Body, member: str) -> list[str]:
    value = body.get(member)
    if not isinstance(value, list):
        raise InvalidRequest(f"{member} is required and must be a list of strings")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidRequest(f"{member}[{index}] must be a string, got {type(item).__name__}")
    return value


def _trace_ids(body: Body) -> list[str]:
    ids = _string_list(body, "TraceIds")
    if len(ids) > MAX_TRACE_IDS:
        raise InvalidRequest(f"TraceIds has {len(ids)} items; at most {MAX_TRACE_IDS} are allowed")
    for trace_id in ids:
        if not 1 <= len(trace_id) <= MAX_TRACE_ID_LENGTH:
            raise InvalidRequest(f"TraceIds item {trace_id!r} must be 1 to {MAX_TRACE_ID_LENGTH} characters")
    return ids


def _optional_string(body: Body, member: str) -> str | None:
    value = body.get(member)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{member} must be a string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
