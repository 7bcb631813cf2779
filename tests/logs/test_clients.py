"""The local CloudWatch Logs works with the clients users point at it: the AWS CLI (v1, the
venv's), `sam logs --cw-log-group`, and boto3 making the calls `aws logs tail` (a CLI v2
command) makes, --follow included; and, like DynamoDB on the same port, not a web page."""

import http.client
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from emulator.logs.shipper import logs_client
from tests.logs.logs_support import (
    GROUP,
    REGION,
    cli_env,
    event_messages,
    invocation,
    new_request_id,
    now_ms,
    stream_name,
    venv_tool,
    write_stream,
)

pytestmark = pytest.mark.slow


def run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_aws_cli_filter_log_events_and_describe_log_groups(shared_moto):
    group = f"{GROUP}/cli"
    request_id = new_request_id()
    write_stream(
        shared_moto.endpoint_url,
        group,
        stream_name("a"),
        invocation(request_id, "hello from print"),
        now_ms(),
    )
    env = cli_env(shared_moto.endpoint_url)
    aws = str(venv_tool("aws"))

    local = ["--endpoint-url", shared_moto.endpoint_url, "--output", "json"]
    printed = run([aws, "logs", "filter-log-events", "--log-group-name", group, *local], env)
    events = json.loads(printed)["events"]
    assert event_messages(events) == invocation(request_id, "hello from print")
    assert {event["logStreamName"] for event in events} == {stream_name("a")}

    # The filter the console's lookup uses, from the CLI: START, END and REPORT of that id.
    pattern = f'"RequestId: {request_id}"'
    printed = run(
        [aws, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", pattern, *local],
        env,
    )
    assert [message.split(" ")[0] for message in event_messages(json.loads(printed)["events"])] == [
        "START",
        "END",
        "REPORT",
    ]

    printed = run(
        [aws, "logs", "describe-log-groups", "--endpoint-url", shared_moto.endpoint_url, "--output", "json"],
        env,
    )
    assert group in [entry["logGroupName"] for entry in json.loads(printed)["logGroups"]]


def test_sam_logs_cw_log_group(shared_moto, tmp_path: Path):
    group = f"{GROUP}/sam"
    request_id = new_request_id()
    write_stream(
        shared_moto.endpoint_url,
        group,
        stream_name("b"),
        invocation(request_id, "printed by the handler"),
        now_ms(),
    )
    env = cli_env(shared_moto.endpoint_url, tmp_path / "sam-cli")
    (tmp_path / "sam-cli").mkdir()
    (tmp_path / "sam-cli" / "metadata.json").write_text(json.dumps({"telemetryEnabled": False}))

    printed = run(
        [str(venv_tool("sam")), "logs", "--cw-log-group", group, "--region", REGION, "-s", "10min ago"], env
    )

    lines = printed.splitlines()
    assert any(f"START RequestId: {request_id}" in line for line in lines), printed
    assert any(line.endswith("printed by the handler") for line in lines), printed
    assert any(f"REPORT RequestId: {request_id}" in line for line in lines), printed
    assert all(line.startswith(stream_name("b")) for line in lines if line.strip()), printed


def test_the_calls_of_aws_logs_tail_and_its_follow_mode(shared_moto):
    """`aws logs tail GROUP --since 10m [--follow]` (CLI v2) pages FilterLogEvents with
    interleaved=True from --since; --follow polls again from the newest timestamp seen and
    leaves out the events whose eventId it has printed: ids must be unique and stable."""
    group = f"{GROUP}/tail"
    first, second = new_request_id(), new_request_id()
    at = now_ms()
    write_stream(shared_moto.endpoint_url, group, stream_name("c"), invocation(first, "one"), at)
    write_stream(shared_moto.endpoint_url, group, stream_name("d"), invocation(second, "two"), at + 3)
    client = logs_client(shared_moto.endpoint_url, REGION)
    arguments = {"logGroupName": group, "interleaved": True, "startTime": at - 600_000}

    pages = client.get_paginator("filter_log_events").paginate(**arguments)
    seen = [event for page in pages for event in page["events"]]
    assert event_messages(seen) == invocation(first, "one") + invocation(second, "two")

    # --follow: a new invocation arrives at the newest timestamp seen so far, and later.
    third = new_request_id()
    write_stream(shared_moto.endpoint_url, group, stream_name("c"), invocation(third, "three"), at + 3)
    newest = max(event["timestamp"] for event in seen)
    printed = {event["eventId"] for event in seen if event["timestamp"] == newest}
    again = client.filter_log_events(**{**arguments, "startTime": newest})["events"]
    fresh = [event for event in again if event["eventId"] not in printed]
    assert event_messages(fresh) == invocation(third, "three")


def logs_call(endpoint_url: str, group: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    """FilterLogEvents as a browser would send it: http.client, exactly these headers."""
    parts = urlsplit(endpoint_url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        signed = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261130/{REGION}/logs/aws4_request, "
            "SignedHeaders=host, Signature=0",
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.FilterLogEvents",
        }
        connection.request(
            "POST", "/", body=json.dumps({"logGroupName": group}), headers={**signed, **headers}
        )
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_a_web_page_cannot_read_the_logs(shared_moto):
    group = f"{GROUP}/guarded"
    write_stream(
        shared_moto.endpoint_url, group, stream_name("e"), invocation(new_request_id(), "secret"), now_ms()
    )

    status, body, _ = logs_call(shared_moto.endpoint_url, group)
    assert status == 200 and b"secret" in body  # the SDK's way in

    for headers in (
        {"Origin": "https://evil.example"},
        {"Host": "evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        status, body, answer_headers = logs_call(shared_moto.endpoint_url, group, **headers)
        assert status == 403, headers
        assert b"secret" not in body
        assert not [name for name in answer_headers if name.startswith("access-control-")]
