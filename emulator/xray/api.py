"""The X-Ray API over HTTP: rest-json wire format and routing (moto's "responses" + "urls").

Paths, members and shapes follow botocore's xray service model, so boto3's
`client("xray", endpoint_url=...)` and `aws xray ... --endpoint-url` work unchanged. Errors are
rest-json errors: the status, an `x-amzn-ErrorType` header and `{"message": ...}`. A request
with a wrong shape is refused as a whole (400, nothing stored).

Whatever a client sends, the answer is a JSON error in that shape, never a 500 or a dropped
connection: http.server's own refusals (a bad request line, an unknown method) included. The
server answers only requests whose Host is a loopback name, so a web page cannot reach it by
DNS rebinding, and sends no CORS headers, so no page can read its answers. Connections are
bounded in number and in idle time.
"""

import json
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.connection_cap import ConnectionCap, answer_and_close
from emulator.loopback import is_loopback_host
from emulator.xray.backend import InvalidRequest, JsonText, XRayBackend
from emulator.xray.documents import MAX_EPOCH_SECONDS, MIN_EPOCH_SECONDS
from emulator.xray.group_scope import group_services, group_trace_ids
from emulator.xray.groups import Group, GroupStore, check_insights, check_tags
from emulator.xray.otlp import http_endpoint as otlp_http
from emulator.xray.telemetry import TelemetryRecords, check_records
from emulator.xray.time_series import DEFAULT_PERIOD_SECONDS, SelectorError, parse_selector, time_series
from emulator.xray.times import epoch_seconds
from emulator.xray.traces import TIME_RANGE_TYPES

logger = logging.getLogger(__name__)

# Larger bodies are refused (413) before they are read. The real daemon uploads at most 50
# documents of 64 KiB per PutTraceSegments; 16 MiB leaves room for any hand-made batch.
MAX_BODY_BYTES = 16 * 1024 * 1024
# A keep-alive connection with no request for this long is closed, so idle clients cannot
# hold connection slots (and their threads) for ever.
IDLE_TIMEOUT_SECONDS = 60.0
# Connections served at once (one thread each). Beyond it a connection is answered 503 and
# closed at once: memory and file descriptors stay bounded however many clients connect.
MAX_CONNECTIONS = 128
# The listen() backlog: socketserver's default of 5 makes the kernel drop or reset
# connections once a few dozen clients connect in the same instant.
LISTEN_BACKLOG = 128
# What a refused connection's request is read of before the 503 (see _refuse_busy).
MAX_REQUEST_HEAD_BYTES = 65536
# TraceId's length bounds in the service model.
MAX_TRACE_ID_LENGTH = 35
# Enough for any console or CLI use; keeps one request's SQL parameter list bounded.
MAX_TRACE_IDS = 100
MAX_SAMPLING_DOCUMENTS = 25
# Bounds from botocore's xray service model: SamplingStatisticsDocument.ClientID is exactly
# 24 characters, RuleName 1 to 32; GetGroupsNextToken 1 to 100; GetInsightSummaries'
# MaxResults 1 to 100, its Token 1 to 2,000 and States one of ACTIVE / CLOSED at most.
CLIENT_ID_LENGTH = 24
MAX_RULE_NAME_LENGTH = 32
MAX_GROUPS_TOKEN_LENGTH = 100
MAX_INSIGHT_RESULTS = 100
MAX_INSIGHT_TOKEN_LENGTH = 2000
INSIGHT_STATES = ("ACTIVE", "CLOSED")
# Periods of GetTimeSeriesServiceStatistics: at least a second, at most a day, and no more
# periods in one window than a month of minutes, so one answer stays bounded.
MAX_PERIOD_SECONDS = 86400
MAX_PERIODS = 31 * 24 * 60

Body = dict[str, Any]


@dataclass
class Services:
    """What the operations work on: the traces, the groups, and the telemetry counts."""

    backend: XRayBackend
    groups: GroupStore
    telemetry: TelemetryRecords = field(default_factory=TelemetryRecords)


def put_trace_segments(services: Services, body: Body) -> Body:
    documents = _string_list(body, "TraceSegmentDocuments")
    return services.backend.put_trace_segments(documents)


def batch_get_traces(services: Services, body: Body) -> Body:
    return services.backend.batch_get_traces(_trace_ids(body))


