"""OTLP/HTTP POST /v1/traces on a real XRayServer's API port: the OpenTelemetry SDK's own
exporter, OTLP JSON, partial success and refusals, read back with boto3's xray client."""

import gzip
import http.client
import json
import time
from typing import Any

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from emulator.xray.server import XRayServer
from tests.xray.otlp.otlp_support import export_request, make_span, otlp_json
from tests.xray.otlp.sdk_support import tracer_provider
from tests.xray.xray_support import edges, nodes, window

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def post_otlp(
    server: XRayServer, body: bytes, content_type: str | None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.tcp_port, timeout=10)
    try:
        sent = dict(headers or {})
        if content_type is not None:
            sent["Content-Type"] = content_type
        connection.request("POST", "/v1/traces", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def stored_trace_ids(xray) -> list[str]:
    return [summary["Id"] for summary in xray.get_trace_summaries(**window())["TraceSummaries"]]


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdks_otlp_http_exporter_is_answered_and_its_spans_are_on_the_map(
    xray_server: XRayServer, xray, compression: Compression
):
    collected = InMemorySpanExporter()
    provider = tracer_provider(collected, {"service.name": "HelloWorldFunction"})
    tracer = provider.get_tracer("tests")
    server_attributes: dict[str, AttributeValue] = {
        "http.request.method": "GET",
        "url.path": "/hello",
        "http.response.status_code": 200,
    }
    client_attributes: dict[str, AttributeValue] = {
        "http.request.method": "GET",
        "url.full": "https://example.com/",
        "server.address": "example.com",
        "http.response.status_code": 503,
    }
    with (
        tracer.start_as_current_span("GET /hello", kind=SpanKind.SERVER, attributes=server_attributes),
        tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=client_attributes) as call,
    ):
        call.set_status(StatusCode.ERROR)
    spans = collected.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=f"{xray_server.api_url}/v1/traces", compression=compression)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()

    digits = f"{spans[0].context.trace_id:032x}"
    trace_id = f"1-{digits[:8]}-{digits[8:]}"
    assert stored_trace_ids(xray) == [trace_id]
    graph = xray.get_service_graph(**window())
    assert ("HelloWorldFunction", "remote") not in nodes(graph)
    link = edges(graph)[(("HelloWorldFunction", ""), ("example.com", "remote"))]
    assert link["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    called = xray.get_trace_summaries(**window(), FilterExpression='service("example.com")')["TraceSummaries"]
    assert [summary["Id"] for summary in called] == [trace_id]


def test_otlp_json_is_taken_and_answered_in_json(xray_server: XRayServer, xray):
    span = make_span("GET /hello", "server", {"http.request.method": "GET", "http.response.status_code": 200})
    status, headers, body = post_otlp(
        xray_server, otlp_json(export_request([span], {"service.name": "J"})), JSON
    )
    assert (status, headers["content-type"], json.loads(body)) == (200, JSON, {})
    assert stored_trace_ids(xray) == ["1-" + span.trace_id.hex()[:8] + "-" + span.trace_id.hex()[8:]]


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_spans_that_cannot_be_documents_are_a_partial_success(
    xray_server: XRayServer, xray, content_type: str
):
    good, bad = make_span("good", "server"), make_span("bad", "server")
    bad.end_time_unix_nano = bad.start_time_unix_nano - 1
    request = export_request([good, bad], {"service.name": "Partial"})
    body = request.SerializeToString() if content_type == PROTOBUF else otlp_json(request)
    status, headers, raw = post_otlp(xray_server, body, content_type)
    assert (status, headers["content-type"]) == (200, content_type)
    if content_type == PROTOBUF:
        response = ExportTraceServiceResponse.FromString(raw)
        rejected, message = response.partial_success.rejected_spans, response.partial_success.error_message
    else:
        answer = json.loads(raw)["partialSuccess"]
        rejected, message = int(answer["rejectedSpans"]), answer["errorMessage"]
    assert rejected == 1
    assert "'bad'" in message and "end_time_unix_nano is before" in message
    [trace] = xray.batch_get_traces(TraceIds=stored_trace_ids(xray))["Traces"]
    assert [json.loads(segment["Document"])["id"] for segment in trace["Segments"]] == [good.span_id.hex()]


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "message"),
    [
        (b"\x0a\x05abc", PROTOBUF, {}, 400, "not an OTLP ExportTraceServiceRequest (protobuf)"),
        (b"{not json", JSON, {}, 400, "not JSON"),
        (b"[]", JSON, {}, 400, "must be an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', JSON, {}, 400,
         "traceId must be 32 hex digits"),
        (b'{"resourceSpans": 7}', JSON, {}, 400, "not an OTLP JSON ExportTraceServiceRequest"),
        (b"plain", "text/plain", {}, 415, "Content-Type must be"),
        (b"", None, {}, 415, "Content-Type must be"),
        (b"not gzip", PROTOBUF, {"Content-Encoding": "gzip"}, 400, "not gzip"),
        (gzip.compress(b"x")[:-4], PROTOBUF, {"Content-Encoding": "gzip"}, 400, "truncated"),
        (b"", PROTOBUF, {"Content-Encoding": "br"}, 400, "Content-Encoding must be gzip"),
    ],
)  # fmt: skip
def test_a_body_that_cannot_be_read_is_refused_whole(
    xray_server: XRayServer,
    xray,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str],
    status: int,
    message: str,
):
    answer_status, answer_headers, raw = post_otlp(xray_server, body, content_type, headers)
    assert answer_status == status
    if answer_headers["content-type"] == PROTOBUF:
        refusal: Any = Status.FromString(raw)
        code, text = refusal.code, refusal.message
    else:
        refusal = json.loads(raw)
        code, text = refusal["code"], refusal["message"]
    assert code == 3 and message in text, text
    assert stored_trace_ids(xray) == []


