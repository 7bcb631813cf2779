"""The SQS poller against a real moto (the one the stack runs), with a stand-in for Lambda that
records each event and answers as the test says: the event's shape, batches, deletion,
redelivery, the dead-letter queue, partial batch responses and FIFO order.

Shapes from "Using Lambda with Amazon SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
"""

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from emulator.app.model import AppSpec, QueueSpec, SqsEventSpec
from emulator.dynamodb.moto_process import MotoProcess
from emulator.lambda_.event_sources.context import EventSourceContext
from emulator.lambda_.event_sources.sqs_poller import QueuePoller, start_sqs_pollers
from emulator.sqs.queues import create_queues
from tests.sqs.conftest import ACCOUNT, REGION, queue_arn


@dataclass
class Answer:
    outcome: str = "success"
    payload: bytes = b"null"


@dataclass
class RecordingLambda:
    """Stands in for LambdaService.invoke: keeps the events, answers with `answers` in turn
    (then success)."""

    answers: list[Answer] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    traces: list[Any] = field(default_factory=list)

    def invoke(self, logical_id: str, event: bytes, trace: Any = None) -> Answer:
        self.events.append(json.loads(event))
        self.traces.append(trace)
        return self.answers.pop(0) if self.answers else Answer()


def _app(queues: list[QueueSpec], events: list[SqsEventSpec]) -> AppSpec:
    return AppSpec(
        stack_name="sam-app", region=REGION, account_id=ACCOUNT, stage="Prod", api_id="abcdefghij",
        api_tracing=False, functions={}, routes=[], tables=[], queues=queues, sqs_events=events,
    )  # fmt: skip


def _context(app: AppSpec, lam: RecordingLambda, endpoint_url: str, logs: list[str]) -> EventSourceContext:
    return EventSourceContext(
        app=app,
        lambda_service=cast(Any, lam),
        async_invoker=cast(Any, None),  # the SQS pollers invoke synchronously
        endpoint_url=endpoint_url,
        segment_sender=None,
        log=logs.append,
    )


@dataclass
class Mapping:
    poller: QueuePoller
    lam: RecordingLambda
    url: str
    logs: list[str]

    def run_once(self) -> list[dict[str, Any]]:
        """One gather-and-invoke; the records the function got (none: no batch came)."""
        batch = self.poller.gather()
        if not batch:
            return []
        self.poller.deliver(batch)
        return cast(list[dict[str, Any]], self.lam.events[-1]["Records"])


@pytest.fixture()
def mapping(shared_moto: MotoProcess, sqs: Any):
    def make(
        attributes: dict[str, str] | None = None,
        *,
        fifo: bool = False,
        dlq: bool = False,
        answers: list[Answer] | None = None,
        **event: Any,
    ) -> Mapping:
        name = f"q-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
        attributes = dict(attributes or {})
        queues = []
        if fifo:
            attributes["FifoQueue"] = "true"
        if dlq:
            dead = QueueSpec("Dlq", f"{name}-dlq", queue_arn(f"{name}-dlq"))
            queues.append(dead)
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dead.arn, "maxReceiveCount": 2})
        queue = QueueSpec("Queue", name, queue_arn(name), attributes)
        queues.insert(0, queue)
        spec = SqsEventSpec("Consumer", "Queue", queue.arn, **event)
        lam = RecordingLambda(list(answers or []))
        logs: list[str] = []
        context = _context(_app(queues, [spec]), lam, shared_moto.endpoint_url, logs)
        create_queues(queues, shared_moto.endpoint_url, REGION)
        poller = QueuePoller(context, spec, threading.Event())
        return Mapping(poller, lam, sqs.get_queue_url(QueueName=name)["QueueUrl"], logs)

    return make


