"""The template's queues as the stack creates them in moto: the names and ARNs `!Ref` and
`!GetAtt` give (a FIFO queue's generated name ends in .fifo), their attributes, dead-letter
queues first, and nothing created twice."""

import json
from pathlib import Path
from typing import Any

from emulator.app.model import QueueSpec
from emulator.app.resource_names import physical_name
from emulator.app.template import load_app
from emulator.dynamodb.moto_process import MotoProcess
from emulator.sqs.queues import create_queues, creation_order
from tests.sqs.conftest import REGION, queue_arn

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dead.Arn
        maxReceiveCount: 3
  Dead:
    Type: AWS::SQS::Queue
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
  Named:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: my-named.fifo
      FifoQueue: true
"""


def _queues(tmp_path: Path) -> dict[str, QueueSpec]:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    (tmp_path / "src").mkdir(exist_ok=True)
    return {queue.logical_id: queue for queue in load_app(template).queues}


def test_generated_names_are_cloudformation_s_and_a_fifo_one_ends_in_fifo(tmp_path: Path):
    queues = _queues(tmp_path)
    assert queues["Work"].queue_name == physical_name("sam-app", "Work")
    assert queues["Orders"].queue_name == physical_name("sam-app", "Orders") + ".fifo"
    assert queues["Orders"].arn == queue_arn(physical_name("sam-app", "Orders") + ".fifo")
    assert queues["Named"].queue_name == "my-named.fifo"


def test_a_dead_letter_queue_is_created_before_the_queue_that_names_it(tmp_path: Path):
    queues = _queues(tmp_path)
    order = [queue.logical_id for queue in creation_order(list(queues.values()))]
    assert order.index("Dead") < order.index("Work")
    assert sorted(order) == sorted(queues)


def test_the_queues_are_in_moto_with_their_attributes_once(
    tmp_path: Path, shared_moto: MotoProcess, sqs: Any
):
    queues = _queues(tmp_path)
    lines: list[str] = []
    create_queues(list(queues.values()), shared_moto.endpoint_url, REGION, lines.append)
    create_queues(list(queues.values()), shared_moto.endpoint_url, REGION, lines.append)  # a restart
    assert len(lines) == 4
    work = queues["Work"]
    assert (
        f"created queue {work.queue_name} (Work, visibility 5 s, to "
        in lines[1] + lines[0] + lines[2] + lines[3]
    )
    url = sqs.get_queue_url(QueueName=work.queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "5"
    assert attributes["QueueArn"] == work.arn
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": queues["Dead"].arn,
        "maxReceiveCount": 3,
    }
    orders_url = sqs.get_queue_url(QueueName=queues["Orders"].queue_name)["QueueUrl"]
    orders = sqs.get_queue_attributes(QueueUrl=orders_url, AttributeNames=["All"])["Attributes"]
    assert orders["FifoQueue"] == "true"
    assert orders["ContentBasedDeduplication"] == "true"


def test_a_function_s_queue_url_reaches_moto_s_queue(tmp_path: Path, shared_moto: MotoProcess, sqs: Any):
    """!Ref gives https://sqs.<region>.amazonaws.com/<account>/<name>; with AWS_ENDPOINT_URL a
    function's SDK sends that URL to moto, which goes by its last segment."""
    queues = _queues(tmp_path)
    create_queues(list(queues.values()), shared_moto.endpoint_url, REGION)
    ref = f"https://sqs.{REGION}.amazonaws.com/123456789012/{queues['Dead'].queue_name}"
    sqs.send_message(QueueUrl=ref, MessageBody="by the template's URL")
    answer = sqs.receive_message(QueueUrl=ref, WaitTimeSeconds=1)
    assert [message["Body"] for message in answer["Messages"]] == ["by the template's URL"]
