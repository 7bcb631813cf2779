"""The local tables' items, kept across restarts of the local stack.

moto holds its state in memory. An item that `/ddb` acknowledged with 200 must still be
there after Ctrl-C and `make run`, as it would be in DynamoDB, so every table is written to
`<data dir>/<table>.json` (DynamoDB JSON, as `aws dynamodb scan` prints it) when the stack
stops, and loaded back when it starts.
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

# BatchWriteItem takes at most 25 items per call.
BATCH_SIZE = 25
MAX_UNPROCESSED_ROUNDS = 10


def snapshot_path(data_dir: Path, table_name: str) -> Path:
    return data_dir / f"{table_name}.json"


def save_table(dynamodb: Any, table_name: str, data_dir: Path) -> int:
    """Scan every item into the table's file (written whole, then renamed: never half a file)."""
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        items.extend(page.get("Items", []))
    data_dir.mkdir(parents=True, exist_ok=True)
    target = snapshot_path(data_dir, table_name)
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps({"TableName": table_name, "Items": items}))
    os.replace(partial, target)
    return len(items)


def load_table(dynamodb: Any, table_name: str, data_dir: Path) -> int:
    """Put the saved items back; a file that cannot be loaded is kept aside, never deleted."""
    source = snapshot_path(data_dir, table_name)
    if not source.exists():
        return 0
    items: list[dict[str, Any]] = []
    try:
        items = json.loads(source.read_text())["Items"]
        for start in range(0, len(items), BATCH_SIZE):
            batch = items[start : start + BATCH_SIZE]
            _write_batch(dynamodb, table_name, [{"PutRequest": {"Item": item}} for item in batch])
    except (ValueError, KeyError, TypeError, ClientError, BotoCoreError) as error:
        # All or nothing: the table was created empty for this load, and a table said to start
        # empty must not hold the batches (or the part of one) that went in before the failure.
        _delete_items(dynamodb, table_name, items)
        kept = source.with_suffix(".json.unloadable")
        os.replace(source, kept)
        logger.warning(
            "could not load %s (%s); kept as %s, table %s starts empty", source, error, kept, table_name
        )
        return 0
    return len(items)


def _delete_items(dynamodb: Any, table_name: str, items: Any) -> None:
    if not isinstance(items, list) or not items:
        return
    key_schema = dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
    key_names = [key["AttributeName"] for key in key_schema]
    # Deleting a key that never went in is a no-op, so every item with a whole key is deleted
    # (each key once: a batch may not name one twice).
    keys = {
        json.dumps(key, sort_keys=True): key
        for item in items
        if isinstance(item, dict) and all(name in item for name in key_names)
        for key in [{name: item[name] for name in key_names}]
    }
    deletes = [{"DeleteRequest": {"Key": key}} for key in keys.values()]
    for start in range(0, len(deletes), BATCH_SIZE):
        _write_batch(dynamodb, table_name, deletes[start : start + BATCH_SIZE])


def _write_batch(dynamodb: Any, table_name: str, writes: list[dict[str, Any]]) -> None:
    requests = {table_name: writes}
    for _ in range(MAX_UNPROCESSED_ROUNDS):
        requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        if not requests:
            return
    raise ValueError(f"{table_name}: items still unprocessed after {MAX_UNPROCESSED_ROUNDS} rounds")
