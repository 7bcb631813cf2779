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
CLIENT = (STAGE, "client")


def test_tutorial_traces_draw_stage_lambda_function_and_table(xray_server, xray):
    for _ in range(3):
        send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))

    graph = xray.get_service_graph(**window())

    found = nodes(graph)
    assert set(found) == {CLIENT, STAGE_NODE, DDB_SERVICE, DDB_FUNCTION_NODE, DEMO}
    assert {key for key, service in found.items() if service.get("Root")} == {STAGE_NODE}
    assert found[DEMO]["State"] == "unknown"
    assert found[STAGE_NODE]["State"] == "active"
    for key, service in found.items():
        if key != CLIENT:
            assert service["SummaryStatistics"]["TotalCount"] == 3
            assert service["SummaryStatistics"]["OkCount"] == 3
    assert set(edges(graph)) == {
        (CLIENT, STAGE_NODE),
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

    assert set(nodes(graph)) == {CLIENT, STAGE_NODE, DDB_SERVICE, DDB_FUNCTION_NODE, DEMO}
    assert set(edges(graph)) == {
        (CLIENT, STAGE_NODE),
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
    assert nodes(recent)[CLIENT]["Edges"][0]["SummaryStatistics"]["TotalCount"] == 1
    assert {name for name, _ in nodes(both)} == {STAGE, HELLO_FUNCTION, DDB_FUNCTION, "Demo"}
    assert nodes(both)[STAGE_NODE]["SummaryStatistics"]["TotalCount"] == 2


def test_get_trace_graph_covers_only_the_given_traces(xray_server, xray):
    hello = fresh_trace("tutorial_hello_trace.json")
    ddb = fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, hello + ddb)

    graph = xray.get_trace_graph(TraceIds=[hello[0]["trace_id"]])

    assert set(nodes(graph)) == {
        CLIENT,
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


def test_the_client_node_has_the_shape_of_the_developer_guides_example(xray_server, xray):
    # awsdocs/aws-xray-developer-guide, xray-api-gettingdata.md: the client node carries
    # Type "client", State "unknown", whole-second times and its edge; no Root, no statistics.
    for _ in range(2):
        send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))

    graph = xray.get_service_graph(**window())

    [client] = [service for service in graph["Services"] if service.get("Type") == "client"]
    assert client["Name"] == STAGE and client["Names"] == [STAGE]
    assert client["State"] == "unknown"
    assert "Root" not in client and "SummaryStatistics" not in client
    assert "DurationHistogram" not in client and "ResponseTimeHistogram" not in client
    [edge] = client["Edges"]
    stage = nodes(graph)[STAGE_NODE]
    assert edge["ReferenceId"] == stage["ReferenceId"]
    assert edge["SummaryStatistics"] == stage["SummaryStatistics"]
    assert edge["SummaryStatistics"]["TotalCount"] == 2


def test_the_client_of_get_trace_graph_counts_only_those_traces(xray_server, xray):
    first = fresh_trace("tutorial_hello_trace.json")
    send_documents(xray_server, first + fresh_trace("tutorial_hello_trace.json"))

    graph = xray.get_trace_graph(TraceIds=[first[0]["trace_id"]])

    [edge] = nodes(graph)[CLIENT]["Edges"]
    assert edge["SummaryStatistics"]["TotalCount"] == 1


def test_node_and_edge_times_are_whole_seconds_covering_the_requests(xray_server, xray):
    documents = fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, documents)

    graph = xray.get_service_graph(**window())

    stage = documents[0]
    for service in graph["Services"]:
        spans = [service] + service["Edges"]
        for span in spans:
            start, end = span["StartTime"].timestamp(), span["EndTime"].timestamp()
            assert start == int(start) and end == int(end), service["Name"]
    found = nodes(graph)[STAGE_NODE]
    assert found["StartTime"].timestamp() <= stage["start_time"]
    assert found["EndTime"].timestamp() >= stage["end_time"]
    assert found["EndTime"].timestamp() - found["StartTime"].timestamp() <= 2


def test_an_edge_counts_the_callers_subsegment_not_the_callees_segment(xray_server, xray):
    documents = fresh_trace("tutorial_ddb_trace.json")
    # API Gateway's Lambda call failed as API Gateway saw it (502), while the Lambda service
    # segment itself recorded a 200 that took far less time.
    call = find(documents, "Lambda")
    call["fault"] = True
    call["http"]["response"]["status"] = 502
    lambda_service = documents[1]
    lambda_service["end_time"] = lambda_service["start_time"] + 0.05
    send_documents(xray_server, documents)

    graph = xray.get_service_graph(**window())

    edge = edges(graph)[(STAGE_NODE, DDB_SERVICE)]
    assert edge["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    assert edge["ResponseTimeHistogram"] == [
        {"Value": round(call["end_time"] - call["start_time"], 3), "Count": 1}
    ]
    # The callee's own node keeps its own view: no fault, 50 ms.
    callee = nodes(graph)[DDB_SERVICE]
    assert callee["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 0
    assert callee["ResponseTimeHistogram"] == [{"Value": 0.05, "Count": 1}]
    # Lambda -> function hangs off the Lambda segment itself: the function's own numbers.
    function_edge = edges(graph)[(DDB_SERVICE, DDB_FUNCTION_NODE)]
    function = documents[2]
    assert function_edge["ResponseTimeHistogram"] == [
        {"Value": round(function["end_time"] - function["start_time"], 3), "Count": 1}
    ]


def test_sdk_calls_nested_under_invocation_still_reach_the_table(xray_server, xray):
    # As AWS records it: the SDK's subsegments are children of the Invocation subsegment.
    documents = fresh_trace("tutorial_ddb_trace.json")
    put_item = documents.pop()
    del put_item["type"], put_item["parent_id"], put_item["trace_id"]
    invocation = find(documents, "Invocation")
    invocation["subsegments"] = [put_item]
    send_documents(xray_server, documents)

    graph = xray.get_service_graph(**window())

    assert (DDB_FUNCTION_NODE, DEMO) in edges(graph)
    assert nodes(graph)[DEMO]["SummaryStatistics"]["TotalCount"] == 1
