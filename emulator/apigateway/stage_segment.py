"""The segment API Gateway writes for a traced stage: `sam-app/Prod` (AWS::ApiGateway::Stage)
with an `aws` subsegment for its call to Lambda's Invoke API."""

from dataclasses import dataclass
from typing import Any

from emulator.tracing.documents import HttpRequest, LambdaFunctionRef, Span, status_flags


def api_gateway_stage_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    stack_name: str,
    stage: str,
    api_id: str,
    region: str,
    request_id: str,
    span: Span,
    request: HttpRequest,
    status: int,
    lambda_call: "LambdaCall | None",
) -> dict[str, Any]:
    """The stage segment `sam-app/Prod`, with its subsegment invoking the function."""
    document: dict[str, Any] = {
        "name": f"{stack_name}/{stage}",
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": span.start,
        "end_time": span.end,
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage}",
        "http": {
            "request": {
                "url": request.url,
                "method": request.method,
                "user_agent": request.user_agent,
                "client_ip": request.client_ip,
                "x_forwarded_for": True,
            },
            "response": {"status": status},
        },
        "annotations": {"aws:api_id": api_id, "aws:api_stage": stage},
        "metadata": {"default": {"request_id": request_id}},
        **status_flags(status),
    }
    if parent_id:
        document["parent_id"] = parent_id
    if lambda_call is not None:
        document["subsegments"] = [lambda_call.subsegment(region)]
    return document


@dataclass(frozen=True)
class LambdaCall:
    """API Gateway's call to Lambda's Invoke API, recorded as an `aws` subsegment."""

    subsegment_id: str
    function: LambdaFunctionRef
    span: Span
    status: int

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
                    "method": "POST",
                },
                "response": {"status": self.status},
            },
            "aws": {
                "function_name": self.function.name,
                "region": region,
                "operation": "Invoke",
                "resource_names": [self.function.name],
            },
            **status_flags(self.status),
        }
