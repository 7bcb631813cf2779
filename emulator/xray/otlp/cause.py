"""error / throttle / fault and `cause` from a span's status, exception events and HTTP status.

As AWS's translator decides: an HTTP status in 400-499 is an error (429 also a throttle), in
500-599 a fault; without one, a span whose status is ERROR is a fault. Exception events
(semantic conventions: name "exception", exception.type / .message / .stacktrace) become the
cause's exceptions, remote for client and producer spans; without them an ERROR status's
message becomes the one exception.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from emulator.xray.otlp.values import attribute_map

EXCEPTION_EVENT = "exception"
STATUS_TEXT = "http.status_text"
# Stack frames kept per exception: a segment document is at most 64 KiB.
MAX_FRAMES = 50


@dataclass(frozen=True)
class Outcome:
    error: bool
    fault: bool
    throttle: bool
    cause: dict[str, Any] | None
    consumed: frozenset[str] = frozenset()


def outcome(span: Span, attributes: dict[str, Any], http_status: int | None, span_id: str) -> Outcome:
    failed = span.status.code == Status.STATUS_CODE_ERROR
    remote = span.kind in (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER)
    exceptions = [
        _exception(attribute_map(event.attributes), remote, span_id, index)
        for index, event in enumerate(span.events)
        if event.name == EXCEPTION_EVENT
    ]
    consumed: frozenset[str] = frozenset()
    if not exceptions and failed:
        message = span.status.message
        text = attributes.get(STATUS_TEXT)
        if not message and isinstance(text, str):
            message = text
        if STATUS_TEXT in attributes:
            consumed = frozenset((STATUS_TEXT,))
        if message:
            exceptions = [{"id": _exception_id(span_id, 0), "message": message}]
    cause = {"exceptions": exceptions} if exceptions else None
    error = fault = throttle = False
    if http_status is not None and 400 <= http_status <= 499:
        error = True
        throttle = http_status == 429
    elif (http_status is not None and 500 <= http_status <= 599) or failed:
        fault = True
    return Outcome(error, fault, throttle, cause, consumed)


def _exception(event: dict[str, Any], remote: bool, span_id: str, index: int) -> dict[str, Any]:
    exception: dict[str, Any] = {"id": _exception_id(span_id, index), "remote": remote}
    kind, message, trace = (event.get(f"exception.{key}") for key in ("type", "message", "stacktrace"))
    if isinstance(kind, str) and kind:
        exception["type"] = kind
    if isinstance(message, str) and message:
        exception["message"] = message
    if isinstance(trace, str) and trace:
        frames = python_frames(trace)
        if frames:
            exception["stack"] = frames[:MAX_FRAMES]
            if len(frames) > MAX_FRAMES:
                exception["truncated"] = len(frames) - MAX_FRAMES
    return exception


def python_frames(trace: str) -> list[dict[str, Any]]:
    """The frames of a Python traceback, innermost first as the X-Ray SDK records them.

    Lines of other languages' traces match nothing and give no frames: the exception keeps its
    type and message.
    """
    frames = []
    for line in trace.splitlines():
        if not line.startswith('  File "'):
            continue
        path, _, rest = line[len('  File "') :].partition('", line ')
        number, _, label = rest.partition(", in ")
        if not number.isdigit():
            continue
        frames.append({"path": path, "line": int(number), "label": label})
    frames.reverse()
    return frames


def _exception_id(span_id: str, index: int) -> str:
    # Derived, not random: a span sent twice becomes the same document twice.
    return hashlib.sha256(f"{span_id}/{index}".encode()).hexdigest()[:16]
