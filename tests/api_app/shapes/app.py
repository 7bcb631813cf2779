"""Answers in the result shapes an HTTP API (payload 2.0) and a REST API take, by path or query."""

import base64
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n\x00binary"


def handler(event: dict[str, Any], context: Any) -> Any:
    shape = (event.get("pathParameters") or {}).get("shape", "binary")
    if shape == "plain":
        return {"hello": "world"}  # no statusCode: a 200 JSON answer
    if shape == "string":
        return "just text"
    if shape == "cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "body": "with cookies"}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }
