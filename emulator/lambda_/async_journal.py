"""The events in Lambda's asynchronous queue, on disk: an `Event` invoke is answered 202 only once
its event is durable, and the events still queued when the stack stops (or dies) run at its next
start, as Lambda's own queue keeps them.

The records use the local DynamoDB's journal format (emulator/dynamodb/journal.py: length, CRC,
payload; a torn last record was never acknowledged): a `queued` record with the event, its
request id, trace header and queue time, and a `done` record once the event succeeded, failed
for good or expired. Reading the files back gives the events queued and not done. Delivery is
at least once, as Lambda's is: an event whose `done` record did not reach the disk runs again.

The file is compacted when it grows: the pending events are written to a new file, which is
made durable before the old one is removed.
"""

import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from emulator.dynamodb.journal import Journal, fsync_directory, iter_payloads, journal_numbers, journal_path

# Records in the current file past which it is compacted (the pending events are usually few).
COMPACT_AFTER_RECORDS = 4096


@dataclass(frozen=True)
class QueuedEvent:
    request_id: str
    logical_id: str
    event: bytes
    trace_header: str
    queued_at: float

    def encode(self) -> bytes:
        return json.dumps(
            {
                "op": "queued",
                "id": self.request_id,
                "function": self.logical_id,
                "event": base64.b64encode(self.event).decode(),
                "trace": self.trace_header,
                "queued_at": self.queued_at,
            }
        ).encode()


class AsyncEventJournal:
    """`queued()` makes an event durable; `done()` records that it needs no more runs;
    `recovered` holds what an earlier run left queued."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._lock = threading.Lock()
        self._pending: dict[str, QueuedEvent] = self._read_pending()
        self.recovered = list(self._pending.values())
        numbers = journal_numbers(directory)
        self._journal = Journal(directory, (numbers[-1] + 1) if numbers else 1)
        self._rewrite_pending(numbers)

    def queued(self, event: QueuedEvent) -> None:
        """Return once the event is on disk."""
        with self._lock:
            self._pending[event.request_id] = event
            ticket = self._journal.append(event.encode())
        self._journal.wait_durable(ticket)

    def done(self, request_id: str) -> None:
        """Not waited for: if it is lost, the event runs once more (at least once)."""
        with self._lock:
            if self._pending.pop(request_id, None) is None:
                return
            self._journal.append(json.dumps({"op": "done", "id": request_id}).encode())
            if self._journal.records_in_file > COMPACT_AFTER_RECORDS:
                old = self._journal.number
                self._journal.rotate()
                self._rewrite_pending([old])

    def close(self) -> None:
        with self._lock:
            self._journal.close()

    def _rewrite_pending(self, old_numbers: list[int]) -> None:
        """Write the pending events into the current (new) file, make it durable, then remove
        the older files: at every moment one set of files on disk holds every pending event."""
        ticket = 0
        for event in self._pending.values():
            ticket = self._journal.append(event.encode())
        if ticket:
            self._journal.wait_durable(ticket)
        for number in old_numbers:
            journal_path(self._directory, number).unlink(missing_ok=True)
        fsync_directory(self._directory)

    def _read_pending(self) -> dict[str, QueuedEvent]:
        pending: dict[str, QueuedEvent] = {}
        for _, read in iter_payloads(self._directory, 0):
            for payload in read.records:
                record = json.loads(payload)
                if record["op"] == "queued":
                    pending[record["id"]] = QueuedEvent(
                        record["id"],
                        record["function"],
                        base64.b64decode(record["event"]),
                        record["trace"],
                        float(record["queued_at"]),
                    )
                else:
                    pending.pop(record["id"], None)
        return pending
