"""What Lambda makes of a function's answer with ReportBatchItemFailures ("Implementing partial
batch responses", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)."""

import json

import pytest

from emulator.sqs.lambda_event import messages_to_keep

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
