"""The queue's consumer: store each order; an order without an item is reported as failed, so
SQS redelivers it and, after maxReceiveCount, moves it to the dead-letter queue."""

import json
import os
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        order = json.loads(record["body"])
        if not order.get("item"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        table.put_item(
            Item={
                "orderId": order["orderId"],
                "item": order["item"],
                "quantity": int(order.get("quantity", 1)),
                "receiveCount": int(record["attributes"]["ApproximateReceiveCount"]),
            }
        )
    return {"batchItemFailures": failures}
