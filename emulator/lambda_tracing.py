"""What Lambda does for X-Ray on each invoke: decide whether to record, give the runtime a
trace header whose Parent is the function segment (so the SDK's subsegments hang under it),
and write the AWS::Lambda and AWS::Lambda::Function segments."""

from dataclasses import dataclass

from emulator.model import FunctionSpec
from emulator.segment_sender import SegmentSender
from emulator.service_segments import (
    FunctionError,
    LambdaFunctionRef,
    Span,
    SubsegmentIds,
    lambda_function_segment,
    lambda_service_segment,
)
from emulator.trace_header import TraceHeader, new_segment_id, new_trace_id


@dataclass(frozen=True)
class LambdaTrace:
    trace_id: str
    parent_id: str | None  # the caller's subsegment (API Gateway's "Lambda"), if any
    sampled: bool
    service_segment_id: str
    function_segment_id: str

    @property
    def runtime_header(self) -> str:
        """`Lambda-Runtime-Trace-Id`, which the runtime exposes as `_X_AMZN_TRACE_ID`."""
        if self.sampled:
            return TraceHeader(self.trace_id, self.function_segment_id, True).to_header()
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
    )


def send_service_segment(
    sender: SegmentSender, trace: LambdaTrace, spec: FunctionSpec, request_id: str, span: Span, status: int
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
        )
    )


def send_function_segment(
    sender: SegmentSender,
    trace: LambdaTrace,
    spec: FunctionSpec,
    request_id: str,
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
            request_id=request_id,
            initialization=initialization,
            invocation=invocation,
            overhead=overhead,
            subsegment_ids=SubsegmentIds(new_segment_id(), new_segment_id(), new_segment_id()),
            error=error,
        )
    )
