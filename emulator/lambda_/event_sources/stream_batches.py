"""One batch of a shard's records delivered to the function as Lambda's DynamoDB event source
mapping delivers it: retried (the shard waits) until it succeeds, its retries run out, or its
records are too old.

From the Lambda developer guide (services-ddb-params, services-dynamodb-errors,
services-ddb-batchfailurereporting) and the EventSourceMapping API reference:

- a function error or a timeout fails the whole batch; Lambda retries it, and nothing after it
  in the shard is read meanwhile; an invoke Lambda refused (throttled) is tried again without
  counting as a retry, until the records are too old;
- MaximumRetryAttempts (-1, the default: until the records expire) and MaximumRecordAgeInSeconds
  (-1: no limit but the stream's 24-hour retention) decide when records are given up; given-up
  records are skipped, and a DestinationConfig OnFailure would get their description (not
  emulated: the template reader names it as ignored);
- BisectBatchOnFunctionError splits a failed batch in two and retries each half on its own, and a
  split does not count as a retry;
- with FunctionResponseTypes [ReportBatchItemFailures], a response {"batchItemFailures":
  [{"itemIdentifier": "<SequenceNumber>"}]} checkpoints before the lowest sequence number named
  and retries from it (with bisection on, only those remaining records). An empty or null list,
  an empty or null response are complete successes; an empty or null itemIdentifier, or an
  entry without that key, is a complete failure. A sequence number that is not in the batch is
  taken as a complete failure too, so that no record is skipped on a typo.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.app.model import StreamEventSpec
from emulator.lambda_.event_sources.stream_records import created_at, event_json, sequence_number
from emulator.lambda_.service import InvokeResult

# DynamoDB Streams keeps a record for 24 hours; with MaximumRecordAgeInSeconds -1 that is when
# Lambda stops retrying it ("retried until the record expires").
STREAM_RETENTION_SECONDS = 24 * 60 * 60
# Between two tries of a failed batch: doubling from the first, up to the last.
FIRST_RETRY_DELAY_SECONDS = 0.5
MAX_RETRY_DELAY = 10.0  # seconds

Invoke = Callable[[bytes], InvokeResult]
Record = dict[str, Any]


@dataclass
class _Pending:
    records: list[Record]
    failed_attempts: int = 0  # tries of these records that failed, splits not counted


class BatchDelivery:
    """Delivers the batches of one event source mapping. `deliver` returns once every record of
    the batch is either delivered or dropped (True), or when the mapping is stopping (False: the
    records are left where they are)."""

    def __init__(
        self,
        spec: StreamEventSpec,
        invoke: Invoke,
        log: Callable[[str], None],
        stopping: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.where = f"{spec.function}.Events.{spec.event_id}"
        self._invoke = invoke
        self._log = log
        self._stopping = stopping
        self._clock = clock

    def deliver(self, records: list[Record]) -> bool:
        work: deque[_Pending] = deque([_Pending(list(records))])
        while work:
            pending = work[0]
            pending.records = self._without_expired(pending)
            if not pending.records:
                work.popleft()
                continue
            if self._stopping.is_set():
                return False
            result = self._invoke(event_json(pending.records))
            if result.status_code != 200:
                # Lambda did not run the function (throttled): tried again until the records are
                # too old, not counted as a retry (services-dynamodb-errors).
                self._log(f"{self.where}: the invoke was refused ({_why(result)}); trying again")
                if self._stopping.wait(FIRST_RETRY_DELAY_SECONDS):
                    return False
                continue
            failed_from = self._first_failed(pending.records, result)
            if failed_from is None:
                work.popleft()
                continue
            partial = failed_from > 0 or result.outcome == "success"
            pending.records = pending.records[failed_from:]
            if self.spec.bisect_on_error and not partial and len(pending.records) > 1:
                self._log(
                    f"{self.where}: the function failed on {_count(pending.records)} from "
                    f"{sequence_number(pending.records[0])} ({_why(result)}); split in two "
                    "(BisectBatchOnFunctionError)"
                )
                work.popleft()
                half = len(pending.records) // 2
                work.extendleft(
                    [
                        _Pending(pending.records[half:], pending.failed_attempts),
                        _Pending(pending.records[:half], pending.failed_attempts),
                    ]
                )
                continue
            pending.failed_attempts += 1
            limit = self.spec.maximum_retry_attempts
            if limit != -1 and pending.failed_attempts > limit:
                self._drop(
                    pending.records,
                    f"given up after {pending.failed_attempts} failed attempts ({_why(result)})",
                )
                work.popleft()
                continue
            delay = min(FIRST_RETRY_DELAY_SECONDS * 2 ** (pending.failed_attempts - 1), MAX_RETRY_DELAY)
            self._log(
                f"{self.where}: the function failed on {_count(pending.records)} from "
                f"{sequence_number(pending.records[0])} ({_why(result)}); "
                f"try {pending.failed_attempts + 1} in {delay:g} s"
            )
            if self._stopping.wait(delay):
                return False
        return True

    # -- a result read as Lambda reads it --------------------------------------------------

    def _first_failed(self, records: list[Record], result: InvokeResult) -> int | None:
        """None: the batch succeeded; else the index of the first record to retry from."""
        if result.outcome != "success":
            return 0
        if not self.spec.report_batch_item_failures:
            return None
        try:
            response = json.loads(result.payload or b"null")
        except ValueError:
            return 0
        if not response:
            return None  # a null or empty response
        if not isinstance(response, dict):
            return 0
        failures = response.get("batchItemFailures")
        if not failures:
            return None  # a null or empty list
        if not isinstance(failures, list):
            return 0
        positions = {sequence_number(record): index for index, record in enumerate(records)}
        failed: list[int] = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in positions:
                return 0
            failed.append(positions[identifier])
        return min(failed)

    # -- records given up ---------------------------------------------------------------------

    def _without_expired(self, pending: _Pending) -> list[Record]:
        age_limit = self.spec.maximum_record_age_s
        limit = STREAM_RETENTION_SECONDS if age_limit == -1 else age_limit
        now = self._clock()
        kept: list[Record] = []
        expired: list[Record] = []
        for record in pending.records:
            written = created_at(record)
            (expired if written is not None and now - written > limit else kept).append(record)
        if expired:
            limit_name = f"MaximumRecordAgeInSeconds ({limit} s)"
            self._drop(expired, f"older than {'the 24-hour retention' if age_limit == -1 else limit_name}")
        return kept

    def _drop(self, records: list[Record], why: str) -> None:
        """One line for every group of records given up, as the only trace they leave."""
        first, last = sequence_number(records[0]), sequence_number(records[-1])
        span = first if first == last else f"{first} to {last}"
        self._log(
            f"{self.where}: dropped {_count(records)} (sequence numbers {span}), {why}; "
            "the function will not see them again"
        )


def _count(records: list[Record]) -> str:
    return "1 record" if len(records) == 1 else f"{len(records)} records"


def _why(result: InvokeResult) -> str:
    if result.status_code != 200:
        return f"status {result.status_code}"
    if result.outcome == "success":
        return "batchItemFailures"
    if result.error is not None and result.error.error_type:
        return f"{result.outcome}: {result.error.error_type}"
    return result.outcome
