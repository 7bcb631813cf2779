"""POST /ddb (sam_ddb/app.py, and otel_app.py: the same function traced with OpenTelemetry) against the
template's Demo table in moto.

Every rejected request must say what is wrong and write nothing; every accepted one writes one item.
"""

import base64
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from types import ModuleType
from typing import Any

import ddb_request
import pytest
from botocore.exceptions import ClientError

from tests.unit.conftest import HANDLER_MODULES
from tests.unit.handler_support import import_fresh, load_event, throttle_put_item

# isoformat(timespec="microseconds") of an aware UTC datetime.
UTC_ISO_MICROSECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
# The handler answers within its own deadline, well inside the function's 3 s timeout.
HANDLER_TIME_LIMIT_SECONDS = 3.0


def answer(response: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a proxy response, after checking it is declared as JSON."""
    assert response["headers"]["Content-Type"] == "application/json"
    return json.loads(response["body"])


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def throttling_error() -> ClientError:
    response: Any = {
        "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    # Only the fields the handler reads; botocore's stubs want every ResponseMetadata key.
    return ClientError(response, "PutItem")


# (body, isBase64Encoded, words the message must contain)
BAD_REQUESTS = {
    "body null": (None, False, ["body is missing"]),
    "body empty": ("", False, ["body is missing"]),
    "not JSON": ("key=sample-key", False, ["not valid JSON"]),
    "truncated JSON": ('{"key": "sample-key"', False, ["not valid JSON"]),
    "JSON list": ('["sample-key"]', False, ["JSON object", "got array"]),
    "JSON string": ('"sample-key"', False, ["JSON object", "got string"]),
    "JSON number": ("42", False, ["JSON object", "got number"]),
    "JSON null": ("null", False, ["JSON object", "got null"]),
    "base64 invalid": ("not*base64!", True, ["base64"]),
    "base64 of non-UTF-8 bytes": (base64.b64encode(b"\xff\xfe\xfd").decode(), True, ["base64", "UTF-8"]),
    "base64 of non-JSON": (b64("key=sample-key"), True, ["not valid JSON"]),
    "plain JSON marked base64": ('{"key": "sample-key"}', True, ["base64"]),
    "missing key, other field sent": ('{"name": "sample-key"}', False, ["'key' is required", "name"]),
    "missing key, empty object": ("{}", False, ["'key' is required"]),
    "key number": ('{"key": 42}', False, ["'key' must be a string", "got number"]),
    "key null": ('{"key": null}', False, ["'key' must be a string", "got null"]),
    "key object": ('{"key": {"id": "sample-key"}}', False, ["'key' must be a string", "got object"]),
    "key list": ('{"key": ["sample-key"]}', False, ["'key' must be a string", "got array"]),
    "key boolean": ('{"key": true}', False, ["'key' must be a string", "got boolean"]),
    "key empty": ('{"key": ""}', False, ["'key' must not be empty"]),
    "key 2049 ASCII bytes": (json.dumps({"key": "a" * 2049}), False, ["2049 bytes", "2048"]),
    # 683 characters but 2049 bytes: the limit is on UTF-8 bytes, not characters.
    "key 2049 UTF-8 bytes": (json.dumps({"key": "あ" * 683}), False, ["2049 bytes", "2048"]),
    "unknown field": ('{"key": "sample-key", "extra": 1}', False, ["unknown field", "extra"]),
    # Valid JSON that Python's json cannot take in: these answered 500 before.
    "key a lone surrogate": ('{"key": "\\ud800"}', False, ["'key' must be valid Unicode", "surrogate"]),
    "key a lone surrogate, base64": (b64('{"key": "a\\udc00"}'), True, ["'key' must be valid Unicode"]),
    "nested 1,000 deep": ('{"key": ' + "[" * 1000 + "]" * 1000 + "}", False, ["nested too deeply"]),
    "5,000-digit number": ('{"key": ' + "9" * 5000 + "}", False, ["number too long"]),
}


@pytest.mark.parametrize(("body", "is_base64", "expected_words"), BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_request_is_400_saying_why_and_writes_nothing(
    any_ddb_app: ModuleType,
    ddb_event: Callable[..., dict[str, Any]],
    table_items: Callable[[], list[dict[str, Any]]],
    body: str | None,
    is_base64: bool,
    expected_words: list[str],
):
    response = any_ddb_app.lambda_handler(ddb_event(body, is_base64=is_base64), None)

    assert response["statusCode"] == 400
    message = answer(response)["message"]
    for word in expected_words:
        assert word in message
    assert table_items() == []


def test_body_that_is_not_a_string_is_400(any_ddb_app: ModuleType, ddb_event, table_items):
    # `sam local invoke -e` passes whatever the file holds; an object body is a malformed event.
    event = ddb_event(None)
    event["body"] = {"key": "sample-key"}

    response = any_ddb_app.lambda_handler(event, None)

    assert response["statusCode"] == 400
    assert "JSON string" in answer(response)["message"]
    assert table_items() == []


INVALID_SAMPLE_EVENTS = {
    "ddb_missing_key.json": "'key' is required; got unknown field(s): name",
    "ddb_not_json.json": "not valid JSON",
    "ddb_key_not_string.json": "'key' must be a string",
}


@pytest.mark.parametrize(("event_file", "expected_words"), INVALID_SAMPLE_EVENTS.items())
def test_invalid_sample_events_are_rejected(any_ddb_app: ModuleType, table_items, event_file, expected_words):
    response = any_ddb_app.lambda_handler(load_event(event_file), None)

    assert response["statusCode"] == 400
    assert expected_words in answer(response)["message"]
    assert table_items() == []


def assert_succeeded_and_stored(response: dict[str, Any], key: str, items: list[dict[str, Any]]) -> str:
    """Check a 200 answer and that its item is in the table; return its CreateDate."""
    assert response["statusCode"] == 200
    body = answer(response)
    assert set(body) == {"message", "Key", "CreateDate"}
    assert body["message"] == "succeeded"
    assert body["Key"] == key
    assert {"Key": body["Key"], "CreateDate": body["CreateDate"]} in items
    return body["CreateDate"]


def test_sample_event_stores_one_item_with_utc_microsecond_create_date(any_ddb_app: ModuleType, table_items):
    before = datetime.now(UTC)
    response = any_ddb_app.lambda_handler(load_event("ddb.json"), None)
    after = datetime.now(UTC)

    items = table_items()
    create_date = assert_succeeded_and_stored(response, "sample-key", items)
    assert len(items) == 1
    assert UTC_ISO_MICROSECONDS.match(create_date), create_date
    stamp = datetime.fromisoformat(create_date)
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= after


def test_base64_encoded_json_body_is_decoded_and_stored(any_ddb_app: ModuleType, ddb_event, table_items):
    event = ddb_event(b64('{"key": "from-base64"}'), is_base64=True)

    response = any_ddb_app.lambda_handler(event, None)

    items = table_items()
    assert_succeeded_and_stored(response, "from-base64", items)
    assert len(items) == 1


def test_key_of_exactly_2048_multibyte_utf8_bytes_is_stored(any_ddb_app: ModuleType, ddb_event, table_items):
    key = "🔑" * 512  # 4 bytes each in UTF-8: 512 characters, 2048 bytes
    assert len(key.encode("utf-8")) == ddb_request.MAX_KEY_BYTES == 2048

    response = any_ddb_app.lambda_handler(ddb_event(json.dumps({"key": key})), None)

    assert_succeeded_and_stored(response, key, table_items())


def test_non_ascii_key_round_trips(any_ddb_app: ModuleType, ddb_event, table_items):
    response = any_ddb_app.lambda_handler(ddb_event(json.dumps({"key": "キー"}, ensure_ascii=False)), None)

    assert_succeeded_and_stored(response, "キー", table_items())


def frozen_clock(instant: datetime) -> type[datetime]:
    """A datetime class whose now() is always `instant`, as if every call fell in the same microsecond."""

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> "FrozenDatetime":
            moment = instant if tz is None else instant.astimezone(tz)
            return cls.combine(moment.date(), moment.timetz())

    return FrozenDatetime


def test_two_writes_of_one_key_in_the_same_microsecond_are_both_stored(
    any_ddb_app: ModuleType, ddb_event, table_items, monkeypatch: pytest.MonkeyPatch
):
    instant = datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr(ddb_request, "datetime", frozen_clock(instant))
    event = ddb_event('{"key": "same-key"}')

    first = any_ddb_app.lambda_handler(event, None)
    second = any_ddb_app.lambda_handler(event, None)

    items = table_items()
    first_date = assert_succeeded_and_stored(first, "same-key", items)
    second_date = assert_succeeded_and_stored(second, "same-key", items)
    assert len(items) == 2
    assert first_date == instant.isoformat(timespec="microseconds")
    assert first_date != second_date
    # The second write moved on by the smallest step rather than replacing the first item.
    assert datetime.fromisoformat(second_date) - datetime.fromisoformat(first_date) == timedelta(
        microseconds=1
    )


def test_throttling_is_503_and_writes_nothing(any_ddb_app: ModuleType, ddb_event, table_items):
    # DynamoDB throttles every call, however many times the handler tries.
    throttled = throttle_put_item(any_ddb_app.table.meta.client)

    started = time.monotonic()
    response = any_ddb_app.lambda_handler(ddb_event('{"key": "sample-key"}'), None)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == 503
    message = answer(response)["message"]
    assert "unavailable" in message
    assert "ProvisionedThroughputExceededException" in message
    assert f"after {throttled.calls} attempt(s)" in message
    assert elapsed < HANDLER_TIME_LIMIT_SECONDS
    assert table_items() == []


def test_persistent_throttling_is_503_within_the_deadline(
    any_ddb_app: ModuleType, ddb_event, table_items, monkeypatch: pytest.MonkeyPatch
):
    attempts = 0

    def always_throttled(**_: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise throttling_error()

    monkeypatch.setattr(any_ddb_app.table, "put_item", always_throttled)

    started = time.monotonic()
    response = any_ddb_app.lambda_handler(ddb_event('{"key": "sample-key"}'), None)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == 503
    assert "unavailable" in answer(response)["message"]
    assert attempts > 1, "the handler should retry while its deadline allows"
    assert elapsed < HANDLER_TIME_LIMIT_SECONDS
    assert table_items() == []


def test_one_throttled_attempt_is_retried_and_the_item_stored(
    any_ddb_app: ModuleType, ddb_event, table_items, monkeypatch: pytest.MonkeyPatch
):
    real_put_item = any_ddb_app.table.put_item
    calls = 0

    def throttled_once(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise throttling_error()
        return real_put_item(**kwargs)

    monkeypatch.setattr(any_ddb_app.table, "put_item", throttled_once)

    response = any_ddb_app.lambda_handler(ddb_event('{"key": "sample-key"}'), None)

    assert calls == 2
    assert_succeeded_and_stored(response, "sample-key", table_items())


@pytest.fixture
def refused_endpoint() -> Iterator[str]:
    """An http URL on 127.0.0.1 whose port is bound but not listening: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


@pytest.mark.parametrize("variant", HANDLER_MODULES)
def test_unreachable_dynamodb_is_503_within_the_deadline(
    monkeypatch: pytest.MonkeyPatch, ddb_event, refused_endpoint: str, span_sink: str, variant: str
):
    # Outside mock_aws on purpose: botocore really tries to connect, and fails.
    monkeypatch.setenv("AWS_ENDPOINT_URL", refused_endpoint)
    app = import_fresh(f"sam_ddb.{HANDLER_MODULES[variant]}")
    assert app.table.meta.client.meta.endpoint_url == refused_endpoint

    started = time.monotonic()
    response = app.lambda_handler(ddb_event('{"key": "sample-key"}'), None)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == 503
    message = answer(response)["message"]
    assert "unavailable" in message
    assert "EndpointConnectionError" in message
    assert elapsed < HANDLER_TIME_LIMIT_SECONDS


UNEXPECTED_FAILURES = {
    "bug in the code": RuntimeError("secret detail at /var/task/app.py line 7"),
    "access denied": ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "secret detail: role arn"}}, "PutItem"
    ),
}


@pytest.mark.parametrize("failure", UNEXPECTED_FAILURES.values(), ids=UNEXPECTED_FAILURES)
def test_unexpected_failure_is_500_without_internals(
    any_ddb_app: ModuleType, ddb_event, table_items, monkeypatch: pytest.MonkeyPatch, failure: Exception
):
    def failing_put_item(**_: Any) -> None:
        raise failure

    monkeypatch.setattr(any_ddb_app.table, "put_item", failing_put_item)

    response = any_ddb_app.lambda_handler(ddb_event('{"key": "sample-key"}'), None)

    assert response["statusCode"] == 500
    assert answer(response) == {"message": "internal error"}
    for leak in ("Traceback", "secret detail", 'File "', type(failure).__name__):
        assert leak not in response["body"]
    assert table_items() == []
