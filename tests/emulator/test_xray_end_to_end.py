"""The tutorial on the local stack with the real local X-Ray: two curls, then the service map.

Everything is real: HTTP into the gateway, awslambdaric workers, the X-Ray SDK's UDP, the
daemon, SQLite, and boto3's xray client reading the X-Ray API. Module-scoped: the map is
the sum of the calls made here, so each test below adds to it in order.
"""

import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from rich.console import Console

from emulator.xray.map import main as map_main
from emulator.xray.map import render_service_map
from emulator.xray.server import XRayServer
from tests.emulator.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow

STAGE = ("sam-app/Prod", "AWS::ApiGateway::Stage")
TABLE = ("Demo", "AWS::DynamoDB::Table")
GRAPH_WAIT_SECONDS = 15.0


@pytest.fixture(scope="module")
def xray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    server = XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray") / "traces.db")
    with server:
        yield server


@pytest.fixture(scope="module")
def tutorial(tutorial_app_template, lambda_runtime_dir, xray_server) -> Iterator[RunningStack]:
    with running_stack(tutorial_app_template, lambda_runtime_dir, xray_server.daemon_address) as stack:
        yield stack


@pytest.fixture(scope="module")
def xray(xray_server: XRayServer) -> Any:
    return boto3.client(
        "xray", endpoint_url=xray_server.api_url, region_name="ap-northeast-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip


def function_names(stack: RunningStack) -> tuple[str, str]:
    functions = stack.app.functions
    return functions["HelloWorldFunction"].function_name, functions["SamDdbFunction"].function_name


def graph_nodes(xray: Any) -> dict[tuple[str, str], dict[str, Any]]:
    now = time.time()
    services = xray.get_service_graph(StartTime=now - 600, EndTime=now + 60)["Services"]
    return {(service["Name"], service["Type"]): service for service in services}


def wait_for_graph(xray: Any, expected_counts: dict[tuple[str, str], int]) -> dict[tuple[str, str], Any]:
    """Poll until every node has the expected request count (segments arrive over UDP)."""
    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    while True:
        nodes = graph_nodes(xray)
        counts = {
            key: nodes[key]["SummaryStatistics"]["TotalCount"] for key in expected_counts if key in nodes
        }
        if counts == expected_counts or time.monotonic() > deadline:
            assert counts == expected_counts, f"graph nodes {sorted(nodes)}"
            return nodes
        time.sleep(0.1)


def edge_targets(nodes: dict[tuple[str, str], Any], source: tuple[str, str]) -> dict[tuple[str, str], Any]:
    by_reference = {service["ReferenceId"]: key for key, service in nodes.items()}
    return {by_reference[edge["ReferenceId"]]: edge for edge in nodes[source].get("Edges", [])}


def test_two_tutorial_calls_draw_the_tutorial_service_map(tutorial, xray):
    assert request("GET", tutorial.url + "/hello").status == 200
    body = json.dumps({"key": f"map-{uuid.uuid4()}"}).encode()
    assert request("POST", tutorial.url + "/ddb", body=body).status == 200

    hello, ddb = function_names(tutorial)
    expected = {
        STAGE: 2,
        (hello, "AWS::Lambda"): 1,
        (hello, "AWS::Lambda::Function"): 1,
        (ddb, "AWS::Lambda"): 1,
        (ddb, "AWS::Lambda::Function"): 1,
        TABLE: 1,
    }
    nodes = wait_for_graph(xray, expected)

    # client -> sam-app/Prod is the root; it calls both functions' Lambda service nodes.
    assert nodes[STAGE]["Root"] is True
    assert set(edge_targets(nodes, STAGE)) == {(hello, "AWS::Lambda"), (ddb, "AWS::Lambda")}
    assert set(edge_targets(nodes, (hello, "AWS::Lambda"))) == {(hello, "AWS::Lambda::Function")}
    assert set(edge_targets(nodes, (ddb, "AWS::Lambda"))) == {(ddb, "AWS::Lambda::Function")}
    # Only the DynamoDB function reaches the table, through the SDK's patched boto3 call.
    assert set(edge_targets(nodes, (ddb, "AWS::Lambda::Function"))) == {TABLE}
    assert edge_targets(nodes, (hello, "AWS::Lambda::Function")) == {}
    table_edge = edge_targets(nodes, (ddb, "AWS::Lambda::Function"))[TABLE]
    assert table_edge["SummaryStatistics"]["TotalCount"] == 1
    assert table_edge["SummaryStatistics"]["TotalResponseTime"] > 0
    for node in nodes.values():
        stats = node["SummaryStatistics"]
        assert stats["OkCount"] == stats["TotalCount"], node["Name"]
        assert stats["TotalResponseTime"] > 0


def test_trace_of_a_ddb_call_has_every_segment_and_the_sdk_subsegments(tutorial, xray):
    response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": "trace-me"}).encode())
    assert response.status == 200
    trace_id = response.header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root=")

    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        origins = {d.get("origin") for d in documents}
        wanted = {"AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function", "AWS::DynamoDB::Table"}
        if wanted <= origins or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert wanted <= origins

    function_segment = next(d for d in documents if d.get("origin") == "AWS::Lambda::Function")
    names = _names(function_segment)
    assert {"Invocation", "Overhead", "put_item ddb", "dynamodb"} <= names
    # Summaries find it by the console's filters.
    now = time.time()
    summaries = xray.get_trace_summaries(
        StartTime=now - 600, EndTime=now + 60, FilterExpression='http.method = "POST" AND service("Demo")'
    )["TraceSummaries"]
    assert trace_id in {summary["Id"] for summary in summaries}


def test_sampled_0_records_nothing(tutorial, xray):
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    response = request("GET", tutorial.url + "/hello", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=0"})
    assert response.status == 200
    assert "Sampled=0" in response.header("X-Amzn-Trace-Id")
    time.sleep(1.0)  # long enough for any stray datagram to have landed
    assert xray.batch_get_traces(TraceIds=[root])["Traces"] == []


def wait_for_faults(xray: Any, node: tuple[str, str], above: int) -> dict[tuple[str, str], Any]:
    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    while True:
        nodes = graph_nodes(xray)
        faults = nodes[node]["SummaryStatistics"]["FaultStatistics"]["TotalCount"]
        if faults > above or time.monotonic() > deadline:
            assert faults > above, nodes[node]["SummaryStatistics"]
            return nodes
        time.sleep(0.1)


def test_dynamodb_failure_is_a_fault_on_the_table_node(tutorial, xray):
    _, ddb = function_names(tutorial)
    faults_before = graph_nodes(xray)[TABLE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"]
    # A real DynamoDB failure from moto: the table is gone (ResourceNotFoundException).
    dynamodb = tutorial.services.client()
    dynamodb.delete_table(TableName="Demo")
    try:
        response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": "no-table"}).encode())
    finally:
        table = next(t for t in tutorial.app.tables if t.table_name == "Demo")
        dynamodb.create_table(TableName="Demo", **table.create_table_args)
    assert response.status == 500, response.body
    assert response.json() == {"message": "internal error"}

    nodes = wait_for_faults(xray, TABLE, faults_before)
    # The stage answered 500: a fault there too. The function returned its 500 answer
    # itself (it did not raise), so Lambda records no fault on the function node.
    assert nodes[STAGE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] >= 1
    assert nodes[(ddb, "AWS::Lambda::Function")]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 0


def test_dynamodb_outage_answers_503_and_faults_the_stage(tutorial, xray):
    stage_faults = graph_nodes(xray)[STAGE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"]
    # Take DynamoDB away: the handler's bounded retries give up and it answers 503 inside
    # the function timeout. (The X-Ray SDK records a connection error on the boto3
    # subsegment without a fault flag, so here the fault shows on the stage, as in AWS.)
    tutorial.services.stop()
    started = time.monotonic()
    response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": "outage"}).encode())
    assert time.monotonic() - started < 3.0
    assert response.status == 503, response.body
    assert "DynamoDB is unavailable" in response.json()["message"]
    wait_for_faults(xray, STAGE, stage_faults)


def test_terminal_map_draws_the_local_graph(tutorial, xray_server, capsys):
    hello, ddb = function_names(tutorial)
    assert map_main(["--endpoint-url", xray_server.api_url, "--minutes", "10"]) == 0
    printed = capsys.readouterr().out
    for name in ("client", "sam-app/Prod", hello, ddb, "Demo", "AWS::DynamoDB::Table"):
        assert name in printed
    assert "ms avg" in printed


def test_renderer_accepts_the_local_answer_unchanged(xray):
    now = time.time()
    graph = xray.get_service_graph(StartTime=now - 600, EndTime=now + 60)
    console = Console(file=io.StringIO(), width=200)
    console.print(render_service_map(graph))
    assert "sam-app/Prod" in console.file.getvalue()


def _names(document: dict[str, Any]) -> set[str]:
    names = set()
    stack = list(document.get("subsegments", []))
    while stack:
        item = stack.pop()
        names.add(item["name"])
        stack.extend(item.get("subsegments", []))
    return names