def get_trace_summaries(services: Services, body: Body) -> JsonText:
    start, end = _time_range(body)
    time_range_type = body.get("TimeRangeType", "TraceId")
    if time_range_type not in TIME_RANGE_TYPES:
        raise InvalidRequest(
            f"TimeRangeType must be one of {', '.join(TIME_RANGE_TYPES)}, got {_preview(time_range_type)}"
        )
    filter_expression = _optional_string(body, "FilterExpression")
    next_token = _optional_string(body, "NextToken")
    # `group.name` / `group.arn` in the filter resolve to that group's own filter expression.
    return services.backend.get_trace_summaries_json(
        start, end, time_range_type, filter_expression, next_token, groups=services.groups.filter_expression
    )


def get_service_graph(services: Services, body: Body) -> Body:
    start, end = _time_range(body)
    # An unknown group is an error, as in AWS; the Default group is every trace.
    group = _optional_group(services, body)
    if group is None or group.filter_expression is None:
        return services.backend.get_service_graph(start, end)
    with services.backend.store.reader() as db:
        graph = group_services(db, start, end, group, services.groups.filter_expression)
    return {"StartTime": start, "EndTime": end, "Services": graph, "ContainsOldGroupVersions": False}


def get_trace_graph(services: Services, body: Body) -> Body:
    return services.backend.get_trace_graph(_trace_ids(body))


def get_sampling_rules(services: Services, body: Body) -> Body:
    # One page holds every rule: a NextToken can only come from elsewhere.
    _no_token(body, "NextToken", "GetSamplingRules")
    return services.backend.get_sampling_rules()


def get_sampling_targets(services: Services, body: Body) -> Body:
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
        if not 1 <= len(document["RuleName"]) <= MAX_RULE_NAME_LENGTH:
            raise InvalidRequest(
                f"SamplingStatisticsDocuments[{index}].RuleName must be 1 to {MAX_RULE_NAME_LENGTH}"
                " characters"
            )
        if len(document["ClientID"]) != CLIENT_ID_LENGTH:
            raise InvalidRequest(
                f"SamplingStatisticsDocuments[{index}].ClientID must be {CLIENT_ID_LENGTH} characters"
            )
        for member in ("RequestCount", "SampledCount"):
            if not _is_int(document.get(member)) or document[member] < 0:
                raise InvalidRequest(
                    f"SamplingStatisticsDocuments[{index}].{member} is required (an integer, 0 or more)"
                )
        borrowed = document.get("BorrowCount")
        if borrowed is not None and (not _is_int(borrowed) or borrowed < 0):
            raise InvalidRequest(
                f"SamplingStatisticsDocuments[{index}].BorrowCount must be an integer, 0 or more"
            )
        _timestamp(document, "Timestamp", f"SamplingStatisticsDocuments[{index}].")
    boosts = body.get("SamplingBoostStatisticsDocuments")
    if boosts is not None and (not isinstance(boosts, list) or len(boosts) > MAX_SAMPLING_DOCUMENTS):
        raise InvalidRequest("SamplingBoostStatisticsDocuments must be a list of at most 25 items")
    answer = services.backend.get_sampling_targets(documents)
    if boosts:
        # No rule here has a SamplingRateBoost: every boost report is left unprocessed.
        answer["UnprocessedBoostStatistics"] = [
            {"RuleName": str(item.get("RuleName", "")) if isinstance(item, dict) else "", "ErrorCode": "400",
             "Message": "no sampling rule of the local X-Ray has a SamplingRateBoost"}
            for item in boosts
        ]  # fmt: skip
    return answer


# -- groups: CreateGroup, GetGroup, GetGroups, UpdateGroup, DeleteGroup (groups.py) -------------


def create_group(services: Services, body: Body) -> Body:
    name = _optional_string(body, "GroupName")
    if name is None:
        raise InvalidRequest("GroupName is required")
    insights = body.get("InsightsConfiguration")
    tags = body.get("Tags")
    group = services.groups.create(
        name,
        _optional_string(body, "FilterExpression"),
        None if insights is None else check_insights(insights),
        None if tags is None else check_tags(tags),
    )
    return {"Group": group.as_dict()}


def get_group(services: Services, body: Body) -> Body:
    name, arn = _optional_string(body, "GroupName"), _optional_string(body, "GroupARN")
    return {"Group": services.groups.get(name, arn).as_dict()}


def get_groups(services: Services, body: Body) -> Body:
    # Every group fits one page (groups.MAX_GROUPS): a NextToken can only come from elsewhere.
    _no_token(body, "NextToken", "GetGroups", MAX_GROUPS_TOKEN_LENGTH)
    return {"Groups": [group.as_dict() for group in services.groups.all()]}


