"""The documents API Gateway, Lambda and the functions write, held to the same shape checks
(tests/tracing/aws_shapes.py) twice: an AWS-shaped trace set written from AWS's documented
examples (tests/xray/data/aws_shaped_lambda_traces.json), and the local stack's own traces,
read back through the local X-Ray API's BatchGetTraces after real requests.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.xray.server import XRayServer
from tests.stack_helpers import RunningStack, request, running_stack
from tests.tracing.aws_shapes import (
    Document,
    check_dynamodb_call,
    check_function_error,
    check_lambda_segments,
    check_sdk_subsegment,
    check_stage_segment,
    one,
    walk,
)

AWS_SHAPED = Path(__file__).resolve().parents[1] / "xray" / "data" / "aws_shaped_lambda_traces.json"
TRACE_WAIT_SECONDS = 15.0
LAMBDA_ORIGINS = {"AWS::ApiGateway::Stage", "AWS::Lambda", "AWS::Lambda::Function"}


def aws_shaped(name: str) -> list[Document]:
    documents: list[Document] = json.loads(AWS_SHAPED.read_text())[name]
    return documents


# -- the checks, one per request kind ------------------------------------------------------


def hello_shapes(documents: list[Document]) -> None:
    call = check_stage_segment(documents, api_name="sam-app", stage="Prod")
    assert call["http"]["request"]["method"] == "GET"
    invocation = check_lambda_segments(documents, call)
    check_sdk_subsegment(invocation, "hello world")


def ddb_shapes(documents: list[Document]) -> None:
    call = check_stage_segment(documents, api_name="sam-app", stage="Prod")
    assert call["http"]["request"]["method"] == "POST"
    invocation = check_lambda_segments(documents, call)
    put_item = check_sdk_subsegment(invocation, "put_item ddb")
    check_dynamodb_call(put_item, "Demo")


def function_error_shapes(documents: list[Document]) -> None:
    call = check_stage_segment(documents, api_name="sam-app", stage="Prod")
    check_lambda_segments(documents, call)
    check_function_error(documents, "DemoError", "handler")


SHAPES: dict[str, Callable[[list[Document]], None]] = {
    "hello": hello_shapes,
    "ddb": ddb_shapes,
    "function_error": function_error_shapes,
}


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_the_aws_shaped_traces_pass_the_checks(kind):
    SHAPES[kind](aws_shaped(kind))


def test_the_checks_can_fail():
    """Each old local shape is caught: an SDK subsegment beside Invocation, a resource_arn and
    request_id on the function segment, a fault for a function error, a POST for every call."""
    hello = aws_shaped("hello")
    function = one(hello, "AWS::Lambda::Function")
    invocation = next(sub for sub in function["subsegments"] if sub["name"] == "Invocation")
    function["subsegments"].append(invocation.pop("subsegments")[0])
    with pytest.raises(AssertionError):
        hello_shapes(hello)

    hello = aws_shaped("hello")
    one(hello, "AWS::Lambda::Function")["aws"]["request_id"] = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
    with pytest.raises(AssertionError):
        hello_shapes(hello)

    failed = aws_shaped("function_error")
    function = one(failed, "AWS::Lambda::Function")
    function["fault"] = function.pop("error")
    with pytest.raises(AssertionError):
        function_error_shapes(failed)

    failed = aws_shaped("function_error")
    [exception] = one(failed, "AWS::Lambda::Function")["cause"]["exceptions"]
    exception["stack"] = [{"label": '  File "/build/RaisesFunction/app.py", line 11, in handler'}]
    with pytest.raises(AssertionError):
        function_error_shapes(failed)

    hello = aws_shaped("hello")
    one(hello, "AWS::ApiGateway::Stage")["subsegments"][0]["http"]["request"]["method"] = "POST"
    with pytest.raises(AssertionError):
        hello_shapes(hello)


# -- the local stack's own traces -----------------------------------------------------------


@pytest.fixture(scope="module")
def xray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    server = XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray") / "traces.db")
    with server:
        yield server


@pytest.fixture(scope="module")
def xray(xray_server: XRayServer) -> Any:
    return boto3.client(
        "xray", endpoint_url=xray_server.api_url, region_name="ap-northeast-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip


@pytest.fixture(scope="module")
def tutorial(tutorial_app_template, lambda_runtime_dir, xray_server) -> Iterator[RunningStack]:
    with running_stack(tutorial_app_template, lambda_runtime_dir, xray_server.daemon_address) as stack:
        yield stack


@pytest.fixture(scope="module")
def fixture_app(fixture_app_template, lambda_runtime_dir, xray_server) -> Iterator[RunningStack]:
    with running_stack(fixture_app_template, lambda_runtime_dir, xray_server.daemon_address) as stack:
        yield stack


def local_trace(xray: Any, trace_id: str, sdk_subsegment: str | None) -> list[Document]:
    """The trace's documents once the three Lambda/API Gateway segments (and the SDK's
    subsegment, when one is expected) have arrived over UDP."""
    deadline = time.monotonic() + TRACE_WAIT_SECONDS
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        documents = [json.loads(segment["Document"]) for trace in traces for segment in trace["Segments"]]
        origins = {document.get("origin") for document in documents}
        names = {entity["name"] for document in documents for entity in walk(document)}
        if origins >= LAMBDA_ORIGINS and (sdk_subsegment is None or sdk_subsegment in names):
            return documents
        if time.monotonic() > deadline:
            return documents
        time.sleep(0.1)


def trace_id_of(response: Any) -> str:
    return str(response.required_header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root="))


def test_local_hello_passes_the_checks(tutorial, xray):
    response = request("GET", tutorial.url + "/hello")
    assert response.status == 200

    documents = local_trace(xray, trace_id_of(response), "hello world")
    hello_shapes(documents)
    stage = one(documents, "AWS::ApiGateway::Stage")
    assert stage["http"]["response"]["content_length"] == len(response.body)
    assert stage["metadata"]["default"]["extended_request_id"] == response.header("x-amz-apigw-id")
    assert stage["aws"]["api_gateway"]["request_id"] == response.header("x-amzn-RequestId")
    assert stage["aws"]["api_gateway"]["account_id"] == tutorial.app.account_id


def test_local_ddb_passes_the_checks(tutorial, xray):
    body = json.dumps({"key": f"shape-{uuid.uuid4()}"}).encode()
    response = request("POST", tutorial.url + "/ddb", body=body)
    assert response.status == 200

    ddb_shapes(local_trace(xray, trace_id_of(response), "put_item ddb"))


def test_local_function_error_passes_the_checks(fixture_app, xray):
    response = request("GET", fixture_app.url + "/raise")
    assert response.status == 502

    documents = local_trace(xray, trace_id_of(response), None)
    function_error_shapes(documents)
    function = one(documents, "AWS::Lambda::Function")
    [exception] = function["cause"]["exceptions"]
    # The frame of the handler's `raise`, in the function's own code.
    assert {"path": "app.py", "line": 11, "label": "handler"} in exception["stack"]
    # Invocation, where the exception happened, is an error too and points at it by id.
    invocation = next(sub for sub in function["subsegments"] if sub["name"] == "Invocation")
    assert invocation["error"] is True and invocation["cause"] == exception["id"]
