"""The tutorial on the local stack with the real local X-Ray: two curls, then the service map.

Everything is real: HTTP into the gateway, awslambdaric workers, the X-Ray SDK's UDP, the
daemon, SQLite, and boto3's xray client reading the X-Ray API. The stack and the X-Ray
server are shared by the module, so each test reads only what its own requests recorded
(their trace ids, or counts before and after) and makes the requests it needs itself.
"""

import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from rich.console import Console

from console.service_map import main as map_main
from console.service_map import render_service_map
from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.xray.server import XRayServer
from tests.stack_helpers import Response, RunningStack, request, running_stack

if TYPE_CHECKING:
    from mypy_boto3_xray import XRayClient

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
def xray(xray_server: XRayServer) -> "XRayClient":
    return boto3.client(
        "xray", endpoint_url=xray_server.api_url, region_name="ap-northeast-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip


def function_names(stack: RunningStack) -> tuple[str, str]:
    functions = stack.app.functions
    return functions["HelloWorldFunction"].function_name, functions["SamDdbFunction"].function_name


def trace_id_of(response: Response) -> str:
    return response.required_header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root=")


def wait_for_trace_graph(
    xray: Any, trace_ids: list[str], expected_counts: dict[tuple[str, str], int]
) -> dict[tuple[str, str], Any]:
    """Poll until every node of these traces' graph has the expected request count
    (segments arrive over UDP)."""
    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    while True:
        services = xray.get_trace_graph(TraceIds=trace_ids)["Services"]
        nodes = {(service["Name"], service["Type"]): service for service in services}
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


def tutorial_calls(stack: RunningStack) -> list[str]:
    """The tutorial's two curls; their trace ids."""
    hello = request("GET", stack.url + "/hello")
    assert hello.status == 200
    ddb = request("POST", stack.url + "/ddb", body=json.dumps({"key": f"map-{uuid.uuid4()}"}).encode())
    assert ddb.status == 200
    return [trace_id_of(hello), trace_id_of(ddb)]


def test_two_tutorial_calls_draw_the_tutorial_service_map(tutorial, xray):
    trace_ids = tutorial_calls(tutorial)

    hello, ddb = function_names(tutorial)
    expected = {
        STAGE: 2,
        (hello, "AWS::Lambda"): 1,
        (hello, "AWS::Lambda::Function"): 1,
        (ddb, "AWS::Lambda"): 1,
        (ddb, "AWS::Lambda::Function"): 1,
        TABLE: 1,
    }
    nodes = wait_for_trace_graph(xray, trace_ids, expected)

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
    # The client node (Type client, named as the root, no statistics) calls the stage.
    client = nodes[(STAGE[0], "client")]
    assert "SummaryStatistics" not in client
    assert set(edge_targets(nodes, (STAGE[0], "client"))) == {STAGE}
    for key, node in nodes.items():
        if key[1] == "client":
            continue
        stats = node["SummaryStatistics"]
        assert stats["OkCount"] == stats["TotalCount"], node["Name"]
        assert stats["TotalResponseTime"] > 0


def test_trace_of_a_ddb_call_has_every_segment_and_the_sdk_subsegments(tutorial, xray):
    response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": "trace-me"}).encode())
    assert response.status == 200
    trace_id = trace_id_of(response)

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
    assert {"Invocation", "Overhead"} <= {sub["name"] for sub in function_segment["subsegments"]}
    # The SDK's subsegments (and boto3's call inside them) hang under Invocation, as in AWS.
    invocation = next(sub for sub in function_segment["subsegments"] if sub["name"] == "Invocation")
    assert {"put_item ddb", "dynamodb"} <= _names(invocation)
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
    assert "Sampled=0" in response.required_header("X-Amzn-Trace-Id")
    # A sampled request after it, through the same hops: once its trace is stored, whatever
    # the first request sent (before its response) has been received and stored too.
    marker = trace_id_of(request("GET", tutorial.url + "/hello"))
    wait_for_trace_graph(xray, [marker], {STAGE: 1})
    assert xray.batch_get_traces(TraceIds=[root])["Traces"] == []


def test_dynamodb_failure_is_a_fault_on_the_table_node(tutorial, xray):
    _, ddb = function_names(tutorial)
    # A real DynamoDB failure from moto: the table is gone (ResourceNotFoundException).
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=tutorial.dynamodb_endpoint,
        region_name=tutorial.app.region,
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )
    dynamodb.delete_table(TableName="Demo")
    try:
        response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": "no-table"}).encode())
    finally:
        table = next(t for t in tutorial.app.tables if t.table_name == "Demo")
        dynamodb.create_table(TableName="Demo", **table.create_table_args)
    assert response.status == 500, response.body
    assert response.json() == {"message": "internal error"}

    nodes = wait_for_trace_graph(xray, [trace_id_of(response)], {STAGE: 1, TABLE: 1})
    assert nodes[TABLE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    # The stage answered 500: a fault there too. The function returned its 500 answer
    # itself (it did not raise), so Lambda records no fault on the function node.
    assert nodes[STAGE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    assert nodes[(ddb, "AWS::Lambda::Function")]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 0


def test_dynamodb_outage_answers_503_and_faults_the_stage(
    tutorial_app_template, lambda_runtime_dir, xray_server, xray
):
    # A stack of its own: taking DynamoDB away must not change what the other tests see.
    with running_stack(tutorial_app_template, lambda_runtime_dir, xray_server.daemon_address) as stack:
        assert stack.stack.dynamodb is not None
        # The handler's bounded retries give up and it answers 503 inside the function
        # timeout. (The X-Ray SDK records a connection error on the boto3 subsegment without
        # a fault flag, so here the fault shows on the stage, as in AWS.)
        stack.stack.dynamodb.stop()
        response = request("POST", stack.url + "/ddb", body=json.dumps({"key": "outage"}).encode())
        assert response.status == 503, response.body
        assert "DynamoDB is unavailable" in response.json()["message"]
        nodes = wait_for_trace_graph(xray, [trace_id_of(response)], {STAGE: 1})
        assert nodes[STAGE]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1


def test_terminal_map_draws_the_local_graph(tutorial, xray_server, xray, capsys):
    hello, ddb = function_names(tutorial)
    trace_ids = tutorial_calls(tutorial)
    wait_for_trace_graph(xray, trace_ids, {STAGE: 2, TABLE: 1})
    assert map_main(["--endpoint-url", xray_server.api_url, "--minutes", "10"]) == 0
    printed = capsys.readouterr().out
    for name in ("client", "sam-app/Prod", hello, ddb, "Demo", "AWS::DynamoDB::Table"):
        assert name in printed
    assert "ms avg" in printed


def test_renderer_accepts_the_local_answer_unchanged(tutorial, xray):
    wait_for_trace_graph(xray, tutorial_calls(tutorial), {STAGE: 2})
    now = time.time()
    graph = xray.get_service_graph(StartTime=now - 600, EndTime=now + 60)
    out = io.StringIO()
    Console(file=out, width=200).print(render_service_map(graph))
    assert "sam-app/Prod" in out.getvalue()


def _names(document: dict[str, Any]) -> set[str]:
    names = set()
    stack = list(document.get("subsegments", []))
    while stack:
        item = stack.pop()
        names.add(item["name"])
        stack.extend(item.get("subsegments", []))
    return names