def _left(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_record_has_the_documented_shape(mapping, sqs):
    queue = mapping()
    sent = sqs.send_message(
        QueueUrl=queue.url,
        MessageBody='{"order": 1}',
        MessageAttributes={
            "Kind": {"DataType": "String", "StringValue": "order"},
            "Count": {"DataType": "Number", "StringValue": "3"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    [record] = queue.run_once()
    assert list(record) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"order": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"order": 1}').hexdigest() == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.poller.event.queue_arn
    assert record["awsRegion"] == REGION
    attributes = record["attributes"]
    assert set(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])
    assert record["messageAttributes"] == {
        "Kind": {
            "stringValue": "order",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "Count": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "Blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    # The function succeeded: the batch is deleted.
    assert _left(sqs, queue.url) == 0


def test_a_message_without_attributes_has_empty_message_attributes(mapping, sqs):
    queue = mapping()
    sqs.send_message(QueueUrl=queue.url, MessageBody="plain")
    [record] = queue.run_once()
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


def test_the_trace_header_a_message_carries_is_an_attribute_and_the_invocation_starts_its_own_trace(
    mapping, sqs
):
    queue = mapping()
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    sqs.send_message(
        QueueUrl=queue.url,
        MessageBody="traced",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}},
    )
    [record] = queue.run_once()
    assert record["attributes"]["AWSTraceHeader"] == header
    # Lambda does not continue the producer's trace (X-Ray links the two in AWS).
    assert queue.lam.traces == [None]


def test_batches_are_at_most_batch_size(mapping, sqs):
    queue = mapping(batch_size=3)
    for number in range(5):
        sqs.send_message(QueueUrl=queue.url, MessageBody=str(number))
    first = queue.run_once()
    second = queue.run_once()
    assert len(first) == 3
    assert len(second) == 2
    assert sorted(record["body"] for record in first + second) == ["0", "1", "2", "3", "4"]


def test_the_batching_window_gathers_more_than_one_receive_gives(mapping, sqs):
    # The batch is full with the late message: the window (5 s) does not have to run out.
    queue = mapping(batch_size=21, batching_window_s=5)
    for start in (0, 10):
        entries = [{"Id": str(n), "MessageBody": str(start + n)} for n in range(10)]
        sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)
    sent_later = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=queue.url, MessageBody="late"))
    sent_later.start()
    records = queue.run_once()
    sent_later.join()
    assert len(records) == 21
    assert _left(sqs, queue.url) == 0


def test_a_failed_invocation_deletes_nothing_and_the_batch_comes_back(mapping, sqs):
    queue = mapping({"VisibilityTimeout": "1"}, answers=[Answer("error", b'{"errorMessage": "boom"}')])
    sqs.send_message(QueueUrl=queue.url, MessageBody="retry me")
    [first] = queue.run_once()
    assert _left(sqs, queue.url) == 1
    assert any("failed (error)" in line for line in queue.logs)
    [again] = queue.run_once()  # visible again after the visibility timeout
    assert again["messageId"] == first["messageId"]
    assert again["attributes"]["ApproximateReceiveCount"] == "2"
    assert again["receiptHandle"] != first["receiptHandle"]
    assert _left(sqs, queue.url) == 0


def test_a_timed_out_invocation_is_a_failure_too(mapping, sqs):
    queue = mapping({"VisibilityTimeout": "1"}, answers=[Answer("timeout", b"{}")])
    sqs.send_message(QueueUrl=queue.url, MessageBody="slow")
    queue.run_once()
    assert _left(sqs, queue.url) == 1


def test_after_max_receive_count_failures_the_message_is_in_the_dead_letter_queue(mapping, sqs):
    failing = [Answer("error", b"{}") for _ in range(5)]
    queue = mapping({"VisibilityTimeout": "1"}, dlq=True, answers=failing)
    sent = sqs.send_message(QueueUrl=queue.url, MessageBody="poison")
    assert len(queue.run_once()) == 1
    assert len(queue.run_once()) == 1  # the second receive: maxReceiveCount is 2
    assert queue.run_once() == []  # the third receive moves it instead of delivering it
    dlq_url = sqs.get_queue_url(QueueName=queue.poller.queue_name + "-dlq")["QueueUrl"]
    moved = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)["Messages"]
    assert [message["MessageId"] for message in moved] == [sent["MessageId"]]
    assert len(queue.lam.events) == 2


