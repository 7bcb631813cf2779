"""The pieces of the segments that API Gateway and Lambda write to X-Ray themselves.

In AWS the services, not the function code, record these; the local stack builds the same
documents (fields as the X-Ray segment document reference spells them) and sends them to
the local daemon like any other segment. One trace of `GET /hello` is:

    sam-app/Prod             (AWS::ApiGateway::Stage)  with subsegment "Lambda" (namespace aws)
      └ <function name>      (AWS::Lambda)             parent_id = that subsegment
          └ <function name>  (AWS::Lambda::Function)   parent_id = the AWS::Lambda segment
              ├ Initialization / Invocation / Overhead
              └ subsegments the X-Ray SDK sends (parent_id = this segment, from _X_AMZN_TRACE_ID)

The documents themselves are built where each service writes them:
apigateway/stage_segment.py and lambda_/segments.py.
"""

from dataclasses import dataclass, field
from typing import Any

from emulator.app.model import FunctionSpec


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
