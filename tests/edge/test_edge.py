"""One endpoint for every local AWS service (emulator/edge): boto3 clients with only
AWS_ENDPOINT_URL set, the AWS CLI and `sam traces` reach DynamoDB, CloudWatch Logs, X-Ray and
Lambda of a real running stack; what is not signed, or signed for a service the stack does not
run, or comes from a browser, is refused with an error that says why."""

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.session
import pytest

from emulator.cli import ENDPOINT_VARIABLES
from emulator.stack import Stack, StackConfig
from tests.conftest import sam_cli_env

REGION = "us-east-1"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def stack(
    tutorial_app_template: Path, lambda_runtime_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = StackConfig(
        built_template=tutorial_app_template,
        runtime_dir=lambda_runtime_dir,
        region=REGION,
        xray_db=tmp_path_factory.mktemp("edge-xray") / "traces.db",
        watch=False,
    )
    with Stack(config) as running:
        yield running


@pytest.fixture
def env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Only AWS_ENDPOINT_URL: no per-service variable, no endpoint_url argument."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
            monkeypatch.delenv(name)
    assert stack.endpoint_url is not None
    values = {
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


def client(service: str) -> Any:
    return boto3.session.Session().client(service, region_name=REGION)  # type: ignore[call-overload]


def invoke_hello() -> str:
    """A direct invoke through the edge; its trace id (Lambda's AWS::Lambda segment starts it)."""
    answer = client("lambda").invoke(FunctionName="HelloWorldFunction", Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert payload["statusCode"] == 200, payload
    return str(answer["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-trace-id", ""))


def test_dynamodb_through_the_edge(env: dict[str, str], stack: Stack) -> None:
    assert stack.app is not None
    table = stack.app.tables[0].table_name
    dynamodb = client("dynamodb")
    assert table in dynamodb.list_tables()["TableNames"]
    dynamodb.put_item(TableName=table, Item={"Key": {"S": "edge"}, "CreateDate": {"S": "2026-01-01"}})
    direct = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name=REGION)
    assert (
        direct.get_item(TableName=table, Key={"Key": {"S": "edge"}, "CreateDate": {"S": "2026-01-01"}})[
            "Item"
        ]["Key"]["S"]
        == "edge"
    )


def test_logs_through_the_edge(env: dict[str, str], stack: Stack) -> None:
    client("logs").create_log_group(logGroupName="/edge/test")
    direct = boto3.client("logs", endpoint_url=stack.logs_endpoint, region_name=REGION)
    names = [group["logGroupName"] for group in direct.describe_log_groups()["logGroups"]]
    assert "/edge/test" in names


def test_lambda_and_xray_through_the_edge(env: dict[str, str], stack: Stack) -> None:
    invoke_hello()
    xray = client("xray")
    deadline = time.monotonic() + 10
    summaries: list[Any] = []
    while not summaries and time.monotonic() < deadline:
        now = time.time()
        summaries = xray.get_trace_summaries(StartTime=now - 600, EndTime=now + 60)["TraceSummaries"]
        time.sleep(0.2)
    # moto's own X-Ray would answer with no traces at all: these are the local X-Ray's.
    assert summaries, "the local X-Ray has no trace of the invoke"


def test_unknown_service_is_named(env: dict[str, str]) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client("events").list_rules()
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "events" in str(error) and "dynamodb" in str(error) and "sqs" in str(error)


def test_sqs_through_the_edge(env: dict[str, str]) -> None:
    """The queues of the template, and any a function makes, are moto's: SQS routes there."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="edge-routed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="through the edge")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "through the edge"


def test_functions_reach_every_service_through_the_edge(stack: Stack) -> None:
    """A function's AWS_ENDPOINT_URL is the edge (its boto3 reaches SQS, Lambda and X-Ray as in AWS);
    DynamoDB, on the tutorial's path, is moto without the extra hop."""
    environment = stack._function_environment()
    assert environment["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == stack.dynamodb_endpoint


def raw(stack: Stack, headers: dict[str, str], path: str = "/") -> tuple[int, dict[str, Any]]:
    assert stack.endpoint_url is not None
    parts = urlsplit(stack.endpoint_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("POST", path, skip_host=True)
        for name, value in {"Host": parts.netloc, **headers}.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", "2")
        connection.endheaders(b"{}")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


SIGNED_FOR_DYNAMODB = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=00",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
}


def test_signed_raw_request_is_routed(stack: Stack) -> None:
    status, body = raw(stack, SIGNED_FOR_DYNAMODB)
    assert status == 200 and "TableNames" in body


def test_unsigned_request_is_refused(stack: Stack) -> None:
    status, body = raw(stack, {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    assert status == 400
    assert body["__type"] == "MissingAuthenticationTokenException"
    assert "xray" in body["message"] and "lambda" in body["message"]


def test_moto_xray_is_not_reachable(stack: Stack) -> None:
    """Signed for a service moto runs but the stack does not serve through moto."""
    headers = {
        **SIGNED_FOR_DYNAMODB,
        "Authorization": SIGNED_FOR_DYNAMODB["Authorization"].replace("dynamodb", "s3"),
    }
    status, body = raw(stack, headers)
    assert status == 400 and "'s3'" in body["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_browsers_and_foreign_hosts_are_refused(stack: Stack, headers: dict[str, str]) -> None:
    status, body = raw(stack, {**SIGNED_FOR_DYNAMODB, **headers})
    assert status == 403 and body["__type"] == "AccessDeniedException"


def test_moto_management_api_is_refused(stack: Stack) -> None:
    status, _ = raw(stack, SIGNED_FOR_DYNAMODB, path="/moto-api/reset")
    assert status == 403


def test_aws_cli_and_sam_traces_through_aws_endpoint_url(
    env: dict[str, str], stack: Stack, tmp_path: Path
) -> None:
    """The AWS CLI v1 and the SAM CLI read AWS_ENDPOINT_URL through botocore: no --endpoint-url."""
    trace_id = invoke_hello()
    now = int(time.time())
    command = [
        str(BIN / "aws"),
        "xray",
        "get-trace-summaries",
        "--start-time",
        str(now - 600),
        "--end-time",
        str(now + 60),
    ]
    deadline = time.monotonic() + 10
    while True:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        ids = [summary["Id"] for summary in json.loads(result.stdout)["TraceSummaries"]]
        if ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ids
    wanted = trace_id.split(";")[0].removeprefix("Root=") if trace_id else ids[0]
    sam_env = {**sam_cli_env(tmp_path / "sam-cli"), **env}
    result = subprocess.run(
        [str(BIN / "sam"), "traces", "--trace-id", wanted if wanted in ids else ids[0]],
        env=sam_env,
        cwd=tmp_path,  # not the project's: its samconfig.toml names another region
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "HelloWorldFunction" in result.stdout or "hello" in result.stdout.lower(), result.stdout


@pytest.mark.parametrize("service", ["dynamodb", "logs", "sqs", "xray", "lambda"])
def test_the_banner_names_botocores_variables(service: str) -> None:
    """Each AWS_ENDPOINT_URL_<SERVICE> the banner prints is the one botocore reads for it."""
    service_id = botocore.session.get_session().get_service_model(service).service_id
    assert f"AWS_ENDPOINT_URL_{service_id.replace(' ', '_').upper()}" in ENDPOINT_VARIABLES


def test_sam_logs_through_aws_endpoint_url(env: dict[str, str], stack: Stack, tmp_path: Path) -> None:
    """`sam logs` (which has no --endpoint-url) reads the function's log group through the edge."""
    assert stack.app is not None
    invoke_hello()
    group = stack.app.functions["HelloWorldFunction"].log_group_name
    sam_env = {**sam_cli_env(tmp_path / "sam-cli"), **env}
    deadline = time.monotonic() + 15  # the lines are shipped in batches, a moment later
    while True:
        result = subprocess.run(
            [str(BIN / "sam"), "logs", "--cw-log-group", group],
            env=sam_env,
            cwd=tmp_path,  # not the project's: its samconfig.toml names another region
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        if "REPORT RequestId" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "REPORT RequestId" in result.stdout, result.stdout


def test_readme_commands_through_aws_endpoint_url(env: dict[str, str], tmp_path: Path) -> None:
    """The README's lines with only AWS_ENDPOINT_URL: aws lambda invoke, then `sam traces` with no
    trace id (the recent traces)."""
    result = subprocess.run(
        [
            str(BIN / "aws"),
            "lambda",
            "invoke",
            "--function-name",
            "HelloWorldFunction",
            str(tmp_path / "out.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out.json").read_text())["statusCode"] == 200
    sam_env = {**sam_cli_env(tmp_path / "sam-cli"), **env}
    deadline = time.monotonic() + 10
    while True:
        result = subprocess.run(
            [str(BIN / "sam"), "traces"],
            env=sam_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        if "HelloWorldFunction" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "HelloWorldFunction" in result.stdout, result.stdout + result.stderr
