"""Shared by tests/logs: a moto for CloudWatch Logs, streams of Lambda-shaped invocations in it,
and the AWS CLI's and SAM CLI's environments."""

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from emulator.logs.shipper import logs_client

REGION = "ap-northeast-1"
GROUP = "/aws/lambda/sam-app/HelloWorldFunction"


def stream_name(letter: str) -> str:
    return "2026/11/30/[$LATEST]" + letter * 32


def invocation(request_id: str, *output: str) -> list[str]:
    """The lines Lambda writes for one invocation around the function's own output."""
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        *output,
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB",
    ]


def write_stream(endpoint_url: str, group: str, stream: str, messages: list[str], timestamp_ms: int) -> None:
    """`messages` into `stream` as one batch, all at the same millisecond (as a quick
    invocation's lines are), creating the group and stream if needed."""
    client = logs_client(endpoint_url, REGION)
    if not client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        client.create_log_group(logGroupName=group)
    if not client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [{"timestamp": timestamp_ms, "message": message} for message in messages]
    client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_request_id() -> str:
    return str(uuid.uuid4())


def cli_env(endpoint_url: str, sam_app_dir: Path | None = None) -> dict[str, str]:
    """Placeholder credentials, no config of the user's; CloudWatch Logs at `endpoint_url` for
    the tools that take no --endpoint-url (the SAM CLI): botocore's service endpoint variable."""
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=endpoint_url,
        SAM_CLI_TELEMETRY="0",
    )
    if sam_app_dir is not None:
        env["__SAM_CLI_APP_DIR"] = str(sam_app_dir)
    return env


def venv_tool(name: str) -> Path:
    return Path(sys.executable).with_name(name)


def event_messages(events: list[dict[str, Any]]) -> list[str]:
    return [event["message"] for event in events]
