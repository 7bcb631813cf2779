"""The table's stream consumer: one notification per new order."""

import os
from typing import Any

import boto3

notifications = boto3.resource("dynamodb").Table(os.environ["NOTIFICATIONS_TABLE"])


def handler(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        image = record["dynamodb"]["NewImage"]
        notifications.put_item(
            Item={
                "orderId": image["orderId"]["S"],
                "message": f"order of {image['quantity']['N']} x {image['item']['S']} received",
                "sequenceNumber": record["dynamodb"]["SequenceNumber"],
            }
        )