def update_group(services: Services, body: Body) -> Body:
    name, arn = _optional_string(body, "GroupName"), _optional_string(body, "GroupARN")
    insights = body.get("InsightsConfiguration")
    group = services.groups.update(
        name,
        arn,
        _optional_string(body, "FilterExpression"),
        None if insights is None else check_insights(insights),
    )
    return {"Group": group.as_dict()}


def delete_group(services: Services, body: Body) -> Body:
    services.groups.delete(_optional_string(body, "GroupName"), _optional_string(body, "GroupARN"))
    return {}


# -- statistics, telemetry, insights ------------------------------------------------------------


def get_time_series_service_statistics(services: Services, body: Body) -> Body:
    start, end = _time_range(body)
    group = _optional_group(services, body)
    expression = _optional_string(body, "EntitySelectorExpression")
    try:
        selector = None if expression is None else parse_selector(expression)
    except SelectorError as error:
        raise InvalidRequest(f"EntitySelectorExpression is not valid: {error}") from None
    period = body.get("Period")
    if period is None:
        period = DEFAULT_PERIOD_SECONDS
    if not _is_int(period) or not 1 <= period <= MAX_PERIOD_SECONDS:
        raise InvalidRequest(
            f"Period must be whole seconds from 1 to {MAX_PERIOD_SECONDS}, got {_preview(period)}"
        )
    if (end - start) / period > MAX_PERIODS:
        raise InvalidRequest(f"StartTime to EndTime spans more than {MAX_PERIODS} periods of {period} s")
    forecast = body.get("ForecastStatistics")
    if forecast is not None and not isinstance(forecast, bool):
        raise InvalidRequest("ForecastStatistics must be true or false")
    if forecast and selector is None:
        # "Forecast enabled requests require the EntitySelectorExpression ID be provided."
        raise InvalidRequest("ForecastStatistics needs an EntitySelectorExpression")
    # Every period is in one answer: a NextToken can only come from elsewhere.
    _no_token(body, "NextToken", "GetTimeSeriesServiceStatistics")
    with services.backend.store.reader() as db:
        trace_ids = (
            None
            if group is None
            else group_trace_ids(db, start, end, group, services.groups.filter_expression)
        )
        entries = time_series(db, start, end, period, selector, trace_ids)
    # ServiceForecastStatistics is left out: the local X-Ray makes no forecasts.
    return {"TimeSeriesServiceStatistics": entries, "ContainsOldGroupVersions": False}


def put_telemetry_records(services: Services, body: Body) -> Body:
    records = body.get("TelemetryRecords")
    problems = check_records(records)
    if problems:
        raise InvalidRequest("; ".join(problems[:3]))
    for member, limit in (("EC2InstanceId", 20), ("Hostname", 255), ("ResourceARN", 500)):
        value = _optional_string(body, member)
        if value is not None and len(value) > limit:
            raise InvalidRequest(f"{member} must be at most {limit} characters")
    assert isinstance(records, list)  # check_records found no problem
    services.telemetry.add(records)
    return {}


def get_insight_summaries(services: Services, body: Body) -> Body:
    _time_range(body)
    _optional_group(services, body)
    states = body.get("States")
    if states is not None and (
        not isinstance(states, list)
        or len(states) > 1
        or any(state not in INSIGHT_STATES for state in states)
    ):
        raise InvalidRequest("States must be a list of at most one of ACTIVE, CLOSED")
    results = body.get("MaxResults")
    if results is not None and (not _is_int(results) or not 1 <= results <= MAX_INSIGHT_RESULTS):
        raise InvalidRequest(f"MaxResults must be an integer from 1 to {MAX_INSIGHT_RESULTS}")
    _no_token(body, "NextToken", "GetInsightSummaries", MAX_INSIGHT_TOKEN_LENGTH)
    # Insights are X-Ray's anomaly detection over a group's recent history: the local X-Ray
    # detects none, so there is never one to list.
    return {"InsightSummaries": []}


# POST path -> operation, as botocore's model routes them (each operation's `requestUri`).
ROUTES: dict[str, Callable[[Services, Body], Body | JsonText]] = {
    "/TraceSegments": put_trace_segments,
    "/Traces": batch_get_traces,
    "/TraceSummaries": get_trace_summaries,
    "/ServiceGraph": get_service_graph,
    "/TraceGraph": get_trace_graph,
    "/GetSamplingRules": get_sampling_rules,
    "/SamplingTargets": get_sampling_targets,
    "/CreateGroup": create_group,
    "/GetGroup": get_group,
    "/Groups": get_groups,
    "/UpdateGroup": update_group,
    "/DeleteGroup": delete_group,
    "/TimeSeriesServiceStatistics": get_time_series_service_statistics,
    "/TelemetryRecords": put_telemetry_records,
    "/InsightSummaries": get_insight_summaries,
}


