"""Lambda's queue for asynchronous invocations: what an `Event` invoke and a schedule hand their
event to, answered at once, run in the background.

As the Lambda developer guide's "asynchronous invocation" pages describe it:
- the event waits in the function's queue and is run as soon as a worker is free;
- a function error (the handler raised, a timeout, a crash) is retried twice by default, one
  minute after the first try and two minutes after the second (EventInvokeConfig's
  MaximumRetryAttempts 0-2); a throttle is retried with growing waits, not counted as a try;
- an event older than MaximumEventAgeInSeconds (6 hours by default) is not run again;
- when it is done, the event goes to the OnSuccess / OnFailure destination, or, having failed,
  to the DeadLetterQueue (its body the event, its attributes RequestID, ErrorCode, ErrorMessage);
- every try is the same request id and the same trace, and its AWS::Lambda segment shows the
  time the event waited as `Dwell Time` and the try as `Attempt #<n>` (segments.py).

With a journal (the stack's data directory), an event is on disk before its 202, and what is
still queued or waiting for a retry when the stack stops, or dies, runs at the next start
(async_journal.py); without one, their number is said in one line when it closes.
"""

import datetime
import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.app.model import FunctionSpec
from emulator.lambda_.async_journal import AsyncEventJournal, QueuedEvent
from emulator.lambda_.segments import AsyncAttempt
from emulator.lambda_.service import InvokeResult, LambdaService, ServiceClosed
from emulator.sqs.queues import sqs_client
from emulator.tracing.trace_header import TraceHeader, new_trace_id, parse_trace_header

# The waits before the second and the third try of a function error (Lambda's documented ones).
RETRY_DELAYS_SECONDS = (60.0, 120.0)
# A throttled event: the first wait, doubled up to the cap, until the event is too old.
THROTTLE_FIRST_DELAY_SECONDS = 1.0
THROTTLE_MAX_DELAY_SECONDS = 300.0


@dataclass(order=True)
class _Queued:
    due: float
    order: int
    logical_id: str = field(compare=False)
    event: bytes = field(compare=False)
    trace: TraceHeader = field(compare=False)
    request_id: str = field(compare=False)
    queued_at: float = field(compare=False)
    attempt: int = field(compare=False, default=1)  # the try this one will be
    throttle_delay: float = field(compare=False, default=THROTTLE_FIRST_DELAY_SECONDS)


