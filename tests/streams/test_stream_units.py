"""The parts of the DynamoDB stream poller that need no moto: the DynamoDB event's limits as the
template is read, a record's size as DynamoDB counts it, the event's JSON, records given up for
their age, and batches cut to Lambda's payload limit."""

import base64
import datetime
import json
import threading
from typing import Any

import pytest

from emulator.app.errors import TemplateError
from emulator.app.event_sources import read_event_sources
from emulator.app.intrinsics import Resolver
from emulator.app.model import StreamEventSpec
from emulator.lambda_.event_sources.stream_batches import STREAM_RETENTION_SECONDS, BatchDelivery
from emulator.lambda_.event_sources.stream_poller import _within_payload_limit
from emulator.lambda_.event_sources.stream_records import event_json, item_size, lambda_record
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES
from emulator.lambda_.service import InvokeResult
from emulator.tracing.documents import Span

STREAM_ARN = "arn:aws:dynamodb:ap-northeast-1:123456789012:table/t/stream/2026-11-30T05:43:08.177"
NOW = 1_800_000_000.0


def read_stream_event(table_properties: dict[str, Any] | None = None, **properties: Any) -> StreamEventSpec:
    if table_properties is None:
        table_properties = {"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}
    document = {
        "Resources": {
            "Items": {"Type": "AWS::DynamoDB::Table", "Properties": table_properties},
            "Worker": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "Changes": {
                            "Type": "DynamoDB",
                            "Properties": {
                                "Stream": {"Fn::GetAtt": ["Items", "StreamArn"]},
                                "StartingPosition": "TRIM_HORIZON",
                                **properties,
                            },
                        }
                    }
                },
            },
        }
    }
    resolver = Resolver(document, stack_name="sam-app", region="ap-northeast-1", account_id="123456789012")
    (event,) = read_event_sources(document["Resources"], {"Worker"}, resolver).stream_events
    return event


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BatchSize", 0),
        ("BatchSize", 10001),
        ("MaximumBatchingWindowInSeconds", 301),
        ("MaximumRetryAttempts", -2),
        ("MaximumRetryAttempts", 10001),
        ("MaximumRecordAgeInSeconds", 59),
        ("MaximumRecordAgeInSeconds", 604801),
    ],
)
def test_values_a_deployment_would_refuse_stop_the_start_naming_the_property(name: str, value: int):
    with pytest.raises(TemplateError, match=rf"^Worker\.Events\.Changes\.{name}: must be .*, got {value}$"):
        read_stream_event(None, **{name: value})


@pytest.mark.parametrize("getatt", [["Items", "StreamArn"], "Items.StreamArn"])
def test_a_stream_of_a_table_without_stream_specification_is_refused_naming_both(getatt: Any):
    message = r"^Worker\.Events\.Changes\.Stream: table Items has no StreamSpecification, so no StreamArn"
    with pytest.raises(TemplateError, match=message):
        read_stream_event({}, Stream={"Fn::GetAtt": getatt})


def test_the_limits_themselves_are_taken():
    event = read_stream_event(
        BatchSize=10000,
        MaximumBatchingWindowInSeconds=300,
        MaximumRetryAttempts=10000,
        MaximumRecordAgeInSeconds=60,
    )
    assert (event.batch_size, event.batching_window_s, event.maximum_retry_attempts) == (10000, 300, 10000)
    assert event.maximum_record_age_s == 60
    assert read_stream_event().maximum_record_age_s == -1


# -- records ------------------------------------------------------------------------------------


def moto_record(number: int, created: float = NOW, **dynamodb: Any) -> dict[str, Any]:
    """A record as boto3 parses moto's GetRecords answer."""
    return {
        "eventID": f"{number:032x}",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": "NEW_IMAGE",
            "ApproximateCreationDateTime": datetime.datetime.fromtimestamp(created, datetime.UTC),
            "SequenceNumber": str(1100000000017454423009 + number),
            "SizeBytes": 999,
            "Keys": {"id": {"S": str(number)}},
            **dynamodb,
        },
    }


def test_a_record_is_put_in_lambda_s_shape():
    record = lambda_record(
        moto_record(1, NOW + 0.7, NewImage={"id": {"S": "1"}}), region="ap-northeast-1", stream_arn=STREAM_ARN
    )
    assert record == {
        "eventID": f"{1:032x}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-northeast-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(NOW),
            "Keys": {"id": {"S": "1"}},
            "NewImage": {"id": {"S": "1"}},
            "SequenceNumber": "1100000000017454423010",
            "SizeBytes": 3 + 3,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }


