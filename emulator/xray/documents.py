"""Segment documents: validation, and the facts the store indexes, extracted once at insert.

Field names are the X-Ray segment document reference's. Extracting everything a query needs
here (status flags, HTTP fields, annotations, inferred downstream nodes) is what lets the store
answer GetServiceGraph and GetTraceSummaries without parsing stored JSON again.
"""

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlsplit

# 1-<8 hex digits: epoch seconds>-<24 hex digits>, as PutTraceSegments documents it.
TRACE_ID_RE = re.compile(r"^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$")
SEGMENT_ID_RE = re.compile(r"^[0-9a-fA-F]{16}$")
# X-Ray's limit on one segment document.
MAX_DOCUMENT_BYTES = 64 * 1024
# Subsegments nest; a bound keeps a hostile document from exhausting the stack.
MAX_DEPTH = 64
# The JSON itself: subsegments nest as object > list > object, so MAX_DEPTH levels of them
# take about twice as many, plus room for the fields inside (http.request, metadata...).
# Anything deeper is refused at intake, so that no later reader (BatchGetTraces re-encoding a
# document, the terminal console) can run out of stack on a stored one.
MAX_JSON_DEPTH = 2 * MAX_DEPTH + 64
# Times are epoch seconds. X-Ray cannot index a trace outside the span its trace id can name
# (the request's start second in 8 hexadecimal digits: 1970 to 2106), and a time outside it
# (-1e308, 1e308, NaN, Infinity) cannot be drawn on any timeline, so such documents are
# refused at intake rather than stored to break every later map and trace list.
MIN_EPOCH_SECONDS = 0
MAX_EPOCH_SECONDS = 16**8
# Indexed integers (http.response.status) are SQLite INTEGERs: signed 64 bits.
MAX_INDEXED_INT = 2**63 - 1
# An unpaired UTF-16 surrogate (`"\ud800"`) parses into a str that cannot be encoded as UTF-8:
# SQLite, the terminal and every JSON reader downstream would choke on it.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


class InvalidDocument(ValueError):
    """The document is not a segment document X-Ray would accept; the message says why."""


class InvalidJson(InvalidDocument):
    """The document is not JSON at all (counted apart from well-formed but invalid ones)."""


@dataclass(frozen=True)
class Status:
    """error = 4xx, throttle = 429 (also an error), fault = 5xx, as X-Ray classifies them."""

    error: bool = False
    fault: bool = False
    throttle: bool = False


@dataclass(frozen=True)
class SpanFacts:
    """One segment or subsegment, at any nesting level of a document."""

    span_id: str
    start_time: float
    end_time: float | None
    status: Status
    # Set for subsegments that X-Ray turns into an inferred node (namespace aws or remote).
    inferred_name: str | None = None
    inferred_type: str | None = None


@dataclass(frozen=True)
class AnnotationFacts:
    key: str
    value: str | float | bool


@dataclass(frozen=True)
class DocumentFacts:
    """A validated document and the columns the store keeps for it."""

    trace_id: str
    id: str
    parent_id: str | None
    kind: str  # "segment" or "subsegment"
    name: str
    origin: str
    start_time: float
    end_time: float | None
    in_progress: bool
    status: Status
    http_url: str | None
    http_method: str | None
    http_status: int | None
    http_useragent: str | None
    http_clientip: str | None
    user: str | None
    document: str
    spans: list[SpanFacts] = field(default_factory=list)
    annotations: list[AnnotationFacts] = field(default_factory=list)

    @property
    def trace_epoch(self) -> int:
        """The request's start second, encoded in the trace id (TimeRangeType=TraceId)."""
        return int(self.trace_id[2:10], 16)


