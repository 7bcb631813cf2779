"""The tutorial's function lines in the local CloudWatch Logs, as a user meets them: `python -m
emulator`, a `POST /ddb`, the stack stopped at once (its buffer is sent on the way out), then
started again on the same data directory, where the invocation's lines are found by the
request id its X-Ray `AWS::Lambda` segment carries, and the banner's CLI line prints them."""

import json
import os
import signal
import subprocess
import time
from typing import Any

import boto3
import pytest

from emulator.logs.invocation_lines import invocation_events
from emulator.logs.shipper import logs_client
from tests.stack.test_stack_cli import ROOT, STOP_TIMEOUT, Emulator, stack_args
from tests.stack_helpers import request

pytestmark = pytest.mark.slow

REGION = "ap-northeast-1"
GROUP = "/aws/lambda/sam-app/SamDdbFunction"
TRACE_WAIT_SECONDS = 30.0


def lambda_request_id(xray: Any, trace_id: str) -> str:
    """The `aws.request_id` of the trace's AWS::Lambda segment (what the console reads)."""
    deadline = time.monotonic() + TRACE_WAIT_SECONDS
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        documents = [json.loads(segment["Document"]) for trace in traces for segment in trace["Segments"]]
        found = [doc["aws"]["request_id"] for doc in documents if doc.get("origin") == "AWS::Lambda"]
        if found:
            return str(found[0])
        assert time.monotonic() < deadline, f"no AWS::Lambda segment in trace {trace_id}: {documents}"
        time.sleep(0.2)


def test_an_invocations_lines_survive_a_stop_and_are_found_by_its_request_id(
    tutorial_app_template, lambda_runtime_dir, tmp_path
):
    key = f"logged-{os.getpid()}-{time.time_ns()}"
    emulator = Emulator(*stack_args(tutorial_app_template, tmp_path))
    try:
        url = emulator.wait_for(r"curl (http://127\.0\.0\.1:\d+)/hello").group(1)
        emulator.wait_for(r"Ready\.")
        response = request("POST", url + "/ddb", body=json.dumps({"key": key}).encode())
        assert response.status == 200
        trace_id = response.required_header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root=")
        # At once: what the shipper holds is sent by the stop, not by its timer.
        emulator.process.send_signal(signal.SIGTERM)
        assert emulator.process.wait(timeout=STOP_TIMEOUT) == 0
    finally:
        emulator.kill()

    emulator = Emulator(*stack_args(tutorial_app_template, tmp_path))
    try:
        logs_url = emulator.wait_for(r"CloudWatch Logs \(moto\): (http://127\.0\.0\.1:\d+)").group(1)
        printed_command = emulator.wait_for(
            rf"^\s*(\S.*aws logs filter-log-events --log-group-name {GROUP} .*)$"
        )
        xray_api = emulator.wait_for(r"X-Ray API: (http://127\.0\.0\.1:\d+)").group(1)
        emulator.wait_for(r"Ready\.")
        xray = boto3.client("xray", endpoint_url=xray_api, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        request_id = lambda_request_id(xray, trace_id)
        logs = logs_client(logs_url, REGION)

        events = invocation_events(logs, GROUP, request_id)

        messages = [event["message"] for event in events]
        assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
        assert messages[-2] == f"END RequestId: {request_id}"
        assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
        assert "\tInit Duration: " in messages[-1]  # the stack's first request: a cold start
        [stream] = {event["logStreamName"] for event in events}
        assert stream.startswith(
            time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime(events[0]["timestamp"] / 1000))
        )
        # The template's log group, with its retention.
        [group] = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
        assert group["retentionInDays"] == 14

        # The banner's command works as printed, with no AWS configuration of one's own.
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        printed = subprocess.run(
            ["bash", "-c", printed_command.group(1) + " --output json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stderr
        listed = [event["message"] for event in json.loads(printed.stdout)["events"]]
        assert f"START RequestId: {request_id} Version: $LATEST" in listed
    finally:
        emulator.process.send_signal(signal.SIGTERM)
        emulator.process.wait(timeout=STOP_TIMEOUT)
        emulator.kill()
