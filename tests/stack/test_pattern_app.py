"""The issue's "done when": a template in the shape of the public serverless pattern collections
(tests/pattern_app: HTTP API → SQS → Lambda → DynamoDB → stream → Lambda, and a nightly
schedule), through `sam build` and the real stack with its own X-Ray, answers as AWS would.

Every hop is the real one: the API function's boto3 sends to the queue through the stack's AWS
endpoint, the SQS mapping delivers the batch, the consumer's partial batch response sends a bad
order through redelivery to the dead-letter queue, the table's stream feeds the notifier, and the
X-Ray service map shows the functions and the AWS services they call.
"""

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from emulator.cli import print_banner
from emulator.local_credentials import FAKE_CREDENTIALS, local_session
from emulator.stack import Stack, StackConfig
from tests.conftest import REPO_ROOT, sam_build
from tests.stack_helpers import eventually, request

pytestmark = pytest.mark.slow

PATTERN_APP = REPO_ROOT / "tests" / "pattern_app"
REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, lambda_runtime_dir: Path) -> Iterator[Stack]:
    built = sam_build(PATTERN_APP / "template.yaml", tmp_path_factory.mktemp("pattern-build")).template
    config = StackConfig(built_template=built, runtime_dir=lambda_runtime_dir, log=lambda name, line: None)
    with Stack(config) as running:
        yield running


def client(stack: Stack, service: str) -> Any:
    session: Any = local_session()  # Any: the service name is a variable, not a literal
    return session.client(service, endpoint_url=stack.endpoint_url, region_name=REGION, **FAKE_CREDENTIALS)


def submit(stack: Stack, order: dict[str, Any]) -> str:
    response = request("POST", stack.url + "/orders", body=json.dumps(order).encode())
    assert response.status == 202, response.body
    return str(response.json()["orderId"])


def test_an_order_goes_from_the_api_through_the_queue_and_the_stream(stack: Stack):
    order_id = submit(stack, {"item": "book", "quantity": 2})

    def stored() -> dict[str, Any] | None:
        response = request("GET", f"{stack.url}/orders/{order_id}")
        return response.json() if response.status == 200 else None

    order = eventually(stored)
    assert (order["item"], order["quantity"], order["receiveCount"]) == ("book", "2", "1")

    assert stack.app is not None
    notifications = next(table for table in stack.app.tables if table.logical_id == "NotificationsTable")
    dynamodb = client(stack, "dynamodb")

    def notified() -> dict[str, Any] | None:
        answer = dynamodb.get_item(TableName=notifications.table_name, Key={"orderId": {"S": order_id}})
        return answer.get("Item")

    notification = eventually(notified)
    assert notification["message"]["S"] == "order of 2 x book received"


def test_an_order_the_consumer_rejects_ends_in_the_dead_letter_queue(stack: Stack):
    order_id = submit(stack, {"quantity": 1})  # no item: reported as a batch item failure
    assert stack.app is not None
    dead = next(queue for queue in stack.app.queues if queue.logical_id == "OrdersDeadLetterQueue")
    sqs = client(stack, "sqs")
    url = sqs.get_queue_url(QueueName=dead.queue_name)["QueueUrl"]

    def dead_lettered() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        return [m for m in messages.get("Messages", []) if json.loads(m["Body"])["orderId"] == order_id]

    # Delivered, reported, visible again after 2 s, delivered again: maxReceiveCount 2 reached.
    (message,) = eventually(dead_lettered, timeout=60.0)
    assert json.loads(message["Body"]) == {"orderId": order_id, "quantity": 1}
    assert request("GET", f"{stack.url}/orders/{order_id}").status == 404


def test_the_service_map_shows_the_pipeline(stack: Stack):
    """The API function (its boto3 patched by the X-Ray SDK) calls SQS and DynamoDB; the queue's
    and the stream's consumers are invoked by Lambda, each in a trace Lambda starts."""
    order_id = submit(stack, {"item": "pen", "quantity": 1})
    eventually(lambda: request("GET", f"{stack.url}/orders/{order_id}").status == 200)
    xray = client(stack, "xray")
    assert stack.app is not None
    names = {logical_id: spec.function_name for logical_id, spec in stack.app.functions.items()}

    def graph() -> dict[str, Any] | None:
        now = time.time()
        services = xray.get_service_graph(StartTime=now - 600, EndTime=now + 60)["Services"]
        by_id = {service["ReferenceId"]: service for service in services}
        called: dict[str, set[str]] = {}
        for service in services:
            if service.get("Type") == "AWS::Lambda::Function":
                targets = {by_id[edge["ReferenceId"]]["Name"] for edge in service.get("Edges", [])}
                called[service["Name"]] = targets
        wanted = (names["SubmitOrderFunction"], names["GetOrderFunction"], names["StoreOrderFunction"],
                  names["NotifyFunction"])  # fmt: skip
        return called if all(name in called for name in wanted) else None

    called = eventually(graph)
    assert "SQS" in called[names["SubmitOrderFunction"]]
    assert any(table.startswith("sam-app-OrdersTable-") for table in called[names["GetOrderFunction"]])


def test_the_banner_names_the_event_sources_and_nothing_is_ignored_silently(stack: Stack):
    out = io.StringIO()
    print_banner(stack, Console(file=out, width=300, color_system=None))
    text = out.getvalue()
    assert "Event sources:" in text
    assert re.search(r"StoreOrderFunction ← SQS sam-app-OrdersQueue-\w+ \(batch 10, window 1 s\)", text)
    assert "NotifyFunction ← DynamoDB stream of sam-app-OrdersTable-" in text
    assert "NightlyReportFunction ← cron(0 3 * * ? *) (EventBridge rule)" in text
    assert "Try it:" in text and f"curl -X POST {stack.url}/orders" in text
    assert stack.app is not None
    # IAM policies are what this template asks for that the stack does not do, and said so.
    ignored = stack.app.ignored
    assert ignored and all(".Policies: IAM is not enforced locally" in line for line in ignored), ignored
