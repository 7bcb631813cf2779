"""The segment API Gateway writes for a traced stage: `sam-app/Prod` (AWS::ApiGateway::Stage)
with an `aws` subsegment for its call to Lambda's Invoke API.

Field by field as the API Gateway developer guide's "Understanding AWS X-Ray traces for Amazon
API Gateway APIs" shows a stage segment: named `<API name>/<stage>` ("testxray/dev"), the
`aws:api_id` / `aws:api_stage` annotations, `aws.xray.sampling_rule_name` and `aws.api_gateway`
(account_id, rest_api_id, stage, request_id), `metadata.default` with request_id and
extended_request_id, and a `Lambda` subsegment whose request method is the API method the
client called ("GET" for a GET) and whose response has the invocation's content_length.
"""

from dataclasses import dataclass
from typing import Any

from emulator.tracing.documents import HttpRequest, LambdaFunctionRef, Span, status_flags

# Locally every request is recorded; in AWS a request that no custom rule matches is
# sampled by the rule named "Default", the name the developer guide's example records.
SAMPLING_RULE_NAME = "Default"


@dataclass(frozen=True)
class StageRequest:
    """Which API, stage and request the segment is about."""

    api_name: str  # for a SAM template's implicit API, the stack name
    stage: str
    api_id: str
    account_id: str
    region: str
    request_id: str
    extended_request_id: str


def api_gateway_stage_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    stage: StageRequest,
    span: Span,
    request: HttpRequest,
    status: int,
    content_length: int,
    lambda_call: "LambdaCall | None",
) -> dict[str, Any]:
    """The stage segment `sam-app/Prod`, with its subsegment invoking the function."""
    document: dict[str, Any] = {
        "name": f"{stage.api_name}/{stage.stage}",
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": span.start,
        "end_time": span.end,
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": f"arn:aws:apigateway:{stage.region}::/restapis/{stage.api_id}/stages/{stage.stage}",
        "http": {
            "request": {
                "url": request.url,
                "method": request.method,
                "user_agent": request.user_agent,
                "client_ip": request.client_ip,
                "x_forwarded_for": True,
            },
            "response": {"status": status, "content_length": content_length},
        },
        "aws": {
            "xray": {"sampling_rule_name": SAMPLING_RULE_NAME},
            "api_gateway": {
                "account_id": stage.account_id,
                "rest_api_id": stage.api_id,
                "stage": stage.stage,
                "request_id": stage.request_id,
            },
        },
        "annotations": {"aws:api_id": stage.api_id, "aws:api_stage": stage.stage},
        "metadata": {
            "default": {"extended_request_id": stage.extended_request_id, "request_id": stage.request_id}
        },
        **status_flags(status),
    }
    if parent_id:
        document["parent_id"] = parent_id
    if lambda_call is not None:
        document["subsegments"] = [lambda_call.subsegment(stage.region)]
    return document


@dataclass(frozen=True)
class LambdaCall:
    """API Gateway's call to Lambda's Invoke API, recorded as an `aws` subsegment."""

    subsegment_id: str
    function: LambdaFunctionRef
    span: Span
    method: str  # the API method the client called, which AWS records here
    status: int
    content_length: int  # the invocation's response payload, in bytes

    def subsegment(self, region: str) -> dict[str, Any]:
        return {
            "id": self.subsegment_id,
            "name": "Lambda",
            "start_time": self.span.start,
            "end_time": self.span.end,
            "namespace": "aws",
            "http": {
                "request": {
                    "url": (
                        f"https://lambda.{region}.amazonaws.com/2015-03-31/functions/"
                        f"{self.function.arn}/invocations"
                    ),
                    "method": self.method,
                },
                "response": {"status": self.status, "content_length": self.content_length},
            },
            "aws": {
                "function_name": self.function.name,
                "region": region,
                "operation": "Invoke",
                "resource_names": [self.function.name],
            },
            **status_flags(self.status),
        }
