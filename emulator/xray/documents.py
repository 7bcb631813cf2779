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
    """Parse and validate one JSON segment document; raise InvalidDocument naming the problem."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"document is {size} bytes; X-Ray accepts at most {MAX_DOCUMENT_BYTES}")
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidJson(f"document is not valid JSON: {error}") from None
    text = raw if isinstance(raw, str) else raw.decode()
    return extract(obj, text)


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
    start = obj.get("start_time")
    if not _is_number(start):
        raise InvalidDocument(_field_problem(f"{path}start_time", start, "epoch seconds as a number"))
    end = obj.get("end_time")
    in_progress = obj.get("in_progress") is True
    end_time: float | None = None
    if end is None:
        if not in_progress:
            raise InvalidDocument(f"{path}end_time is missing; give end_time or in_progress: true")
    elif not _is_number(end):
        raise InvalidDocument(_field_problem(f"{path}end_time", end, "epoch seconds as a number"))
    elif not in_progress:
        end_time = float(end)

    namespace = obj.get("namespace")
    inferred_name: str | None = None
    inferred_type: str | None = None
    if depth > 0 or obj.get("type") == "subsegment":
        inferred_name, inferred_type = inferred_node(obj, name, namespace)
    spans.append(
        SpanFacts(
            span_id=span_id.lower(),
            start_time=float(start),
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
            if not isinstance(value, str | int | float | bool):
                raise InvalidDocument(f"{path}annotations.{key} must be a string, number or boolean")
            annotations.append(AnnotationFacts(key=key, value=value))
    children = obj.get("subsegments")
    if children is None:
        return
    if not isinstance(children, list):
        raise InvalidDocument(f"{path}subsegments must be a list")
    for index, child in enumerate(children):
        if not isinstance(child, dict):
            raise InvalidDocument(f"{path}subsegments[{index}] must be an object")
        _walk(child, f"{path}subsegments[{index}].", depth + 1, spans, annotations)


def inferred_node(obj: dict[str, Any], name: str, namespace: Any) -> tuple[str | None, str | None]:
    """The (name, type) of the node X-Ray infers from a subsegment: AWS and remote HTTP calls."""
    if namespace == "aws":
        table = _object(obj.get("aws")).get("table_name")
        if isinstance(table, str) and table:
            return table, "AWS::DynamoDB::Table"
        # Other AWS services appear under the client's service name, e.g. "AWS::SNS".
        return name, f"AWS::{name}"
    if namespace == "remote":
        url = _object(_object(obj.get("http")).get("request")).get("url")
        host = urlsplit(url).hostname if isinstance(url, str) else None
        return (host or name), "remote"
    return None, None


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
    return f"{name} is {json.dumps(value)[:60]}; expected {expected}"


def _object(value: Any) -> dict[str, Any]:
    """An optional part of a document: `value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> TypeGuard[int | float]:
    # json.loads accepts NaN and Infinity; no timestamp is either.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
