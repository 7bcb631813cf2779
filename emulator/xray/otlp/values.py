"""OTLP attribute values (AnyValue) as plain Python values."""

import base64
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# kvlist and array values nest; past this depth the rest is cut rather than recursed into.
MAX_VALUE_DEPTH = 16


def plain(value: AnyValue, depth: int = 0) -> Any:
    """A string, bool, int, float, list or dict; bytes as base64 text (JSON has no bytes);
    None for an empty value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if depth >= MAX_VALUE_DEPTH:
        return None
    if kind == "array_value":
        return [plain(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: plain(item.value, depth + 1) for item in value.kvlist_value.values}
    return None


def attribute_map(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Attributes by key; a repeated key keeps its last value, as the OpenTelemetry SDKs do."""
    return {item.key: plain(item.value) for item in attributes}
