"""Unit-test fixtures: fake AWS credentials, the Demo table in moto, and the handlers imported inside it."""

import copy
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.template_reader import REPO_ROOT, Template, function_environment, load_template, table_definition
from tests.unit.handler_support import Event, import_fresh, load_event, uninstrument_botocore

REGION = "ap-northeast-1"
# In Lambda a function's folder is /var/task, on sys.path: app.py and otel_app.py import the module
# they share (ddb_request) as a top-level module. The tests import them as sam_ddb.app, so the folder
# goes on sys.path too (its module names are not used by hello_world or the tests).
if str(REPO_ROOT / "sam_ddb") not in sys.path:
    sys.path.append(str(REPO_ROOT / "sam_ddb"))
# How each variant of a function is imported: the template's Handler for Instrumentation=<key>.
HANDLER_MODULES = {"xray-sdk": "app", "opentelemetry": "otel_app"}


@pytest.fixture(scope="session")
def template() -> Template:
    return load_template()


@pytest.fixture(scope="session")
def ddb_function_env(template: Template) -> dict[str, str]:
    """SamDdbFunction's environment as Lambda would set it (TABLE_NAME resolved from !Ref DynamoTable)."""
    return function_environment(template, "SamDdbFunction")


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ddb_function_env: dict[str, str]) -> None:
    """No unit test may reach real AWS: fake credentials, no profile or config file, no endpoint override."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    for name, value in ddb_function_env.items():
        monkeypatch.setenv(name, value)
    # boto3 caches its default session; a fresh one per test reads the environment set above.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def demo_table(template: Template) -> Iterator[Any]:
    """The template's DynamoDB table, created in moto; yields a boto3 Table for the test's own checks."""
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        definition = table_definition(template)
        dynamodb.meta.client.create_table(**definition)
        yield dynamodb.Table(definition["TableName"])


@pytest.fixture
def ddb_app(demo_table: Any) -> ModuleType:
    """sam_ddb.app imported inside mock_aws: its module-level table then talks to moto."""
    return import_fresh("sam_ddb.app")


@pytest.fixture
def span_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A UDP socket on 127.0.0.1 as AWS_XRAY_DAEMON_ADDRESS: an OpenTelemetry handler's spans go there,
    never to a local stack a developer may have running on the daemon's port 2000."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sink.getsockname()[1]}"
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", address)
        yield address
        uninstrument_botocore()


@pytest.fixture(params=HANDLER_MODULES, ids=lambda variant: f"{variant}")
def any_ddb_app(request: pytest.FixtureRequest, demo_table: Any, span_sink: str) -> ModuleType:
    """sam_ddb's handler of each variant, imported inside mock_aws: the behaviour tests run on both."""
    return import_fresh(f"sam_ddb.{HANDLER_MODULES[request.param]}")


@pytest.fixture
def ddb_event() -> Callable[..., Event]:
    """events/ddb.json with another body: the handler sees the request exactly as API Gateway sends it."""
    template_event = load_event("ddb.json")

    def make(body: str | None, *, is_base64: bool = False) -> Event:
        event = copy.deepcopy(template_event)
        event["body"] = body
        event["isBase64Encoded"] = is_base64
        return event

    return make


def stored_items(table: Any) -> list[dict[str, Any]]:
    return table.scan(ConsistentRead=True)["Items"]


@pytest.fixture
def table_items(demo_table: Any) -> Callable[[], list[dict[str, Any]]]:
    return lambda: stored_items(demo_table)
