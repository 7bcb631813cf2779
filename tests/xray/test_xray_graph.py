"""The service graph of tutorial traces sent over real UDP, read with boto3 over real HTTP."""

import random

from tests.xray.xray_support import (
    DDB_FUNCTION,
    HELLO_FUNCTION,
    STAGE,
    edges,
    find,
    fresh_trace,
    nodes,
    send_documents,
    window,
)

STAGE_NODE = (STAGE, "AWS::ApiGateway::Stage")
DDB_SERVICE = (DDB_FUNCTION, "AWS::Lambda")
DDB_FUNCTION_NODE = (DDB_FUNCTION, "AWS::Lambda::Function")
DEMO = ("Demo", "AWS::DynamoDB::Table")


def test_tutorial_traces_draw_stage_lambda_function_and_table(xray_server, xray):
    for _ in range(3):
        send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))

    graph = xray.get_service_graph(**window())

    found = nodes(graph)
    assert set(found) == {STAGE_NODE, DDB_SERVICE, DDB_FUNCTION_NODE, DEMO}
    assert {key for key, service in found.items() if service["Root"]} == {STAGE_NODE}
    assert found[DEMO]["State"] == "unknown"
    assert found[STAGE_NODE]["State"] == "active"
    for service in found.values():
        assert service["SummaryStatistics"]["TotalCount"] == 3
        assert service["SummaryStatistics"]["OkCount"] == 3
    assert set(edges(graph)) == {
        (STAGE_NODE, DDB_SERVICE),
        (DDB_SERVICE, DDB_FUNCTION_NODE),
        (DDB_FUNCTION_NODE, DEMO),
    }
    table_edge = edges(graph)[(DDB_FUNCTION_NODE, DEMO)]
    assert table_edge["SummaryStatistics"]["TotalCount"] == 3
    # The recorded DynamoDB call took 84 ms; the edge's histogram and total say so.
    assert table_edge["ResponseTimeHistogram"] == [{"Value": 0.084, "Count": 3}]
    assert abs(table_edge["SummaryStatistics"]["TotalResponseTime"] - 3 * 0.084) < 1e-3


def test_documents_arriving_in_any_order_draw_the_same_graph(xray_server, xray):
    documents = fresh_trace("tutorial_ddb_trace.json")
    random.Random(7).shuffle(documents)
    # Children before parents: the subsegment document and the function segment come first.
    send_documents(xray_server, list(reversed(documents)))

    graph = xray.get_service_graph(**window())

    assert set(nodes(graph)) == {STAGE_NODE, DDB_SERVICE, DDB_FUNCTION_NODE, DEMO}
    assert set(edges(graph)) == {
        (STAGE_NODE, DDB_SERVICE),
        (DDB_SERVICE, DDB_FUNCTION_NODE),
        (DDB_FUNCTION_NODE, DEMO),
    }


def test_a_dynamodb_fault_shows_on_the_table_node_and_edge(xray_server, xray):
    send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))
    failing = fresh_trace("tutorial_ddb_trace.json")
    dynamodb = find(failing, "DynamoDB")
    dynamodb["fault"] = True
    dynamodb["http"]["response"]["status"] = 500
    send_documents(xray_server, failing)

    graph = xray.get_service_graph(**window())

    demo = nodes(graph)[DEMO]["SummaryStatistics"]
    assert demo["TotalCount"] == 2
    assert demo["FaultStatistics"]["TotalCount"] == 1
    assert demo["OkCount"] == 1
    edge = edges(graph)[(DDB_FUNCTION_NODE, DEMO)]["SummaryStatistics"]
    assert edge["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    assert edge["ErrorStatistics"]["TotalCount"] == 0
    # The fault stayed in DynamoDB: the function's own segment is fine.
    assert nodes(graph)[DDB_FUNCTION_NODE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 0


def test_status_codes_classify_as_error_throttle_and_fault(xray_server, xray):
    for status in (200, 404, 429, 503):
        documents = fresh_trace("tutorial_ddb_trace.json")
        documents[0]["http"]["response"]["status"] = status
        send_documents(xray_server, documents)

    stats = nodes(xray.get_service_graph(**window()))[STAGE_NODE]["SummaryStatistics"]

    assert stats["TotalCount"] == 4
    assert stats["OkCount"] == 1
    assert stats["ErrorStatistics"] == {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2}
    assert stats["FaultStatistics"]["TotalCount"] == 1


def test_the_time_window_selects_segments(xray_server, xray):
    send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json", ago=3600))
    send_documents(xray_server, fresh_trace("tutorial_hello_trace.json", ago=5))

    recent = xray.get_service_graph(**window(600))
    both = xray.get_service_graph(**window(7200))

    assert {name for name, _ in nodes(recent)} == {STAGE, HELLO_FUNCTION}
    assert {name for name, _ in nodes(both)} == {STAGE, HELLO_FUNCTION, DDB_FUNCTION, "Demo"}
    assert nodes(both)[STAGE_NODE]["SummaryStatistics"]["TotalCount"] == 2


def test_get_trace_graph_covers_only_the_given_traces(xray_server, xray):
    hello = fresh_trace("tutorial_hello_trace.json")
    ddb = fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, hello + ddb)

    graph = xray.get_trace_graph(TraceIds=[hello[0]["trace_id"]])

    assert set(nodes(graph)) == {
        STAGE_NODE,
        (HELLO_FUNCTION, "AWS::Lambda"),
        (HELLO_FUNCTION, "AWS::Lambda::Function"),
    }
    assert nodes(graph)[STAGE_NODE]["SummaryStatistics"]["TotalCount"] == 1
    both = xray.get_trace_graph(TraceIds=[hello[0]["trace_id"], ddb[0]["trace_id"]])
    assert DEMO in nodes(both)
    assert nodes(both)[STAGE_NODE]["SummaryStatistics"]["TotalCount"] == 2


def test_remote_http_calls_become_a_node_named_by_host(xray_server, xray):
    documents = fresh_trace("tutorial_hello_trace.json")
    call = find(documents, "hello world")
    call["subsegments"] = [
        {
            "id": "aa00bb11cc22dd33",
            "name": "api.example.com",
            "start_time": call["start_time"],
            "end_time": call["end_time"],
            "namespace": "remote",
            "http": {
                "request": {"url": "https://api.example.com/v1/x", "method": "GET"},
                "response": {"status": 502},
            },
            "fault": True,
        }
    ]
    send_documents(xray_server, documents)

    graph = xray.get_service_graph(**window())

    remote = ("api.example.com", "remote")
    assert remote in nodes(graph)
    edge = edges(graph)[((HELLO_FUNCTION, "AWS::Lambda::Function"), remote)]
    assert edge["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
