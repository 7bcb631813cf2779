"""The local Lambda service: invoke a function by logical id, as Lambda's Invoke API would.

Per function, a pool of execution environments (workers running the real awslambdaric);
per invoke: pick or start a worker, hand it the event through its Runtime API, enforce the
timeout, log START/END/REPORT, and write the X-Ray segments Lambda writes.
"""

import dataclasses
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.app.model import FunctionSpec
from emulator.lambda_.execution_environment import CloudWatchSink, Worker
from emulator.lambda_.layers import merge_layers
from emulator.lambda_.log_lines import end_line, report_line, start_line, timeout_line, timeout_message
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES, Invocation, error_payload
from emulator.lambda_.segments import (
    AsyncAttempt,
    LambdaTrace,
    send_function_segment,
    send_service_segment,
    trace_for_invoke,
)
from emulator.lambda_.worker_pool import PoolClosed, WorkerPool, finish_close
from emulator.tracing.documents import FunctionError, Span
from emulator.tracing.segment_sender import SegmentSender
from emulator.tracing.stack_frames import frames_from_traceback
from emulator.tracing.trace_header import TraceHeader

# Lambda gives on-demand initialization 10 seconds, whatever the function's timeout.
INIT_TIMEOUT_SECONDS = 10.0
# While a cold start is still initializing, how often to look whether it has begun the invocation.
_DELIVERY_POLL_SECONDS = 0.01
# While an invocation runs, how often to read the worker's memory high-water mark. Lambda's
# cgroup stops a function the moment it reaches MemorySize; here a peak between two looks is
# still caught (the high-water mark keeps it), only up to this much later.
MEMORY_POLL_SECONDS = 0.05
# What Lambda answers and reports when the memory limit kills the runtime.
OUT_OF_MEMORY_EXIT = "signal: killed"
OUT_OF_MEMORY_REPORT_ERROR = "Runtime.OutOfMemory"


@dataclass(frozen=True)
class InvokeResult:
    request_id: str
    outcome: str  # "success" | "error" (handler raised, init error, bad import) | "timeout" | "crash"
    payload: bytes  # success: the function's response body; else the error JSON
    error: FunctionError | None
    cold_start: bool
    initialization: Span | None  # cold starts only
    invocation: Span
    duration_ms: float
    init_duration_ms: float | None
    # The Invoke API's StatusCode: 200 whenever the function ran (even if it failed), else the
    # status of Lambda's refusal (413 too large, 429 throttled).
    status_code: int = 200
    trace_id: str = ""  # the X-Ray trace the invocation is in (recorded or not)
    # This invocation's log lines, START to REPORT, when asked for (the Invoke API's Tail).
    log_lines: tuple[str, ...] = ()


class ServiceClosed(RuntimeError):
    pass


def print_to_stderr(name: str, line: str) -> None:
    print(f"[{name}] {line}", file=sys.stderr, flush=True)


