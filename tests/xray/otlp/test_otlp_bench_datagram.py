"""The bench's OTLP datagrams are what it claims: 3 valid spans each, a trace of their own."""

import time

from bench.otlp_figures import SPANS_PER_DATAGRAM, OtlpDatagrams
from emulator.xray.server import XRayServer
from tests.xray.xray_support import edges, send, window


def test_each_bench_datagram_is_stored_as_three_documents_of_its_own_trace(xray_server: XRayServer, xray):
    datagrams = OtlpDatagrams(time.time())
    send(xray_server.udp_port, *(datagrams(number) for number in range(1, 6)))
    assert xray_server.wait_idle(10)
    assert (xray_server.accepted, xray_server.rejected) == (5 * SPANS_PER_DATAGRAM, {})
    summaries = xray.get_trace_summaries(**window())["TraceSummaries"]
    assert len(summaries) == 5
    graph = xray.get_service_graph(**window())
    assert (("SamDdbFunction", "AWS::Lambda::Function"), ("Demo", "AWS::DynamoDB::Table")) in edges(graph)
