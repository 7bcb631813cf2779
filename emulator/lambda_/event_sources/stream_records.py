"""A DynamoDB stream record as Lambda hands it to a function, made from what moto's GetRecords
answers.

Lambda's record (the Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB" (with-ddb),
its example event; the DynamoDB Streams API reference, Record and StreamRecord). The guide's
example says eventVersion "1.0"; the records DynamoDB Streams hands out today, and Lambda passes
on as they are, say "1.1" (GetRecords answers from AWS show it), and that is what is given here:

    {"eventID": "<32 hex>", "eventName": "INSERT" | "MODIFY" | "REMOVE", "eventVersion": "1.1",
     "eventSource": "aws:dynamodb", "awsRegion": "<region>",
     "dynamodb": {"ApproximateCreationDateTime": <epoch seconds>, "Keys": {...},
                  "NewImage": {...}, "OldImage": {...}, "SequenceNumber": "<digits>",
                  "SizeBytes": <n>, "StreamViewType": "..."},
     "eventSourceARN": "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>"}

What moto answers differs, and is put right here: its eventVersion is "1.0", its awsRegion is
always us-east-1, there is no eventSourceARN, and SizeBytes is the length of its own JSON dump of
the record rather than the size DynamoDB counts: the Keys, NewImage and OldImage of the record,
each counted as an item is (with-ddb's example MODIFY of Keys {Id: 101}, OldImage {Message: "New
item!", Id: 101} and NewImage {Message: "This item has changed", Id: 101} is 59 bytes).
"""

import base64
import datetime
import json
from decimal import Decimal
from typing import Any

EVENT_VERSION = "1.1"
EVENT_SOURCE = "aws:dynamodb"
_IMAGES = ("Keys", "NewImage", "OldImage")
# The order Lambda writes a record's fields and its `dynamodb` block's in.
_DYNAMODB_FIELDS = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def lambda_record(record: dict[str, Any], *, region: str, stream_arn: str) -> dict[str, Any]:
    """The record Lambda delivers for one record of GetRecords (as boto3 parsed it: binary
    values are bytes, the creation time a datetime)."""
    dynamodb = dict(record.get("dynamodb") or {})
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        # DynamoDB stamps stream records to the second (the guide's example is a whole number).
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    dynamodb["SizeBytes"] = sum(item_size(dynamodb[image]) for image in _IMAGES if image in dynamodb)
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": {key: dynamodb[key] for key in _DYNAMODB_FIELDS if key in dynamodb},
        "eventSourceARN": stream_arn,
    }


def sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def created_at(record: dict[str, Any]) -> float | None:
    """When the record was written, in epoch seconds (a Lambda record's own field)."""
    value = record["dynamodb"].get("ApproximateCreationDateTime")
    return float(value) if isinstance(value, int | float) else None


def event_json(records: list[dict[str, Any]]) -> bytes:
    """The event Lambda invokes the function with: {"Records": [...]}, binary values in base64
    as in every DynamoDB JSON document."""
    return json.dumps({"Records": records}, default=_json_value).encode()


def _json_value(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"not JSON: {type(value).__name__}")


# -- sizes ---------------------------------------------------------------------------------


def item_size(attributes: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (the developer guide, "Item sizes and formats"):
    each attribute's name in UTF-8 bytes plus its value's size."""
    return sum(len(name.encode()) + value_size(value) for name, value in attributes.items())


def value_size(value: dict[str, Any]) -> int:
    """One typed value ({"S": ...}, {"N": ...}, ...), by the guide's rules: strings in UTF-8
    bytes, binary in raw bytes, numbers about one byte per two significant digits plus one,
    null and Booleans one byte, lists and maps 3 bytes plus one per element and the elements."""
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(_raw_bytes(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(member).encode()) for member in content)
    if kind == "NS":
        return sum(_number_size(str(member)) for member in content)
    if kind == "BS":
        return sum(len(_raw_bytes(member)) for member in content)
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(member) for name, member in content.items())
    return len(json.dumps(content, default=_json_value).encode())


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return (len(digits) + 1) // 2 + 1 if digits else 1


def _raw_bytes(content: object) -> bytes:
    if isinstance(content, bytes | bytearray):
        return bytes(content)
    return base64.b64decode(str(content))
