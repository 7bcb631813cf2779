"""Tables saved by earlier versions of the stack, imported once.

Before the journal (journal.py), the stack saved each table to `<data dir>/<table>.json`
(DynamoDB JSON, as `aws dynamodb scan` prints it) when it stopped. Such a file is loaded into
the table once, all or nothing, and renamed `<table>.json.imported`; one that cannot be loaded
is renamed `<table>.json.unloadable`. Neither is ever deleted.
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


def import_table(dynamodb: Any, table_name: str, data_dir: Path) -> int:
    """Put the saved items in; a file that cannot be loaded is kept aside, never deleted."""
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
        # All or nothing: a table said to be left as it was must not hold the batches (or the
        # part of one) that went in before the failure.
        _delete_items(dynamodb, table_name, items)
        kept = source.with_suffix(".json.unloadable")
        os.replace(source, kept)
        logger.warning(
            "could not load %s (%s); kept as %s, table %s starts empty", source, error, kept, table_name
        )
        return 0
    os.replace(source, source.with_suffix(".json.imported"))
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
