"""Prints the event it was invoked with, inside a subsegment of its own."""

import json
from typing import Any

from aws_xray_sdk.core import xray_recorder


def handler(event: Any, context: Any) -> dict[str, bool]:
    with xray_recorder.in_subsegment("sweep") as subsegment:
        job = event.get("job", "default") if isinstance(event, dict) else "default"
        subsegment.put_annotation("job", job)
        print("EVENT " + json.dumps(event))
    return {"ok": True}