def test_a_gzip_bomb_is_refused(xray_server: XRayServer):
    bomb = gzip.compress(b"\0" * (17 * 1024 * 1024))
    status, _, raw = post_otlp(xray_server, bomb, PROTOBUF, {"Content-Encoding": "gzip"})
    assert status == 400
    assert "inflates past" in Status.FromString(raw).message


def test_only_loopback_hosts_are_answered_and_no_origin_is_reflected(xray_server: XRayServer, xray):
    body = export_request([make_span("x", "server")]).SerializeToString()
    status, _, _ = post_otlp(xray_server, body, PROTOBUF, {"Host": "evil.example"})
    assert status == 403
    assert stored_trace_ids(xray) == []
    status, headers, _ = post_otlp(xray_server, body, PROTOBUF, {"Origin": "https://evil.example"})
    assert status == 200
    assert not any(name.startswith("access-control-") for name in headers)


def test_a_span_sent_twice_is_one_document(xray_server: XRayServer, xray):
    span = make_span("again", "server", start=time.time() - 3)
    body = export_request([span]).SerializeToString()
    for _ in range(2):
        assert post_otlp(xray_server, body, PROTOBUF)[0] == 200
    [trace] = xray.batch_get_traces(TraceIds=stored_trace_ids(xray))["Traces"]
    assert len(trace["Segments"]) == 1


def test_a_client_call_answered_by_a_traced_service_is_an_edge_not_an_inferred_node(
    xray_server: XRayServer, xray
):
    caller = make_span("GET /orders", "server", {"http.response.status_code": 200}, start=time.time() - 2)
    call = make_span(
        "GET", "client", {"url.full": "http://orders.internal/o/1", "http.response.status_code": 200},
        trace_id=caller.trace_id, parent=caller.span_id, start=time.time() - 1.9, duration=0.1,
    )  # fmt: skip
    callee = make_span(
        "GET /o/1", "server", {"http.response.status_code": 200},
        trace_id=caller.trace_id, parent=call.span_id, start=time.time() - 1.89, duration=0.08,
    )  # fmt: skip
    front = export_request([call, caller], {"service.name": "Front"}).SerializeToString()
    back = export_request([callee], {"service.name": "Orders"}).SerializeToString()
    # The callee's batch first: the store links documents whatever order they come in.
    assert post_otlp(xray_server, back, PROTOBUF)[0] == 200
    assert post_otlp(xray_server, front, PROTOBUF)[0] == 200
    graph = xray.get_service_graph(**window())
    assert (("Front", ""), ("Orders", "")) in edges(graph)
    assert ("orders.internal", "remote") not in nodes(graph)
