"""The real OpenTelemetry SDK for the end-to-end tests: a tracer provider with X-Ray ids, and
an exporter that writes ADOT's UDP datagrams around the SDK's own OTLP encoding."""

import base64
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator

from tests.xray.otlp.otlp_support import PYTHON_HEADER


class XRayIdGenerator(IdGenerator):
    """Trace ids that start with the current second, as the X-Ray id generator makes them."""

    def generate_span_id(self) -> int:
        return int.from_bytes(os.urandom(8), "big") or 1

    def generate_trace_id(self) -> int:
        return int.from_bytes(int(time.time()).to_bytes(4, "big") + os.urandom(12), "big")


class UdpDatagramExporter(SpanExporter):
    """ADOT's X-Ray UDP span exporter's wire format: the daemon header, T1S (or T1U), base64
    of the OTLP protobuf that the SDK's own encoder makes (aws-opentelemetry-distro itself pins
    an older SDK than this project's, so its exporter is not installed here)."""

    def __init__(self, port: int, *, sampled: bool = True) -> None:
        self._address = ("127.0.0.1", port)
        self._prefix = b"T1S" if sampled else b"T1U"
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        payload = encode_spans(spans).SerializeToString()
        self._socket.sendto(PYTHON_HEADER + self._prefix + base64.b64encode(payload), self._address)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()


def tracer_provider(exporter: SpanExporter, resource: dict[str, Any]) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create(resource), id_generator=XRayIdGenerator())
    # Simple: each span is exported as it ends, so a test knows what was sent when it returns.
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider
