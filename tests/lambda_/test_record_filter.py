"""emulator.lambda_.event_sources.record_filter: FilterCriteria as the Lambda developer guide's
event-filtering pages show them, matched by moto's EventBridge pattern matcher."""

import json

import pytest

from emulator.lambda_.event_sources.record_filter import InvalidFilter, RecordFilter


def sqs_filter(*patterns: dict) -> RecordFilter:
    return RecordFilter(tuple(json.dumps(pattern) for pattern in patterns))


def test_no_filter_takes_every_record():
    assert not RecordFilter(())
    assert RecordFilter(()).matches({"anything": 1})


def test_an_sqs_body_is_matched_as_json_when_it_is_json():
    only_b = sqs_filter({"body": {"RequestCode": ["BBBB"]}})
    assert only_b.matches_sqs_body('{"RecordNumber": 1234, "RequestCode": "BBBB"}')
    assert not only_b.matches_sqs_body('{"RecordNumber": 1234, "RequestCode": "AAAA"}')
    assert not only_b.matches_sqs_body("BBBB")  # plain text has no RequestCode


def test_a_plain_text_body_is_matched_as_text():
    text = sqs_filter({"body": ["hello"]})
    assert text.matches_sqs_body("hello")
    assert not text.matches_sqs_body('{"body": "hello"}')
    assert not text.matches_sqs_body('"hello"')  # a JSON string is still the text '"hello"'


def test_filters_are_ored_and_support_the_comparison_operators():
    either = sqs_filter(
        {"body": {"RecordNumber": [{"numeric": [">", 1000, "<=", 2000]}]}},
        {"body": {"RequestCode": [{"prefix": "ZZ"}]}},
    )
    assert either.matches_sqs_body('{"RecordNumber": 1234}')
    assert either.matches_sqs_body('{"RequestCode": "ZZ01"}')
    assert not either.matches_sqs_body('{"RecordNumber": 3000, "RequestCode": "AA"}')


def test_a_stream_record_is_matched_as_lambda_delivers_it():
    inserts_of_active = RecordFilter(
        (json.dumps({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"Status": {"S": ["Active"]}}}}),)
    )
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"Status": {"S": "Active"}}}}
    assert inserts_of_active.matches(record)
    assert not inserts_of_active.matches({**record, "eventName": "MODIFY"})


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (("not json",), "is not a valid filter pattern"),
        (('{"body": "BBBB"}',), "is not a valid filter pattern"),  # a value must be a list or a map
        (tuple('{"body": ["x"]}' for _ in range(11)), "at most 10 filters, got 11"),
    ],
)
def test_a_pattern_lambda_would_refuse_is_refused(patterns, message):
    with pytest.raises(InvalidFilter, match=message):
        RecordFilter(patterns)
