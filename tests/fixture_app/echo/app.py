"""Returns the proxy event it received (and a few facts about its environment) as JSON."""

import json
import os
import time
from typing import Any

# Evidence of warm reuse: the same process answers with the same id.
PROCESS_STARTED = time.time()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    body = {
        "event": event,
        "pid": os.getpid(),
        "process_started": PROCESS_STARTED,
        "environ": {k: v for k, v in os.environ.items() if not k.startswith("AWS_SECRET")},
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {
        "statusCode": int(query.get("status", 200)),
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(body),
    }
