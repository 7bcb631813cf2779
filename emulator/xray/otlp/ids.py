"""OpenTelemetry ids as X-Ray writes them.

An OpenTelemetry trace id is 16 bytes; an X-Ray trace id is the same 128 bits written
`1-<8 hex digits>-<24 hex digits>`, the first 8 being the request's start second. The X-Ray id
generator (what ADOT configures) puts that second in the first 4 bytes, so its ids come back
exactly as the X-Ray SDK would have written them. A random W3C id is written the same way, as
X-Ray's OTLP endpoint does: its first 8 digits then read as an arbitrary time, so such a trace
is found by TimeRangeType Event or Service, not TraceId.
"""

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8


class InvalidSpan(ValueError):
    """A span that cannot become a segment document; the message says why."""


def xray_trace_id(trace_id: bytes) -> str:
    """`1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy` for a 16-byte OpenTelemetry trace id."""
    if len(trace_id) != TRACE_ID_BYTES:
        raise InvalidSpan(f"trace_id is {len(trace_id)} bytes; OpenTelemetry trace ids are 16")
    if not any(trace_id):
        raise InvalidSpan("trace_id is all zeros, which OpenTelemetry defines as invalid")
    digits = trace_id.hex()
    return f"1-{digits[:8]}-{digits[8:]}"


def span_id(value: bytes, field: str = "span_id") -> str:
    """16 lowercase hex digits for an 8-byte span id."""
    if len(value) != SPAN_ID_BYTES:
        raise InvalidSpan(f"{field} is {len(value)} bytes; OpenTelemetry span ids are 8")
    if not any(value):
        raise InvalidSpan(f"{field} is all zeros, which OpenTelemetry defines as invalid")
    return value.hex()


def parent_span_id(value: bytes) -> str | None:
    """The parent's id, or None for a root span (OTLP sends an empty parent_span_id)."""
    if not value:
        return None
    return span_id(value, "parent_span_id")


def trace_epoch(trace_id: bytes) -> int:
    """The start second an X-Ray id generator wrote in the trace id's first 4 bytes."""
    return int.from_bytes(trace_id[:4], "big")
