"""What POST /ddb does, whichever tracing the function uses (app.py: the X-Ray SDK, otel_app.py:
OpenTelemetry): read the key, write one new item, answer JSON.

Always answers JSON (README, "What POST /ddb answers"): 200 with the stored item; 400 saying what
is wrong, with nothing written; 503 if DynamoDB is throttled or unreachable; 500 "internal error".
This module traces nothing itself: each handler wraps `put_item` in its own `put_item ddb` span, and
its instrumented boto3 makes the DynamoDB call a subsegment.
"""

import base64
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

# Answer by 2.5 s, inside the 3 s function timeout; one attempt takes at most 0.5 s connect + 0.8 s read.
# botocore's own retries can't keep that: "standard" sleeps up to 1 s before a 2nd try (2 × 1.3 + 1 = 3.6 s),
# so botocore tries once and put_new_item retries only while a whole attempt still fits.
ATTEMPT_SECONDS, DEADLINE_SECONDS = 0.5 + 0.8, 2.5
CONFIG = Config(connect_timeout=0.5, read_timeout=0.8, retries={"mode": "standard", "total_max_attempts": 1})

# DynamoDB error codes that mean "try again later".
RETRYABLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
RETRYABLE_CODES |= {"InternalServerError", "ServiceUnavailable"}


def put_new_item(table: Any, key: str) -> dict:
    """Write one new item, retrying while the deadline allows; never overwrite an item."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    create_date, collisions, attempt = datetime.now(UTC), 0, 0
    while True:
        attempt += 1
        item = {"Key": key, "CreateDate": create_date.isoformat(timespec="microseconds")}
        try:
            # Write only if no item has this Key and CreateDate ("Key" is a reserved word, hence #k).
            table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": "Key"},
            )
            return item
        except ClientError as error:
            reason = error.response["Error"]["Code"]
            if reason == "ConditionalCheckFailedException" and collisions < 5:
                # Same Key in the same microsecond: a strictly later CreateDate, not an overwrite.
                collisions += 1
                create_date = max(datetime.now(UTC), create_date + timedelta(microseconds=1))
                continue
            if reason not in RETRYABLE_CODES:
                raise
        except BotoCoreError as error:  # unreachable or timed out
            reason = type(error).__name__
        backoff = random.uniform(0, 0.05 * 2**attempt)
        if time.monotonic() + backoff + ATTEMPT_SECONDS > deadline:
            raise DynamoUnavailable(f"{reason} after {attempt} attempt(s)")
        time.sleep(backoff)


def answer(event: dict, put_item: Callable[[str], dict]) -> dict:
    """The API Gateway proxy result for `event`; `put_item(key)` is the handler's traced write."""
    try:
        item = put_item(parse_key(event))
    except BadRequest as error:
        return response(400, {"message": str(error)})
    except DynamoUnavailable as error:
        logger.warning("DynamoDB unavailable: %s", error)
        return response(503, {"message": f"DynamoDB is unavailable, try again later: {error}"})
    except Exception:
        # The stack trace goes to the log (and, through the handler's span, to X-Ray as a fault); the
        # caller only learns that it was not their fault.
        logger.exception("unexpected error")
        return response(500, {"message": "internal error"})
    return response(200, {"message": "succeeded", **item})


def response(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


class BadRequest(Exception):
    """The request is malformed; the message goes back to the caller."""


class DynamoUnavailable(Exception):
    """DynamoDB stayed throttled or unreachable until the deadline."""


MAX_KEY_BYTES = 2048  # DynamoDB's limit on a partition key value, in UTF-8 bytes
# The caller wrote JSON, so name the JSON type rather than the Python one.
JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number"}
JSON_TYPES |= {bool: "boolean", type(None): "null"}


def require(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message)


def parse_key(event: dict) -> str:
    """Return the `key` of the request body, or raise BadRequest saying what is wrong."""
    body = event.get("body")
    require(body not in (None, ""), 'request body is missing; send {"key": "..."}')
    if not isinstance(body, str):
        raise BadRequest("request body must be a JSON string")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error or UnicodeDecodeError
            raise BadRequest("request body is marked base64 but is not base64 of UTF-8 text") from None
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error.msg}") from None
    except ValueError:  # valid JSON, but Python refuses integers of over 4,300 digits
        raise BadRequest("request body has a number too long to read") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    got = JSON_TYPES[type(document)]
    require(
        isinstance(document, dict), f'request body must be a JSON object like {{"key": "..."}}, got {got}'
    )
    unknown = ", ".join(sorted(set(document) - {"key"}))
    # The likeliest mistake is a misspelt "key": name what was sent instead.
    sent = f"; got unknown field(s): {unknown}" if unknown else ""
    require("key" in document, f"field 'key' is required{sent}")
    require(not unknown, f"unknown field(s): {unknown}; only 'key' is accepted")
    key = document["key"]
    require(isinstance(key, str), f"field 'key' must be a string, got {JSON_TYPES[type(key)]}")
    require(key != "", "field 'key' must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:  # JSON's "\ud800" is half a UTF-16 pair: valid JSON, but not text
        raise BadRequest("field 'key' must be valid Unicode text; it has a lone surrogate") from None
    require(size <= MAX_KEY_BYTES, f"field 'key' is {size} bytes; DynamoDB allows at most {MAX_KEY_BYTES}")
    return key
