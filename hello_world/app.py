"""GET /hello: the tutorial's first traced function."""

import json
from typing import Any

from aws_xray_sdk.core import xray_recorder


# The decorator records a "hello world" subsegment under the Invocation subsegment of the
# function segment that Lambda writes. Outside Lambda (a plain `lambda_handler(event, "")`
# call in a test) there is no segment to attach to; the SDK then logs and the handler still answers.
@xray_recorder.capture("hello world")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": "hello world"}),
    }
