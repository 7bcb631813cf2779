"""Instrumentation=xray-sdk and Instrumentation=opentelemetry draw the same service map.

The tutorial's template built once, run by the local stack with each value of its Instrumentation
parameter (as `make run ARGS="--parameter-overrides Instrumentation=..."` runs it), each with a real
local X-Ray of its own; the same requests (GET /hello, POST /ddb) to each; then GetServiceGraph's
nodes (Name, Type) and edges, and the functions' own subsegments, compared.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.xray.server import XRayServer
from tests.stack_helpers import request, running_stack

pytestmark = pytest.mark.slow

Node = tuple[str, str]
GRAPH_WAIT_SECONDS = 20.0


def service_map(
    template: Path, runtime_dir: Path, db_path: Path, overrides: dict[str, str]
) -> dict[str, Any]:
    """The map, the handlers run and the subsegment names after one GET /hello and one POST /ddb,
    the template's parameters given `overrides`."""
    with (
        XRayServer(port=0, db_path=db_path) as xray_server,
        running_stack(template, runtime_dir, xray_server.daemon_address, overrides) as stack,
    ):
        started = time.time()
        assert request("GET", f"{stack.url}/hello").status == 200
        assert request("POST", f"{stack.url}/ddb", body=b'{"key": "same-map"}').status == 200
        handlers = {function.handler for function in stack.app.functions.values()}
        xray = boto3.client(
            "xray", endpoint_url=xray_server.api_url, region_name="ap-northeast-1",
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        return {"handlers": handlers, **wait_for_map(xray, started)}


def wait_for_map(xray: Any, started: float) -> dict[str, Any]:
    """Poll until both requests are whole on the map (every node one request, Demo included) and
    their traces hold the functions' own subsegments: the spans and segments arrive over UDP."""
    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    while True:
        graph = xray.get_service_graph(StartTime=started - 60, EndTime=time.time() + 60)
        by_reference = {service["ReferenceId"]: service for service in graph["Services"]}
        node_of = {reference: (s["Name"], s["Type"]) for reference, s in by_reference.items()}
        nodes = set(node_of.values())
        edges = {
            (node_of[reference], node_of[edge["ReferenceId"]])
            for reference, service in by_reference.items()
            for edge in service.get("Edges", [])
        }
        names = subsegment_names(xray, started)
        # The stage segment of each request is written as its answer leaves, after the spans:
        # both requests are whole once the stage has its edge to each function.
        from_stage = {target for source, target in edges if source[1] == "AWS::ApiGateway::Stage"}
        whole = (
            ("Demo", "AWS::DynamoDB::Table") in nodes
            and {"hello world", "put_item ddb"} <= names
            and len(from_stage) == 2
        )
        if whole or time.monotonic() > deadline:
            return {"nodes": nodes, "edges": edges, "subsegments": names}
        time.sleep(0.2)


def subsegment_names(xray: Any, started: float) -> set[str]:
    summaries = xray.get_trace_summaries(StartTime=started - 60, EndTime=time.time() + 60)["TraceSummaries"]
    if not summaries:
        return set()
    names: set[str] = set()
    for trace in xray.batch_get_traces(TraceIds=[s["Id"] for s in summaries])["Traces"]:
        for segment in trace["Segments"]:
            names |= set(_names(json.loads(segment["Document"]).get("subsegments", [])))
    return names


def _names(subsegments: list[dict[str, Any]]) -> Iterator[str]:
    for subsegment in subsegments:
        yield subsegment["name"]
        yield from _names(subsegment.get("subsegments", []))


def tutorial_edges(nodes: set[Node]) -> set[tuple[Node, Node]]:
    """The map the tutorial shows: client → sam-app/Prod → each function's two nodes → Demo."""
    stage, demo = ("sam-app/Prod", "AWS::ApiGateway::Stage"), ("Demo", "AWS::DynamoDB::Table")
    functions = {name for name, kind in nodes if kind == "AWS::Lambda::Function"}
    assert len(functions) == 2, nodes
    edges = {(("sam-app/Prod", "client"), stage)}
    for function in functions:
        lambda_service, lambda_function = (function, "AWS::Lambda"), (function, "AWS::Lambda::Function")
        edges |= {(stage, lambda_service), (lambda_service, lambda_function)}
    ddb_function = next(name for name in functions if "SamDdbFunction" in name)
    return edges | {((ddb_function, "AWS::Lambda::Function"), demo)}


def test_both_instrumentations_draw_the_same_map(tutorial_app_template, lambda_runtime_dir, tmp_path: Path):
    template, runtime = tutorial_app_template, lambda_runtime_dir
    xray_sdk = service_map(template, runtime, tmp_path / "sdk.db", {"Instrumentation": "xray-sdk"})
    otel = service_map(template, runtime, tmp_path / "otel.db", {"Instrumentation": "opentelemetry"})

    # Each run really ran its variant's handlers.
    assert xray_sdk["handlers"] == {"app.lambda_handler"}
    assert otel["handlers"] == {"otel_app.lambda_handler"}
    assert otel["nodes"] == xray_sdk["nodes"]
    assert otel["edges"] == xray_sdk["edges"]
    assert otel["edges"] == tutorial_edges(otel["nodes"])
    # The spans keep the X-Ray SDK's subsegment names, under Lambda's own. The DynamoDB call is the
    # one name that changes in a trace's timeline: the X-Ray SDK's patch names it after botocore's
    # service ("dynamodb"), the OpenTelemetry mapping after rpc.service ("DynamoDB"); the map's
    # node is Demo either way.
    for names in (xray_sdk["subsegments"], otel["subsegments"]):
        assert {"hello world", "put_item ddb", "Invocation", "Overhead"} <= names
    assert "dynamodb" in xray_sdk["subsegments"]
    assert "DynamoDB" in otel["subsegments"]