class XRayApiServer(ConnectionCap, ThreadingHTTPServer):
    daemon_threads = True
    # Restarts on the same port must not wait for TIME_WAIT sockets.
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        backend: XRayBackend,
        host: str = "127.0.0.1",
        port: int = 2000,
        *,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.backend = backend
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        super().__init__((host, port), XRayRequestHandler)
        # Groups live in the trace store's file (a table of their own); opened once bound, so
        # a port that is taken leaves nothing open.
        self.services = Services(backend, GroupStore(backend.store.path, region=backend.region))

    def server_close(self) -> None:
        super().server_close()
        if hasattr(self, "services"):
            self.services.groups.close()

    def refuse_connection(self, connection: socket.socket) -> None:
        """A 503 JSON answer: the connection is over the cap."""
        limit = self.max_connections
        body = json.dumps(
            {"message": f"the local X-Ray API is serving {limit} connections, its limit; retry"}
        )
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nx-amzn-ErrorType: ServiceUnavailableException\r\n"
            "Retry-After: 1\r\nConnection: close\r\n\r\n"
        )
        answer_and_close(connection, (head + body).encode())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints these to stderr; a client that hung up is not news.
        logger.debug("X-Ray API connection from %s failed", client_address, exc_info=True)


class XRayRequestHandler(BaseHTTPRequestHandler):
    server: XRayApiServer
    protocol_version = "HTTP/1.1"
    server_version = "local-xray"

    def setup(self) -> None:
        super().setup()
        # A connection that sends nothing for this long (between requests, or inside one)
        # times out; http.server then closes it.
        self.connection.settimeout(self.server.idle_timeout)

    def parse_request(self) -> bool:
        """http.server's parsing, then the Host check: only loopback names are answered.

        A page that re-points its own DNS name at 127.0.0.1 still sends that name, and is refused.
        """
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not is_loopback_host(hosts[0]):
            self.close_connection = True
            shown = ", ".join(repr(host[:100]) for host in hosts) or "none"
            self._error(
                HTTPStatus.FORBIDDEN,
                "AccessDeniedException",
                f"Host header {shown} is not a loopback name: the local X-Ray API answers only"
                " localhost, 127.0.0.1 or [::1] (with any port)",
            )
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, headers, unknown method), as JSON 4xx."""
        status = HTTPStatus(code)
        if status == HTTPStatus.NOT_IMPLEMENTED:
            status = HTTPStatus.METHOD_NOT_ALLOWED  # an unknown method is the client's mistake
        elif status >= 500:
            status = HTTPStatus.BAD_REQUEST  # e.g. 505 for `HTTP/2.0` on the request line
        if self.request_version == "HTTP/0.9":
            # The request line was unreadable: answer as HTTP/1.1, with a status line.
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._error(status, "InvalidRequestException", message or status.phrase)

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        operation = ROUTES.get(path)
        raw = self._read_body()
        if raw is None:
            return
        if path == otlp_http.PATH:
            self._otlp_traces(raw)
            return
        if operation is None:
            self._error(
                HTTPStatus.NOT_FOUND, "UnknownOperationException", f"no X-Ray operation at POST {path}"
            )
            return
        body = self._parse_body(raw)
        if body is None:
            return
        try:
            result = operation(self.server.services, body)
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

    def _otlp_traces(self, raw: bytes) -> None:
        """OpenTelemetry's OTLP/HTTP traces, as X-Ray's OTLP endpoint takes them (emulator.xray.otlp)."""
        try:
            answer = otlp_http.handle(self.headers, raw, self.server.backend.store)
        except Exception:
            logger.exception("X-Ray API POST %s failed", otlp_http.PATH)
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "InternalFailure", "internal error in the local X-Ray"
            )
            return
        otlp_http.write(self, answer)

    def do_GET(self) -> None:
        self.close_connection = True  # a body it may have sent is not read: the framing is lost
        self._error(HTTPStatus.NOT_FOUND, "UnknownOperationException", "the X-Ray API takes POST requests")

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering why it cannot be read."""
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True  # the framing is unknown: the connection cannot be reused
            self._error(
                HTTPStatus.LENGTH_REQUIRED,
                "InvalidRequestException",
                "Transfer-Encoding is not supported; send the body with a Content-Length",
            )
            return None
        length = (self.headers.get("Content-Length") or "").strip()
        if length and not (length.isascii() and length.isdigit()):
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestException", "Content-Length is not a number")
            return None
        size = _content_length(length)
        if size > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "RequestEntityTooLargeException",
                f"the body is {length[:20]} bytes; the local X-Ray API takes at most {MAX_BODY_BYTES}",
            )
            return None
        raw = self.rfile.read(size) if size else b""
        if len(raw) < size:
            self.close_connection = True
            self._error(
                HTTPStatus.BAD_REQUEST,
                "InvalidRequestException",
                f"the body ended after {len(raw)} of its {size} bytes (Content-Length)",
            )
            return None
        return raw

    def _parse_body(self, raw: bytes) -> Body | None:
        """The body as a JSON object, or None after answering why it is not one."""
        try:
            body = json.loads(raw, parse_constant=_refuse_constant) if raw.strip() else {}
        except RecursionError:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidRequestException", "request body nests too deeply")
            return None
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
            self._error(
                HTTPStatus.BAD_REQUEST, "InvalidRequestException", f"request body is not JSON: {error}"
            )
            return None
        if not isinstance(body, dict):
            self._error(
                HTTPStatus.BAD_REQUEST, "InvalidRequestException", "request body must be a JSON object"
            )
            return None
        return body

    def _error(self, status: HTTPStatus, error_type: str, message: str) -> None:
        self._send(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def _send(self, status: HTTPStatus, body: Body | JsonText, headers: dict[str, str] | None = None) -> None:
        # JsonText is encoded already (GetTraceSummaries: the stored summaries as they are).
        payload = (body if isinstance(body, JsonText) else json.dumps(body)).encode()
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


def _content_length(digits: str) -> int:
    """A Content-Length of ASCII digits ("" for none) as a number; past the limit, limit + 1.

    Compared as text first: int() refuses numbers of 4,300 digits or more.
    """
    if len(digits) > len(str(MAX_BODY_BYTES)):
        return MAX_BODY_BYTES + 1
    return int(digits) if digits else 0


def _time_range(body: Body) -> tuple[float, float]:
    start = _timestamp(body, "StartTime")
    end = _timestamp(body, "EndTime")
    if end < start:
        raise InvalidRequest("EndTime must not be before StartTime")
    return start, end


def _timestamp(body: Body, member: str, prefix: str = "") -> float:
    """Epoch seconds (what botocore sends for rest-json) or an ISO 8601 string.

    Within the span intake stores (1970 to 2106): no document lies outside it, and a bound
    keeps SQL parameters and datetime conversions in range.
    """
    value = body.get(member)
    if value is None:
        raise InvalidRequest(f"{prefix}{member} is required")
    seconds = epoch_seconds(value)
    if seconds is None:
        raise InvalidRequest(
            f"{prefix}{member} must be epoch seconds or an ISO 8601 time, got {_preview(value)}"
        )
    if not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise InvalidRequest(
            f"{prefix}{member} {_preview(value)} is out of range:"
            f" epoch seconds from {MIN_EPOCH_SECONDS} to {MAX_EPOCH_SECONDS} (1970 to 2106)"
        )
    return seconds


def _preview(value: Any) -> str:
    """`value` for an error message: short, whatever its size (an int of 4,000 digits...)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= 80 else f"{text[:77]}..."


def _refuse_constant(name: str) -> Any:
    # json.loads takes NaN and Infinity; JSON (and AWS's parsers) do not.
    raise ValueError(f"{name} is not a JSON value")


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


def _optional_group(services: Services, body: Body) -> Group | None:
    """The group GroupName / GroupARN names (both: the same one), None when neither is sent."""
    name, arn = _optional_string(body, "GroupName"), _optional_string(body, "GroupARN")
    if name is None and arn is None:
        return None
    return services.groups.get(name, arn)


def _no_token(body: Body, member: str, operation: str, max_length: int | None = None) -> None:
    """Refuse a pagination token for an operation that answers in one page (none was issued)."""
    token = _optional_string(body, member)
    if token is None:
        return
    if max_length is not None and not 1 <= len(token) <= max_length:
        raise InvalidRequest(f"{member} must be 1 to {max_length} characters")
    raise InvalidRequest(f"{member} is not valid: the local X-Ray answers {operation} in one page")


def _optional_string(body: Body, member: str) -> str | None:
    value = body.get(member)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{member} must be a string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
