"""CloudWatch Logs writes to the moto process are as durable as DynamoDB's: every log group,
stream and event it acknowledged is there after moto is stopped, killed or checkpointed, with
the same times and event ids, and an event older than CloudWatch's 14-day window when it is
replayed is still accepted (it was when it was written)."""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.dynamodb.checkpoint import checkpoint_numbers
from emulator.dynamodb.durable_app import encode_request, journaled_service
from emulator.dynamodb.journal import Journal
from emulator.dynamodb.moto_process import Limits, MotoProcess
from emulator.dynamodb.service import DynamoDBService
from emulator.local_credentials import FAKE_CREDENTIALS
from tests.dynamodb.test_durable_tables import TABLE, keys_in, put, wait_for_new_pid

REGION = "ap-northeast-1"
GROUP = "/aws/lambda/sam-app/HelloWorldFunction"
STREAM = "2026/11/30/[$LATEST]0123456789abcdef0123456789abcdef"


def logs_client(endpoint_url: str) -> Any:
    return boto3.client("logs", endpoint_url=endpoint_url, region_name=REGION, **FAKE_CREDENTIALS)


def events_of(client: Any, group: str = GROUP) -> list[dict[str, Any]]:
    pages = client.get_paginator("filter_log_events").paginate(logGroupName=group)
    return [
        {key: event[key] for key in ("logStreamName", "timestamp", "message", "ingestionTime", "eventId")}
        for page in pages
        for event in page["events"]
    ]


def write_lines(client: Any, count: int, first: int = 0) -> None:
    now = int(time.time() * 1000)
    for i in range(first, first + count):
        event = {"timestamp": now + i, "message": f"line {i}"}
        client.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=[event])


def make_group(client: Any) -> None:
    client.create_log_group(logGroupName=GROUP)
    client.put_retention_policy(logGroupName=GROUP, retentionInDays=14)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)


def test_log_groups_streams_and_events_survive_a_stop_with_the_same_times_and_ids(tmp_path: Path):
    moto = MotoProcess(data_dir=tmp_path)
    moto.start()
    try:
        client = logs_client(moto.endpoint_url)
        make_group(client)
        write_lines(client, 20)
        before_events = events_of(client)
        before_groups = client.describe_log_groups()["logGroups"]
        before_streams = client.describe_log_streams(logGroupName=GROUP)["logStreams"]
    finally:
        moto.stop()
    assert [event["message"] for event in before_events] == [f"line {i}" for i in range(20)]

    moto = MotoProcess(data_dir=tmp_path)
    moto.start()
    try:
        client = logs_client(moto.endpoint_url)
        assert moto.loaded.replayed == 23  # group, retention, stream, 20 PutLogEvents
        assert events_of(client) == before_events
        assert client.describe_log_groups()["logGroups"] == before_groups
        assert before_groups[0]["retentionInDays"] == 14
        assert client.describe_log_streams(logGroupName=GROUP)["logStreams"] == before_streams
    finally:
        moto.stop()


def test_a_killed_moto_comes_back_with_its_tables_and_its_log_events(tmp_path: Path):
    with DynamoDBService([TABLE], region=REGION, data_dir=tmp_path) as services:
        client = logs_client(services.endpoint_url)
        make_group(client)
        put(services, "a", "b")
        write_lines(client, 5)
        put(services, "c")
        pid = services._moto.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for_new_pid(services, pid)
        assert keys_in(services) == {"a", "b", "c"}
        assert [event["message"] for event in events_of(logs_client(services.endpoint_url))] == [
            f"line {i}" for i in range(5)
        ]


def test_event_ids_go_on_after_a_checkpoint_and_are_never_given_twice(tmp_path: Path):
    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=10))
    moto.start()
    try:
        client = logs_client(moto.endpoint_url)
        make_group(client)
        write_lines(client, 25)
    finally:
        moto.stop()
    assert checkpoint_numbers(tmp_path), "no checkpoint was written"
    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=10))
    moto.start()
    try:
        assert moto.loaded.checkpoint > 0
        client = logs_client(moto.endpoint_url)
        write_lines(client, 5, first=25)
        events = events_of(client)
    finally:
        moto.stop()
    assert [event["message"] for event in events] == [f"line {i}" for i in range(30)]
    ids = [event["eventId"] for event in events]
    assert len(set(ids)) == len(ids), f"an event id was given twice: {ids}"


