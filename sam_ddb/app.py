"""POST /ddb: store {"key": "..."} in the Demo table, with the DynamoDB call traced.

Answers (always JSON, never a stack trace):
  200  {"message": "succeeded", "Key": ..., "CreateDate": ...}  one new item was written
  400  {"message": "<what is wrong with the request>"}           nothing was written
  503  {"message": "DynamoDB is unavailable ..."}               throttled or unreachable
  500  {"message": "internal error"}                            anything unexpected
"""

import base64
import binascii
import json
import logging
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_xray_sdk.core import patch, xray_recorder
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Patch before any client exists, so every boto3 call becomes an X-Ray subsegment in
# namespace "aws": that is what draws DynamoDB on the service map.
patch(["boto3"])

logger = logging.getLogger()
logger.setLevel(logging.INFO)

# DynamoDB's limit on a partition key value, in UTF-8 bytes.
MAX_KEY_BYTES = 2048
ALLOWED_FIELDS = frozenset({"key"})

# The function has a 3 s timeout. Each attempt is bounded by these socket timeouts and
# botocore's own retries are off: the loop in `put_item_ddb` retries only while the
# deadline leaves room for a whole attempt, so the caller always gets a JSON answer.
ATTEMPT_SECONDS = 0.5 + 0.8
DEADLINE_SECONDS = 2.5
BOTO_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=0.8,
    retries={"total_max_attempts": 1},
)
# DynamoDB error codes that mean "try again later", answered with 503.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# Same Key and same CreateDate already stored: retry with a later CreateDate.
MAX_COLLISION_RETRIES = 5

TABLE_NAME = os.environ.get("TABLE_NAME", "")
if not TABLE_NAME:
    raise RuntimeError("TABLE_NAME is not set; template.yaml passes it as !Ref DynamoTable")

# Made once per execution environment and reused by every warm invocation.
table = boto3.resource("dynamodb", config=BOTO_CONFIG).Table(TABLE_NAME)

_cold_start = True


class BadRequest(Exception):
    """The request is malformed; the message is returned to the caller."""


class DynamoUnavailable(Exception):
    """DynamoDB throttled or could not be reached within the deadline."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    try:
        key = parse_key(event)
        item = put_item_ddb(key, _deadline(context), cold_start)
    except BadRequest as error:
        return _response(400, {"message": str(error)})
    except DynamoUnavailable as error:
        logger.warning("DynamoDB unavailable: %s", error)
        return _response(503, {"message": f"DynamoDB is unavailable, try again later: {error}"})
    except Exception:
        # The trace goes to the log (and, through the capture below, to X-Ray as a
        # fault); the caller only learns that it was not their fault.
        logger.exception("unexpected error")
        return _response(500, {"message": "internal error"})
    return _response(200, {"message": "succeeded", **item})


def parse_key(event: dict[str, Any]) -> str:
    """Return the `key` of the request body, or raise BadRequest saying what is wrong."""
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest('request body is missing; send {"key": "..."}')
    if not isinstance(body, str):
        raise BadRequest("request body must be a JSON string")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("request body is marked base64 but is not base64 of UTF-8 text") from None
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error.msg}") from None
    if not isinstance(document, dict):
        raise BadRequest(
            f'request body must be a JSON object like {{"key": "..."}}, got {_json_type(document)}'
        )
    unknown = sorted(set(document) - ALLOWED_FIELDS)
    if "key" not in document:
        # The likeliest mistake is a misspelt "key": name what was sent instead.
        sent = f"; got unknown field(s): {', '.join(unknown)}" if unknown else ""
        raise BadRequest(f"field 'key' is required{sent}")
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; only 'key' is accepted")
    key = document["key"]
    if not isinstance(key, str):
        raise BadRequest(f"field 'key' must be a string, got {_json_type(key)}")
    if key == "":
        raise BadRequest("field 'key' must not be empty")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise BadRequest(f"field 'key' is {size} bytes; DynamoDB allows at most {MAX_KEY_BYTES}")
    return key


@xray_recorder.capture("put_item ddb")
def put_item_ddb(key: str, deadline: float, cold_start: bool = False) -> dict[str, str]:
    """Write one new item; never overwrite one that is already there."""
    _annotate(cold_start)
    create_date = datetime.now(UTC)
    collisions = 0
    attempt = 0
    while True:
        attempt += 1
        item = {"Key": key, "CreateDate": create_date.isoformat(timespec="microseconds")}
        try:
            table.put_item(
                Item=item,
                # "Key" is a DynamoDB reserved word, hence the placeholder.
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": "Key"},
            )
            return item
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException" and collisions < MAX_COLLISION_RETRIES:
                collisions += 1
                # A fresh, strictly later timestamp: two writes in one microsecond differ.
                create_date = max(datetime.now(UTC), create_date + timedelta(microseconds=1))
                continue
            if code not in RETRYABLE_CODES:
                raise
            reason = code
        except BotoCoreError as error:
            reason = type(error).__name__
        backoff = random.uniform(0, 0.05 * 2**attempt)
        if time.monotonic() + backoff + ATTEMPT_SECONDS > deadline:
            raise DynamoUnavailable(f"{reason} after {attempt} attempt(s)")
        time.sleep(backoff)


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type: the caller wrote JSON, not Python."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _annotate(cold_start: bool) -> None:
    # Annotations are indexed by X-Ray: `annotation.ColdStart = true` finds cold starts.
    subsegment = xray_recorder.current_subsegment()
    if subsegment is not None:
        subsegment.put_annotation("ColdStart", cold_start)


def _deadline(context: Any) -> float:
    """A monotonic deadline that leaves the function time to answer before it times out."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        deadline = min(deadline, time.monotonic() + remaining() / 1000 - 0.3)
    return deadline


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
