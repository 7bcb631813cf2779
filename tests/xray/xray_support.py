"""Test data for the local X-Ray: the recorded tutorial traces, re-timed and re-identified."""

import copy
import json
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.xray.server import XRayServer

DATA = Path(__file__).parent / "data"
HEADER = b'{"format":"json","version":1}\n'
DDB_FUNCTION = "sam-app-SamDdbFunction-Xb3LkQ9pR2sT"
HELLO_FUNCTION = "sam-app-HelloWorldFunction-Qm7NvB2xK4eP"
STAGE = "sam-app/Prod"


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / name).read_text())


def fresh_trace(name: str, *, ago: float = 5.0) -> list[dict[str, Any]]:
    """A recorded trace as a new trace: new trace id and segment ids, ending `ago` seconds ago.

    Parent links are kept (ids are renamed consistently), so each copy is a distinct request.
    """
    documents = copy.deepcopy(load(name))
    now = time.time()
    latest = max(_ends(documents))
    shift = now - ago - latest
    trace_id = f"1-{int(now - ago):08x}-{random.getrandbits(96):024x}"
    renamed: dict[str, str] = {}

    def new_id(old: str) -> str:
        return renamed.setdefault(old, f"{random.getrandbits(64):016x}")

    def walk(item: dict[str, Any]) -> None:
        item["id"] = new_id(item["id"])
        if "parent_id" in item:
            item["parent_id"] = new_id(item["parent_id"])
        item["start_time"] += shift
        if "end_time" in item:
            item["end_time"] += shift
        for child in item.get("subsegments", []):
            walk(child)

    for document in documents:
        walk(document)
        document["trace_id"] = trace_id
    return documents


def _ends(documents: list[dict[str, Any]]) -> list[float]:
    return [document.get("end_time", document["start_time"]) for document in documents]


def find(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The (sub)segment called `name`, at any depth."""
    stack = list(documents)
    while stack:
        item = stack.pop()
        if item["name"] == name:
            return item
        stack.extend(item.get("subsegments", []))
    raise KeyError(name)


def send(port: int, *payloads: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for payload in payloads:
            sender.sendto(payload, ("127.0.0.1", port))


def datagram(document: dict[str, Any]) -> bytes:
    return HEADER + json.dumps(document).encode()


def send_documents(server: Any, documents: list[dict[str, Any]]) -> None:
    """Send over real UDP and wait until the daemon has stored them."""
    send(server.udp_port, *(datagram(document) for document in documents))
    assert server.wait_idle(10), "the daemon did not process the datagrams in time"


def window(seconds: float = 600) -> dict[str, float]:
    now = time.time()
    return {"StartTime": now - seconds, "EndTime": now + 5}


def nodes(graph: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Services by (Name, Type)."""
    return {(service["Name"], service.get("Type", "")): service for service in graph["Services"]}


def edges(graph: dict[str, Any]) -> dict[tuple[tuple[str, str], tuple[str, str]], dict[str, Any]]:
    """Edges by ((source Name, Type), (target Name, Type))."""
    by_reference = {service["ReferenceId"]: service for service in graph["Services"]}
    result = {}
    for service in graph["Services"]:
        for edge in service["Edges"]:
            target = by_reference[edge["ReferenceId"]]
            key = ((service["Name"], service.get("Type", "")), (target["Name"], target.get("Type", "")))
            result[key] = edge
    return result


def make_client(server: Any) -> Any:
    return boto3.client(
        "xray",
        endpoint_url=server.api_url,
        region_name="ap-northeast-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def post(server: XRayServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A raw request: for what botocore refuses to send (its own validation of lengths)."""
    request = urllib.request.Request(server.api_url + path, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def invalid_request(call: Any, **kwargs: Any) -> str:
    """The message of the 400 InvalidRequestException `call(**kwargs)` must raise."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestException"
    return str(error["Error"]["Message"])


def aws_cli() -> tuple[Path, dict[str, str]]:
    """The venv's AWS CLI and an environment that signs with placeholder credentials and reads
    no config of the user's."""
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="ap-northeast-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return Path(sys.executable).with_name("aws"), env


def spaced_hello_segments(count: int, now: float) -> list[str]:
    """`count` one-segment hello traces, a second apart, ending before `now`, as JSON."""
    documents = []
    for index in range(count):
        segment = fresh_trace("tutorial_hello_trace.json")[0]
        segment["start_time"] = now - 200 + index
        segment["end_time"] = segment["start_time"] + 0.01
        documents.append(json.dumps(segment))
    return documents
