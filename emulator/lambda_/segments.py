"""What Lambda does for X-Ray on each invoke: decide whether to record, give the runtime a
trace header whose Parent is the function segment's `Invocation` subsegment (so the SDK's
subsegments hang under it), and write the AWS::Lambda and AWS::Lambda::Function segments.

The Lambda developer guide (services-xray): "you can use the X-Ray SDK to extend the
Invocation subsegment with additional subsegments for downstream calls, annotations, and
metadata. You can't access the function segment directly". The SDK takes the header's Parent
as the id of the segment it adds to (aws_xray_sdk/core/lambda_launcher.py: FacadeSegment with
entityid=trace_header.parent), so the Parent is the Invocation subsegment's id. Traces read
back from AWS show the same: the AWS Distro for OpenTelemetry test framework's expected
Lambda trace (lambdaExpectedTrace.mustache) and Powertools' trace helpers
(packages/testing/src/xray-traces-utils.ts) find the handler's subsegment inside Invocation.
"""

from dataclasses import dataclass
from typing import Any

from emulator.app.model import FunctionSpec
from emulator.tracing.documents import FunctionError, LambdaFunctionRef, Span, cause, status_flags
from emulator.tracing.segment_sender import SegmentSender
from emulator.tracing.trace_header import TraceHeader, new_segment_id, new_trace_id


@dataclass(frozen=True)
class LambdaTrace:
    trace_id: str
    parent_id: str | None  # the caller's subsegment (API Gateway's "Lambda"), if any
    sampled: bool
    service_segment_id: str
    function_segment_id: str
    invocation_subsegment_id: str

    @property
    def runtime_header(self) -> str:
        """`Lambda-Runtime-Trace-Id`, which the runtime exposes as `_X_AMZN_TRACE_ID`."""
        if self.sampled:
            return TraceHeader(self.trace_id, self.invocation_subsegment_id, True).to_header()
        # Not recorded: the SDK still gets a context, and Sampled=0 tells it to send nothing.
        return TraceHeader(self.trace_id, self.parent_id or self.function_segment_id, False).to_header()


def trace_for_invoke(spec: FunctionSpec, incoming: TraceHeader | None) -> LambdaTrace:
    """The caller's decision wins (Sampled=0 records nothing, even with Active tracing);
    with no decision, Active tracing records (every request: no sampling rules locally)."""
    if incoming is not None and incoming.sampled is not None:
        sampled = incoming.sampled
    else:
        sampled = spec.tracing == "Active"
    return LambdaTrace(
        trace_id=incoming.root if incoming is not None else new_trace_id(),
        parent_id=incoming.parent if incoming is not None else None,
        sampled=sampled,
        service_segment_id=new_segment_id(),
        function_segment_id=new_segment_id(),
        invocation_subsegment_id=new_segment_id(),
    )


@dataclass(frozen=True)
class AsyncAttempt:
    """One try at running an event Lambda queued (an Event invoke): when the event was queued,
    and which try this is (1, then 2 and 3 for the retries after a function error)."""

    queued_at: float
    attempt: int = 1


def send_service_segment(
    sender: SegmentSender,
    trace: LambdaTrace,
    spec: FunctionSpec,
    request_id: str,
    span: Span,
    status: int,
    async_attempt: AsyncAttempt | None = None,
) -> None:
    sender.send(
        lambda_service_segment(
            trace_id=trace.trace_id,
            segment_id=trace.service_segment_id,
            parent_id=trace.parent_id,
            function=LambdaFunctionRef.of(spec),
            request_id=request_id,
            span=span,
            status=status,
            async_attempt=async_attempt,
        )
    )


def send_function_segment(
    sender: SegmentSender,
    trace: LambdaTrace,
    spec: FunctionSpec,
    *,
    initialization: Span | None,
    invocation: Span,
    overhead: Span | None,
    error: FunctionError | None,
) -> None:
    sender.send(
        lambda_function_segment(
            trace_id=trace.trace_id,
            segment_id=trace.function_segment_id,
            parent_id=trace.service_segment_id,
            function=LambdaFunctionRef.of(spec),
            initialization=initialization,
            invocation=invocation,
            overhead=overhead,
            subsegment_ids=SubsegmentIds(new_segment_id(), trace.invocation_subsegment_id, new_segment_id()),
            error=error,
        )
    )


