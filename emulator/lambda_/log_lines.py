"""The lines Lambda itself writes to a function's log, in Lambda's format."""

import math
import time


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """`REPORT RequestId: ...\\tDuration: 1.23 ms\\tBilled Duration: 2 ms\\t...`.

    Lambda bills by the millisecond, rounded up; a timeout or crash adds its Status.
    """
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def log_timestamp(at: float | None = None) -> str:
    """`2024-05-01T12:34:56.789Z`, the timestamp Lambda puts on its own messages."""
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def timeout_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"


def timeout_line(request_id: str, timeout_s: float, at: float | None = None) -> str:
    return f"{log_timestamp(at)} {request_id} {timeout_message(timeout_s)}"
