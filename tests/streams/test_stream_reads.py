"""Shard iterators in the moto process expire as AWS's do (15 minutes after they are handed
out: the DynamoDB Streams API reference, GetShardIterator), moto forgets them then, and one it
does not know is answered as AWS answers an expired iterator, not with a 500."""

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from emulator.dynamodb.durable_app import DurableDynamoDB, replay_environ
from emulator.dynamodb.moto_process import MotoProcess
from emulator.dynamodb.stream_reads import ITERATOR_LIFETIME_SECONDS, StreamIterators
from emulator.local_credentials import FAKE_CREDENTIALS
from tests.streams.streams_support import REGION

TABLE_ARGS: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}


@pytest.mark.slow
def test_an_iterator_moto_does_not_know_is_an_expired_iterator(shared_moto: MotoProcess):
    options: dict[str, Any] = {"endpoint_url": shared_moto.endpoint_url, "region_name": REGION}
    dynamodb = boto3.client("dynamodb", **options, **FAKE_CREDENTIALS)
    streams = boto3.client("dynamodbstreams", **options, **FAKE_CREDENTIALS)
    table = f"t-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(TableName=table, **TABLE_ARGS)
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    made_up = f"{stream_arn}|1|{'A' * 40}"
    with pytest.raises(ClientError) as refused:
        streams.get_records(ShardIterator=made_up)
    assert refused.value.response["Error"]["Code"] == "ExpiredIteratorException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(app: DurableDynamoDB, target: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    scope = f"testing/20200101/{REGION}/dynamodb/aws4_request"
    headers = {
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_HOST": "127.0.0.1",
    }
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = status

    chunks = app(replay_environ(headers, json.dumps(body).encode()), start_response)
    return answer["status"], json.loads(b"".join(chunks) or b"{}")


def test_an_iterator_is_forgotten_15_minutes_after_it_was_handed_out():
    clock = Clock()
    app = DurableDynamoDB(DomainDispatcherApplication(create_backend_app), None)
    app._stream_iterators = StreamIterators(clock)
    table = f"t-{uuid.uuid4().hex[:10]}"
    assert call(app, "DynamoDB_20120810.CreateTable", {"TableName": table, **TABLE_ARGS})[0].startswith("200")
    call(app, "DynamoDB_20120810.PutItem", {"TableName": table, "Item": {"id": {"S": "a"}}})
    description = call(app, "DynamoDB_20120810.DescribeTable", {"TableName": table})[1]
    stream_arn = description["Table"]["LatestStreamArn"]
    shard = call(app, "DynamoDBStreams_20120810.DescribeStream", {"StreamArn": stream_arn})[1]
    shard_id = shard["StreamDescription"]["Shards"][0]["ShardId"]
    start = {"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
    old = call(app, "DynamoDBStreams_20120810.GetShardIterator", start)[1]["ShardIterator"]
    clock.now += ITERATOR_LIFETIME_SECONDS - 1
    status, answer = call(app, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": old})
    assert status.startswith("200") and len(answer["Records"]) == 1
    newer = answer["NextShardIterator"]
    clock.now += 2  # the first iterator is now older than 15 minutes, the next one is not
    status, answer = call(app, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": old})
    assert status.startswith("400")
    assert answer["__type"].endswith("#ExpiredIteratorException")
    known = {key for regions in dynamodbstreams_backends.values() for backend in regions.values()
             for key in backend.shard_iterators}  # fmt: skip
    assert old not in known and newer in known
    assert call(app, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": newer})[0].startswith("200")


def test_a_stream_read_waits_until_every_journaled_write_is_on_disk(tmp_path: Path):
    # A write's stream record is visible once moto applied it, before its fsync: the read must
    # not hand it out before then.
    app = DurableDynamoDB(DomainDispatcherApplication(create_backend_app), tmp_path)
    app.recover()
    try:
        table = f"t-{uuid.uuid4().hex[:10]}"
        call(app, "DynamoDB_20120810.CreateTable", {"TableName": table, **TABLE_ARGS})
        call(app, "DynamoDB_20120810.PutItem", {"TableName": table, "Item": {"id": {"S": "a"}}})
        stream_arn = call(app, "DynamoDB_20120810.DescribeTable", {"TableName": table})[1]["Table"][
            "LatestStreamArn"
        ]
        journal = app._journal
        assert journal is not None and journal.appended == 2
        waited: list[int] = []
        make_durable = app._make_durable

        def noting(ticket: int) -> None:
            waited.append(ticket)
            make_durable(ticket)

        app._make_durable = noting  # type: ignore[method-assign]
        call(app, "DynamoDBStreams_20120810.DescribeStream", {"StreamArn": stream_arn})
        assert waited == [2]
    finally:
        app.close()
