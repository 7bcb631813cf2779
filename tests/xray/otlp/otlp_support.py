"""OTLP spans for the tests: protobuf messages built with opentelemetry-proto's classes."""

import base64
import json
import os
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

# The daemon header ADOT's Python UDP exporter writes, then its prefixes.
PYTHON_HEADER = b'{"format":"json","version":1}\n'
# ADOT's Java exporter writes the header with spaces; the daemon takes both.
JAVA_HEADER = b'{"format": "json", "version": 1}\n'
KINDS = {
    "internal": Span.SPAN_KIND_INTERNAL,
    "server": Span.SPAN_KIND_SERVER,
    "client": Span.SPAN_KIND_CLIENT,
    "producer": Span.SPAN_KIND_PRODUCER,
    "consumer": Span.SPAN_KIND_CONSUMER,
}


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    raise TypeError(f"no AnyValue for {value!r}")


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def xray_trace_id(epoch: float | None = None) -> bytes:
    """A trace id as the X-Ray id generator makes it: the start second, then 12 random bytes."""
    return int(epoch if epoch is not None else time.time()).to_bytes(4, "big") + os.urandom(12)


def make_span(
    name: str = "span",
    kind: str = "internal",
    attributes: dict[str, Any] | None = None,
    *,
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    parent: bytes | None = b"",
    start: float | None = None,
    duration: float = 0.25,
    status: tuple[int, str] | None = None,
    events: list[tuple[str, dict[str, Any]]] | None = None,
    links: list[tuple[bytes, bytes, dict[str, Any]]] | None = None,
) -> Span:
    """parent: b"" for a root span, None for a random parent id, or the parent's id."""
    begin = start if start is not None else time.time() - 1
    span = Span(
        trace_id=trace_id or xray_trace_id(begin),
        span_id=span_id or os.urandom(8),
        parent_span_id=os.urandom(8) if parent is None else parent,
        name=name,
        kind=KINDS[kind],
        start_time_unix_nano=int(begin * 1e9),
        end_time_unix_nano=int((begin + duration) * 1e9),
        attributes=key_values(attributes or {}),
    )
    if status is not None:
        code, message = status
        span.status.CopyFrom(Status(code=Status.StatusCode.ValueType(code), message=message))
    for event_name, event_attributes in events or []:
        event = span.events.add()
        event.name = event_name
        event.time_unix_nano = span.end_time_unix_nano
        event.attributes.extend(key_values(event_attributes))
    for link_trace, link_span, link_attributes in links or []:
        span.links.add(trace_id=link_trace, span_id=link_span, attributes=key_values(link_attributes))
    return span


def export_request(spans: list[Span], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.resource_spans.append(ResourceSpans(scope_spans=[ScopeSpans(spans=spans)]))
    request.resource_spans[0].resource.attributes.extend(key_values(resource or {}))
    return request


def otlp_datagram(
    request: ExportTraceServiceRequest, *, sampled: bool = True, header: bytes = PYTHON_HEADER
) -> bytes:
    """What ADOT's UDP span exporter sends: header, T1S or T1U, base64 of the protobuf."""
    prefix = b"T1S" if sampled else b"T1U"
    return header + prefix + base64.b64encode(request.SerializeToString())


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The OTLP JSON encoding: protobuf JSON with lowerCamelCase names and hex ids."""
    document = json_format.MessageToDict(request)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for holder in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in holder:
                            holder[key] = base64.b64decode(holder[key]).hex()
    return json.dumps(document).encode()