def test_with_report_batch_item_failures_only_the_reported_messages_stay(mapping, sqs):
    queue = mapping({"VisibilityTimeout": "1"}, report_batch_item_failures=True)
    for body in ("good-1", "bad", "good-2"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    batch = queue.poller.gather()
    bad = next(message["MessageId"] for message in batch if message["Body"] == "bad")
    queue.lam.answers.append(
        Answer("success", json.dumps({"batchItemFailures": [{"itemIdentifier": bad}]}).encode())
    )
    queue.poller.deliver(batch)
    assert len(batch) == 3
    [again] = queue.run_once()
    assert again["messageId"] == bad
    assert again["attributes"]["ApproximateReceiveCount"] == "2"


def test_an_invalid_report_keeps_the_whole_batch(mapping, sqs):
    queue = mapping({"VisibilityTimeout": "1"}, report_batch_item_failures=True)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    queue.lam.answers.append(
        Answer("success", b'{"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}')
    )
    assert len(queue.run_once()) == 2
    assert _left(sqs, queue.url) == 2


def test_without_report_batch_item_failures_a_report_is_not_read(mapping, sqs):
    queue = mapping()
    sqs.send_message(QueueUrl=queue.url, MessageBody="a")
    batch = queue.poller.gather()
    report = {"batchItemFailures": [{"itemIdentifier": batch[0]["MessageId"]}]}
    queue.lam.answers.append(Answer("success", json.dumps(report).encode()))
    queue.poller.deliver(batch)
    assert _left(sqs, queue.url) == 0


def test_a_fifo_queue_delivers_a_group_in_order_with_the_fifo_attributes(mapping, sqs):
    queue = mapping(fifo=True, batch_size=2)
    for number in range(5):
        sqs.send_message(
            QueueUrl=queue.url,
            MessageBody=f"m{number}",
            MessageGroupId="g",
            MessageDeduplicationId=f"d{number}",
        )
    bodies = []
    while records := queue.run_once():
        bodies += [record["body"] for record in records]
        attributes = records[0]["attributes"]
        assert attributes["MessageGroupId"] == "g"
        assert attributes["MessageDeduplicationId"].startswith("d")
        assert attributes["SequenceNumber"]
    assert bodies == ["m0", "m1", "m2", "m3", "m4"]


def test_the_pollers_deliver_in_the_background_and_a_disabled_mapping_is_not_polled(shared_moto, sqs):
    names = [f"bg-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    queues = [QueueSpec(f"Q{n}", name, queue_arn(name)) for n, name in enumerate(names)]
    events = [
        SqsEventSpec("On", "Queue", queues[0].arn),
        SqsEventSpec("Off", "Queue", queues[1].arn, enabled=False),
    ]
    create_queues(queues, shared_moto.endpoint_url, REGION)
    lam = RecordingLambda()
    logs: list[str] = []
    context = _context(_app(queues, events), lam, shared_moto.endpoint_url, logs)
    stop = start_sqs_pollers(context)
    assert stop is not None
    try:
        for name in names:
            sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=name)
        deadline = time.monotonic() + 10
        while not lam.events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop()
    assert [[record["body"] for record in event["Records"]] for event in lam.events] == [[names[0]]]
    assert f"On ← queue {names[0]} (batch 10)" in logs
    assert f"Off ← queue {names[1]}: Enabled is false, not polled" in logs
    off_url = sqs.get_queue_url(QueueName=names[1])["QueueUrl"]
    assert _left(sqs, off_url) == 1


def test_a_mapping_on_a_queue_outside_the_template_polls_a_queue_made_for_it(shared_moto, sqs):
    name = f"outside-{uuid.uuid4().hex[:8]}"
    event = SqsEventSpec("Consumer", "Outside", queue_arn(name))
    lam = RecordingLambda()
    logs: list[str] = []
    stop = start_sqs_pollers(_context(_app([], [event]), lam, shared_moto.endpoint_url, logs))
    assert stop is not None
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="from outside")
        deadline = time.monotonic() + 10
        while not lam.events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop()
    assert [record["body"] for event in lam.events for record in event["Records"]] == ["from outside"]
    assert f"created queue {name} for Consumer.Outside (not a queue of the template: empty locally)" in logs


def test_filter_criteria_deliver_only_matching_messages_and_delete_the_rest(mapping, sqs):
    """The Lambda guide's SQS filtering example: only RequestCode BBBB reaches the function; the
    others are deleted from the queue, not left to come back."""
    pattern = json.dumps({"body": {"RequestCode": ["BBBB"]}})
    m = mapping(batch_size=10, filter_patterns=(pattern,))
    for code in ("AAAA", "BBBB", "CCCC"):
        sqs.send_message(QueueUrl=m.url, MessageBody=json.dumps({"RecordNumber": 1234, "RequestCode": code}))
    sqs.send_message(QueueUrl=m.url, MessageBody="BBBB")  # not JSON: matched as plain text, not as a body map
    delivered: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _left(sqs, m.url):
        delivered += m.run_once()
    assert [json.loads(record["body"])["RequestCode"] for record in delivered] == ["BBBB"]
    assert _left(sqs, m.url) == 0
    discarded = [line for line in m.logs if "matched no FilterCriteria pattern: deleted" in line]
    assert sum(int(line.split(": ")[1].split(" ")[0]) for line in discarded) == 3, m.logs
