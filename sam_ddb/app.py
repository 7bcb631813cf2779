"""POST /ddb: put {"key": "..."} into the Demo table as Key + CreateDate, traced with the X-Ray SDK.

What the request does and answers is in ddb_request.py, shared with otel_app.py (the same function
traced with OpenTelemetry); this module is only the tracing and the handler.
"""

import os

import boto3
from aws_xray_sdk.core import patch, xray_recorder
from ddb_request import CONFIG, answer, put_new_item

# Patch before any client exists: every boto3 call becomes an X-Ray subsegment, and that is what
# draws DynamoDB on the service map.
patch(["boto3"])

# Made once per execution environment; TABLE_NAME is !Ref DynamoTable in template.yaml.
table = boto3.resource("dynamodb", config=CONFIG).Table(os.environ["TABLE_NAME"])


@xray_recorder.capture("put_item ddb")
def put_item_ddb(key: str, cold_start: bool) -> dict:
    # Annotations are indexed by X-Ray: `annotation.ColdStart = true` finds cold starts.
    xray_recorder.put_annotation("ColdStart", cold_start)
    return put_new_item(table, key)


_cold_start = True  # module state lives as long as the execution environment


def lambda_handler(event: dict, context: object) -> dict:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    return answer(event, lambda key: put_item_ddb(key, cold_start))
