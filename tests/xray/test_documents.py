"""parse_document on its own: the optional parts of a segment document that may be null or malformed."""

import json
from typing import Any

import pytest

from emulator.xray.documents import DocumentFacts, InvalidDocument, parse_document

TRACE_ID = "1-6666f180-5f2a1b3c4d5e6f708192a3b4"


def segment(**fields: Any) -> dict[str, Any]:
    document = {"trace_id": TRACE_ID, "id": "a" * 16, "name": "api", "start_time": 10.0, "end_time": 11.0}
    return document | fields


def subsegment(**fields: Any) -> dict[str, Any]:
    return {"id": "b" * 16, "name": "call", "start_time": 10.1, "end_time": 10.2} | fields


def parse(document: dict[str, Any]) -> DocumentFacts:
    return parse_document(json.dumps(document))


@pytest.mark.parametrize(
    "http",
    [None, "GET /", [], {"request": None, "response": None}, {"request": "x", "response": 500}],
    ids=["null", "string", "list", "null parts", "scalar parts"],
)
def test_an_http_block_that_is_null_or_not_an_object_is_ignored(http):
    facts = parse(segment(http=http))

    assert (facts.http_url, facts.http_method, facts.http_status) == (None, None, None)
    assert (facts.http_useragent, facts.http_clientip) == (None, None)
    assert facts.status.error is facts.status.fault is facts.status.throttle is False


@pytest.mark.parametrize("status", [None, "500", 500.0, True])
def test_a_response_status_that_is_not_an_integer_sets_no_flag(status):
    facts = parse(segment(http={"response": {"status": status}}))

    assert facts.http_status is None
    assert facts.status.error is facts.status.fault is facts.status.throttle is False


def test_an_integer_response_status_sets_the_flags():
    assert parse(segment(http={"response": {"status": 429}})).status.throttle is True
    assert parse(segment(http={"response": {"status": 503}})).spans[0].status.fault is True


def test_end_time_null_without_in_progress_is_invalid():
    with pytest.raises(InvalidDocument, match="end_time is missing"):
        parse(segment(end_time=None))
    with pytest.raises(InvalidDocument, match=r"subsegments\[0\]\.end_time is missing"):
        parse(segment(subsegments=[subsegment(end_time=None)]))


def test_end_time_null_with_in_progress_is_an_open_span():
    facts = parse(segment(end_time=None, in_progress=True))

    assert facts.in_progress is True and facts.end_time is None


@pytest.mark.parametrize("end_time", ["11", True, [11.0]])
def test_end_time_that_is_not_a_number_is_invalid_even_in_progress(end_time):
    with pytest.raises(InvalidDocument, match=r"end_time is .*; expected epoch seconds"):
        parse(segment(end_time=end_time, in_progress=True))


def test_start_time_null_is_invalid():
    with pytest.raises(InvalidDocument, match="start_time is missing"):
        parse(segment(start_time=None))


def test_inferred_nodes_survive_null_aws_and_http_blocks():
    facts = parse(
        segment(
            subsegments=[
                subsegment(name="DynamoDB", namespace="aws", aws=None),
                subsegment(id="c" * 16, name="example.com", namespace="remote", http=None),
                subsegment(id="d" * 16, name="other", namespace="remote", http={"request": None}),
            ]
        )
    )

    inferred = [(span.inferred_name, span.inferred_type) for span in facts.spans[1:]]
    assert inferred == [
        ("DynamoDB", "AWS::DynamoDB"),
        ("example.com", "remote"),
        ("other", "remote"),
    ]
