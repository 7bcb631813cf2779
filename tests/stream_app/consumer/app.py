"""Writes each stream record it is given into the Seen table, with the function that got it and
the trace it ran in; a record whose new image has `poison` is reported as failed."""

import json
import os

import boto3
from aws_xray_sdk.core import patch

# Every boto3 call becomes an X-Ray subsegment under the Invocation subsegment.
patch(["boto3"])

seen = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def handler(event, context):
    failures = []
    for record in event["Records"]:
        if "poison" in record["dynamodb"].get("NewImage", {}):
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        seen.put_item(
            Item={
                "eventID": record["eventID"],
                "function": context.function_name,
                "record": json.dumps(record),
                "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
            }
        )
    return {"batchItemFailures": failures}
