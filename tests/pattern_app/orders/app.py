"""The API side: take an order and queue it; read an order back."""

import json
import os
import uuid
from typing import Any

import boto3
from aws_xray_sdk.core import patch

# Traced as the tutorial's functions are: the SQS and DynamoDB calls show on the service map.
patch(["boto3"])

sqs = boto3.client("sqs")
table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def submit(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        order = json.loads(event.get("body") or "{}")
    except ValueError:
        return {"statusCode": 400, "body": json.dumps({"message": "the body is not JSON"})}
    order_id = str(uuid.uuid4())
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps({"orderId": order_id, **order}))
    return {"statusCode": 202, "body": json.dumps({"orderId": order_id})}


def get_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = event["pathParameters"]["orderId"]
    item = table.get_item(Key={"orderId": order_id}).get("Item")
    if item is None:
        return {"statusCode": 404, "body": json.dumps({"message": f"no order {order_id}"})}
    return {"statusCode": 200, "body": json.dumps(item, default=str)}
