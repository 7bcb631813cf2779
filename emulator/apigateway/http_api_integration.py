"""HTTP API Lambda proxy integration, payload format 2.0: the event in, the result out.

Field by field as "Create AWS Lambda proxy integrations for HTTP APIs" in the API Gateway
developer guide shows them: header names in lower case, repeated headers and query parameters
joined with commas, cookies in their own list, no multiValue* maps, and fields with nothing in
them left out. A result without `statusCode` is taken as the body of a 200 JSON answer.
(Payload format 1.0 on an HTTP API is the REST event of proxy_integration.py with
`version: "1.0"`.)
"""

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from emulator.apigateway.proxy_integration import (
    _TOKEN,
    ApiContext,
    IncomingRequest,
    MalformedResult,
    ProxyResponse,
    RequestIds,
    _header_value,
    _status,
    _utf8,
    request_time,
    result_body,
)


def build_event_v2(
    request: IncomingRequest,
    *,
    api: ApiContext,
    route_key: str,
    raw_path: str,
    path_parameters: dict[str, str],
    ids: RequestIds,
    binary: bool,
    stage_variables: dict[str, str],
) -> dict[str, Any]:
    """The 2.0 event for `request` on the route `route_key` (`GET /items/{id}` or `$default`).

    `raw_path` is the path as the client sent it, stage included; `request.headers` already
    carry what API Gateway adds (X-Forwarded-*, X-Amzn-Trace-Id)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": f"{api.api_id}.execute-api.{api.region}.amazonaws.com",
        "domainPrefix": api.api_id,
        "http": {
            "method": request.method,
            "path": unquote(raw_path),
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": ids.extended_request_id,
        "routeKey": route_key,
        "stage": api.stage,
        "time": request_time(ids.epoch_ms),
        "timeEpoch": ids.epoch_ms,
    }
    if request.body:
        event["body"] = (
            base64.b64encode(request.body).decode("ascii")
            if binary
            else request.body.decode("utf-8", "replace")
        )
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = bool(request.body) and binary
    if stage_variables:
        event["stageVariables"] = stage_variables
    return event


def parse_result_v2(payload: bytes) -> ProxyResponse:
    """Map a 2.0 result to the HTTP response, or raise MalformedResult (API Gateway: 500)."""
    try:
        result = json.loads(payload)
    except ValueError as error:
        raise MalformedResult(f"result is not JSON: {error}") from None
    except RecursionError:
        raise MalformedResult("result is not JSON: nested too deeply") from None
    if not isinstance(result, dict) or "statusCode" not in result:
        # "If your function returns valid JSON and doesn't return a statusCode, API Gateway
        # assumes" a 200 with the JSON as the body; a string is the body as it is.
        text = result if isinstance(result, str) else json.dumps(result)
        return ProxyResponse(200, [("content-type", "application/json")], _utf8(text, "result"))
    status = _status(result.get("statusCode"))
    headers_in = result.get("headers") or {}
    if not isinstance(headers_in, dict):
        raise MalformedResult("headers must be an object")
    headers: list[tuple[str, str]] = []
    for name, value in headers_in.items():
        if not _TOKEN.fullmatch(name):
            raise MalformedResult(f"header name {name[:40]!r} is not a valid HTTP header name")
        headers.append((name, _header_value(name, value)))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResult("cookies must be a list")
    # "In the response to the client, each cookie becomes a set-cookie header."
    headers.extend(("set-cookie", _header_value("cookies", cookie)) for cookie in cookies)
    return ProxyResponse(status, headers, result_body(result, decode_base64=True))
