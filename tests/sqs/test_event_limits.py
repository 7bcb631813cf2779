"""An SQS event whose batching a deployment would refuse is refused at start with where it is
(the EventSourceMapping API reference: BatchSize 1-10,000, 10 at most for a FIFO queue;
MaximumBatchingWindowInSeconds 0-300, at least 1 when BatchSize is over 10)."""

from typing import Any

import pytest

from emulator.app.errors import TemplateError
from emulator.app.event_sources import read_event_sources
from emulator.app.intrinsics import Resolver


def _read(properties: dict[str, Any]) -> Any:
    document = {
        "Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue"},
            "Orders": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
            "Worker": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Events": {"Batch": {"Type": "SQS", "Properties": properties}}},
            },
        }
    }
    resolver = Resolver(document, stack_name="sam-app", region="ap-northeast-1", account_id="123456789012")
    return read_event_sources(document["Resources"], {"Worker"}, resolver)


JOBS = {"Fn::GetAtt": ["Jobs", "Arn"]}
ORDERS = {"Fn::GetAtt": ["Orders", "Arn"]}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"Queue": JOBS, "BatchSize": 0},
            "Worker.Events.Batch.BatchSize: must be 1 to 10000 for a standard queue, got 0",
        ),
        ({"Queue": JOBS, "BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1}, "must be 1 to 10000"),
        (
            {"Queue": ORDERS, "BatchSize": 11, "MaximumBatchingWindowInSeconds": 1},
            "must be 1 to 10 for a FIFO queue",
        ),
        (
            {"Queue": JOBS, "MaximumBatchingWindowInSeconds": 301},
            "MaximumBatchingWindowInSeconds: must be 0 to 300",
        ),
        (
            {"Queue": JOBS, "BatchSize": 11},
            "a BatchSize over 10 needs a MaximumBatchingWindowInSeconds of at least 1",
        ),
    ],
)
def test_batching_a_deployment_refuses_is_refused(properties: dict[str, Any], message: str):
    with pytest.raises(TemplateError, match=message):
        _read(properties)


def test_the_limits_themselves_are_accepted():
    assert _read({"Queue": JOBS, "BatchSize": 10000, "MaximumBatchingWindowInSeconds": 300}).sqs_events
    assert _read({"Queue": ORDERS, "BatchSize": 10}).sqs_events