def test_sizes_are_counted_as_dynamodb_counts_an_item():
    # Names and strings in UTF-8 bytes, numbers a byte per two significant digits plus one,
    # binary in raw bytes, Booleans and null one byte, lists and maps 3 bytes plus 1 per element.
    assert item_size({"név": {"S": "ü"}}) == 4 + 2
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "-0.0100"}}) == 1 + 2
    assert item_size({"b": {"B": b"\x00\x01\x02"}}) == 1 + 3
    assert item_size({"f": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3


def test_size_bytes_of_the_lambda_guide_s_example_records():
    # with-ddb's example event: an INSERT of 26 bytes and a MODIFY of 59.
    keys = {"Id": {"N": "101"}}
    first = {"Message": {"S": "New item!"}, "Id": {"N": "101"}}
    second = {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}}
    insert = lambda_record(
        moto_record(1, Keys=keys, NewImage=first), region="us-west-2", stream_arn=STREAM_ARN
    )
    modify = lambda_record(
        moto_record(2, Keys=keys, OldImage=first, NewImage=second), region="us-west-2", stream_arn=STREAM_ARN
    )
    assert (insert["dynamodb"]["SizeBytes"], modify["dynamodb"]["SizeBytes"]) == (26, 59)


def test_the_event_carries_binary_values_in_base64():
    record = lambda_record(
        moto_record(1, NewImage={"id": {"S": "1"}, "b": {"B": b"\xff\x00"}}),
        region="ap-northeast-1",
        stream_arn=STREAM_ARN,
    )
    event = json.loads(event_json([record]))
    assert event["Records"][0]["dynamodb"]["NewImage"]["b"] == {"B": base64.b64encode(b"\xff\x00").decode()}


def test_a_batch_is_cut_to_the_invoke_payload_limit():
    big = "x" * (350 * 1024)
    records = [
        lambda_record(
            moto_record(i, NewImage={"id": {"S": str(i)}, "big": {"S": big}}), region="r", stream_arn="a"
        )
        for i in range(40)
    ]
    batch = _within_payload_limit(records)
    assert 0 < len(batch) < len(records)
    assert len(event_json(batch)) <= MAX_PAYLOAD_BYTES < len(event_json(records[: len(batch) + 1]))


# -- records given up for their age ---------------------------------------------------------


def succeeded(payload: bytes = b"null") -> InvokeResult:
    return InvokeResult("id", "success", payload, None, False, None, Span(0, 1), 1.0, None)


def deliver_at(now: float, records: list[dict[str, Any]], **spec: Any) -> tuple[list[list[str]], list[str]]:
    """Deliver at `now`; what the function got (ids per batch) and the lines written."""
    got: list[list[str]] = []
    lines: list[str] = []

    def invoke(event: bytes) -> InvokeResult:
        got.append([r["dynamodb"]["Keys"]["id"]["S"] for r in json.loads(event)["Records"]])
        return succeeded()

    event = StreamEventSpec("Worker", "Changes", STREAM_ARN, "TRIM_HORIZON", **spec)
    assert BatchDelivery(event, invoke, lines.append, threading.Event(), clock=lambda: now).deliver(records)
    return got, lines


def shaped(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return [lambda_record(record, region="ap-northeast-1", stream_arn=STREAM_ARN) for record in records]


def test_records_older_than_maximum_record_age_are_dropped_with_one_line():
    records = shaped(moto_record(1, NOW - 120), moto_record(2, NOW - 90), moto_record(3, NOW - 10))
    got, lines = deliver_at(NOW, records, maximum_record_age_s=60)
    assert got == [["3"]]
    assert lines == [
        "Worker.Events.Changes: dropped 2 records (sequence numbers 1100000000017454423010 to "
        "1100000000017454423011), older than MaximumRecordAgeInSeconds (60 s); "
        "the function will not see them again"
    ]


def test_without_a_maximum_age_records_last_the_stream_s_24_hours():
    records = shaped(moto_record(1, NOW - STREAM_RETENTION_SECONDS - 1), moto_record(2, NOW - 3600))
    got, lines = deliver_at(NOW, records)
    assert got == [["2"]]
    assert len(lines) == 1 and "older than the 24-hour retention" in lines[0]


def test_a_throttled_invoke_is_tried_again_without_counting_as_a_retry():
    answers = [
        InvokeResult("id", "error", b"{}", None, False, None, Span(0, 0), 0.0, None, status_code=429),
        succeeded(),
    ]
    got: list[int] = []
    lines: list[str] = []

    def invoke(event: bytes) -> InvokeResult:
        got.append(len(json.loads(event)["Records"]))
        return answers.pop(0)

    spec = StreamEventSpec("Worker", "Changes", STREAM_ARN, "TRIM_HORIZON", maximum_retry_attempts=0)
    delivery = BatchDelivery(spec, invoke, lines.append, threading.Event(), clock=lambda: NOW)
    assert delivery.deliver(shaped(moto_record(1), moto_record(2)))
    # MaximumRetryAttempts 0 and still delivered: the refusal was not the function's failure.
    assert got == [2, 2]
    assert lines == ["Worker.Events.Changes: the invoke was refused (status 429); trying again"]
