"""SQS event source mappings: Lambda polls the queue and invokes the function with batches.

As "Using Lambda with Amazon SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)
describes it: Lambda long-polls the queue, gathers up to BatchSize messages (waiting up to
MaximumBatchingWindowInSeconds for more once it has one), invokes the function synchronously
with them, and deletes the batch when the function succeeds. When the function fails or
times out nothing is deleted: the messages become visible again after the queue's visibility
timeout, and SQS moves one to the dead-letter queue once its receive count passes the
RedrivePolicy's maxReceiveCount (moto does that on the receive after, as SQS does). With
FunctionResponseTypes [ReportBatchItemFailures] only the messages the function reports stay
(emulator/sqs/lambda_event.py). A FIFO queue gives a message group's messages in order and
none of a group while some of it is in flight (moto keeps that); with one poller a mapping's
batches run one after another.

Traced as AWS traces it: an SQS-triggered invocation starts a trace of its own, recorded when
the function's Tracing is Active (there is no upstream header to pass through). The producer's
trace is in each record's AWSTraceHeader attribute; X-Ray links the two traces in AWS
("Tracing event-driven applications",
https://docs.aws.amazon.com/xray/latest/devguide/xray-tracelinking.html), which the local X-Ray
does not show.

Concurrency: Lambda starts five pollers per queue and scales them with the backlog. Locally
each mapping has one (POLLERS_PER_MAPPING): one batch of a mapping is invoked at a time, which
is enough for a developer's traffic and keeps two stacks' CPU use small.
"""

import threading
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator.app.model import SqsEventSpec
from emulator.lambda_.event_sources.context import EventSourceContext, Stopper
from emulator.lambda_.event_sources.record_filter import RecordFilter
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES
from emulator.lambda_.service import ServiceClosed
from emulator.sqs.lambda_event import messages_to_keep, sqs_event
from emulator.sqs.queues import sqs_client

POLLERS_PER_MAPPING = 1
# Each long poll waits this long for a first message. Lambda waits 20 s; shorter here so that
# stopping the stack never waits a long poll out.
LONG_POLL_SECONDS = 2
# ReceiveMessage's and DeleteMessageBatch's limit.
MESSAGES_PER_CALL = 10
# After a failed call to the queue (moto restarting), the poller tries again this much later.
RETRY_SECONDS = 1.0


def start_sqs_pollers(context: EventSourceContext) -> Stopper | None:
    if not context.app.sqs_events:
        return None
    stopping = threading.Event()
    threads: list[threading.Thread] = []
    for event in context.app.sqs_events:
        queue_name = event.queue_arn.rsplit(":", 1)[-1]
        where = f"{event.function} ← queue {queue_name}"
        if not event.enabled:
            context.log(f"{where}: Enabled is false, not polled")
            continue
        poller = QueuePoller(context, event, stopping)
        poller.ensure_queue()
        context.log(f"{where} ({poller.describe()})")
        for number in range(POLLERS_PER_MAPPING):
            thread = threading.Thread(
                target=poller.run, name=f"sqs-{event.function}-{event.event_id}-{number}", daemon=True
            )
            thread.start()
            threads.append(thread)

    def stop() -> None:
        stopping.set()
        for thread in threads:
            thread.join(timeout=LONG_POLL_SECONDS + 5)

    return stop


def split_by_payload(batch: list[dict[str, Any]], queue_arn: str, region: str) -> list[list[dict[str, Any]]]:
    """The batch in consecutive parts whose events fit MAX_PAYLOAD_BYTES (a message alone that
    does not fit is a part of its own: Lambda refuses it, and it goes the way of a failure)."""
    parts: list[list[dict[str, Any]]] = [[]]
    size = len(sqs_event([], queue_arn, region))
    for message in batch:
        record_size = len(sqs_event([message], queue_arn, region)) - len(sqs_event([], queue_arn, region)) + 2
        if parts[-1] and size + record_size > MAX_PAYLOAD_BYTES:
            parts.append([])
            size = len(sqs_event([], queue_arn, region))
        parts[-1].append(message)
        size += record_size
    return [part for part in parts if part]


