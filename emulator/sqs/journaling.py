"""SQS in the journaled moto (emulator/dynamodb/durable_app.py): what of a queue survives a crash.

SQS promises at-least-once delivery: a message whose SendMessage was answered is delivered
until someone deletes it, a crash or not. Receiving is not an acknowledgement, so the journal
keeps the queues (CreateQueue, SetQueueAttributes, PurgeQueue, DeleteQueue, tags), every
message sent, and every message deleted; it does not keep ReceiveMessage or
ChangeMessageVisibility. After a crash every message not deleted is visible again with its
receive count back at 0 (a redelivery, which SQS's contract allows), and one that a receive
had moved to the dead-letter queue is back in its own queue until it is moved again.

Two things a plain replay of the requests would get wrong, and how they are kept:

- moto gives a sent message a random MessageId, so the journal records the ids the sender was
  answered with and the replay renames the new messages to them (the id is what a later
  delete, and the consumer's own bookkeeping, refer to).
- A DeleteMessage names a receipt handle, which is random and handed out by a ReceiveMessage
  that is not replayed. So the journal records the MessageIds the handles stood for, looked up
  before moto applies the delete, and the replay removes those messages by id from whatever
  queue holds them (a message a receive had moved to the DLQ is back in its own queue).

Sends are applied and replayed with moto's SQS clock pinned to the instant of the original
request: SentTimestamp, DelaySeconds, retention and the FIFO deduplication window then mean
the same after a replay (a message accepted ten minutes after a duplicate of it is accepted
again, not deduplicated away).

ReceiveMessage with a wait is long-polled here rather than by moto: moto would hold the SQS lock
(under which every SQS request is applied, as for every journaled service) for the whole
wait. Each try is a short poll under the lock; between tries the poll waits for the next SQS
write or the moment the queue's next message in flight or delayed becomes visible, so an idle
long poll costs next to nothing and a message is answered within milliseconds.

This module runs in the moto child and reaches into moto's SQS models (moto 5.2: `Queue._messages`,
`Message.had_receipt_handle`); tests/sqs/test_durability.py pins what it relies on.
"""

import contextlib
import copyreg
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

