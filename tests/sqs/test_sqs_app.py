"""SQS event source mappings through `sam build` and the real stack (tests/sqs_app/): messages
sent with boto3 to the stack's endpoint reach the functions in Lambda's batch shape and are
deleted; a failed batch comes back after the visibility timeout and goes to the dead-letter
queue after maxReceiveCount; partial batch responses keep only the reported messages; a FIFO
group arrives in order; a disabled mapping is not polled; the invocation is traced as AWS
traces it (its own trace, the producer's in the record's AWSTraceHeader).

Reference: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html and
https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html.
"""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app.resource_names import physical_name
from emulator.local_credentials import FAKE_CREDENTIALS, local_session
from tests.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow

REGION = "ap-northeast-1"
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def stack(sqs_app_template: Path, lambda_runtime_dir: Path) -> Iterator[RunningStack]:
    with running_stack(sqs_app_template, lambda_runtime_dir) as running:
        yield running


def _client(stack: RunningStack, service: str) -> Any:
    endpoint = stack.stack.endpoint_url
    assert endpoint is not None
    session: Any = local_session()  # Any: the service name is not one of the typed literals
    return session.client(service, endpoint_url=endpoint, region_name=REGION, **FAKE_CREDENTIALS)


@pytest.fixture(scope="module")
def sqs(stack: RunningStack) -> Any:
    return _client(stack, "sqs")


def _url(sqs: Any, logical_id: str) -> str:
    name = physical_name("sam-app", logical_id) + (".fifo" if logical_id == "OrderQueue" else "")
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def _deliveries(stack: RunningStack, function: str) -> list[dict[str, Any]]:
    """Every invocation of `function` the table holds: its event and its trace header."""
    table = physical_name("sam-app", "DeliveriesTable")
    name = stack.app.functions[function].function_name
    dynamodb = _client(stack, "dynamodb")
    items = [
        item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
    ]
    return [
        {"event": json.loads(item["event"]["S"]), "trace": item["trace"]["S"]}
        for item in items
        if item["function"]["S"] == name
    ]


def _records_of(stack: RunningStack, function: str, bodies: set[str]) -> list[list[dict[str, Any]]]:
    """The batches (in no particular order) that held any of `bodies`, their records only."""
    batches = [delivery["event"]["Records"] for delivery in _deliveries(stack, function)]
    return [
        [r for r in batch if r["body"] in bodies]
        for batch in batches
        if any(r["body"] in bodies for r in batch)
    ]


def _wait_for(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"not seen within {WAIT_SECONDS} s: {what}"
        time.sleep(0.2)


def _messages_in(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_batch_arrives_in_lambda_s_shape_and_is_deleted(stack: RunningStack, sqs: Any):
    url = _url(sqs, "WorkQueue")
    bodies = [_unique("hello") for _ in range(3)]
    answer = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)]
    )
    ids = {entry["MessageId"] for entry in answer["Successful"]}
    # One SendMessageBatch is in the queue at once, so the first receive takes all three.
    [batch] = _wait_for("the batch", lambda: _records_of(stack, "ConsumerFunction", set(bodies)))
    assert sorted(record["body"] for record in batch) == sorted(bodies)
    assert {record["messageId"] for record in batch} == ids
    queue_arn = next(queue.arn for queue in stack.app.queues if queue.logical_id == "WorkQueue")
    for record in batch:
        assert list(record) == [
            "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
            "eventSource", "eventSourceARN", "awsRegion",
        ]  # fmt: skip
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue_arn
        assert record["awsRegion"] == REGION
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    _wait_for("the batch deleted", lambda: _messages_in(sqs, url) == 0)


def test_a_failed_batch_comes_back_and_then_goes_to_the_dead_letter_queue(stack: RunningStack, sqs: Any):
    url = _url(sqs, "WorkQueue")
    body = _unique("fail")
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
    dlq = _url(sqs, "WorkDeadLetterQueue")

    def in_dead_letter_queue() -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, VisibilityTimeout=60)
        return [message for message in answer.get("Messages", []) if message["Body"] == body]

    [moved] = _wait_for("the message in the dead-letter queue", in_dead_letter_queue)
    assert moved["MessageId"] == sent
    counts = [
        batch[0]["attributes"]["ApproximateReceiveCount"]
        for batch in _records_of(stack, "ConsumerFunction", {body})
    ]
    # Delivered maxReceiveCount (2) times, the second after the visibility timeout, then moved.
    assert sorted(counts) == ["1", "2"]
    assert any("failed (error)" in line for _, line in stack.logs)
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=moved["ReceiptHandle"])