def lambda_service_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    function: LambdaFunctionRef,
    request_id: str,
    span: Span,
    status: int = 200,
    async_attempt: AsyncAttempt | None = None,
) -> dict[str, Any]:
    """The `AWS::Lambda` segment: the Lambda service accepting and running the invoke.

    A function error does not change its status: Invoke itself answered 200 and reported
    the error in the payload, so the error shows on the function segment instead.

    An event Lambda queued (an Event invoke, a schedule) shows the time it waited in Lambda's
    queue as a `Dwell Time` subsegment and the run as `Attempt #<n>` (the Lambda developer
    guide's X-Ray page: the service node shows "your request's dwell time and number of
    invocations"). Each try is its own AWS::Lambda segment of the same trace, starting when
    the event was queued.
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
    if async_attempt is not None:
        started = max(async_attempt.queued_at, span.start)
        document["start_time"] = min(async_attempt.queued_at, span.start)
        document["subsegments"] = [
            {"id": new_segment_id(), "name": "Dwell Time", "start_time": async_attempt.queued_at,
             "end_time": started},
            {"id": new_segment_id(), "name": f"Attempt #{async_attempt.attempt}", "start_time": started,
             "end_time": span.end},
        ]  # fmt: skip
    return document


def lambda_function_segment(
    *,
    trace_id: str,
    segment_id: str,
    parent_id: str,
    function: LambdaFunctionRef,
    initialization: Span | None,
    invocation: Span,
    overhead: Span | None,
    subsegment_ids: "SubsegmentIds",
    error: FunctionError | None = None,
    exception_id: str | None = None,
) -> dict[str, Any]:
    """The `AWS::Lambda::Function` segment with Initialization (cold starts only),
    Invocation and Overhead subsegments.

    Its `aws` block names the function (account_id, function_arn, resource_names); the
    request id and the resource ARN are on the AWS::Lambda segment. An unhandled exception,
    a timeout or a crash is the function's error, not a fault: `fault` is for Lambda itself
    failing (X-Ray segment documents: error is a client error, fault a server error; Lambda's
    Invoke answers 200 with X-Amz-Function-Error for a function error). The exception is
    recorded once, on the segment; Invocation, where it happened, points at it by id (a cause
    "can be either a 16 character exception ID or an object").
    """
    exception_id = exception_id or new_segment_id()
    start = initialization.start if initialization else invocation.start
    end = overhead.end if overhead else invocation.end
    subsegments: list[dict[str, Any]] = []
    if initialization is not None:
        subsegments.append(_timing("Initialization", subsegment_ids.initialization, initialization, function))
    invocation_doc = _timing("Invocation", subsegment_ids.invocation, invocation, function)
    if error is not None:
        invocation_doc["error"] = True
        invocation_doc["cause"] = exception_id
    subsegments.append(invocation_doc)
    if overhead is not None:
        subsegments.append(_timing("Overhead", subsegment_ids.overhead, overhead, function))
    document: dict[str, Any] = {
        "name": function.name,
        "id": segment_id,
        "trace_id": trace_id,
        "parent_id": parent_id,
        "start_time": start,
        "end_time": end,
        "origin": "AWS::Lambda::Function",
        "aws": {
            "account_id": function.account_id,
            "function_arn": function.arn,
            "resource_names": [function.name],
        },
        "subsegments": subsegments,
    }
    if error is not None:
        document["error"] = True
        document["cause"] = cause(error, exception_id)
    return document


@dataclass(frozen=True)
class SubsegmentIds:
    initialization: str
    invocation: str
    overhead: str


def _timing(name: str, subsegment_id: str, span: Span, function: LambdaFunctionRef) -> dict[str, Any]:
    """Initialization, Invocation and Overhead each name the function they timed."""
    return {
        "id": subsegment_id,
        "name": name,
        "start_time": span.start,
        "end_time": span.end,
        "aws": {"function_arn": function.arn},
    }
