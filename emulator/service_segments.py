"""The segments that API Gateway and Lambda write to X-Ray themselves.

In AWS the services, not the function code, record these; the local stack builds the same
documents (fields as the X-Ray segment document reference spells them) and sends them to
the local daemon like any other segment. One trace of `GET /hello` is:

    sam-app/Prod             (AWS::ApiGateway::Stage)  with subsegment "Lambda" (namespace aws)
      └ <function name>      (AWS::Lambda)             parent_id = that subsegment
          └ <function name>  (AWS::Lambda::Function)   parent_id = the AWS::Lambda segment
              ├ Initialization / Invocation / Overhead
              └ subsegments the X-Ray SDK sends (parent_id = this segment, from _X_AMZN_TRACE_ID)
"""

from dataclasses import dataclass, field
from typing import Any

from emulator.model import FunctionSpec


@dataclass(frozen=True)
class Span:
    """A start and end time, in epoch seconds, as X-Ray documents record them."""

    start: float
    end: float


@dataclass(frozen=True)
class FunctionError:
    """An error the function (or the runtime) reported, shown as the segment's cause."""

    error_type: str
    message: str
    stack: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LambdaFunctionRef:
    name: str
    arn: str
    region: str
    account_id: str

    @classmethod
    def of(cls, function: FunctionSpec) -> "LambdaFunctionRef":
        return cls(function.function_name, function.arn, function.region, function.account_id)


@dataclass(frozen=True)
class HttpRequest:
    url: str
    method: str
    client_ip: str
    user_agent: str


def status_flags(status: int) -> dict[str, bool]:
    """X-Ray's convention: 4xx is an error, 429 also a throttle, 5xx a fault."""
    flags: dict[str, bool] = {}
    if 400 <= status < 500:
        flags["error"] = True
        if status == 429:
            flags["throttle"] = True
    elif status >= 500:
        flags["fault"] = True
    return flags


def cause(error: FunctionError, segment_id_for_exception: str) -> dict[str, Any]:
    return {
        "working_directory": "/var/task",
        "exceptions": [
            {
                "id": segment_id_for_exception,
                "type": error.error_type,
                "message": error.message,
                "stack": [{"label": line} for line in error.stack],
            }
        ],
    }


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


def lambda_service_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    function: LambdaFunctionRef,
    request_id: str,
    span: Span,
    status: int = 200,
) -> dict[str, Any]:
    """The `AWS::Lambda` segment: the Lambda service accepting and running the invoke.

    A function error does not change its status: Invoke itself answered 200 and reported
    the error in the payload, so the fault shows on the function segment instead.
    """
    document: dict[str, Any] = {
        "name": function.name,
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": span.start,
        "end_time": span.end,
        "origin": "AWS::Lambda",
        "resource_arn": function.arn,
        "http": {"response": {"status": status}},
        "aws": {"request_id": request_id},
        **status_flags(status),
    }
    if parent_id:
        document["parent_id"] = parent_id
    return document


def lambda_function_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str,
    function: LambdaFunctionRef,
    request_id: str,
    initialization: Span | None,
    invocation: Span,
    overhead: Span | None,
    subsegment_ids: "SubsegmentIds",
    error: FunctionError | None = None,
) -> dict[str, Any]:
    """The `AWS::Lambda::Function` segment with Initialization (cold starts only),
    Invocation and Overhead subsegments; an error makes it a fault with its cause."""
    start = initialization.start if initialization else invocation.start
    end = overhead.end if overhead else invocation.end
    subsegments: list[dict[str, Any]] = []
    if initialization is not None:
        subsegments.append(_timing("Initialization", subsegment_ids.initialization, initialization))
    invocation_doc = _timing("Invocation", subsegment_ids.invocation, invocation)
    if error is not None:
        invocation_doc["fault"] = True
        invocation_doc["cause"] = cause(error, subsegment_ids.invocation)
    subsegments.append(invocation_doc)
    if overhead is not None:
        subsegments.append(_timing("Overhead", subsegment_ids.overhead, overhead))
    document: dict[str, Any] = {
        "name": function.name,
        "id": segment_id,
        "trace_id": trace_id,
        "parent_id": parent_id,
        "start_time": start,
        "end_time": end,
        "origin": "AWS::Lambda::Function",
        "resource_arn": function.arn,
        "aws": {
            "account_id": function.account_id,
            "function_arn": function.arn,
            "resource_names": [function.name],
            "request_id": request_id,
        },
        "subsegments": subsegments,
    }
    if error is not None:
        document["fault"] = True
        document["cause"] = cause(error, segment_id)
    return document


@dataclass(frozen=True)
class SubsegmentIds:
    initialization: str
    invocation: str
    overhead: str


def _timing(name: str, subsegment_id: str, span: Span) -> dict[str, Any]:
    return {"id": subsegment_id, "name": name, "start_time": span.start, "end_time": span.end}
