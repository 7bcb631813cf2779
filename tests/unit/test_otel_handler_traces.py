"""What the OpenTelemetry handlers (otel_app.py) send when they run as in Lambda, read as the
X-Ray daemon reads it.

Lambda gives the function _X_AMZN_TRACE_ID (Root, Parent: its function segment, Sampled) and
AWS_XRAY_DAEMON_ADDRESS; a UDP socket on 127.0.0.1 stands in for the daemon. Each datagram is taken
apart with the local X-Ray's own reader (daemon header, T1S, OTLP) and converted to the segment
documents X-Ray would store, so the tests check what the console shows: the same subsegments, names
and annotation as the X-Ray SDK's handlers write (tests/unit/test_handler_traces.py).
"""

import json
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.xray.daemon import split_datagram
from emulator.xray.otlp.datagram import read
from emulator.xray.otlp.intake import convert
from tests.unit.conftest import HANDLER_MODULES
from tests.unit.handler_support import import_fresh, load_event, throttle_put_item, uninstrument_botocore

Document = dict[str, Any]


@dataclass
class Daemon:
    sock: socket.socket

    def drain(self) -> list[Document]:
        """Every document of the datagrams sent so far: spans are sent as they end, before the
        handler returns, so they are all buffered."""
        documents: list[Document] = []
        self.sock.setblocking(False)
        while True:
            try:
                datagram = self.sock.recv(65535)
            except BlockingIOError:
                return documents
            otlp = read(split_datagram(datagram))
            assert otlp.sampled and otlp.request is not None
            converted = convert(otlp.request)
            assert converted.rejected == []
            documents += [json.loads(facts.document) for facts in converted.documents]


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{sock.getsockname()[1]}")
        # What Lambda sets and the resource detector reads.
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sam-app-SamDdbFunction-ABC")
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        monkeypatch.setenv("AWS_REGION", "ap-northeast-1")
        monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
        yield Daemon(sock)
        uninstrument_botocore()


def lambda_trace_header(monkeypatch: pytest.MonkeyPatch, sampled: int = 1) -> tuple[str, str]:
    """Set _X_AMZN_TRACE_ID as Lambda does for one invocation; (trace id, parent id)."""
    trace_id = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    parent_id = secrets.token_hex(8)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={trace_id};Parent={parent_id};Sampled={sampled}")
    return trace_id, parent_id


def only(documents: list[Document], name: str) -> Document:
    matches = [document for document in documents if document["name"] == name]
    assert len(matches) == 1, f"expected one {name!r}, got {[d['name'] for d in documents]}"
    return matches[0]


def test_hello_world_is_a_subsegment_of_the_function_segment(daemon: Daemon, monkeypatch: pytest.MonkeyPatch):
    app = import_fresh("hello_world.otel_app")
    trace_id, parent_id = lambda_trace_header(monkeypatch)

    response = app.lambda_handler(load_event("hello.json"), None)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "hello world"}
    (hello,) = daemon.drain()
    assert (hello["name"], hello["type"], hello["trace_id"], hello["parent_id"]) == (
        "hello world", "subsegment", trace_id, parent_id,
    )  # fmt: skip
    # A subsegment is drawn under its function: no namespace, no origin, so no node of its own.
    assert "namespace" not in hello and "origin" not in hello


def test_ddb_put_item_is_a_subsegment_with_the_dynamodb_call_under_it(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, demo_table: Any
):
    app = import_fresh("sam_ddb.otel_app")
    trace_id, parent_id = lambda_trace_header(monkeypatch)

    response = app.lambda_handler(load_event("ddb.json"), None)

    assert response["statusCode"] == 200
    documents = daemon.drain()
    assert {document["trace_id"] for document in documents} == {trace_id}
    put_item = only(documents, "put_item ddb")
    assert (put_item["type"], put_item["parent_id"]) == ("subsegment", parent_id)
    # The X-Ray SDK's put_annotation, as an attribute that aws.xray.annotations names.
    assert put_item["annotations"] == {"ColdStart": True}
    dynamodb = only(documents, "DynamoDB")
    assert dynamodb["parent_id"] == put_item["id"]
    assert dynamodb["namespace"] == "aws"
    assert dynamodb["aws"]["operation"] == "PutItem"
    assert dynamodb["aws"]["table_name"] == demo_table.name
    assert dynamodb["http"]["response"]["status"] == 200

    app.lambda_handler(load_event("ddb.json"), None)
    assert only(daemon.drain(), "put_item ddb")["annotations"] == {"ColdStart": False}


def test_a_throttled_write_is_a_fault_on_put_item_ddb(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, demo_table: Any
):
    app = import_fresh("sam_ddb.otel_app")
    monkeypatch.setattr("ddb_request.DEADLINE_SECONDS", 0.0)  # one attempt, then DynamoUnavailable
    throttle_put_item(app.table.meta.client)
    lambda_trace_header(monkeypatch)

    response = app.lambda_handler(load_event("ddb.json"), None)

    assert response["statusCode"] == 503
    put_item = only(daemon.drain(), "put_item ddb")
    assert put_item.get("fault") is True
    # OpenTelemetry names the exception's class with its module; the X-Ray SDK wrote DynamoUnavailable.
    assert put_item["cause"]["exceptions"][0]["type"] == "ddb_request.DynamoUnavailable"


@pytest.mark.parametrize("module", ["hello_world.otel_app", "sam_ddb.otel_app"])
def test_an_unsampled_request_sends_nothing(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, demo_table: Any, module: str
):
    app = import_fresh(module)
    lambda_trace_header(monkeypatch, sampled=0)

    event = load_event("ddb.json" if module.startswith("sam_ddb") else "hello.json")
    assert app.lambda_handler(event, None)["statusCode"] == 200
    assert daemon.drain() == []


def test_the_two_functions_send_spans_with_the_same_exporter():
    # Each function is its own deployment package, so the exporter is in both otel_app.py files;
    # they must not drift apart.
    root = Path(__file__).resolve().parents[2]
    sources = [(root / folder / "otel_app.py").read_text() for folder in ("hello_world", "sam_ddb")]
    blocks = [
        text[text.index("class XRayDaemonSpanExporter") : text.index("provider = tracer_provider()")]
        for text in sources
    ]
    # The only difference allowed: the service name outside Lambda.
    assert blocks[0].replace('"hello_world")', '"sam_ddb")') == blocks[1]
    assert HANDLER_MODULES["opentelemetry"] == "otel_app"
