"""GET /hello, traced with OpenTelemetry instead of the X-Ray SDK (app.py): the same `hello world`
span, sent to the X-Ray daemon the way the AWS Distro for OpenTelemetry (ADOT) sends it in Lambda.

The template chooses this module with `Instrumentation=opentelemetry` (README, "From the X-Ray SDK
to OpenTelemetry"); the tracing stays X-Ray's: Lambda writes the function's segments (Tracing: Active)
and this span joins them as a subsegment, so the service map does not change.
"""

import base64
import json
import os
import socket
from collections.abc import Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator
from opentelemetry.sdk.extension.aws.resource import AwsLambdaResourceDetector
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class XRayDaemonSpanExporter(SpanExporter):
    """Spans to the X-Ray daemon over UDP as ADOT's OTLP UDP span exporter sends them: the daemon's
    header line, `T1S` (sampled) and the base64 of an OTLP ExportTraceServiceRequest.

    ADOT's own exporter comes with the whole distro (sixty instrumentation packages); this is the
    same datagram in a few lines. Lambda gives the daemon's address in AWS_XRAY_DAEMON_ADDRESS.
    """

    PREFIX = b'{"format": "json", "version": 1}\nT1S'

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self._address = (host, int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        payload = base64.b64encode(encode_spans(spans).SerializeToString())
        try:
            self._socket.sendto(self.PREFIX + payload, self._address)
        except OSError:  # no daemon, or over 64 KiB: the trace loses these spans, the request goes on
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()


def tracer_provider() -> TracerProvider:
    """X-Ray trace ids (the start second first, so X-Ray finds them by time), the function's name as
    the service, and each span sent as it ends: Lambda freezes the environment after the response, so
    nothing may wait in a batch."""
    resource = Resource.create({"service.name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "hello_world")})
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(), resource=resource.merge(AwsLambdaResourceDetector().detect())
    )
    address = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
    provider.add_span_processor(SimpleSpanProcessor(XRayDaemonSpanExporter(address)))
    return provider


provider = tracer_provider()
trace.set_tracer_provider(provider)
# Lambda puts the X-Ray trace header (Root, Parent: its function segment, Sampled) in _X_AMZN_TRACE_ID;
# this propagator reads it there, so the span continues Lambda's trace and is kept only if it is sampled.
propagate.set_global_textmap(AwsXRayLambdaPropagator())
tracer = provider.get_tracer("hello_world")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with tracer.start_as_current_span("hello world", context=propagate.extract({})):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": "hello world"}),
        }
