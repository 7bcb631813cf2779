"""The X-Ray documents the handlers send when they run as in Lambda.

In Lambda the service writes the function's segment; the SDK only sees a "facade" built from
_X_AMZN_TRACE_ID and streams each finished subsegment to the daemon as its own document. Here a UDP
socket on 127.0.0.1 stands in for the daemon, so the tests read exactly what would go over the wire.
"""

import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.lambda_launcher import LambdaContext

from hello_world import app as hello_app
from tests.template_reader import Template, table_definition
from tests.unit.handler_support import load_event, throttle_put_item

DAEMON_HEADER = {"format": "json", "version": 1}
# The botocore patch names a subsegment after the service's endpoint prefix; the X-Ray console shows
# it as "DynamoDB" on the service map, but the SDK sends "dynamodb".
DYNAMODB_SUBSEGMENT_NAME = "dynamodb"

Document = dict[str, Any]


def new_trace_header() -> tuple[str, str, str]:
    """(header, trace id, parent id) like Lambda puts in _X_AMZN_TRACE_ID for a sampled request."""
    trace_id = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    parent_id = secrets.token_hex(8)
    return f"Root={trace_id};Parent={parent_id};Sampled=1", trace_id, parent_id


@dataclass
class FakeDaemon:
    """A UDP socket that receives what the SDK's emitter sends, in the daemon's wire format."""

    sock: socket.socket

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def drain(self) -> list[Document]:
        """Everything sent since the last drain. The emitter sends synchronously: it is all buffered."""
        documents: list[Document] = []
        self.sock.setblocking(False)
        while True:
            try:
                datagram = self.sock.recv(65535)
            except BlockingIOError:
                return documents
            header, _, body = datagram.decode("utf-8").partition("\n")
            assert json.loads(header) == DAEMON_HEADER
            documents.append(json.loads(body))


@dataclass
class TracedInvocation:
    response: dict[str, Any]
    documents: list[Document]
    trace_id: str
    parent_id: str


@dataclass
class LambdaSimulator:
    daemon: FakeDaemon
    monkeypatch: pytest.MonkeyPatch

    def invoke(self, handler: Callable[..., dict[str, Any]], event: Any, context: Any) -> TracedInvocation:
        """Call the handler as one sampled Lambda invocation; return its answer and what it sent."""
        header, trace_id, parent_id = new_trace_header()
        self.monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
        self.daemon.drain()  # whatever the test's own setup sent
        response = handler(event, context)
        # Read before the test makes boto3 calls of its own: those are traced too.
        return TracedInvocation(response, self.daemon.drain(), trace_id, parent_id)


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LambdaSimulator]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        daemon = FakeDaemon(sock)
        monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
        emitter = UDPEmitter()  # reads AWS_XRAY_DAEMON_ADDRESS
        # The SDK picks Lambda mode once, when aws_xray_sdk.core is first imported; that has
        # happened already in this process, so the recorder is switched to what it would have
        # chosen with LAMBDA_TASK_ROOT set (and switched back by monkeypatch afterwards).
        monkeypatch.setattr(xray_recorder, "context", LambdaContext())
        monkeypatch.setattr(xray_recorder, "streaming_threshold", 0)
        monkeypatch.setattr(xray_recorder, "emitter", emitter)
        yield LambdaSimulator(daemon, monkeypatch)
        # UDPEmitter has no close(); its socket would otherwise be left to the garbage collector.
        emitter._socket.close()


def only(documents: list[Document], **expected: Any) -> Document:
    """The single document whose top-level fields have the expected values."""
    matches = [doc for doc in documents if all(doc.get(k) == v for k, v in expected.items())]
    assert len(matches) == 1, f"expected one document with {expected}, got {documents}"
    return matches[0]


def assert_streamed_subsegments_of(invocation: TracedInvocation) -> None:
    assert invocation.documents, "nothing was sent to the daemon"
    for document in invocation.documents:
        assert document["type"] == "subsegment"
        assert document["trace_id"] == invocation.trace_id
        assert document["in_progress"] is False
        assert document["start_time"] <= document["end_time"]