def logs_request(operation: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A Logs call as the CLI signs it, as the journal keeps it."""
    environ = {
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/20261130/{REGION}/logs/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "HTTP_X_AMZ_TARGET": f"Logs_20140328.{operation}",
        "CONTENT_TYPE": "application/x-amz-json-1.1",
        "HTTP_HOST": "127.0.0.1",
    }
    assert journaled_service(environ) is not None
    return environ, json.dumps(body).encode()


def test_a_journaled_event_older_than_14_days_is_replayed_at_the_instant_it_was_written(tmp_path: Path):
    # Written (and accepted) 30 days ago; moto refuses events over 14 days old against its own
    # clock, so a replay at today's time would drop it.
    then_ms = int((time.time() - 30 * 86400) * 1000)
    journal = Journal(tmp_path, 1)
    for operation, body in (
        ("CreateLogGroup", {"logGroupName": GROUP}),
        ("CreateLogStream", {"logGroupName": GROUP, "logStreamName": STREAM}),
        (
            "PutLogEvents",
            {
                "logGroupName": GROUP,
                "logStreamName": STREAM,
                "logEvents": [{"timestamp": then_ms - 5, "message": "START RequestId: r1 Version: $LATEST"}],
            },
        ),
    ):
        environ, payload = logs_request(operation, body)
        journal.wait_durable(journal.append(encode_request(environ, payload, then_ms)))
    journal.close()

    moto = MotoProcess(data_dir=tmp_path)
    moto.start()
    try:
        client = logs_client(moto.endpoint_url)
        assert moto.loaded.replayed == 3 and moto.loaded.refused == 0
        [event] = events_of(client)
        assert event["message"] == "START RequestId: r1 Version: $LATEST"
        assert event["timestamp"] == then_ms - 5
        assert event["ingestionTime"] == then_ms
        [group] = client.describe_log_groups()["logGroups"]
        assert group["creationTime"] == then_ms
    finally:
        moto.stop()


@pytest.mark.parametrize(
    ("operation", "journaled"),
    [
        ("PutLogEvents", True),
        ("CreateLogGroup", True),
        ("PutRetentionPolicy", True),
        ("DeleteLogStream", True),
        ("FilterLogEvents", False),
        ("GetLogEvents", False),
        ("DescribeLogStreams", False),
        ("ListTagsForResource", False),
    ],
)
def test_logs_writes_are_journaled_and_reads_are_not(operation: str, journaled: bool):
    from emulator.dynamodb.durable_app import is_write

    environ, _ = logs_request(operation, {})
    assert is_write(environ) is journaled


def test_concurrent_table_and_log_writes_across_checkpoints_come_back_exactly_once(tmp_path: Path):
    """DynamoDB and CloudWatch Logs are applied under locks of their own; a checkpoint holds
    both still, so every acknowledged write is in it or in the journal after it, never both."""
    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=7))
    moto.start()
    try:
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=moto.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS
        )
        dynamodb.create_table(TableName="Demo", **TABLE.create_table_args)
        make_group(logs_client(moto.endpoint_url))

        def write_items(worker: int) -> None:
            client = boto3.client(
                "dynamodb", endpoint_url=moto.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS
            )
            for i in range(40):
                client.put_item(TableName="Demo", Item={"Key": {"S": f"w{worker}-{i}"}})

        def write_events(worker: int) -> None:
            client = logs_client(moto.endpoint_url)
            stream = f"{STREAM}-{worker}"
            client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            for i in range(40):
                event = {"timestamp": int(time.time() * 1000), "message": f"w{worker} line {i}"}
                client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[event])

        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(write_items, w) for w in range(3)] + [
                pool.submit(write_events, w) for w in range(3)
            ]
            for future in futures:
                future.result()
    finally:
        moto.stop()
    assert checkpoint_numbers(tmp_path), "no checkpoint was written"

    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=7))
    moto.start()
    try:
        assert moto.loaded.checkpoint > 0 and moto.loaded.refused == 0
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=moto.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS
        )
        pages = dynamodb.get_paginator("scan").paginate(TableName="Demo")
        keys = sorted(item["Key"]["S"] for page in pages for item in page["Items"])
        messages = sorted(event["message"] for event in events_of(logs_client(moto.endpoint_url)))
    finally:
        moto.stop()
    assert keys == sorted(f"w{w}-{i}" for w in range(3) for i in range(40))
    assert messages == sorted(f"w{w} line {i}" for w in range(3) for i in range(40))  # none twice
