"""The consumers of tests/sqs_app: each invocation's event goes into the table as it came."""

import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
SQS = boto3.client("sqs")


def _record(event, context):
    TABLE.put_item(
        Item={
            "id": context.aws_request_id,
            "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "event": json.dumps(event),
            "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
        }
    )


def consume(event, context):
    """Fails the whole batch when a message asks for it (its body starts with "fail")."""
    _record(event, context)
    if any(record["body"].startswith("fail") for record in event["Records"]):
        raise RuntimeError("a message asked to fail")


def consume_partially(event, context):
    """Reports the messages whose body starts with "bad" as failed, the first time only; a
    body "invalid-report" gets an itemIdentifier that is no message of the batch."""
    _record(event, context)
    failures = []
    for record in event["Records"]:
        first_time = record["attributes"]["ApproximateReceiveCount"] == "1"
        if record["body"].startswith("bad") and first_time:
            failures.append({"itemIdentifier": record["messageId"]})
        if record["body"] == "invalid-report" and first_time:
            failures.append({"itemIdentifier": ""})
    return {"batchItemFailures": failures}


def produce(event, context):
    body = (event.get("queryStringParameters") or {}).get("body", "hello")
    sent = SQS.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=body)
    answer = {"messageId": sent["MessageId"], "trace": os.environ.get("_X_AMZN_TRACE_ID", "")}
    return {"statusCode": 200, "body": json.dumps(answer)}
