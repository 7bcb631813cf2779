"""The tutorial's two routes on the local stack, and DynamoDB seen through boto3 and the AWS CLI."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest

from emulator.local_credentials import FAKE_CREDENTIALS
from tests.stack_helpers import request, running_stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = ROOT / ".venv" / "bin" / "aws"


@pytest.fixture(scope="module")
def tutorial(tutorial_app_template, lambda_runtime_dir):
    with running_stack(tutorial_app_template, lambda_runtime_dir) as running:
        yield running


def test_hello(tutorial):
    response = request("GET", tutorial.url + "/hello")
    assert response.status == 200
    assert response.json() == {"message": "hello world"}
    assert request("GET", tutorial.url + "/Prod/hello").json() == {"message": "hello world"}


def test_ddb_item_is_visible_with_boto3_and_the_aws_cli(tutorial):
    key = f"key-{uuid.uuid4()}"
    response = request("POST", tutorial.url + "/ddb", body=json.dumps({"key": key}).encode())
    assert response.status == 200, response.body
    answer = response.json()
    assert answer["message"] == "succeeded" and answer["Key"] == key

    endpoint = tutorial.dynamodb_endpoint
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=tutorial.app.region,
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )
    items = dynamodb.scan(TableName="Demo")["Items"]
    assert {"Key": {"S": key}, "CreateDate": {"S": answer["CreateDate"]}} in items

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": tutorial.app.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    scan = subprocess.run(
        [
            str(AWS_CLI),
            "dynamodb",
            "scan",
            "--table-name",
            "Demo",
            "--endpoint-url",
            endpoint,
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert scan.returncode == 0, scan.stderr
    keys = [item["Key"]["S"] for item in json.loads(scan.stdout)["Items"]]
    assert key in keys


def test_ddb_bad_request_is_the_functions_400(tutorial):
    response = request("POST", tutorial.url + "/ddb", body=b'{"key": "k", "nope": 1}')
    assert response.status == 400
    assert response.json() == {"message": "unknown field(s): nope; only 'key' is accepted"}


def test_wrong_method_on_a_tutorial_route_is_403(tutorial):
    assert request("GET", tutorial.url + "/ddb").status == 403
    assert request("POST", tutorial.url + "/hello").status == 403


def test_route_added_to_a_copy_of_the_built_template_works_unchanged(
    tutorial_app_template, lambda_runtime_dir
):
    # The copy sits next to the built one, so its CodeUri reach the same artifacts.
    text = tutorial_app_template.read_text()
    anchor = "            Path: /hello\n            Method: get\n"
    assert anchor in text
    added = (
        "        Goodbye:\n          Type: Api\n          Properties:\n"
        "            Path: /bye/{who}\n            Method: any\n"
    )
    copy = tutorial_app_template.with_name(f"template-{uuid.uuid4().hex}.yaml")
    copy.write_text(text.replace(anchor, anchor + added))
    try:
        with running_stack(copy, lambda_runtime_dir) as running:
            for method in ("GET", "DELETE"):
                response = request(method, running.url + "/Prod/bye/you")
                assert response.status == 200
                assert response.json() == {"message": "hello world"}
    finally:
        copy.unlink()
