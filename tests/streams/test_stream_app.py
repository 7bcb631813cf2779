"""tests/stream_app/ through `sam build` and the real local stack, with the real local X-Ray:
changes written to the Notes table reach ConsumerFunction as Lambda delivers DynamoDB stream
records, a record the function keeps failing is given up after MaximumRetryAttempts with one
line, the disabled event is never polled, the OnFailure destination is named as ignored, and an
invocation is a trace of its own started by the AWS::Lambda segment (DynamoDB Streams passes no
trace header; the function's Tracing is Active)."""

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.xray.server import XRayServer
from tests.conftest import REPO_ROOT, sam_build
from tests.stack_helpers import RunningStack, running_stack

pytestmark = pytest.mark.slow

STREAM_APP = REPO_ROOT / "tests" / "stream_app"
REGION = "ap-northeast-1"
WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def stream_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sam_build(STREAM_APP / "template.yaml", tmp_path_factory.mktemp("stream-build")).template


@pytest.fixture(scope="module")
def xray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRayServer]:
    server = XRayServer(port=0, db_path=tmp_path_factory.mktemp("xray") / "traces.db")
    with server:
        yield server


@pytest.fixture(scope="module")
def stack(
    stream_app_template: Path, lambda_runtime_dir: Path, xray_server: XRayServer
) -> Iterator[RunningStack]:
    with running_stack(stream_app_template, lambda_runtime_dir, xray_server.daemon_address) as running:
        yield running


@pytest.fixture(scope="module")
def xray(xray_server: XRayServer) -> Any:
    return boto3.client("xray", endpoint_url=xray_server.api_url, region_name=REGION, **FAKE_CREDENTIALS)


def dynamodb(stack: RunningStack) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name=REGION, **FAKE_CREDENTIALS
    )


def seen_for(stack: RunningStack, note_id: str) -> list[dict[str, Any]]:
    """What the functions wrote down for the changes of one note, in stream order."""
    items = dynamodb(stack).scan(TableName="stream-app-seen")["Items"]
    found = []
    for item in items:
        record = json.loads(item["record"]["S"])
        if record["dynamodb"]["Keys"]["id"]["S"] == note_id:
            found.append({"function": item["function"]["S"], "trace": item["trace"]["S"], "record": record})
    return sorted(found, key=lambda seen: int(seen["record"]["dynamodb"]["SequenceNumber"]))


def wait_for_seen(stack: RunningStack, note_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found := seen_for(stack, note_id)) < count:
        assert time.monotonic() < deadline, f"{note_id}: {len(found)} of {count} changes seen"
        time.sleep(0.2)
    return found


def new_note() -> str:
    return f"note-{uuid.uuid4().hex[:8]}"


def test_a_note_s_changes_reach_the_function_as_lambda_delivers_them(stack: RunningStack):
    note = new_note()
    client = dynamodb(stack)
    client.put_item(TableName="stream-app-notes", Item={"id": {"S": note}, "text": {"S": "first"}})
    client.put_item(TableName="stream-app-notes", Item={"id": {"S": note}, "text": {"S": "second"}})
    client.delete_item(TableName="stream-app-notes", Key={"id": {"S": note}})
    seen = wait_for_seen(stack, note, 3)
    stream_arn = client.describe_table(TableName="stream-app-notes")["Table"]["LatestStreamArn"]
    consumer = stack.app.functions["ConsumerFunction"].function_name
    assert [entry["function"] for entry in seen] == [consumer] * 3
    records = [entry["record"] for entry in seen]
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"] == stream_arn
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["text"] == {"S": "first"} and modify["NewImage"]["text"] == {"S": "second"}
    assert records[2]["dynamodb"]["OldImage"]["text"] == {"S": "second"}


