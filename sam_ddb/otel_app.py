"""POST /ddb, traced with OpenTelemetry instead of the X-Ray SDK (app.py): the same `put_item ddb`
span, and the DynamoDB call as a span of botocore's instrumentation, sent to the X-Ray daemon the way
the AWS Distro for OpenTelemetry (ADOT) sends them in Lambda.

What the request does and answers is in ddb_request.py, shared with app.py.
"""

import base64
import os
import socket
from collections.abc import Sequence

import boto3
from ddb_request import CONFIG, answer, put_new_item
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
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
    resource = Resource.create({"service.name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "sam_ddb")})
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(), resource=resource.merge(AwsLambdaResourceDetector().detect())
    )
    address = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")
    provider.add_span_processor(SimpleSpanProcessor(XRayDaemonSpanExporter(address)))
    return provider


provider = tracer_provider()
trace.set_tracer_provider(provider)
# Lambda puts the X-Ray trace header (Root, Parent: its function segment, Sampled) in _X_AMZN_TRACE_ID;
# this propagator reads it there, so the spans continue Lambda's trace and are kept only if sampled.
propagate.set_global_textmap(AwsXRayLambdaPropagator())
# Before any client exists: every botocore call becomes a CLIENT span (rpc.service DynamoDB, the table
# in aws.dynamodb.table_names), which X-Ray draws as the Demo node, as the X-Ray SDK's patch does.
BotocoreInstrumentor().instrument(tracer_provider=provider)
tracer = provider.get_tracer("sam_ddb")

# Made once per execution environment; TABLE_NAME is !Ref DynamoTable in template.yaml.
table = boto3.resource("dynamodb", config=CONFIG).Table(os.environ["TABLE_NAME"])


def put_item_ddb(key: str, cold_start: bool) -> dict:
    # An exception leaving the span is recorded on it (status ERROR and an `exception` event): the
    # X-Ray document's fault and cause, as the X-Ray SDK's capture writes them.
    with tracer.start_as_current_span("put_item ddb", context=propagate.extract({})) as span:
        # X-Ray indexes as annotations the attributes that aws.xray.annotations names:
        # `annotation.ColdStart = true` finds cold starts, as with the X-Ray SDK's put_annotation.
        span.set_attributes({"ColdStart": cold_start, "aws.xray.annotations": ["ColdStart"]})
        return put_new_item(table, key)


_cold_start = True  # module state lives as long as the execution environment


def lambda_handler(event: dict, context: object) -> dict:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    return answer(event, lambda key: put_item_ddb(key, cold_start))
