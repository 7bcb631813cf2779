"""SQS in the journaled moto: every message whose send was answered is there after moto is
killed (with its MessageId, body, attributes and SentTimestamp), a deleted one stays deleted,
one that was only received comes back (at-least-once, SQS's own contract), in checkpoints too.
Also what SQS itself does on a send: X-Amzn-Trace-Id becomes the message's AWSTraceHeader."""

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.dynamodb.checkpoint import checkpoint_numbers
from emulator.dynamodb.moto_process import Limits, MotoProcess
from emulator.sqs.queues import sqs_client
from tests.sqs.conftest import REGION

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _kill_and_wait(moto: MotoProcess) -> None:
    """SIGKILL the child; the process watcher starts it again from its files, on its port.
    Waits for what the new child reports loading (set just after its pid)."""
    old, loaded = moto.pid, moto.loaded
    assert old is not None
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while moto.pid in (None, old) or moto.loaded is loaded:
        assert time.monotonic() < deadline, "moto was not restarted"
        time.sleep(0.05)


def _receive_all(sqs: Any, url: str, expected: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(messages) < expected and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages += answer.get("Messages", [])
    return messages


def _kept(message: dict[str, Any]) -> tuple[Any, ...]:
    return (message["Body"], message["Attributes"]["SentTimestamp"], message.get("MessageAttributes"))


@pytest.fixture()
def moto(tmp_path: Path):
    process = MotoProcess(data_dir=tmp_path)
    process.start()
    yield process
    process.stop()


def test_answered_sends_survive_a_kill_and_deleted_messages_stay_deleted(moto: MotoProcess):
    sqs = sqs_client(moto.endpoint_url, REGION)
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    attribute = {"Kind": {"DataType": "String", "StringValue": "order"}}
    sent = [
        sqs.send_message(QueueUrl=url, MessageBody=f"single-{n}", MessageAttributes=attribute)["MessageId"]
        for n in range(5)
    ]
    entries = [{"Id": f"e{n}", "MessageBody": f"batch-{n}"} for n in range(3)]
    answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    sent += [entry["MessageId"] for entry in answer["Successful"]]
    received = _receive_all(sqs, url, 8)
    before = {message["MessageId"]: _kept(message) for message in received}
    assert set(before) == set(sent)
    # All eight are in flight now (visibility 60 s). Three are deleted: one alone, two in a batch.
    handles = {message["MessageId"]: message["ReceiptHandle"] for message in received}
    deleted = sent[0], sent[5], sent[6]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[deleted[0]])
    batch_delete = [{"Id": str(n), "ReceiptHandle": handles[id_]} for n, id_ in enumerate(deleted[1:])]
    assert not sqs.delete_message_batch(QueueUrl=url, Entries=batch_delete).get("Failed")

    _kill_and_wait(moto)

    assert moto.loaded.replayed == 1 + 5 + 1 + 2  # CreateQueue, the sends, the deletes
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    # The five received but not deleted are visible again at once: receiving is no acknowledgement.
    after = {message["MessageId"]: _kept(message) for message in _receive_all(sqs, url, 5)}
    assert after == {id_: kept for id_, kept in before.items() if id_ not in deleted}


def test_the_queues_and_messages_are_in_the_checkpoints(tmp_path: Path):
    moto = MotoProcess(data_dir=tmp_path, limits=Limits(checkpoint_every=5))
    moto.start()
    try:
        sqs = sqs_client(moto.endpoint_url, REGION)
        url = sqs.create_queue(QueueName="checkpointed")["QueueUrl"]
        sent = [sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")["MessageId"] for n in range(12)]
        deadline = time.monotonic() + 15
        while not checkpoint_numbers(tmp_path):
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.05)
        _kill_and_wait(moto)
        assert moto.loaded.checkpoint > 0
        assert sorted(message["MessageId"] for message in _receive_all(sqs, url, 12)) == sorted(sent)
    finally:
        moto.stop()


def _with_trace_header(sqs: Any) -> None:
    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = TRACE_HEADER

    sqs.meta.events.register("before-sign.sqs.*", add)


def test_a_send_with_an_x_ray_header_gives_its_messages_that_aws_trace_header(moto: MotoProcess):
    sqs = sqs_client(moto.endpoint_url, REGION)
    _with_trace_header(sqs)
    url = sqs.create_queue(QueueName="traced")["QueueUrl"]
    own = "Root=1-00000000-000000000000000000000001;Parent=0000000000000001;Sampled=1"
    sqs.send_message(QueueUrl=url, MessageBody="single")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "batch"}])
    # The message system attribute wins over the HTTP header, as the X-Ray guide says.
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": own}}
    sqs.send_message(QueueUrl=url, MessageBody="own", MessageSystemAttributes=system)
    plain = sqs_client(moto.endpoint_url, REGION)
    plain.send_message(QueueUrl=url, MessageBody="untraced")

    _kill_and_wait(moto)  # and it is journaled with the message

    headers = {m["Body"]: m["Attributes"].get("AWSTraceHeader") for m in _receive_all(plain, url, 4)}
    assert headers == {"single": TRACE_HEADER, "batch": TRACE_HEADER, "own": own, "untraced": None}


def test_a_long_poll_does_not_hold_up_the_send_it_waits_for(moto: MotoProcess):
    sqs = sqs_client(moto.endpoint_url, REGION)
    url = sqs.create_queue(QueueName="waited-on")["QueueUrl"]
    got: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: got.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", []))
    )
    poll.start()
    time.sleep(0.5)  # the poll is waiting
    sqs_client(moto.endpoint_url, REGION).send_message(QueueUrl=url, MessageBody="awaited")
    poll.join()
    # Had the poll held SQS for its whole wait, the send would have come after it, empty-handed.
    assert [message["Body"] for message in got] == ["awaited"]


def test_fifo_messages_get_growing_sequence_numbers_that_survive_a_kill(moto: MotoProcess):
    sqs = sqs_client(moto.endpoint_url, REGION)
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    url = sqs.create_queue(QueueName="ordered.fifo", Attributes=attributes)["QueueUrl"]
    answered = [sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="g") for n in range(3)]
    entries = [{"Id": "x", "MessageBody": "m3", "MessageGroupId": "g"}]
    answered += sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]
    numbers = [answer["SequenceNumber"] for answer in answered]
    assert all(len(number) == 20 and number.isdigit() for number in numbers)
    assert [int(number) for number in numbers] == sorted({int(number) for number in numbers})

    _kill_and_wait(moto)

    received: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(received) < 4:
        assert time.monotonic() < deadline, f"only {sorted(received)} came back"
        for message in _receive_all(sqs, url, 1):
            received[message["Body"]] = message["Attributes"]["SequenceNumber"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert [received[f"m{n}"] for n in range(4)] == numbers
