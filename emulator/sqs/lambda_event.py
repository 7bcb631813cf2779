"""The event Lambda invokes a function with for a batch of SQS messages, and what it makes of
the function's answer.

The event's shape is the one in "Using Lambda with Amazon SQS"
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, "Example standard queue message
event" and "Example FIFO queue message event"): {"Records": [...]}, one record per message with
messageId, receiptHandle, body, attributes (the message's system attributes: the FIFO ones and
AWSTraceHeader only when the message has them), messageAttributes in camelCase
(stringValue/binaryValue, stringListValues, binaryListValues, dataType; binary values in
base64), md5OfBody, eventSource "aws:sqs", eventSourceARN and awsRegion.

The answer, with ReportBatchItemFailures, is read as "Handling errors for an SQS event source
in Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
"Implementing partial batch responses") says: {"batchItemFailures": [{"itemIdentifier": id}]}
keeps those messages in the queue; an empty or null list, an empty or null answer is a
complete success; an answer that is not that JSON, or an itemIdentifier that is empty, null,
under another key or not a message of the batch, fails the whole batch.
"""

import base64
import json
from typing import Any

# The system attributes a record carries, in the order Lambda's examples list them.
_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event, from one message of ReceiveMessage's answer (boto3's shape)."""
    received = message.get("Attributes") or {}
    message_attributes = message.get("MessageAttributes") or {}
    attributes = {name: str(received[name]) for name in _SYSTEM_ATTRIBUTES if name in received}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {name: _message_attribute(value) for name, value in message_attributes.items()},
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> bytes:
    return json.dumps({"Records": [sqs_record(message, queue_arn, region) for message in messages]}).encode()


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _base64(value["BinaryValue"])
    converted["stringListValues"] = list(value.get("StringListValues") or [])
    converted["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    converted["dataType"] = value.get("DataType", "String")
    return converted


def _base64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode()


def messages_to_keep(payload: bytes, batch_ids: list[str]) -> list[str]:
    """The MessageIds a successful invocation with ReportBatchItemFailures leaves in the queue:
    those it reported, or every one of the batch when the answer is not a valid report."""
    everything = list(batch_ids)
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return everything
    if answer is None:
        return []
    if not isinstance(answer, dict):
        return everything
    failures = answer.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return everything
    keep: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return everything
        if identifier not in keep:
            keep.append(identifier)
    return keep
