"""The OTLP datagrams ADOT's X-Ray UDP span exporter sends to the Lambda X-Ray daemon.

After the daemon's header line (`{"format":"json","version":1}` and a newline, the same as an
X-Ray SDK datagram's), the body is `T1S` (sampled) or `T1U` (not sampled) and the base64 of an
OTLP protobuf ExportTraceServiceRequest. The X-Ray SDK's bodies are JSON objects, so they never
start with `T1`.
"""

import base64
import binascii
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from emulator.xray.otlp.decode import InvalidOtlp, from_protobuf

PREFIX = b"T1"
SAMPLED = b"T1S"
UNSAMPLED = b"T1U"


@dataclass(frozen=True)
class OtlpDatagram:
    sampled: bool
    request: ExportTraceServiceRequest | None  # None when not sampled: it is not even decoded


def is_otlp(body: bytes) -> bool:
    return body.startswith(PREFIX)


def read(body: bytes) -> OtlpDatagram:
    """The datagram's request; InvalidOtlp if the prefix, base64 or protobuf is wrong."""
    prefix, payload = body[:3], body[3:]
    if prefix == UNSAMPLED:
        # Unsampled spans are for local metrics (Application Signals); X-Ray keeps no trace.
        return OtlpDatagram(sampled=False, request=None)
    if prefix != SAMPLED:
        raise InvalidOtlp(f"an OTLP datagram starts with T1S or T1U, got {prefix!r}")
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidOtlp("the OTLP datagram's payload is not base64") from None
    return OtlpDatagram(sampled=True, request=from_protobuf(raw))