def test_ddb_put_item_is_a_subsegment_with_a_dynamodb_call_under_it(
    in_lambda: LambdaSimulator, ddb_app: ModuleType, template: Template
):
    traced = in_lambda.invoke(ddb_app.lambda_handler, load_event("ddb.json"), None)

    assert traced.response["statusCode"] == 200
    assert_streamed_subsegments_of(traced)
    assert len(traced.documents) == 2
    put_item = only(traced.documents, name="put_item ddb")
    assert put_item["parent_id"] == traced.parent_id
    assert put_item["namespace"] == "local"
    dynamodb = only(traced.documents, name=DYNAMODB_SUBSEGMENT_NAME)
    assert dynamodb["parent_id"] == put_item["id"]
    assert dynamodb["namespace"] == "aws"
    assert dynamodb["aws"]["operation"] == "PutItem"
    assert dynamodb["aws"]["table_name"] == table_definition(template)["TableName"]
    assert dynamodb["http"]["response"]["status"] == 200
    for flag in ("error", "fault", "throttle"):
        assert flag not in dynamodb
        assert flag not in put_item


def test_cold_start_annotation_is_true_only_for_the_first_invocation(
    in_lambda: LambdaSimulator, ddb_app: ModuleType
):
    cold_starts = []
    for _ in range(2):
        traced = in_lambda.invoke(ddb_app.lambda_handler, load_event("ddb.json"), None)
        assert traced.response["statusCode"] == 200
        cold_starts.append(only(traced.documents, name="put_item ddb")["annotations"]["ColdStart"])

    assert cold_starts == [True, False]


def test_throttled_dynamodb_calls_are_recorded_as_errors(
    in_lambda: LambdaSimulator, ddb_app: ModuleType, table_items: Callable[[], list]
):
    # DynamoDB throttles every call, however many times the handler tries.
    throttled = throttle_put_item(ddb_app.table.meta.client)
    traced = in_lambda.invoke(ddb_app.lambda_handler, load_event("ddb.json"), None)

    assert traced.response["statusCode"] == 503
    assert table_items() == []
    assert_streamed_subsegments_of(traced)
    put_item = only(traced.documents, name="put_item ddb")
    assert put_item["fault"] is True
    assert put_item["cause"]["exceptions"][0]["type"] == "DynamoUnavailable"
    # One DynamoDB subsegment per attempt: botocore tries once, the handler retries until its deadline.
    calls = [doc for doc in traced.documents if doc["name"] == DYNAMODB_SUBSEGMENT_NAME]
    assert len(calls) == throttled.calls > 1
    for dynamodb in calls:
        assert dynamodb["parent_id"] == put_item["id"]
        # The SDK sets "throttle" only for HTTP 429; DynamoDB's 400 is recorded as an error.
        assert dynamodb["error"] is True
        assert dynamodb["http"]["response"]["status"] == 400
        (exception,) = dynamodb["cause"]["exceptions"]
        assert exception["type"] == "ProvisionedThroughputExceededException"
        assert exception["remote"] is True


def test_rejected_request_sends_no_subsegment(in_lambda: LambdaSimulator, ddb_app: ModuleType):
    traced = in_lambda.invoke(ddb_app.lambda_handler, load_event("ddb_not_json.json"), None)

    assert traced.response["statusCode"] == 400
    assert traced.documents == []


def test_hello_world_is_a_subsegment_of_the_function_segment(in_lambda: LambdaSimulator):
    traced = in_lambda.invoke(hello_app.lambda_handler, load_event("hello.json"), "")

    assert traced.response["statusCode"] == 200
    assert_streamed_subsegments_of(traced)
    hello = only(traced.documents, name="hello world")
    assert hello["parent_id"] == traced.parent_id
    assert len(traced.documents) == 1
