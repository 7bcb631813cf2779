"""OTLP over the daemon's UDP port, end to end: a real XRayServer, real datagrams, boto3's
xray client reading the result back through the local API."""

import base64
import json
import os
import time
from typing import Any

from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context
from opentelemetry.util.types import AttributeValue

from emulator.xray.server import XRayServer
from tests.xray.otlp.otlp_support import JAVA_HEADER, PYTHON_HEADER, export_request, make_span, otlp_datagram
from tests.xray.otlp.sdk_support import UdpDatagramExporter, tracer_provider
from tests.xray.xray_support import edges, nodes, send, send_documents, window

LAMBDA_RESOURCE = {"service.name": "SamDdbFunction", "cloud.provider": "aws", "cloud.platform": "aws_lambda"}
DYNAMODB_CALL: dict[str, AttributeValue] = {
    "rpc.system": "aws-api",
    "rpc.service": "DynamoDB",
    "rpc.method": "PutItem",
    "aws.region": "ap-northeast-1",
    "aws.dynamodb.table_names": ["Demo"],
    "http.status_code": 200,
}


def stage_segment(trace_id: str) -> dict[str, Any]:
    """API Gateway's segment for the request, as the X-Ray SDK side of the stack sends it."""
    now = time.time()
    return {
        "name": "sam-app/Prod",
        "id": os.urandom(8).hex(),
        "trace_id": trace_id,
        "start_time": now - 2,
        "end_time": now - 1,
        "origin": "AWS::ApiGateway::Stage",
        "http": {
            "request": {"method": "POST", "url": "http://127.0.0.1:3000/ddb"},
            "response": {"status": 200},
        },
    }


def test_sdk_spans_over_udp_join_an_x_ray_trace_and_draw_the_tutorial_map(xray_server: XRayServer, xray):
    provider = tracer_provider(UdpDatagramExporter(xray_server.udp_port), LAMBDA_RESOURCE)
    tracer = provider.get_tracer("tests")
    # The function's spans continue the trace API Gateway started (its segment is their parent).
    trace_bytes = int(time.time()).to_bytes(4, "big") + os.urandom(12)
    trace_id = f"1-{trace_bytes[:4].hex()}-{trace_bytes[4:].hex()}"
    stage = stage_segment(trace_id)
    remote_parent = SpanContext(
        int.from_bytes(trace_bytes, "big"), int(stage["id"], 16), is_remote=True, trace_flags=TraceFlags(1)
    )
    parent = set_span_in_context(NonRecordingSpan(remote_parent))
    annotated = {"aws.xray.annotations": ["order.id"], "order.id": "o-1"}
    with (
        tracer.start_as_current_span("lambda_handler", context=parent, kind=SpanKind.SERVER),
        tracer.start_as_current_span("put_item ddb", attributes=annotated),
        tracer.start_as_current_span("DynamoDB.PutItem", kind=SpanKind.CLIENT, attributes=DYNAMODB_CALL),
    ):
        pass
    provider.shutdown()
    send_documents(xray_server, [stage])
    assert xray_server.accepted == 4
    assert xray_server.rejected == {}

    graph = xray.get_service_graph(**window())
    assert {("sam-app/Prod", "AWS::ApiGateway::Stage"), ("SamDdbFunction", "AWS::Lambda::Function"),
            ("Demo", "AWS::DynamoDB::Table")} <= set(nodes(graph))  # fmt: skip
    links = edges(graph)
    assert (("sam-app/Prod", "AWS::ApiGateway::Stage"), ("SamDdbFunction", "AWS::Lambda::Function")) in links
    assert (("SamDdbFunction", "AWS::Lambda::Function"), ("Demo", "AWS::DynamoDB::Table")) in links

    for expression in ('service("Demo")', 'annotation.order_id = "o-1"', 'service("SamDdbFunction")'):
        found = xray.get_trace_summaries(**window(), FilterExpression=expression)["TraceSummaries"]
        assert [summary["Id"] for summary in found] == [trace_id], expression

    [trace] = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    parsed = [json.loads(segment["Document"]) for segment in trace["Segments"]]
    documents = {document["name"]: document for document in parsed}
    function = documents["SamDdbFunction"]
    assert function["origin"] == "AWS::Lambda::Function"
    assert function["parent_id"] == stage["id"]
    [handler_work] = function["subsegments"]
    assert handler_work["name"] == "put_item ddb"
    assert handler_work["annotations"] == {"order_id": "o-1"}
    [call] = handler_work["subsegments"]
    assert (call["name"], call["namespace"], call["aws"]["table_name"]) == ("DynamoDB", "aws", "Demo")


def test_unsampled_datagrams_are_counted_not_stored(xray_server: XRayServer, xray):
    unsampled = export_request([make_span("not kept", "server")], {"service.name": "Quiet"})
    sampled = export_request([make_span("kept", "server")], {"service.name": "Loud"})
    send(xray_server.udp_port, otlp_datagram(unsampled, sampled=False), otlp_datagram(sampled))
    assert xray_server.wait_idle(10)
    assert xray_server.unsampled == 1
    assert xray_server.accepted == 1
    names = {service["Name"] for service in xray.get_service_graph(**window())["Services"]}
    assert "Loud" in names and "Quiet" not in names


def test_the_java_exporters_spaced_header_is_taken_too(xray_server: XRayServer):
    request = export_request([make_span("a", "server"), make_span("b", "server")], {"service.name": "J"})
    send(xray_server.udp_port, otlp_datagram(request, header=JAVA_HEADER))
    assert xray_server.wait_idle(10)
    assert xray_server.accepted == 2


def test_broken_otlp_datagrams_are_counted_and_cost_only_themselves(xray_server: XRayServer):
    truncated = base64.b64encode(b"\x0a\x05abc")  # a length-delimited field cut short
    good, bad = make_span("good", "server"), make_span("bad", "server")
    bad.end_time_unix_nano = bad.start_time_unix_nano - 1
    send(
        xray_server.udp_port,
        PYTHON_HEADER + b"T1S!!! not base64 !!!",
        PYTHON_HEADER + b"T1S" + truncated,
        PYTHON_HEADER + b"T1X" + base64.b64encode(export_request([make_span()]).SerializeToString()),
        otlp_datagram(export_request([good, bad])),
    )
    assert xray_server.wait_idle(10)
    assert xray_server.rejected == {"bad_otlp": 3, "invalid_document": 1}
    assert xray_server.accepted == 1
