"""What Lambda makes of a function's answer with ReportBatchItemFailures ("Implementing partial
batch responses", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html),
and how a batch is cut to Lambda's 6 MB payload limit."""

import itertools
import json
from typing import Any

import pytest

from emulator.lambda_.event_sources.sqs_poller import split_by_payload
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES
from emulator.sqs.lambda_event import messages_to_keep, sqs_event

BATCH = ["id-1", "id-2", "id-3"]


@pytest.mark.parametrize(
    "answer",
    [b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}'],
    ids=["empty", "null", "empty-object", "empty-list", "null-list"],
)
def test_these_answers_are_a_complete_success(answer: bytes):
    assert messages_to_keep(answer, BATCH) == []


def test_the_reported_messages_stay_and_only_those():
    answer = {"batchItemFailures": [{"itemIdentifier": "id-3"}, {"itemIdentifier": "id-1"}]}
    assert messages_to_keep(json.dumps(answer).encode(), BATCH) == ["id-3", "id-1"]


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'"ok"',
        b'{"batchItemFailures": "id-1"}',
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemId": "id-1"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "id-9"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "id-1"}, {"itemIdentifier": "id-9"}]}',
    ],
    ids=[
        "invalid-json",
        "not-an-object",
        "not-a-list",
        "empty-id",
        "null-id",
        "bad-key",
        "unknown-id",
        "one-unknown-id",
    ],
)
def test_an_invalid_report_fails_the_whole_batch(answer: bytes):
    assert messages_to_keep(answer, BATCH) == BATCH


def _message(number: int, size: int) -> dict[str, Any]:
    return {"MessageId": f"id-{number}", "ReceiptHandle": f"h-{number}", "Body": "x" * size, "MD5OfBody": "0"}


def test_a_batch_over_lambda_s_payload_limit_is_invoked_in_parts_that_fit_in_order():
    arn = "arn:aws:sqs:ap-northeast-1:123456789012:big"
    batch = [_message(number, 1024 * 1024) for number in range(10)]
    parts = split_by_payload(batch, arn, "ap-northeast-1")
    assert len(parts) > 1
    assert [message for part in parts for message in part] == batch
    for part in parts:
        assert len(sqs_event(part, arn, "ap-northeast-1")) <= MAX_PAYLOAD_BYTES
    # Each part is as full as the limit allows: one more message would not have fitted.
    for part, following in itertools.pairwise(parts):
        assert len(sqs_event([*part, following[0]], arn, "ap-northeast-1")) > MAX_PAYLOAD_BYTES


def test_a_batch_under_the_limit_is_one_invocation():
    batch = [_message(number, 100) for number in range(10)]
    assert split_by_payload(batch, "arn:aws:sqs:ap-northeast-1:123456789012:q", "ap-northeast-1") == [batch]