class LambdaService:
    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        *,
        runtime_dir: Path,
        base_env: dict[str, str],
        max_workers_per_function: int = 4,
        log: Callable[[str, str], None] | None = None,
        segment_sender: SegmentSender | None = None,
        cloudwatch: CloudWatchSink | None = None,
    ) -> None:
        """`log` gets every line for the terminal, by logical id; `cloudwatch`, if given, gets
        the same lines as CloudWatch events (log group, the worker's log stream, message): it
        must not block (emulator/logs/shipper.py buffers them)."""
        self._functions = dict(functions)
        self._runtime_dir = Path(runtime_dir)
        self._base_env = dict(base_env)
        self._log = log or print_to_stderr
        self._cloudwatch = cloudwatch
        self._segment_sender = segment_sender
        self._pools = {
            logical_id: WorkerPool(self._worker_starter(logical_id), max_workers_per_function)
            for logical_id in self._functions
        }
        # Workers whose current invocation's lines are being kept (a Tail was asked for).
        self._tails: dict[Worker, list[str]] = {}
        self._closed = False
        self._close_lock = threading.Lock()
        # Each function's /opt (its layers merged), made when its first worker starts, anew for
        # each code update: a folder per spec, under one folder the service removes when it closes.
        self._opt_root = Path(tempfile.mkdtemp(prefix="lambda-opt-"))
        self._opt_dirs: dict[str, tuple[FunctionSpec, Path]] = {}  # by logical id
        self._opt_lock = threading.Lock()

    def invoke(
        self,
        logical_id: str,
        event: bytes,
        trace: TraceHeader | None = None,
        *,
        tail_log: bool = False,
        async_attempt: AsyncAttempt | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """Run the function on `event` and wait for the outcome. With `tail_log`, the result
        carries the invocation's log lines (as Lambda's `X-Amz-Log-Type: Tail`); with
        `async_attempt`, this is a try at an event Lambda queued (async_invoke.py), whose every
        try has the same `request_id`."""
        spec = self._functions.get(logical_id)
        if spec is None:
            raise KeyError(f"no function with logical id {logical_id!r}")
        if self._closed:
            raise ServiceClosed("the Lambda service is closed")
        started_at = time.time()
        request_id = request_id or str(uuid.uuid4())
        lambda_trace = trace_for_invoke(spec, trace)
        if len(event) > MAX_PAYLOAD_BYTES:
            message = (
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
            )
            return self._rejected(
                spec, request_id, lambda_trace, started_at, "RequestTooLargeException", message, 413
            )
        pool = self._pools[logical_id]
        try:
            # Waiting for a busy worker is bounded by the function's own timeout.
            worker = pool.acquire(wait_seconds=spec.timeout)
        except PoolClosed:
            raise ServiceClosed("the Lambda service is closed") from None
        if worker is None:
            return self._rejected(
                spec, request_id, lambda_trace, started_at, "TooManyRequestsException", "Rate Exceeded.", 429
            )
        reusable = False
        if tail_log:
            self._tails[worker] = []
        try:
            # The worker's own spec: the code (and settings) it was started with, even if the
            # function was updated since this request arrived.
            result = self._run(
                worker.spec, worker, request_id, event, lambda_trace, started_at, async_attempt
            )
            reusable = result.outcome in ("success", "error")
            if tail_log:
                result = dataclasses.replace(result, log_lines=tuple(self._tails.get(worker, ())))
            return result
        finally:
            self._tails.pop(worker, None)
            pool.release(worker, reusable)

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        """The functions as they run now, by logical id."""
        return dict(self._functions)

    def update_function_code(self, spec: FunctionSpec) -> int:
        """Run `spec` (a new build of one function) from now on, as Lambda's UpdateFunctionCode:
        every request after this returns gets a worker of the new code; requests already
        running finish on the old one, which is then stopped. Returns how many old workers
        were retired."""
        if spec.logical_id not in self._pools:
            raise KeyError(f"no function with logical id {spec.logical_id!r}")
        # The starter reads the spec when it starts a worker: switch it before retiring.
        self._functions[spec.logical_id] = spec
        return self._pools[spec.logical_id].retire()

    def close(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after a short grace), all at once."""
        with self._close_lock:
            self._closed = True
            workers: list[Worker] = []
            for pool in self._pools.values():
                workers.extend(pool.begin_close())
            finish_close(workers)
            shutil.rmtree(self._opt_root, ignore_errors=True)

    def __enter__(self) -> "LambdaService":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one invocation -----------------------------------------------------------------

    def _worker_starter(self, logical_id: str) -> Callable[[], Worker]:
        def start_worker() -> Worker:
            spec = self._functions[logical_id]  # the current code, read at each start
            started: list[Worker] = []  # the worker, once it exists: its lines may be kept

            def log(line: str) -> None:
                self._log(logical_id, line)
                tail = self._tails.get(started[0]) if started else None
                if tail is not None:
                    tail.append(line)

            worker = Worker(
                spec,
                runtime_dir=self._runtime_dir,
                base_env=self._base_env,
                log=log,
                cloudwatch=self._cloudwatch,
                opt_dir=self._opt_dir(spec),
            )
            started.append(worker)
            return worker

        return start_worker

    def _opt_dir(self, spec: FunctionSpec) -> Path | None:
        if not spec.layers:
            return None
        with self._opt_lock:
            # An updated function (a new spec) gets a new merge, since its layers may have been
            # rebuilt with other files; workers of the old one keep theirs (removed at close).
            made = self._opt_dirs.get(spec.logical_id)
            if made is None or made[0] is not spec:
                made = self._opt_dirs[spec.logical_id] = (
                    spec,
                    merge_layers(spec.layers, self._opt_root / spec.logical_id),
                )
            return made[1]

    def _run(
        self,
        spec: FunctionSpec,
        worker: Worker,
        request_id: str,
        event: bytes,
        lambda_trace: LambdaTrace,
        started_at: float,
        async_attempt: AsyncAttempt | None = None,
    ) -> InvokeResult:
        cold_start = worker.invocations_started == 0
        worker.invocations_started += 1
        invocation = Invocation(request_id, event, spec.arn, lambda_trace.runtime_header, spec.timeout)
        self._write(spec, worker, start_line(request_id))
        worker.server.dispatch(invocation)

        def over_memory() -> bool:
            return worker.max_memory_mb() > spec.memory_size

        ending = _wait_for_outcome(invocation, spec.timeout, over_memory)
        # A peak since the last look counts too (the high-water mark keeps it), even if the
        # runtime has answered in the meantime: Lambda would have stopped it at the limit.
        out_of_memory = ending == "memory" or (invocation.outcome in ("success", "error") and over_memory())
        if out_of_memory:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {OUT_OF_MEMORY_EXIT}"
            invocation.complete("crash", error_payload("Runtime.ExitError", message), "Runtime.ExitError")
            worker.kill()
            self._write(spec, worker, message)
        elif ending == "timeout":
            timeout_payload = error_payload(
                "Sandbox.Timedout", f"RequestId: {request_id} Error: {timeout_message(spec.timeout)}"
            )
            if invocation.complete("timeout", timeout_payload, "Sandbox.Timedout"):
                worker.max_memory_mb()  # read the high-water mark while the process still exists
                worker.kill()
                self._write(spec, worker, timeout_line(request_id, spec.timeout))
        # Whatever the handler printed before answering is in the pipe now: log it before END.
        worker.output.drain()

        outcome = "crash" if out_of_memory else invocation.outcome or "crash"
        payload = error_payload("Runtime.ExitError", message) if out_of_memory else invocation.payload
        completed_at = invocation.completed_at or time.time()
        initialization = None
        if cold_start:
            init_end = worker.server.init_done_at or invocation.delivered_at or completed_at
            initialization = Span(worker.started_at, init_end)
        invocation_start = invocation.delivered_at or completed_at
        invocation_span = Span(invocation_start, completed_at)
        duration_ms = (completed_at - invocation_start) * 1000
        init_duration_ms = (initialization.end - initialization.start) * 1000 if initialization else None
        error = None if outcome == "success" else _function_error(payload, invocation.error_type, spec)

        self._write(spec, worker, end_line(request_id))
        status = {"timeout": "timeout", "crash": "error"}.get(outcome)
        report_error = error.error_type if status == "error" and error else None
        if out_of_memory:
            report_error = OUT_OF_MEMORY_REPORT_ERROR
        self._write(
            spec,
            worker,
            report_line(
                request_id,
                duration_ms=duration_ms,
                memory_size_mb=spec.memory_size,
                # Lambda stops the function at its limit, so it never reports more.
                max_memory_used_mb=min(worker.max_memory_mb(), spec.memory_size),
                init_duration_ms=init_duration_ms,
                status=status,
                error_type=report_error,
            ),
        )
        result = InvokeResult(
            request_id=request_id,
            outcome=outcome,
            payload=payload,
            error=error,
            cold_start=cold_start,
            initialization=initialization,
            invocation=invocation_span,
            duration_ms=duration_ms,
            init_duration_ms=init_duration_ms,
            trace_id=lambda_trace.trace_id,
        )
        if lambda_trace.sampled and self._segment_sender is not None:
            self._trace(spec, lambda_trace, invocation, result, Span(started_at, completed_at), async_attempt)
        return result

    def _write(self, spec: FunctionSpec, worker: Worker, line: str) -> None:
        """One of Lambda's own lines: to the terminal, and to the worker's log stream."""
        self._log(spec.logical_id, line)
        tail = self._tails.get(worker)
        if tail is not None:
            tail.append(line)
        if self._cloudwatch is not None:
            self._cloudwatch(spec.log_group_name, worker.log_stream_name, line)

    def _trace(
        self,
        spec: FunctionSpec,
        lambda_trace: LambdaTrace,
        invocation: Invocation,
        result: InvokeResult,
        service_span: Span,
        async_attempt: AsyncAttempt | None = None,
    ) -> None:
        sender = self._segment_sender
        assert sender is not None

        def send(worker_ready_at: float | None) -> None:
            overhead = None
            if worker_ready_at is not None:
                overhead = Span(result.invocation.end, max(result.invocation.end, worker_ready_at))
            # An event Lambda queued was accepted with 202; a synchronous invoke answered 200.
            status = 202 if async_attempt is not None else 200
            send_service_segment(
                sender, lambda_trace, spec, result.request_id, service_span, status, async_attempt
            )
            send_function_segment(
                sender,
                lambda_trace,
                spec,
                initialization=result.initialization,
                invocation=result.invocation,
                overhead=overhead,
                error=result.error,
            )

        if result.outcome in ("success", "error") and invocation.delivered_at is not None:
            # The runtime goes on to ask for its next event; Overhead ends there. Sent then, so
            # that the caller's answer never waits for it.
            invocation.when_worker_ready(send)
        else:
            send(None)

    def _rejected(
        self,
        spec: FunctionSpec,
        request_id: str,
        lambda_trace: LambdaTrace,
        started_at: float,
        error_type: str,
        message: str,
        status: int,
    ) -> InvokeResult:
        """Refused before reaching a function (throttled, too large): no function segment."""
        now = time.time()
        if lambda_trace.sampled and self._segment_sender is not None:
            send_service_segment(
                self._segment_sender, lambda_trace, spec, request_id, Span(started_at, now), status
            )
        return InvokeResult(
            request_id=request_id,
            outcome="error",
            payload=error_payload(error_type, message),
            error=FunctionError(error_type, message),
            cold_start=False,
            initialization=None,
            invocation=Span(now, now),
            duration_ms=0.0,
            init_duration_ms=None,
            status_code=status,
            trace_id=lambda_trace.trace_id,
        )


def _wait_for_outcome(invocation: Invocation, timeout_s: float, over_memory: Callable[[], bool]) -> str:
    """Wait until the invocation completes ("done"), times out ("timeout") or its worker goes
    over the function's memory ("memory").

    The timeout runs from the hand-over to the runtime; a cold start's init (bounded
    separately) comes before it. Sleep until the earliest possible deadline, waking every
    MEMORY_POLL_SECONDS to read the memory; if the runtime has not even received the event by
    then, look again every few milliseconds. A completion wakes the wait at once.
    """
    while not invocation.done.is_set():
        now = time.monotonic()
        if invocation.delivered_mono is not None:
            deadline = invocation.delivered_mono + timeout_s
            if now >= deadline:
                return "timeout"
        else:
            init_deadline = invocation.queued_mono + INIT_TIMEOUT_SECONDS
            if now >= init_deadline:
                return "timeout"
            earliest = invocation.queued_mono + timeout_s
            deadline = earliest if now < earliest else min(now + _DELIVERY_POLL_SECONDS, init_deadline)
        if over_memory():
            return "memory"
        invocation.done.wait(min(deadline - now, MEMORY_POLL_SECONDS))
    return "done"


def _function_error(payload: bytes, error_type: str | None, spec: FunctionSpec) -> FunctionError:
    """The error document Lambda answers with, as an X-Ray exception: its `stackTrace` lines
    become stack frames relative to the function's code."""
    try:
        document = json.loads(payload)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    stack = document.get("stackTrace") or []
    return FunctionError(
        error_type=str(document.get("errorType") or error_type or "Unhandled"),
        message=str(document.get("errorMessage") or ""),
        stack=frames_from_traceback(map(str, stack), str(spec.code_dir)) if isinstance(stack, list) else [],
    )