def test_a_record_that_keeps_failing_is_given_up_after_its_retries_with_one_line(stack: RunningStack):
    poison, after = new_note(), new_note()
    client = dynamodb(stack)
    client.put_item(TableName="stream-app-notes", Item={"id": {"S": poison}, "poison": {"BOOL": True}})
    client.put_item(TableName="stream-app-notes", Item={"id": {"S": after}})
    wait_for_seen(stack, after, 1)
    number = sequence_number_of(stack, poison)
    deadline = time.monotonic() + WAIT_SECONDS
    while not (
        dropped := [line for source, line in stack.logs if source == "events" and drops(line, number)]
    ):
        assert time.monotonic() < deadline, "no line says the record was dropped"
        time.sleep(0.2)
    assert seen_for(stack, poison) == []
    assert len(dropped) == 1, dropped
    assert dropped[0].startswith("ConsumerFunction.Events.NoteChanges: dropped ")
    # MaximumRetryAttempts 2: the first try and two more. The record after it in the same
    # batch is retried with it (Lambda resumes from the lowest failed record) and given up too.
    assert "after 3 failed attempts (batchItemFailures)" in dropped[0]


def sequence_number_of(stack: RunningStack, note_id: str) -> int:
    """The note's INSERT in the stream, read with DynamoDB Streams' own API."""
    options: dict[str, Any] = {"endpoint_url": stack.dynamodb_endpoint, "region_name": REGION}
    streams = boto3.client("dynamodbstreams", **options, **FAKE_CREDENTIALS)
    arn = dynamodb(stack).describe_table(TableName="stream-app-notes")["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return next(
        int(r["dynamodb"]["SequenceNumber"]) for r in records if r["dynamodb"]["Keys"]["id"]["S"] == note_id
    )


def drops(line: str, number: int) -> bool:
    """A line saying the records from A to B (or the one A) were dropped, `number` among them."""
    found = re.search(r"dropped \d+ records? \(sequence numbers (\d+)(?: to (\d+))?\)", line)
    return found is not None and int(found[1]) <= number <= int(found[2] or found[1])


def test_the_disabled_event_is_not_polled_and_the_destination_is_named_as_ignored(stack: RunningStack):
    note = new_note()
    dynamodb(stack).put_item(TableName="stream-app-notes", Item={"id": {"S": note}})
    wait_for_seen(stack, note, 1)
    paused = stack.app.functions["PausedFunction"].function_name
    assert all(entry["function"] != paused for entry in seen_for(stack, note))
    assert [line for source, line in stack.logs if source == "PausedFunction"] == []
    assert any(
        line.startswith("ConsumerFunction.Events.NoteChanges.DestinationConfig") for line in stack.app.ignored
    )
    events = [line for source, line in stack.logs if source == "events"]
    assert "PausedFunction ← stream of table stream-app-notes: Enabled is false, not polled" in events
    assert any(
        line.startswith("ConsumerFunction ← stream of table stream-app-notes (")
        and line.endswith(": from TRIM_HORIZON, batches of up to 10")
        for line in events
    ), events


def test_an_invocation_is_a_trace_of_its_own_started_by_the_lambda_service(stack: RunningStack, xray: Any):
    note = new_note()
    dynamodb(stack).put_item(TableName="stream-app-notes", Item={"id": {"S": note}})
    (seen,) = wait_for_seen(stack, note, 1)
    trace_id = seen["trace"].split(";")[0].removeprefix("Root=")
    documents = trace_documents(
        xray, trace_id, {"AWS::Lambda", "AWS::Lambda::Function", "AWS::DynamoDB::Table"}
    )
    service = next(d for d in documents if d.get("origin") == "AWS::Lambda")
    function = next(d for d in documents if d.get("origin") == "AWS::Lambda::Function")
    # Nothing upstream: the AWS::Lambda segment has no parent, the function segment hangs under it.
    assert "parent_id" not in service
    assert function["parent_id"] == service["id"]
    assert service["resource_arn"] == stack.app.functions["ConsumerFunction"].arn
    invocation = next(sub for sub in function["subsegments"] if sub["name"] == "Invocation")
    assert "dynamodb" in names_under(invocation)


def trace_documents(xray: Any, trace_id: str, origins: set[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        if origins <= {d.get("origin") for d in documents} or time.monotonic() > deadline:
            assert origins <= {d.get("origin") for d in documents}, documents
            return documents
        time.sleep(0.1)


def names_under(document: dict[str, Any]) -> set[str]:
    names = set()
    pending = list(document.get("subsegments", []))
    while pending:
        item = pending.pop()
        names.add(item["name"])
        pending.extend(item.get("subsegments", []))
    return names
