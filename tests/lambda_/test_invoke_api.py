"""Lambda's Invoke API (emulator/lambda_/invoke_api.py) in the real stack, driven by boto3's
lambda client and the AWS CLI, over real HTTP, with the fixture app's functions."""

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from emulator.local_credentials import FAKE_CREDENTIALS
from tests.conftest import ROOT
from tests.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(fixture_app_template: Path, lambda_runtime_dir: Path) -> Iterator[RunningStack]:
    with running_stack(fixture_app_template, lambda_runtime_dir) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: RunningStack):
    return boto3.client(
        "lambda",
        endpoint_url=stack.stack.lambda_endpoint,
        region_name=stack.app.region,
        config=Config(retries={"max_attempts": 1}),
        **FAKE_CREDENTIALS,
    )


def test_request_response_by_logical_id_name_and_arn(stack: RunningStack, client) -> None:
    spec = stack.app.functions["EchoFunction"]
    for name in ("EchoFunction", spec.function_name, spec.arn, f"{spec.arn}:$LATEST"):
        answer = client.invoke(FunctionName=name, Payload=json.dumps({"hello": name}).encode())
        assert answer["StatusCode"] == 200
        assert "FunctionError" not in answer
        assert answer["ExecutedVersion"] == "$LATEST"
        body = json.loads(json.loads(answer["Payload"].read())["body"])
        assert body["event"] == {"hello": name}
        assert body["function_name"] == spec.function_name


def test_log_tail_is_the_invocations_own_lines(client) -> None:
    answer = client.invoke(FunctionName="EchoFunction", Payload=b"{}", LogType="Tail")
    request_id = answer["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(answer["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith(f"START RequestId: {request_id}")
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}")
    assert len(log.encode()) <= 4096


def test_a_function_error_is_unhandled_with_the_error_document(client) -> None:
    answer = client.invoke(FunctionName="RaisesFunction", Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "DemoError"
    assert error["errorMessage"] == "something went wrong on purpose"


def test_an_unknown_function_is_resource_not_found(client) -> None:
    with pytest.raises(
        client.exceptions.ResourceNotFoundException, match="Function not found: arn:aws:lambda"
    ):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="EchoFunction", Qualifier="7", Payload=b"{}")


def test_event_is_accepted_and_dry_run_only_checked(stack: RunningStack, client) -> None:
    def starts() -> int:
        return sum(
            1 for name, line in list(stack.logs) if name == "EchoFunction" and line.startswith("START")
        )

    before = starts()
    answer = client.invoke(FunctionName="EchoFunction", InvocationType="Event", Payload=b'{"async": true}')
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    answer = client.invoke(FunctionName="EchoFunction", InvocationType="DryRun", Payload=b"{}")
    assert answer["StatusCode"] == 204
    # The event ran (and the dry run did not): one more START line of the function.
    wait_until = time.monotonic() + 30
    while starts() == before:
        assert time.monotonic() < wait_until, stack.logs[-5:]
        time.sleep(0.05)
    assert starts() == before + 1


def test_a_payload_that_is_not_json_is_refused(stack: RunningStack) -> None:
    url = f"{stack.stack.lambda_endpoint}/2015-03-31/functions/EchoFunction/invocations"
    answer = request("POST", url, b"not json")
    assert answer.status == 400
    assert answer.header("x-amzn-ErrorType") == "InvalidRequestContentException"


def test_a_direct_invoke_is_traced_with_the_lambda_segment_as_root(stack: RunningStack) -> None:
    url = f"{stack.stack.lambda_endpoint}/2015-03-31/functions/EchoFunction/invocations"
    answer = request("POST", url, b"{}")
    assert answer.status == 200
    trace_id = answer.required_header("X-Amzn-Trace-Id").removeprefix("Root=")
    service = stack.collector.for_trace(trace_id, origin="AWS::Lambda")
    function = stack.collector.for_trace(trace_id, origin="AWS::Lambda::Function")
    assert len(service) == 1 and "parent_id" not in service[0]  # nothing called it: the root
    assert function and function[0]["parent_id"] == service[0]["id"]
    assert not [
        d
        for d in stack.collector.documents
        if d.get("trace_id") == trace_id and "ApiGateway" in str(d.get("origin"))
    ]


def test_only_loopback_hosts_and_no_web_pages(stack: RunningStack) -> None:
    url = f"{stack.stack.lambda_endpoint}/2015-03-31/functions/EchoFunction/invocations"
    assert request("POST", url, b"{}", {"Host": "evil.example:3001"}).status == 403
    refused = request("POST", url, b"{}", {"Origin": "http://evil.example"})
    assert refused.status == 403
    assert refused.header("Access-Control-Allow-Origin") is None


def test_the_aws_cli_invokes_it(stack: RunningStack, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {
        **{name.upper(): str(value) for name, value in FAKE_CREDENTIALS.items()},
        "AWS_DEFAULT_REGION": stack.app.region,
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    command = [
        str(ROOT / ".venv" / "bin" / "aws"), "lambda", "invoke", "--function-name", "EchoFunction",
        "--endpoint-url", str(stack.stack.lambda_endpoint), "--payload", "{}", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["statusCode"] == 200