class AsyncInvoker:
    """`submit()` queues an event and returns its request id; worker threads run what is due."""

    def __init__(
        self,
        service: LambdaService,
        *,
        sqs_endpoint_url: str | None,
        region: str,
        log: Callable[[str], None],
        workers: int = 4,
        retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
        clock: Callable[[], float] = time.time,
        journal: AsyncEventJournal | None = None,
    ) -> None:
        self._service = service
        self._sqs_endpoint_url = sqs_endpoint_url
        self._region = region
        self._log = log
        self._retry_delays = tuple(retry_delays)
        self._clock = clock
        self._heap: list[_Queued] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        self._running = 0
        self._sqs: Any = None  # made at the first send
        self._journal = journal
        if journal is not None and journal.recovered:
            self._resume(journal.recovered)
        self._threads = [
            threading.Thread(target=self._work, name=f"lambda-async-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, logical_id: str, event: bytes, trace: TraceHeader | None = None) -> str:
        """Queue `event` for the function; the request id every try of it will have."""
        if logical_id not in self._service.functions:
            raise KeyError(f"no function with logical id {logical_id!r}")
        request_id = str(uuid.uuid4())
        # One trace for every try: with no caller's header, the trace starts here.
        trace = trace or TraceHeader(new_trace_id())
        now = self._clock()
        if self._journal is not None:
            self._journal.queued(QueuedEvent(request_id, logical_id, event, trace.to_header(), now))
        self._push(_Queued(now, next(self._order), logical_id, event, trace, request_id, now))
        return request_id

    def _resume(self, events: list[QueuedEvent]) -> None:
        """Queue again what the last run left queued, in its order, each with its first queue time."""
        functions = self._service.functions
        resumed = 0
        for event in events:
            trace = parse_trace_header(event.trace_header) or TraceHeader(new_trace_id())
            if event.logical_id not in functions:
                self._log(f"event {event.request_id} for {event.logical_id} dropped: no such function now")
                self._finished(event.request_id)
                continue
            now = self._clock()
            self._push(
                _Queued(
                    now,
                    next(self._order),
                    event.logical_id,
                    event.event,
                    trace,
                    event.request_id,
                    event.queued_at,
                )
            )
            resumed += 1
        if resumed:
            self._log(f"{resumed} asynchronous invocation(s) queued by the last run: running them")

    def _finished(self, request_id: str) -> None:
        if self._journal is not None:
            self._journal.done(request_id)

    def pending(self) -> int:
        """Events queued, waiting for a retry or running."""
        with self._changed:
            return len(self._heap) + self._running

    def close(self) -> None:
        with self._changed:
            if self._closed:
                return
            self._closed = True
            left = len(self._heap)
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=1.0)
        if left and self._journal is not None:
            self._log(f"{left} queued asynchronous invocation(s) kept: they run at the next start")
        elif left:
            self._log(f"{left} queued asynchronous invocation(s) not run: the stack stopped")

    # -- the queue ------------------------------------------------------------------------

    def _push(self, item: _Queued) -> None:
        with self._changed:
            if self._closed:
                raise ServiceClosed("the Lambda service is closed")
            heapq.heappush(self._heap, item)
            self._changed.notify()

    def _next_due(self) -> _Queued | None:
        with self._changed:
            while not self._closed:
                now = self._clock()
                if self._heap and self._heap[0].due <= now:
                    self._running += 1
                    return heapq.heappop(self._heap)
                wait = self._heap[0].due - now if self._heap else None
                self._changed.wait(timeout=min(wait, 1.0) if wait is not None else None)
            return None

    def _work(self) -> None:
        while (item := self._next_due()) is not None:
            try:
                self._run(item)
            except ServiceClosed:
                pass  # stopping: a journaled event stays queued for the next start
            except Exception as error:  # a worker thread outlives any one event
                self._log(f"{item.logical_id}: event {item.request_id} dropped: {error!r}")
                self._finished(item.request_id)
            finally:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()

    # -- one try --------------------------------------------------------------------------

    def _run(self, item: _Queued) -> None:
        spec = self._service.functions[item.logical_id]
        config = spec.async_config
        if self._clock() - item.queued_at > config.maximum_event_age_s:
            self._log(
                f"{spec.logical_id}: event {item.request_id} dropped: "
                f"older than {config.maximum_event_age_s} s"
            )
            self._done(spec, item, None, condition="EventAgeExceeded")
            return
        result = self._service.invoke(
            item.logical_id,
            item.event,
            item.trace,
            request_id=item.request_id,
            async_attempt=AsyncAttempt(item.queued_at, item.attempt),
        )
        if result.status_code == 429:
            # Throttled: not a try of the function; waited for with growing pauses.
            item.due = self._clock() + item.throttle_delay
            item.throttle_delay = min(item.throttle_delay * 2, THROTTLE_MAX_DELAY_SECONDS)
            self._push(item)
            return
        if result.outcome == "success":
            self._done(spec, item, result, condition="Success")
            return
        if item.attempt <= config.maximum_retry_attempts:
            delay = self._retry_delays[min(item.attempt, len(self._retry_delays)) - 1]
            self._log(
                f"{spec.logical_id}: event {item.request_id} failed ({_error_type(result)}); "
                f"retry {item.attempt} of {config.maximum_retry_attempts} in {delay:g} s"
            )
            item.attempt += 1
            item.due = self._clock() + delay
            self._push(item)
            return
        self._log(
            f"{spec.logical_id}: event {item.request_id} failed after {item.attempt} tries "
            f"({_error_type(result)})"
        )
        self._done(spec, item, result, condition="RetriesExhausted")

    def _done(
        self, spec: FunctionSpec, item: _Queued, result: InvokeResult | None, *, condition: str
    ) -> None:
        """Send the outcome where the function's EventInvokeConfig / DeadLetterQueue say; the event
        needs no more runs."""
        try:
            self._deliver_outcome(spec, item, result, condition=condition)
        finally:
            self._finished(item.request_id)

    def _deliver_outcome(
        self, spec: FunctionSpec, item: _Queued, result: InvokeResult | None, *, condition: str
    ) -> None:
        config = spec.async_config
        succeeded = condition == "Success"
        target = config.on_success if succeeded else config.on_failure
        if target is not None:
            self._deliver(spec, target, _destination_record(spec, item, result, condition))
        elif not succeeded and config.dead_letter_queue is not None:
            self._to_dead_letter_queue(spec, config.dead_letter_queue, item, result)

    def _deliver(self, spec: FunctionSpec, target: str, record: dict[str, Any]) -> None:
        body = json.dumps(record)
        if ":sqs:" in target:
            self._send_to_queue(spec, target, body, {})
            return
        destination = next(
            (logical_id for logical_id, other in self._service.functions.items() if other.arn == target), None
        )
        if destination is None:
            self._log(
                f"{spec.logical_id}: destination {target} is not a function of this template; record dropped"
            )
            return
        self.submit(destination, body.encode())

    def _to_dead_letter_queue(
        self, spec: FunctionSpec, queue_arn: str, item: _Queued, result: InvokeResult | None
    ) -> None:
        error_type = _error_type(result) if result is not None else "EventAgeExceeded"
        message = result.error.message if result is not None and result.error else error_type
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": item.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:256] or error_type},
        }
        self._send_to_queue(spec, queue_arn, item.event.decode("utf-8", "replace"), attributes)

    def _send_to_queue(
        self, spec: FunctionSpec, queue_arn: str, body: str, attributes: dict[str, Any]
    ) -> None:
        if self._sqs_endpoint_url is None:
            self._log(f"{spec.logical_id}: no local SQS to send to {queue_arn}; record dropped")
            return
        if self._sqs is None:
            self._sqs = sqs_client(self._sqs_endpoint_url, self._region)
        name = queue_arn.rsplit(":", 1)[-1]
        try:
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self._sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        except (BotoCoreError, ClientError) as error:
            self._log(f"{spec.logical_id}: could not send to {queue_arn}: {error}; record dropped")


def _error_type(result: InvokeResult) -> str:
    return result.error.error_type if result.error else result.outcome


def _destination_record(
    spec: FunctionSpec, item: _Queued, result: InvokeResult | None, condition: str
) -> dict[str, Any]:
    """The invocation record Lambda sends to a destination (the developer guide's example)."""
    response: Any = None
    if result is not None:
        try:
            response = json.loads(result.payload) if result.payload else None
        except ValueError:
            response = result.payload.decode("utf-8", "replace")
    try:
        request: Any = json.loads(item.event)
    except ValueError:
        request = item.event.decode("utf-8", "replace")
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if result is not None and result.outcome != "success":
        response_context["functionError"] = "Unhandled"
    timestamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": item.request_id,
            "functionArn": f"{spec.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": item.attempt,
        },
        "requestPayload": request,
        "responseContext": response_context,
        "responsePayload": response,
    }
