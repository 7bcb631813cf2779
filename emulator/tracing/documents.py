"""The pieces of the segments that API Gateway and Lambda write to X-Ray themselves.

In AWS the services, not the function code, record these; the local stack builds the same
documents (fields as the X-Ray segment document reference spells them) and sends them to
the local daemon like any other segment. One trace of `GET /hello` is:

    sam-app/Prod             (AWS::ApiGateway::Stage)  with subsegment "Lambda" (namespace aws)
      └ <function name>      (AWS::Lambda)             parent_id = that subsegment
          └ <function name>  (AWS::Lambda::Function)   parent_id = the AWS::Lambda segment
              ├ Initialization (cold starts) / Overhead
              └ Invocation
                  └ subsegments the X-Ray SDK sends (parent_id = Invocation, from _X_AMZN_TRACE_ID)

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
class StackFrame:
    """One `stackFrame` of an X-Ray exception: `path` (relative to the code), `line`, `label`
    (the function name), as the X-Ray segment document reference defines them."""

    path: str
    line: int
    label: str

    def to_document(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "label": self.label}


@dataclass(frozen=True)
class FunctionError:
    """An error the function (or the runtime) reported, shown as the segment's cause."""

    error_type: str
    message: str
    stack: list[StackFrame] = field(default_factory=list)


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


# Where Lambda puts a function's code; the runtime reports it as the working directory.
LAMBDA_TASK_ROOT = "/var/task"


def cause(error: FunctionError, exception_id: str) -> dict[str, Any]:
    """The `cause` object of the X-Ray segment document reference, with one exception."""
    exception: dict[str, Any] = {"id": exception_id, "type": error.error_type, "message": error.message}
    if error.stack:
        exception["stack"] = [frame.to_document() for frame in error.stack]
    return {"working_directory": LAMBDA_TASK_ROOT, "exceptions": [exception]}