def parse_document(raw: str | bytes) -> DocumentFacts:
    """Parse and validate one JSON segment document; raise InvalidDocument naming the problem.

    Nothing else escapes: whatever the input, the caller gets facts or InvalidDocument.
    """
    text = _utf8_text(raw)
    try:
        obj = json.loads(text)
    except RecursionError:
        raise InvalidJson(
            f"document is not valid JSON: it nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError as error:
        # JSONDecodeError, and also the int parser's limit on digits (a plain ValueError).
        raise InvalidJson(f"document is not valid JSON: {error}") from None
    _check_json(obj, text)
    return extract(obj, text)


def _utf8_text(raw: str | bytes) -> str:
    """The document as text, within X-Ray's size limit, or InvalidJson.

    Bytes must be UTF-8 (json.loads would also guess UTF-16 and UTF-32, which X-Ray does not take).
    """
    if isinstance(raw, bytes):
        size = len(raw)
    else:
        try:
            size = len(raw.encode())
        except UnicodeEncodeError:
            raise InvalidJson("document is not valid JSON: it holds an unpaired UTF-16 surrogate") from None
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"document is {size} bytes; X-Ray accepts at most {MAX_DOCUMENT_BYTES}")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJson(
            f"document is not valid JSON: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None


def _check_json(obj: Any, text: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH, or holding a string that is not UTF-8."""
    # Surrogates can only come from \u escapes: without one, there is no string to check.
    check_strings = _SURROGATE_ESCAPE_RE.search(text) is not None
    # Nesting needs a bracket per level (brackets inside strings count too: an upper bound),
    # so most documents skip the walk: it is on the path of every segment.
    if not check_strings and text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return
    pending: list[tuple[Any, int]] = [(obj, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            items: list[Any] = list(value.values())
            if check_strings:
                items.extend(value.keys())
        elif isinstance(value, list):
            items = value
        else:
            if check_strings and isinstance(value, str) and not _is_utf8(value):
                raise InvalidDocument(f"a string holds an unpaired UTF-16 surrogate: {ascii(value)[:60]}")
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidDocument(f"document nests deeper than {MAX_JSON_DEPTH} levels")
        pending.extend((item, depth + 1) for item in items)


def _is_utf8(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def extract(obj: Any, text: str) -> DocumentFacts:
    """Validate a decoded document (`text` is what gets stored) and extract its facts."""
    if not isinstance(obj, dict):
        raise InvalidDocument(f"document must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("type", "segment")
    if kind not in ("segment", "subsegment"):
        raise InvalidDocument(f"type must be 'segment' or 'subsegment', got {kind!r}")
    trace_id = obj.get("trace_id")
    if not isinstance(trace_id, str) or not TRACE_ID_RE.match(trace_id):
        raise InvalidDocument(
            _field_problem("trace_id", trace_id, "like 1-58406520-a006649127e371903a2de979")
        )
    parent_id = obj.get("parent_id")
    if kind == "subsegment" and parent_id is None:
        raise InvalidDocument("parent_id is missing; a subsegment sent on its own needs it")
    if parent_id is not None and not (isinstance(parent_id, str) and SEGMENT_ID_RE.match(parent_id)):
        raise InvalidDocument(_field_problem("parent_id", parent_id, "16 hexadecimal digits"))

    spans: list[SpanFacts] = []
    annotations: list[AnnotationFacts] = []
    _walk(obj, "", 0, spans, annotations)
    root = spans[0]
    http = _object(obj.get("http"))
    request = _object(http.get("request"))
    response = _object(http.get("response"))
    status_code = response.get("status")
    if _is_int(status_code) and abs(status_code) > MAX_INDEXED_INT:
        raise InvalidDocument(_field_problem("http.response.status", status_code, "an HTTP status code"))
    user = obj.get("user")
    return DocumentFacts(
        trace_id=trace_id.lower(),
        id=root.span_id,
        parent_id=parent_id.lower() if parent_id else None,
        kind=kind,
        name=obj["name"],
        origin=obj["origin"] if isinstance(obj.get("origin"), str) else "",
        start_time=root.start_time,
        end_time=root.end_time,
        in_progress=root.end_time is None,
        status=root.status,
        http_url=_str_or_none(request.get("url")),
        http_method=_str_or_none(request.get("method")),
        http_status=status_code if _is_int(status_code) else None,
        http_useragent=_str_or_none(request.get("user_agent")),
        http_clientip=_str_or_none(request.get("client_ip")),
        user=_str_or_none(user),
        document=text,
        spans=spans,
        annotations=annotations,
    )


def _walk(
    obj: dict[str, Any], path: str, depth: int, spans: list[SpanFacts], annotations: list[AnnotationFacts]
) -> None:
    """Validate one (sub)segment and its subsegments, collecting spans and annotations."""
    if depth > MAX_DEPTH:
        raise InvalidDocument(f"subsegments nest deeper than {MAX_DEPTH} levels")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidDocument(f"{path}name is missing or not a non-empty string")
    if len(name) > 200:
        raise InvalidDocument(f"{path}name is {len(name)} characters; X-Ray allows at most 200")
    span_id = obj.get("id")
    if not isinstance(span_id, str) or not SEGMENT_ID_RE.match(span_id):
        raise InvalidDocument(_field_problem(f"{path}id", span_id, "16 hexadecimal digits"))
    start = _epoch_seconds(obj, "start_time", path)
    end = obj.get("end_time")
    in_progress = obj.get("in_progress") is True
    end_time: float | None = None
    if end is None:
        if not in_progress:
            raise InvalidDocument(f"{path}end_time is missing; give end_time or in_progress: true")
    else:
        checked_end = _epoch_seconds(obj, "end_time", path)
        if checked_end < start:
            raise InvalidDocument(f"{path}end_time {end!r} is before {path}start_time {start!r}")
        if not in_progress:
            end_time = checked_end

    namespace = obj.get("namespace")
    inferred_name: str | None = None
    inferred_type: str | None = None
    if depth > 0 or obj.get("type") == "subsegment":
        inferred_name, inferred_type = inferred_node(obj, name, namespace)
    spans.append(
        SpanFacts(
            span_id=span_id.lower(),
            start_time=start,
            end_time=end_time,
            status=_status(obj),
            inferred_name=inferred_name,
            inferred_type=inferred_type,
        )
    )
    found = obj.get("annotations")
    if found is not None:
        if not isinstance(found, dict):
            raise InvalidDocument(f"{path}annotations must be an object of key: value")
        for key, value in found.items():
            annotations.append(
                AnnotationFacts(key=key, value=_annotation_value(value, f"{path}annotations.{key}"))
            )
    children = obj.get("subsegments")
    if children is None:
        return
    if not isinstance(children, list):
        raise InvalidDocument(f"{path}subsegments must be a list")
    for index, child in enumerate(children):
        if not isinstance(child, dict):
            raise InvalidDocument(f"{path}subsegments[{index}] must be an object")
        _walk(child, f"{path}subsegments[{index}].", depth + 1, spans, annotations)


# The X-Ray SDKs name an AWS call's subsegment by the SDK's name for the service: the Python
# SDK by botocore's endpoint prefix ("dynamodb"), the Java and Node.js SDKs by the service name
# ("DynamoDB"). X-Ray shows the service as AWS names it: the developer guide's inferred segment
# is "DynamoDB", its SNS node "SNS" of type AWS::SNS (xray-api-gettingdata.md).
_AWS_SERVICE_NAMES = {
    "dynamodb": "DynamoDB",
    "sns": "SNS",
    "sqs": "SQS",
    "s3": "S3",
    "lambda": "Lambda",
    "kinesis": "Kinesis",
    "states": "StepFunctions",
    "events": "EventBridge",
    "ssm": "SimpleSystemsManagement",
    "secretsmanager": "SecretsManager",
}


def aws_service_name(name: str) -> str:
    """The name X-Ray gives the AWS service an SDK subsegment called `name`."""
    return _AWS_SERVICE_NAMES.get(name.lower(), name)


def inferred_node(obj: dict[str, Any], name: str, namespace: Any) -> tuple[str | None, str | None]:
    """The (name, type) of the node X-Ray infers from a subsegment: AWS and remote HTTP calls."""
    if namespace == "aws":
        table = _object(obj.get("aws")).get("table_name")
        if isinstance(table, str) and table:
            return table, "AWS::DynamoDB::Table"
        # Other AWS services appear under the service's name, e.g. "SNS", type "AWS::SNS".
        service = aws_service_name(name)
        return service, f"AWS::{service}"
    if namespace == "remote":
        url = _object(_object(obj.get("http")).get("request")).get("url")
        return (_host(url) or name), "remote"
    return None, None


def inferred_segment_name(obj: dict[str, Any]) -> str:
    """The name of the segment X-Ray infers from an aws/remote subsegment: the service called
    ("DynamoDB", not the table, which names the node) or, for a remote call, the subsegment's."""
    name = obj.get("name")
    if not isinstance(name, str):
        return ""
    return aws_service_name(name) if obj.get("namespace") == "aws" else name


def span_status(obj: dict[str, Any]) -> Status:
    """The error / fault / throttle flags of one (sub)segment, as intake reads them."""
    return _status(obj)


def _host(url: Any) -> str | None:
    """The host of a URL, or None when there is none (or the URL cannot be split: http://[oops)."""
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _epoch_seconds(obj: dict[str, Any], member: str, path: str) -> float:
    """obj[member] as epoch seconds within X-Ray's span, or InvalidDocument."""
    value = obj.get(member)
    if not _is_number(value):
        raise InvalidDocument(_field_problem(f"{path}{member}", value, "epoch seconds as a number"))
    # Compared before converting: an int too large for a float compares exactly.
    if not MIN_EPOCH_SECONDS <= value < MAX_EPOCH_SECONDS:
        raise InvalidDocument(
            _field_problem(f"{path}{member}", value, "epoch seconds between 1970 and 2106 (0 to 16**8)")
        )
    return float(value)


def _annotation_value(value: Any, where: str) -> str | float | bool:
    """An annotation as X-Ray indexes it: a string, a boolean, or a number that is a finite double."""
    if isinstance(value, str | bool):
        return value
    if _is_number(value):
        try:
            # AnnotationValue.NumberValue is a double: an integer is kept as the double it is.
            return value if isinstance(value, float) else _exact_or_float(value)
        except OverflowError:
            pass
    raise InvalidDocument(f"{where} must be a string, a finite number or a boolean")


def _exact_or_float(value: int) -> int | float:
    # Small integers stay ints (stored exactly); beyond SQLite's INTEGER they become doubles.
    return value if abs(value) <= MAX_INDEXED_INT else float(value)


def _status(obj: dict[str, Any]) -> Status:
    """The flags as sent, completed from http.response.status when the sender left them out."""
    error = obj.get("error") is True
    fault = obj.get("fault") is True
    throttle = obj.get("throttle") is True
    code = _object(_object(obj.get("http")).get("response")).get("status")
    if _is_int(code):
        throttle = throttle or code == 429
        error = error or 400 <= code < 500
        fault = fault or 500 <= code < 600
    # A throttle is an error with a cause X-Ray counts apart (ErrorStatistics.ThrottleCount).
    return Status(error=error or throttle, fault=fault, throttle=throttle)


def _field_problem(name: str, value: Any, expected: str) -> str:
    if value is None:
        return f"{name} is missing; expected {expected}"
    try:
        shown = json.dumps(value)[:60]
    except (ValueError, RecursionError):
        shown = type(value).__name__
    return f"{name} is {shown}; expected {expected}"


def _object(value: Any) -> dict[str, Any]:
    """An optional part of a document: `value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> TypeGuard[int | float]:
    # json.loads accepts NaN and Infinity; no timestamp is either. Any int is finite (and
    # math.isfinite would overflow on one beyond a double).
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
