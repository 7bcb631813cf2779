"""A crash of moto under the running stack (tests/sqs_app/, with a data directory): every message
whose send was answered is still in its queue, with its MessageId, and the pollers go on
delivering once moto is back."""

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app.resource_names import physical_name
from emulator.local_credentials import FAKE_CREDENTIALS, local_session
from emulator.stack import Stack, StackConfig
from tests.stack_helpers import SegmentCollector

pytestmark = pytest.mark.slow

REGION = "ap-northeast-1"


@pytest.fixture(params=["data-dir"])
def stack(
    request: pytest.FixtureRequest, sqs_app_template: Path, lambda_runtime_dir: Path, tmp_path: Path
) -> Iterator[Stack]:
    """The stack with a data directory, or (param "memory") with none."""
    collector = SegmentCollector()
    config = StackConfig(
        built_template=sqs_app_template,
        runtime_dir=lambda_runtime_dir,
        xray_daemon_address=collector.address,
        data_dir=tmp_path / "data" if request.param == "data-dir" else None,
        log=lambda name, line: None,
    )
    try:
        with Stack(config) as running:
            yield running
    finally:
        collector.close()


def _client(stack: Stack, service: str) -> Any:
    session: Any = local_session()  # Any: the service name is not one of the typed literals
    return session.client(service, endpoint_url=stack.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS)


def _wait(what: str, found: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := found()):
        assert time.monotonic() < deadline, f"not seen within {seconds} s: {what}"
        time.sleep(0.2)
    return value


def _bodies_delivered(stack: Stack) -> set[str]:
    table = physical_name("sam-app", "DeliveriesTable")
    items = _client(stack, "dynamodb").scan(TableName=table)["Items"]
    return {body for item in items for body in _bodies(item["event"]["S"])}


def _bodies(event: str) -> list[str]:
    return [record["body"] for record in json.loads(event)["Records"]]


def _kill_moto(stack: Stack) -> None:
    assert stack.dynamodb is not None
    moto = stack.dynamodb._moto
    old = moto.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    _wait("moto restarted", lambda: moto.pid not in (None, old))


def test_answered_messages_survive_a_moto_crash_and_polling_goes_on(stack: Stack):
    sqs = _client(stack, "sqs")
    idle = sqs.get_queue_url(QueueName=physical_name("sam-app", "IdleQueue"))["QueueUrl"]
    work = sqs.get_queue_url(QueueName=physical_name("sam-app", "WorkQueue"))["QueueUrl"]
    # The idle queue's mapping is disabled: its messages wait there.
    sent = {sqs.send_message(QueueUrl=idle, MessageBody=f"kept-{n}")["MessageId"] for n in range(3)}
    sqs.send_message(QueueUrl=work, MessageBody="before the crash")
    _wait("the first delivery", lambda: "before the crash" in _bodies_delivered(stack))

    assert stack.dynamodb is not None
    old = stack.dynamodb._moto.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    _wait(
        "moto restarted", lambda: stack.dynamodb is not None and stack.dynamodb._moto.pid not in (None, old)
    )

    answer = _wait(
        "the idle queue's messages",
        lambda: sqs.receive_message(QueueUrl=idle, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"),
    )
    assert {message["MessageId"] for message in answer} == sent
    sqs.send_message(QueueUrl=work, MessageBody="after the crash")
    _wait("a delivery after the restart", lambda: "after the crash" in _bodies_delivered(stack))
    assert "before the crash" in _bodies_delivered(stack)  # the table is journaled as well


@pytest.mark.parametrize("stack", ["memory"], indirect=True)
def test_without_a_data_dir_the_queues_are_created_again_after_a_crash(stack: Stack):
    sqs = _client(stack, "sqs")
    _kill_moto(stack)
    assert stack.app is not None
    for queue in stack.app.queues:  # empty, as the stack would start them
        _wait(f"{queue.queue_name} again", lambda name=queue.queue_name: _exists(sqs, name))
    work = sqs.get_queue_url(QueueName=physical_name("sam-app", "WorkQueue"))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "2"
    sqs.send_message(QueueUrl=work, MessageBody="after the crash")
    _wait("a delivery after the restart", lambda: "after the crash" in _bodies_delivered(stack))


def _exists(sqs: Any, name: str) -> bool:
    try:
        sqs.get_queue_url(QueueName=name)
    except sqs.exceptions.QueueDoesNotExist:
        return False
    return True
