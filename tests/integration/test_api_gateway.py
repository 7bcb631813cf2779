"""The deployed stack, end to end: both routes answer, and X-Ray holds the trace of each request.

Runs only against a real stack: `make deploy`, then
    AWS_SAM_STACK_NAME=sam-app .venv/bin/python -m pytest tests/integration
with credentials that may read the stack and its REST API (apigateway:GET), call X-Ray and
delete the items these tests write.
"""

import json
import os
import secrets
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

# samconfig.toml deploys to this region; AWS_REGION / AWS_DEFAULT_REGION or a profile can override it.
DEFAULT_REGION = "ap-northeast-1"
HTTP_TIMEOUT_SECONDS = 10
# X-Ray is eventually consistent: a trace is usually searchable after a few seconds, rarely a minute.
TRACE_WAIT_SECONDS = 60
TRACE_POLL_SECONDS = 5

Document = dict[str, Any]


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    if not os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip("AWS_SAM_STACK_NAME is not set: these tests need a deployed stack (make deploy)")
    session = boto3.Session()
    return session if session.region_name else boto3.Session(region_name=DEFAULT_REGION)


@pytest.fixture(scope="module")
def outputs(session: boto3.Session) -> dict[str, str]:
    """The stack's Outputs, by key."""
    stack_name = os.environ["AWS_SAM_STACK_NAME"]
    (stack,) = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    found = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = {"HelloWorldApi", "SamDdbApi", "HelloWorldFunction", "SamDdbFunction", "DemoTableName"} - set(
        found
    )
    assert not missing, f"stack {stack_name} lacks outputs {sorted(missing)}"
    return found


def new_trace_header() -> tuple[str, str]:
    """(X-Amzn-Trace-Id header, trace id): a sampled trace that API Gateway continues."""
    trace_id = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={trace_id};Sampled=1", trace_id


def call(url: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], str]:
    """(status, JSON answer, trace id) of one traced request."""
    header, trace_id = new_trace_header()
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"X-Amzn-Trace-Id": header})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
        assert response.headers.get_content_type() == "application/json"
        return response.status, json.loads(response.read()), trace_id


def function_name(function_arn: str) -> str:
    return function_arn.split(":")[6]


def api_stage_name(session: boto3.Session, api_url: str) -> str:
    """X-Ray names the API Gateway segment `<API name>/<stage>`: the API Gateway developer
    guide's "Understanding AWS X-Ray traces for Amazon API Gateway APIs" shows the stage `dev`
    of API `a1b2c3d4e5` as the segment "testxray/dev". SAM names a template's implicit API
    after the stack, so for stack sam-app this is "sam-app/Prod"; the name is read from API
    Gateway rather than assumed."""
    parsed = urlparse(api_url)
    if parsed.hostname is None:
        raise ValueError(f"the stack's API URL has no host name: {api_url!r}")
    api_id, stage = parsed.hostname.split(".")[0], parsed.path.split("/")[1]
    name = session.client("apigateway").get_rest_api(restApiId=api_id)["name"]
    return f"{name}/{stage}"


def all_entities(documents: list[Document]) -> Iterator[Document]:
    """Every segment and (nested) subsegment of a trace."""
    pending = list(documents)
    while pending:
        entity = pending.pop()
        yield entity
        pending.extend(entity.get("subsegments", []))


def wait_for_trace(
    session: boto3.Session, trace_id: str, since: datetime, complete: Callable[[list[Document]], bool]
) -> list[Document]:
    """The trace's segment documents, once `complete` accepts them or the wait is over."""
    xray = session.client("xray")
    documents: list[Document] = []
    deadline = time.monotonic() + TRACE_WAIT_SECONDS
    while True:
        summaries = xray.get_paginator("get_trace_summaries").paginate(
            StartTime=since - timedelta(minutes=1), EndTime=datetime.now(UTC) + timedelta(minutes=1)
        )
        if any(summary["Id"] == trace_id for page in summaries for summary in page["TraceSummaries"]):
            traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
            documents = [json.loads(segment["Document"]) for trace in traces for segment in trace["Segments"]]
            if complete(documents):
                return documents
        if time.monotonic() > deadline:
            return documents
        time.sleep(TRACE_POLL_SECONDS)


def invocation_of(documents: list[Document]) -> Document:
    """The function segment's Invocation subsegment: the Lambda developer guide's X-Ray page,
    "you can use the X-Ray SDK to extend the Invocation subsegment with additional subsegments
    for downstream calls, annotations, and metadata"."""
    function = next(doc for doc in documents if doc.get("origin") == "AWS::Lambda::Function")
    return next(sub for sub in function.get("subsegments", []) if sub["name"] == "Invocation")


def has_stage_and_function(
    stage: str, function: str, sdk_subsegment: str
) -> Callable[[list[Document]], bool]:
    """Complete once the stage, the function and the SDK's subsegment under Invocation are in."""

    def complete(documents: list[Document]) -> bool:
        origins = {(doc.get("origin"), doc.get("name")) for doc in documents}
        wanted = {("AWS::ApiGateway::Stage", stage), ("AWS::Lambda::Function", function)}
        if not wanted <= origins:
            return False
        invocation = invocation_of(documents)
        return sdk_subsegment in {sub["name"] for sub in invocation.get("subsegments", [])}

    return complete


def test_hello_answers_and_is_traced_through_the_stage_and_function(
    session: boto3.Session, outputs: dict[str, str]
):
    started = datetime.now(UTC)
    status, answer, trace_id = call(outputs["HelloWorldApi"], "GET")

    assert (status, answer) == (200, {"message": "hello world"})
    stage = api_stage_name(session, outputs["HelloWorldApi"])
    function = function_name(outputs["HelloWorldFunction"])
    complete = has_stage_and_function(stage, function, "hello world")
    documents = wait_for_trace(session, trace_id, started, complete)
    assert complete(documents), documents


@pytest.fixture
def written_keys(session: boto3.Session, outputs: dict[str, str]) -> Iterator[list[dict[str, str]]]:
    """Items the test writes, deleted afterwards so the demo table does not fill up with test data."""
    keys: list[dict[str, str]] = []
    yield keys
    table = session.resource("dynamodb").Table(outputs["DemoTableName"])
    for key in keys:
        table.delete_item(Key=key)


def test_ddb_stores_the_item_and_the_put_item_is_traced(
    session: boto3.Session, outputs: dict[str, str], written_keys: list[dict[str, str]]
):
    key = f"integration-{uuid.uuid4()}"
    started = datetime.now(UTC)
    status, answer, trace_id = call(outputs["SamDdbApi"], "POST", {"key": key})

    assert status == 200
    assert answer["message"] == "succeeded"
    assert answer["Key"] == key
    written_keys.append({"Key": answer["Key"], "CreateDate": answer["CreateDate"]})
    stage = api_stage_name(session, outputs["SamDdbApi"])
    function = function_name(outputs["SamDdbFunction"])
    complete = has_stage_and_function(stage, function, "put_item ddb")
    documents = wait_for_trace(session, trace_id, started, complete)
    assert complete(documents), documents
    entities = list(all_entities([invocation_of(documents)]))
    assert "put_item ddb" in {entity["name"] for entity in entities}
    # The X-Ray segment documents reference: an AWS SDK call is a subsegment in namespace
    # "aws" with the operation and, for DynamoDB, the table_name.
    assert any(
        entity.get("namespace") == "aws"
        and entity.get("aws", {}).get("operation") == "PutItem"
        and entity.get("aws", {}).get("table_name") == outputs["DemoTableName"]
        for entity in entities
    ), entities
