"""Sleeps past its 1-second timeout unless asked for less."""

import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", 5))
    time.sleep(seconds)
    return {"statusCode": 200, "body": "slept"}
