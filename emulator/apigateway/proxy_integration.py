"""API Gateway REST (payload format 1.0) Lambda proxy integration: the event in, the result out.

Field names and shapes follow "Input format of a Lambda function for proxy integration" and
"Output format of a Lambda function for proxy integration" in the API Gateway developer guide.
"""

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

# Month names as API Gateway writes requestTime, whatever the host's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The keys a proxy result may have; anything else makes API Gateway answer 502.
RESULT_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# A header name is an RFC 9110 token; a value may hold no control character but HTAB. A CR or
# LF written as is would end the header early and let the function inject headers or a body.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"[ \t]*([0-9]{3})[ \t]*")


@dataclass(frozen=True)
class IncomingRequest:
    """What the gateway received, before any API Gateway interpretation."""

    method: str
    path: str  # percent-encoded, without the stage and without the query string: /items/a%20b
    query: str  # the raw query string, without "?"
    headers: list[tuple[str, str]]  # in order, as sent, repeated names kept
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class RequestIds:
    """API Gateway's ids for one request; they also appear in the response headers."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Like API Gateway's `x-amz-apigw-id`: 16 characters of base64 ending in "=".
    extended_request_id: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(10)).decode()
    )
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))


@dataclass(frozen=True)
class ApiContext:
    """The deployed API the request arrived at."""

    account_id: str
    api_id: str
    region: str
    stage: str


def resource_id(resource_path: str) -> str:
    """A stable 6-character resource id for a resource path, like API Gateway's `abc123`."""
    return uuid.uuid5(uuid.NAMESPACE_URL, resource_path).hex[:6]


def build_event(
    request: IncomingRequest,
    *,
    api: ApiContext,
    resource_path: str,
    path_parameters: dict[str, str],
    ids: RequestIds,
    extra_headers: Iterable[tuple[str, str]] = (),
    binary: bool = False,
    stage_variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event API Gateway passes to the function for `request` on `resource_path`.

    `extra_headers` are those API Gateway itself adds (X-Forwarded-*, X-Amzn-Trace-Id);
    `binary`: the body goes base64-encoded (see media_types.py for when API Gateway does that).
    """
    all_headers = [*request.headers, *extra_headers]
    headers, multi_headers = _single_and_multi(all_headers)
    query_pairs = parse_qsl(request.query, keep_blank_values=True)
    query, multi_query = _single_and_multi(query_pairs)
    user_agent = next((v for k, v in all_headers if k.lower() == "user-agent"), None)
    body: str | None
    if not request.body:
        body, encoded = None, False
    elif binary:
        body, encoded = base64.b64encode(request.body).decode("ascii"), True
    else:
        # A text payload is UTF-8 to API Gateway: bytes that are not are replaced, not refused.
        body, encoded = request.body.decode("utf-8", "replace"), False
    path = unquote(request.path)
    domain_name = f"{api.api_id}.execute-api.{api.region}.amazonaws.com"
    return {
        "resource": resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "requestContext": {
            "accountId": api.account_id,
            "apiId": api.api_id,
            "domainName": domain_name,
            "domainPrefix": api.api_id,
            "extendedRequestId": ids.extended_request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{api.stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": ids.request_id,
            "requestTime": request_time(ids.epoch_ms),
            "requestTimeEpoch": ids.epoch_ms,
            "resourceId": resource_id(resource_path),
            "resourcePath": resource_path,
            "stage": api.stage,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def request_time(epoch_ms: int) -> str:
    """`09/Apr/2015:12:34:56 +0000`, the CLF-style time API Gateway puts in requestTime."""
    t = time.gmtime(epoch_ms / 1000)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def _single_and_multi(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    # The single-value map keeps the last value of a repeated name, as API Gateway does;
    # both are null, not {}, when there is nothing.
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


class MalformedResult(ValueError):
    """The function's result is not a proxy integration result: API Gateway answers 502."""


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]  # merged headers and multiValueHeaders, repeated names kept
    body: bytes


def parse_result(payload: bytes, *, decode_base64: bool = True) -> ProxyResponse:
    """Map the function's result to the HTTP response, or raise MalformedResult.

    `decode_base64` False: a base64 body goes to the client as the text it is (a REST API whose
    binaryMediaTypes do not cover the request's Accept type)."""
    try:
        result = json.loads(payload)
    except ValueError as error:  # UnicodeDecodeError and a number of over 4,300 digits too
        raise MalformedResult(f"result is not JSON: {error}") from None
    except RecursionError:
        raise MalformedResult("result is not JSON: nested too deeply") from None
    if not isinstance(result, dict):
        raise MalformedResult(f"result must be a JSON object, got {type(result).__name__}")
    unknown = sorted(set(result) - RESULT_KEYS)
    if unknown:
        raise MalformedResult(f"unknown key(s) in the result: {', '.join(unknown)}")
    status = _status(result.get("statusCode"))
    headers = _headers(result.get("headers"), result.get("multiValueHeaders"))
    return ProxyResponse(status, headers, result_body(result, decode_base64=decode_base64))


def result_body(result: dict[str, Any], *, decode_base64: bool) -> bytes:
    """The body of a function's result as bytes: base64-decoded when the result says
    isBase64Encoded and the API decodes it (an HTTP API always; a REST API for its binary
    media types), else the text as UTF-8."""
    encoded = result.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedResult("isBase64Encoded must be true or false")
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResult(f"body must be a string, got {type(body).__name__}")
    if encoded and decode_base64:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error, or a character outside ASCII
            raise MalformedResult("isBase64Encoded is true but body is not base64") from None
    return _utf8(body, "body")


def _status(value: Any) -> int:
    # API Gateway takes 200 and "200" alike.
    if isinstance(value, bool):
        raise MalformedResult("statusCode must be an integer")
    if isinstance(value, int):
        status = value
    elif isinstance(value, str) and (digits := _STATUS.fullmatch(value)):
        status = int(digits.group(1))
    else:
        raise MalformedResult(f"statusCode must be an integer, got {_describe(value)}")
    if not 100 <= status <= 599:
        raise MalformedResult(f"statusCode {status} is not an HTTP status")
    return status


def _headers(single: Any, multi: Any) -> list[tuple[str, str]]:
    """Documented merge: both maps are combined; a name in multiValueHeaders takes its values from there."""
    if single is not None and not isinstance(single, dict):
        raise MalformedResult("headers must be an object")
    if multi is not None and not isinstance(multi, dict):
        raise MalformedResult("multiValueHeaders must be an object")
    merged: list[tuple[str, str]] = []
    for name in [*(single or {}), *(multi or {})]:
        if not _TOKEN.fullmatch(name):
            raise MalformedResult(f"header name {name[:40]!r} is not a valid HTTP header name")
    multi_names = {name.lower() for name in (multi or {})}
    for name, value in (single or {}).items():
        if name.lower() not in multi_names:
            merged.append((name, _header_value(name, value)))
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise MalformedResult(f"multiValueHeaders.{name} must be a list")
        merged.extend((name, _header_value(name, value)) for value in values)
    return merged


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise MalformedResult(f"header {name} must be a string, got {_describe(value)}")
    if _CONTROL.search(value):
        raise MalformedResult(f"header {name} has a control character (CR, LF, ...) in its value")
    _utf8(value, f"header {name}")
    return value


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \\ud800 escape can carry
        raise MalformedResult(f"{what} is not valid Unicode text") from None


def _describe(value: Any) -> str:
    """A value from the result, short: it may be anything the function returned."""
    if isinstance(value, (int, float, str)) or value is None:
        return json.dumps(value)[:40]
    return type(value).__name__