def test_partial_batch_responses_keep_only_the_reported_messages(stack: RunningStack, sqs: Any):
    url = _url(sqs, "PartialQueue")
    good, bad = _unique("good"), _unique("bad")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "g", "MessageBody": good}, {"Id": "b", "MessageBody": bad}]
    )

    def redelivered() -> list[list[dict[str, Any]]]:
        batches = _records_of(stack, "PartialFunction", {good, bad})
        return batches if len(batches) >= 2 else []

    first, second = sorted(_wait_for("the reported message again", redelivered), key=len, reverse=True)
    assert sorted(record["body"] for record in first) == sorted([good, bad])
    assert [(record["body"], record["attributes"]["ApproximateReceiveCount"]) for record in second] == [
        (bad, "2")
    ]
    _wait_for("the queue empty", lambda: _messages_in(sqs, url) == 0)


def test_an_invalid_partial_response_fails_the_whole_batch(stack: RunningStack, sqs: Any):
    url = _url(sqs, "PartialQueue")
    other = _unique("other")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "i", "MessageBody": "invalid-report"}, {"Id": "o", "MessageBody": other}],
    )
    # Both come back: the empty itemIdentifier makes the report invalid.
    _wait_for(
        "the other message redelivered", lambda: len(_records_of(stack, "PartialFunction", {other})) >= 2
    )


def test_a_fifo_group_arrives_in_order(stack: RunningStack, sqs: Any):
    url = _url(sqs, "OrderQueue")
    assert url.endswith(".fifo")
    bodies = [_unique(f"order-{n}") for n in range(5)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="customer-1")

    def all_delivered() -> list[dict[str, Any]]:
        records = [record for batch in _records_of(stack, "OrderFunction", set(bodies)) for record in batch]
        return (
            []
            if len(records) < len(bodies)
            else sorted(records, key=lambda r: int(r["attributes"]["SequenceNumber"]))
        )

    records = _wait_for("the group", all_delivered)
    assert [record["body"] for record in records] == bodies
    assert {record["attributes"]["MessageGroupId"] for record in records} == {"customer-1"}


def test_a_disabled_mapping_is_not_polled(stack: RunningStack, sqs: Any):
    url = _url(sqs, "IdleQueue")
    sqs.send_message(QueueUrl=url, MessageBody="nobody reads this")
    name = physical_name("sam-app", "IdleQueue")
    assert ("events", f"IdleFunction ← queue {name}: Enabled is false, not polled") in stack.logs
    work = physical_name("sam-app", "WorkQueue")
    assert ("events", f"ConsumerFunction ← queue {work} (batch 5, window 1 s)") in stack.logs
    assert _messages_in(sqs, url) == 1
    assert _deliveries(stack, "IdleFunction") == []


def test_the_invocation_has_its_own_trace_and_the_record_carries_the_producer_s(
    stack: RunningStack, sqs: Any
):
    body = _unique("traced")
    response = request("GET", f"{stack.url}/send?body={body}")
    assert response.status == 200, response.body
    producer_root = response.json()["trace"].split(";")[0]
    assert producer_root.startswith("Root=1-")

    [[record]] = _wait_for("the traced message", lambda: _records_of(stack, "ConsumerFunction", {body}))
    # SQS kept the producer's trace header (the SDK sent it as X-Amzn-Trace-Id) with the message.
    assert record["attributes"]["AWSTraceHeader"].split(";")[0] == producer_root
    [delivery] = [
        d for d in _deliveries(stack, "ConsumerFunction") if d["event"]["Records"][0]["body"] == body
    ]
    consumer_trace = delivery["trace"].split(";")[0].removeprefix("Root=")
    # Lambda starts a trace of its own for the batch (X-Ray links the two in AWS).
    assert f"Root={consumer_trace}" != producer_root
    [service] = stack.collector.for_trace(consumer_trace, origin="AWS::Lambda", timeout=10)
    assert "parent_id" not in service
    assert service["name"] == stack.app.functions["ConsumerFunction"].function_name
    [function] = stack.collector.for_trace(consumer_trace, origin="AWS::Lambda::Function", timeout=10)
    assert function["parent_id"] == service["id"]