class QueuePoller:
    """The polling of one mapping: receive a batch, invoke, delete what succeeded."""

    def __init__(self, context: EventSourceContext, event: SqsEventSpec, stopping: threading.Event) -> None:
        self.context = context
        self.event = event
        self.stopping = stopping
        self.queue_name = event.queue_arn.rsplit(":", 1)[-1]
        # moto goes by the URL's last segment; the account and region are the ARN's.
        parts = event.queue_arn.split(":")
        self.region = parts[3] if len(parts) > 5 and parts[3] else context.app.region
        account = parts[4] if len(parts) > 5 and parts[4] else context.app.account_id
        self.queue_url = f"{context.endpoint_url}/{account}/{self.queue_name}"
        # A long poll's answer comes after up to LONG_POLL_SECONDS; the read timeout is longer.
        self._sqs = sqs_client(context.endpoint_url, self.region, Config(read_timeout=LONG_POLL_SECONDS + 30))
        self._unreachable = False
        self._filter = RecordFilter(event.filter_patterns)

    def describe(self) -> str:
        parts = [f"batch {self.event.batch_size}"]
        if self.event.batching_window_s:
            parts.append(f"window {self.event.batching_window_s} s")
        if self.event.report_batch_item_failures:
            parts.append("ReportBatchItemFailures")
        if self.event.filter_patterns:
            parts.append(f"{len(self.event.filter_patterns)} filter(s)")
        return ", ".join(parts)

    def ensure_queue(self) -> None:
        """A mapping on a queue that is not the template's (an ARN given as a parameter) polls a
        queue made for it here, empty, so that messages sent to it locally are delivered."""
        template_arns = {queue.arn for queue in self.context.app.queues}
        if self.event.queue_arn in template_arns:
            return
        attributes = {"FifoQueue": "true"} if self.queue_name.endswith(".fifo") else {}
        try:
            self._sqs.create_queue(QueueName=self.queue_name, Attributes=attributes)
        except (BotoCoreError, ClientError) as error:
            raise OSError(f"queue {self.queue_name}: {' '.join(str(error).split())}") from None
        self.context.log(
            f"created queue {self.queue_name} for {self.event.function}.{self.event.event_id} "
            "(not a queue of the template: empty locally)"
        )

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = self.gather()
                if batch and not self.stopping.is_set():
                    self.deliver(batch)
                self._reachable()
            except (BotoCoreError, ClientError) as error:
                self._unreachable_for(error)
                self.stopping.wait(RETRY_SECONDS)
            except ServiceClosed:
                return

    def gather(self) -> list[dict[str, Any]]:
        """A first message by long polling, then more until BatchSize or the batching window."""
        batch = self._receive(min(MESSAGES_PER_CALL, self.event.batch_size), LONG_POLL_SECONDS)
        if not batch or self.event.batching_window_s <= 0:
            return batch
        deadline = time.monotonic() + self.event.batching_window_s
        while len(batch) < self.event.batch_size and not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wanted = min(MESSAGES_PER_CALL, self.event.batch_size - len(batch))
            batch += self._receive(wanted, min(int(left), 20))
            if left < 1:  # a short poll was all the window had left
                break
        return batch

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        answer = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages") or [])

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke the function with the batch, in as many invocations as Lambda's 6 MB payload
        limit needs ("the batch size reaches the 6 MB payload limit" ends a batch, with-sqs.html).
        Messages no filter matches are deleted without an invoke, as Lambda discards them."""
        if self._filter:
            discarded = [message for message in batch if not self._filter.matches_sqs_body(message["Body"])]
            if discarded:
                self._delete(discarded)
                self.context.log(
                    f"{self.event.function} ← queue {self.queue_name}: {len(discarded)} message(s) "
                    "matched no FilterCriteria pattern: deleted, not delivered"
                )
                batch = [message for message in batch if message not in discarded]
            if not batch:
                return
        for part in split_by_payload(batch, self.event.queue_arn, self.region):
            self._invoke(part)

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        event = self.event
        payload = sqs_event(batch, event.queue_arn, self.region)
        result = self.context.lambda_service.invoke(event.function, payload, None)
        ids = [message["MessageId"] for message in batch]
        where = f"{event.function} ← queue {self.queue_name}"
        if result.outcome != "success":
            self.context.log(
                f"{where}: a batch of {len(batch)} failed ({result.outcome}); its messages are "
                "received again after the visibility timeout"
            )
            return
        keep = messages_to_keep(result.payload, ids) if event.report_batch_item_failures else []
        if keep:
            what = "failed (no valid report: all stay)" if len(keep) == len(ids) else "reported as failed"
            self.context.log(
                f"{where}: {len(keep)} of {len(batch)} messages {what}; "
                "received again after the visibility timeout"
            )
        self._delete([message for message in batch if message["MessageId"] not in keep])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MESSAGES_PER_CALL):
            chunk = messages[start : start + MESSAGES_PER_CALL]
            entries = [
                {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                for number, message in enumerate(chunk)
            ]
            answer = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failed in answer.get("Failed") or []:
                self.context.log(
                    f"{self.event.function} ← queue {self.queue_name}: could not delete a message: "
                    f"{failed.get('Code')} {failed.get('Message', '')}".rstrip()
                )

    def _unreachable_for(self, error: Exception) -> None:
        if not self._unreachable:
            self._unreachable = True
            self.context.log(f"queue {self.queue_name}: {' '.join(str(error).split())}; trying again")

    def _reachable(self) -> None:
        if self._unreachable:
            self._unreachable = False
            self.context.log(f"queue {self.queue_name}: polled again")
