"""ExportTraceServiceRequest from OTLP protobuf bytes or from the OTLP JSON encoding.

Decoding is opentelemetry-proto's: protobuf's own parser for the binary form and json_format
for JSON. OTLP JSON differs from protobuf's canonical JSON in one way that matters here:
traceId, spanId and parentSpanId are hex strings, not base64 (OTLP specification, "JSON
Protobuf Encoding"). They are rewritten to base64 before json_format reads the message;
unknown fields are ignored, as the specification asks of receivers.
"""

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

# Hex id fields and the lengths OTLP gives them (bytes); an empty parentSpanId is a root span.
_HEX_IDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


class InvalidOtlp(ValueError):
    """The payload is not an ExportTraceServiceRequest; the message says why."""


def from_protobuf(payload: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except (DecodeError, RecursionError) as error:
        raise InvalidOtlp(f"not an OTLP ExportTraceServiceRequest (protobuf): {error}") from None
    return request


def from_json(payload: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(payload)
    except RecursionError:
        raise InvalidOtlp("the OTLP JSON nests too deeply") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidOtlp(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidOtlp("an OTLP JSON ExportTraceServiceRequest must be an object")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as error:
        raise InvalidOtlp(f"not an OTLP JSON ExportTraceServiceRequest: {error}") from None
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite the hex ids of every span and span link in place (base64, as json_format reads bytes)."""
    for resource_index, resource_spans in enumerate(_objects(document.get("resourceSpans"))):
        for scope_index, scope_spans in enumerate(_objects(resource_spans.get("scopeSpans"))):
            for span_index, span in enumerate(_objects(scope_spans.get("spans"))):
                where = f"resourceSpans[{resource_index}].scopeSpans[{scope_index}].spans[{span_index}]"
                _rewrite_ids(span, where)
                for link_index, link in enumerate(_objects(span.get("links"))):
                    _rewrite_ids(link, f"{where}.links[{link_index}]")


def _rewrite_ids(holder: dict[str, Any], where: str) -> None:
    for field, size in _HEX_IDS.items():
        value = holder.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) != 2 * size:
            raise InvalidOtlp(f"{where}.{field} must be {2 * size} hex digits, got {str(value)[:40]!r}")
        try:
            holder[field] = base64.b64encode(bytes.fromhex(value)).decode()
        except (ValueError, binascii.Error):
            raise InvalidOtlp(f"{where}.{field} must be {2 * size} hex digits, got {value[:40]!r}") from None


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list (anything else is left for json_format to refuse)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]