TARGET_PREFIX = "AmazonSQS."
SIGNING_NAME = "sqs"
# Not journaled: reads, and what only changes when a message may be received again.
NOT_JOURNALED = frozenset(
    {
        "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "ListMessageMoveTasks",
        "ListQueueTags", "ListQueues", "ReceiveMessage", "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    }
)  # fmt: skip
SENDS = frozenset({"SendMessage", "SendMessageBatch"})
DELETES = frozenset({"DeleteMessage", "DeleteMessageBatch"})
# The longest a long poll sleeps between two tries when neither an SQS write nor the end of a
# message's visibility timeout or delay wakes it (a safety net: nothing else changes a queue).
LONG_POLL_RETRY_SECONDS = 1.0
# ReceiveMessage's WaitTimeSeconds range; outside it moto answers the error itself.
MAX_WAIT_SECONDS = 20

Status = str
Headers = list[tuple[str, str]]
Answer = tuple[Status, tuple[Headers, list[bytes]]]
Apply = Callable[[dict[str, Any]], Answer]


def operation_of(environ: dict[str, Any]) -> str:
    return str(environ.get("HTTP_X_AMZ_TARGET", ""))[len(TARGET_PREFIX) :]


def is_journaled(operation: str) -> bool:
    return operation not in NOT_JOURNALED


class SqsJournaling:
    """The SQS-specific steps of the journaled moto; one per moto process."""

    def __init__(self) -> None:
        # Notified after every SQS request applied under the lock: a long poll tries again.
        self._changed = threading.Condition()

    # -- serving -------------------------------------------------------------------------

    def prepare(self, environ: dict[str, Any], body: bytes) -> bytes:
        """The body moto applies and the journal keeps. A send made with an X-Amzn-Trace-Id
        header gets it as each message's AWSTraceHeader, as SQS does (the message system
        attribute wins when both are given): "Amazon SQS supports the following tracing
        header instrumentation: Default HTTP Header ... AWSTraceHeader System Attribute"
        (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html)."""
        header = environ.get("HTTP_X_AMZN_TRACE_ID")
        operation = operation_of(environ)
        if not header or operation not in SENDS:
            return body
        request = _json(body)
        if request is None:
            return body
        messages = request.get("Entries") if operation == "SendMessageBatch" else [request]
        if not isinstance(messages, list):
            return body
        for message in messages:
            if isinstance(message, dict):
                system = message.setdefault("MessageSystemAttributes", {})
                if isinstance(system, dict) and "AWSTraceHeader" not in system:
                    system["AWSTraceHeader"] = {"StringValue": str(header), "DataType": "String"}
        new_body = json.dumps(request).encode()
        _set_body(environ, new_body)
        return new_body

    def deleted_ids(self, environ: dict[str, Any], body: bytes) -> list[str]:
        """Before a delete is applied: the MessageIds its receipt handles stand for."""
        if operation_of(environ) not in DELETES:
            return []
        request = _json(body) or {}
        if "Entries" in request and isinstance(request["Entries"], list):
            handles = [entry.get("ReceiptHandle") for entry in request["Entries"] if isinstance(entry, dict)]
        else:
            handles = [request.get("ReceiptHandle")]
        queue = _queue(str(request.get("QueueUrl", "")))
        if queue is None:
            return []
        wanted = {str(handle) for handle in handles if handle}
        return [
            message.id
            for message in queue._messages
            if any(message.had_receipt_handle(handle) for handle in wanted)
        ]

    def after_apply(
        self, environ: dict[str, Any], body: bytes, answer: tuple[Headers, list[bytes]], deleted: list[str]
    ) -> tuple[dict[str, Any] | None, tuple[Headers, list[bytes]]]:
        """Once moto applied a write: what the replay needs beside the request (the ids a send
        was answered with, or the ids a delete removed), and the answer to give."""
        operation = operation_of(environ)
        headers, chunks = answer
        if operation == "SendMessageBatch":
            _keep_batch_system_attributes(body, chunks)
        if operation in SENDS:
            numbered = _number_fifo_messages(body, chunks)
            if numbered is not chunks:
                length = str(sum(len(chunk) for chunk in numbered))
                headers = [(name, length if name.lower() == "content-length" else v) for name, v in headers]
                chunks = numbered
        return self._journal_extra(environ, chunks, deleted), (headers, chunks)

    def _journal_extra(
        self, environ: dict[str, Any], answer_chunks: list[bytes], deleted: list[str]
    ) -> dict[str, Any] | None:
        operation = operation_of(environ)
        if operation in DELETES:
            return {"deleted": deleted}
        if operation not in SENDS:
            return None
        answer = _json(b"".join(answer_chunks)) or {}
        if operation == "SendMessage":
            return {"ids": {"": answer.get("MessageId")}}
        successful = answer.get("Successful") or []
        return {"ids": {entry.get("Id"): entry.get("MessageId") for entry in successful}}

    def applied(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def long_poll(self, apply_locked: Apply, environ: dict[str, Any], body: bytes) -> Answer:
        """ReceiveMessage: short polls under the lock until a message comes or the wait ends."""
        request = _json(body)
        if request is None:
            return apply_locked(environ)
        wait = request.get("WaitTimeSeconds")
        if wait is None:
            queue = _queue(str(request.get("QueueUrl", "")))
            wait = getattr(queue, "receive_message_wait_time_seconds", 0) if queue is not None else 0
        try:
            seconds = int(wait)
        except (TypeError, ValueError):
            return apply_locked(environ)
        if not 0 < seconds <= MAX_WAIT_SECONDS:
            return apply_locked(environ)
        request["WaitTimeSeconds"] = 0
        short_body = json.dumps(request).encode()
        deadline = time.monotonic() + seconds
        while True:
            _set_body(environ, short_body)
            status, (headers, chunks) = apply_locked(environ)
            left = deadline - time.monotonic()
            if not status.startswith("2") or left <= 0 or (_json(b"".join(chunks)) or {}).get("Messages"):
                return status, (headers, chunks)
            pause = min(left, LONG_POLL_RETRY_SECONDS)
            visible_in = _seconds_until_a_message_is_visible(_queue(str(request.get("QueueUrl", ""))))
            if visible_in is not None:
                pause = min(pause, visible_in)
            with self._changed:
                self._changed.wait(pause)

    # -- replay --------------------------------------------------------------------------

    def replay(self, apply: Apply, environ: dict[str, Any], body: bytes, extra: Any) -> Status:
        """Apply one journaled SQS write again (the caller pins the clock to its instant)."""
        operation = operation_of(environ)
        if not isinstance(extra, dict):
            extra = None
        if operation in DELETES:
            _remove_messages(set((extra or {}).get("deleted") or []))
            return "200 OK"
        status, (_, chunks) = apply(environ)
        if operation == "SendMessageBatch" and status.startswith("2"):
            _keep_batch_system_attributes(body, chunks)
        if operation in SENDS and status.startswith("2"):
            _number_fifo_messages(body, chunks)
        if operation in SENDS and extra and status.startswith("2"):
            self._rename(environ, body, chunks, extra.get("ids") or {})
        return status

    def _rename(
        self, environ: dict[str, Any], body: bytes, chunks: list[bytes], journaled: dict[str, str]
    ) -> None:
        replayed = self._journal_extra(environ, chunks, []) or {}
        renames = {
            new: journaled[entry]
            for entry, new in (replayed.get("ids") or {}).items()
            if entry in journaled and new and journaled[entry]
        }
        request = _json(body) or {}
        queue = _queue(str(request.get("QueueUrl", "")))
        if queue is None or not renames:
            return
        for message in queue._messages:
            if message.id in renames:
                message.id = renames[message.id]


@contextlib.contextmanager
def pinned_clock(at_ms: int) -> Iterator[None]:
    """moto's SQS reads the time through its module's unix_time and unix_time_millis; pinned
    while a send is applied (the caller holds the SQS lock) or replayed."""
    from moto.sqs import models

    real = (models.unix_time, models.unix_time_millis)
    models.unix_time = lambda dt=None: at_ms / 1000.0
    models.unix_time_millis = lambda dt=None: float(at_ms)
    try:
        yield
    finally:
        models.unix_time, models.unix_time_millis = real


def _seconds_until_a_message_is_visible(queue: Any) -> float | None:
    """How long until a message of the queue now in flight or delayed can be received (a
    little after: moto counts it visible once its time has passed), or None if none is."""
    if queue is None:
        return None
    now_ms = time.time() * 1000
    times = [
        moment
        for message in list(queue._messages)
        for moment in (message.visible_at, message.delayed_until)
        if moment > now_ms
    ]
    return (min(times) - now_ms) / 1000 + 0.005 if times else None


def _keep_batch_system_attributes(body: bytes, answer_chunks: list[bytes]) -> None:
    """moto 5.2 drops a SendMessageBatch entry's MessageSystemAttributes (SendMessage keeps
    them): they are set on the messages it made, found by the ids it answered with."""
    request = _json(body) or {}
    entries = {
        entry.get("Id"): entry.get("MessageSystemAttributes")
        for entry in request.get("Entries") or []
        if isinstance(entry, dict) and entry.get("MessageSystemAttributes")
    }
    if not entries:
        return
    answer = _json(b"".join(answer_chunks)) or {}
    successful = answer.get("Successful") or []
    by_message = {entry.get("MessageId"): entries.get(entry.get("Id")) for entry in successful}
    queue = _queue(str(request.get("QueueUrl", "")))
    if queue is None:
        return
    for message in queue._messages:
        attributes = by_message.get(message.id)
        if attributes and not message.system_attributes:
            message.system_attributes = attributes


def _number_fifo_messages(body: bytes, answer_chunks: list[bytes]) -> list[bytes]:
    """moto 5.2 gives a FIFO message a random SequenceNumber, and none at all under
    content-based deduplication. SQS gives every one a number that grows ("SequenceNumber
    continues to increase for a particular MessageGroupId", SendMessage's API reference): here
    the send's (pinned) millisecond times 10^7, above the queue's last one, so a replay numbers
    the same messages the same. Returns the answer with those numbers."""
    request = _json(body) or {}
    queue = _queue(str(request.get("QueueUrl", "")))
    answer = _json(b"".join(answer_chunks))
    if queue is None or not getattr(queue, "fifo_queue", False) or answer is None:
        return answer_chunks
    answered = answer.get("Successful") if "Successful" in answer else [answer]
    by_id = {message.id: message for message in queue._messages}
    for entry in answered or []:
        message = by_id.get(entry.get("MessageId"))
        if message is None:  # deduplicated: moto answered with an id it did not keep
            continue
        last = int(getattr(queue, "local_last_sequence_number", 0))
        number = max(last + 1, int(message.sent_timestamp) * 10**7)
        queue.local_last_sequence_number = number
        message.sequence_number = f"{number:020d}"
        entry["SequenceNumber"] = message.sequence_number
    return [json.dumps(answer).encode()]


def _set_body(environ: dict[str, Any], body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _backends() -> Iterator[Any]:
    from moto.sqs.models import sqs_backends

    for regions in list(sqs_backends.values()):
        yield from list(regions.values())


def _queue(queue_url: str) -> Any:
    """moto's queue for a QueueUrl (moto itself goes by the URL's last segment), or None."""
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    for backend in _backends():
        queue = backend.queues.get(name)
        if queue is not None:
            return queue
    return None


def _remove_messages(ids: set[str]) -> None:
    if not ids:
        return
    for backend in _backends():
        for queue in backend.queues.values():
            gone = [message for message in queue._messages if message.id in ids]
            for message in gone:
                queue.pending_messages.discard(message)
            if gone:
                queue._messages = [message for message in queue._messages if message.id not in ids]


# -- checkpoints (emulator/dynamodb/checkpoint.py) -----------------------------------------


def capture_queues() -> dict[tuple[str, str], Any]:
    """moto's SQS backends by account and region, to pickle whole with the tables. A queue
    holds a threading.Condition (moto wakes its own long polls with it), which pickle refuses:
    it is pickled as a new, unheld one."""
    from moto.sqs.models import sqs_backends

    copyreg.pickle(threading.Condition, _new_condition)
    return {
        (account, region): backend
        for account, regions in sqs_backends.items()
        for region, backend in regions.items()
    }


def restore_queues(backends: dict[tuple[str, str], Any]) -> None:
    from moto.sqs.models import sqs_backends

    for (account, region), backend in backends.items():
        sqs_backends[account][region] = backend


def _new_condition(condition: threading.Condition) -> tuple[type[threading.Condition], tuple[()]]:
    return threading.Condition, ()
