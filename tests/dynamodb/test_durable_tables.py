"""Every write the local DynamoDB acknowledged is there after moto is killed, restarted or
checkpointed; a second moto on the same data directory is refused."""

import os
import signal
import time
from pathlib import Path

import boto3
import pytest

from emulator.app.model import TableSpec
from emulator.dynamodb.checkpoint import checkpoint_numbers
from emulator.dynamodb.journal import journal_numbers, journal_path
from emulator.dynamodb.moto_process import Limits, MotoProcess, MotoProcessError
from emulator.dynamodb.service import DynamoDBService
from emulator.local_credentials import FAKE_CREDENTIALS

TABLE = TableSpec(
    "DynamoTable",
    "Demo",
    {
        "KeySchema": [{"AttributeName": "Key", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "Key", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    },
)


def keys_in(services: DynamoDBService) -> set[str]:
    pages = services.client().get_paginator("scan").paginate(TableName="Demo")
    return {item["Key"]["S"] for page in pages for item in page["Items"]}


def put(services: DynamoDBService, *keys: str) -> None:
    client = services.client()
    for key in keys:
        client.put_item(TableName="Demo", Item={"Key": {"S": key}})


def wait_for_new_pid(services: DynamoDBService, old_pid: int | None) -> None:
    deadline = time.monotonic() + 15
    while services._moto.pid in (None, old_pid):
        assert time.monotonic() < deadline, "moto was not restarted"
        time.sleep(0.05)


def test_a_killed_moto_is_restarted_on_its_port_with_every_acknowledged_write(tmp_path: Path):
    lines: list[str] = []
    with DynamoDBService([TABLE], region="ap-northeast-1", data_dir=tmp_path, log=lines.append) as services:
        put(services, *(f"k{i}" for i in range(50)))
        client = services.client()
        client.delete_item(TableName="Demo", Key={"Key": {"S": "k0"}})
        endpoint, pid = services.endpoint_url, services._moto.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for_new_pid(services, pid)
        assert services.endpoint_url == endpoint
        assert keys_in(services) == {f"k{i}" for i in range(1, 50)}
    assert "DynamoDB (moto) exited (SIGKILL); restarting it" in lines
    loaded = f"loaded the tables from {tmp_path}: checkpoint 0 and 52 journaled"
    assert any(line.startswith(loaded) for line in lines)


def test_writes_after_a_checkpoint_are_replayed_on_top_of_it(tmp_path: Path):
    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=10))
    moto.start()
    try:
        client = boto3.client(
            "dynamodb", endpoint_url=moto.endpoint_url, region_name="ap-northeast-1", **FAKE_CREDENTIALS
        )
        client.create_table(TableName="Demo", **TABLE.create_table_args)
        for i in range(25):
            client.put_item(TableName="Demo", Item={"Key": {"S": f"k{i}"}})
    finally:
        moto.stop()
    # 26 writes, a checkpoint every 10: the last one holds the files before it, and the
    # journal after it has the rest.
    assert checkpoint_numbers(tmp_path), "no checkpoint was written"
    latest = checkpoint_numbers(tmp_path)[-1]
    assert all(number >= latest for number in journal_numbers(tmp_path))
    with DynamoDBService([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        assert keys_in(services) == {f"k{i}" for i in range(25)}
        assert services._moto.loaded.checkpoint == latest
        assert 0 < services._moto.loaded.replayed <= 10


def test_a_write_cut_short_by_a_crash_is_dropped_and_the_rest_loads(tmp_path: Path):
    with DynamoDBService([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        put(services, "acknowledged")
    last = journal_path(tmp_path, journal_numbers(tmp_path)[-1])
    with open(last, "ab") as journal:
        journal.write(b"\x00\x00\x01\x00half a record")
    with DynamoDBService([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        assert keys_in(services) == {"acknowledged"}
        put(services, "after")
    with DynamoDBService([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        assert keys_in(services) == {"acknowledged", "after"}


def test_an_unreadable_checkpoint_stops_the_start_with_one_line(tmp_path: Path):
    (tmp_path / "checkpoint-000003.pickle").write_bytes(b"not a pickle")
    with pytest.raises(MotoProcessError) as raised:
        MotoProcess(data_dir=tmp_path).start()
    message = str(raised.value)
    assert "checkpoint-000003.pickle" in message and "move the data directory aside" in message
    assert "\n" not in message


def test_a_second_moto_on_the_same_data_dir_is_refused(tmp_path: Path):
    first = MotoProcess(data_dir=tmp_path)
    first.start()
    try:
        with pytest.raises(MotoProcessError) as raised:
            MotoProcess(data_dir=tmp_path, limits=Limits(lock_wait=0.2)).start()
    finally:
        first.stop()
    assert f"is in use by another local DynamoDB (pid {first_pid_of(tmp_path)})" in str(raised.value)


def first_pid_of(data_dir: Path) -> str:
    return (data_dir / "journal.lock").read_text().strip()
