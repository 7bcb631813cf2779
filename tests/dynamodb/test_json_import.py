"""Tables saved as `<table>.json` by earlier versions of the stack are imported once, all or
nothing, and the file is kept under another name."""

import json
from pathlib import Path

from emulator.app.model import TableSpec
from emulator.dynamodb.service import DynamoDBService as Services

TABLE = TableSpec(
    "DynamoTable",
    "Demo",
    {
        "KeySchema": [
            {"AttributeName": "Key", "KeyType": "HASH"},
            {"AttributeName": "CreateDate", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "Key", "AttributeType": "S"},
            {"AttributeName": "CreateDate", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    },
)


def items_in(services: Services) -> list[dict]:
    return services.client().scan(TableName="Demo")["Items"]


def test_a_saved_table_is_imported_once_in_more_than_one_batch(tmp_path: Path):
    written = [{"Key": {"S": f"k{i}"}, "CreateDate": {"S": f"2026-11-29T00:00:{i:02d}"}} for i in range(60)]
    (tmp_path / "Demo.json").write_text(json.dumps({"TableName": "Demo", "Items": written}))
    with Services([TABLE], region="ap-northeast-1", data_dir=tmp_path) as first:
        first.client().delete_item(TableName="Demo", Key=written[0])
    assert not (tmp_path / "Demo.json").exists() and (tmp_path / "Demo.json.imported").exists()

    # The second start has the items from the journal, and does not import the file again (the
    # deleted item stays deleted).
    with Services([TABLE], region="ap-northeast-1", data_dir=tmp_path) as second:
        restored = items_in(second)
    key = lambda item: item["Key"]["S"]  # noqa: E731
    assert sorted(restored, key=key) == sorted(written[1:], key=key)


def test_an_unloadable_snapshot_is_kept_aside_and_the_table_starts_empty(tmp_path: Path):
    (tmp_path / "Demo.json").write_text("{not json")
    with Services([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        assert items_in(services) == []
    assert (tmp_path / "Demo.json.unloadable").read_text() == "{not json"


def test_without_a_data_dir_nothing_is_written(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Services([TABLE], region="ap-northeast-1") as services:
        services.client().put_item(TableName="Demo", Item={"Key": {"S": "a"}, "CreateDate": {"S": "b"}})
    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_failing_in_its_second_batch_loads_nothing(tmp_path: Path):
    good = [{"Key": {"S": f"k{i}"}, "CreateDate": {"S": f"2026-11-29T00:00:{i:02d}"}} for i in range(30)]
    # Item 31 lacks the sort key: moto refuses the second batch after the first went in.
    items = [*good, {"Key": {"S": "no-sort-key"}}]
    (tmp_path / "Demo.json").write_text(json.dumps({"TableName": "Demo", "Items": items}))
    with Services([TABLE], region="ap-northeast-1", data_dir=tmp_path) as services:
        assert items_in(services) == []
    assert (tmp_path / "Demo.json.unloadable").exists()
