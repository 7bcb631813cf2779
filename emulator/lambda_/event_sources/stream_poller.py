"""DynamoDB event source mappings: a thread per DynamoDB event polls the table's stream in moto
and invokes the function synchronously with each batch, {"Records": [...]}, as Lambda does.

Per shard, in order: the next batch is read only once the one before it is delivered or given
up (stream_batches.py). A batch is up to BatchSize records, also cut to Lambda's 6 MB payload
limit; with MaximumBatchingWindowInSeconds, records wait until the batch is full or the window
since the first of them has passed. An event with Enabled: false is not polled.

Traced as AWS traces a stream-triggered function: DynamoDB Streams carries no trace header (the
X-Ray guide's Lambda page: a function "invoked by a service that is not instrumented" is
recorded with active tracing; trace linking exists for SQS only, xray-tracelinking), so each batch
is a new trace, started by Lambda's AWS::Lambda segment, recorded when the function's Tracing is
Active and not at all with PassThrough, as a direct invoke without a header.

With a data directory, each shard's place (its last record delivered or dropped) is kept
there after every batch, and the next start goes on after it, as a mapping in AWS keeps its
place: the tables come back from the journal, and TRIM_HORIZON would otherwise hand the function
every change ever made on every start (stream_positions.py).

A poller thread never ends on an error: a failed read (moto restarting, an iterator it no longer
knows) is logged once, retried with a growing pause, and the stream read again from the last
record read (stream_reader.py); the line after it says when reading works again.
"""

import threading
import time
from typing import Any

from botocore.config import Config

from emulator.app.model import StreamEventSpec
from emulator.lambda_.event_sources.context import EventSourceContext, Stopper
from emulator.lambda_.event_sources.record_filter import RecordFilter
from emulator.lambda_.event_sources.stream_batches import BatchDelivery
from emulator.lambda_.event_sources.stream_positions import StreamPositions
from emulator.lambda_.event_sources.stream_reader import Shard, StreamReader, fingerprint
from emulator.lambda_.event_sources.stream_records import event_json, sequence_number
from emulator.lambda_.runtime_api import MAX_PAYLOAD_BYTES
from emulator.lambda_.service import InvokeResult, LambdaService, ServiceClosed
from emulator.local_credentials import FAKE_CREDENTIALS, local_session

# Lambda polls each shard of a DynamoDB stream four times a second (with-ddb, "Polling and
# batching streams").
POLL_INTERVAL_SECONDS = 0.25
# After a failed read: the first pause, doubled each time up to the last.
FIRST_ERROR_PAUSE_SECONDS = 0.5
MAX_ERROR_PAUSE_SECONDS = 10.0
# A read that keeps failing is said again every this many tries (about 5 minutes at the longest
# pause), so that a poller that cannot read is never silent for long.
STILL_FAILING_EVERY = 30
# A stopping poller waits this long beyond the function's timeout for a batch being delivered.
STOP_GRACE_SECONDS = 5.0
# {"Records":[...]}: the bytes around the records, and between two of them.
_EVENT_OVERHEAD_BYTES = len(event_json([]))


def start_stream_pollers(context: EventSourceContext) -> Stopper | None:
    """A poller per enabled DynamoDB event, each already at its StartingPosition when this
    returns (a record written after the stack is up is never missed with LATEST). A table
    without a stream is a TemplateError naming the event and the table."""
    for spec in context.app.stream_events:
        if not spec.enabled:
            context.log(f"{spec.function} ← stream of table {spec.table_name}: Enabled is false, not polled")
    specs = [spec for spec in context.app.stream_events if spec.enabled]
    if not specs:
        return None
    positions = StreamPositions(context.data_dir)
    pollers = [StreamPoller(spec, context, positions) for spec in specs]
    started: list[StreamPoller] = []
    try:
        for poller in pollers:
            poller.start()
            started.append(poller)
            context.log(poller.describe())
    except BaseException:
        for poller in started:
            poller.stop()
        raise

    def stop() -> None:
        for poller in pollers:
            poller.stopping.set()
        for poller in started:
            poller.stop()

    return stop


def stream_clients(endpoint_url: str, region: str) -> tuple[Any, Any]:
    """DynamoDB and DynamoDB Streams clients for moto, one try a call: the poller has its own
    retries, and a read against a restarting moto should fail fast, not after botocore's four."""
    session = local_session()
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=30)
    options: dict[str, Any] = {"endpoint_url": endpoint_url, "region_name": region, "config": config}
    return (
        session.client("dynamodb", **options, **FAKE_CREDENTIALS),
        session.client("dynamodbstreams", **options, **FAKE_CREDENTIALS),
    )


class StreamPoller:
    def __init__(
        self, spec: StreamEventSpec, context: EventSourceContext, positions: StreamPositions
    ) -> None:
        self.spec = spec
        self._positions = positions
        self._resumed = 0
        self.where = f"{spec.function}.Events.{spec.event_id}"
        self.stopping = threading.Event()
        self._log = context.log
        self._service: LambdaService = context.lambda_service
        dynamodb, streams = stream_clients(context.endpoint_url, context.app.region)
        self.reader = StreamReader(spec, dynamodb, streams, context.app.region, context.log)
        self.delivery = BatchDelivery(spec, self._invoke, context.log, self.stopping)
        self._filter = RecordFilter(spec.filter_patterns)
        self._thread = threading.Thread(target=self._run, name=f"stream-poller-{self.where}", daemon=True)

    def start(self) -> None:
        # Raises (TemplateError) when the table has no stream, before any thread starts.
        self.reader.refresh()
        self._resumed = self.reader.resume(self._positions.shards(self.where, self.spec.table_name))
        for shard in self.reader.readable_shards():
            # Fix the starting position now: LATEST means "from when the mapping was made".
            shard.iterator = self.reader.start_iterator(shard)
        self._thread.start()

    def describe(self) -> str:
        """The start-up line: what is read, from where, in what batches."""
        spec = self.spec
        window = f", or what {spec.batching_window_s} s gathers" if spec.batching_window_s else ""
        if spec.filter_patterns:
            window += f"; {len(spec.filter_patterns)} filter(s)"
        start = "after the records delivered last time" if self._resumed else f"from {spec.starting_position}"
        label = self.reader.stream_arn.rsplit("/", 1)[-1]
        return (
            f"{spec.function} ← stream of table {spec.table_name} ({label}): "
            f"{start}, batches of up to {spec.batch_size}{window}"
        )

    def stop(self) -> None:
        self.stopping.set()
        timeout = self._service.functions[self.spec.function].timeout + STOP_GRACE_SECONDS
        self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self.reader.refresh()
                busy = self._poll_once()
            except ServiceClosed:
                return
            except Exception as error:  # the thread outlives any failed read, logged
                failures += 1
                if failures == 1:
                    self._log(f"{self.where}: reading the stream failed ({_describe(error)}); retrying")
                elif failures % STILL_FAILING_EVERY == 0:
                    self._log(
                        f"{self.where}: reading the stream still fails after {failures} tries "
                        f"({_describe(error)})"
                    )
                self.reader.lose_iterators()
                pause = min(FIRST_ERROR_PAUSE_SECONDS * 2 ** (failures - 1), MAX_ERROR_PAUSE_SECONDS)
                self.stopping.wait(pause)
                continue
            if failures:
                self._log(f"{self.where}: reading the stream again after {failures} failed tries")
                failures = 0
            if not busy:
                self.stopping.wait(POLL_INTERVAL_SECONDS)

    def _poll_once(self) -> bool:
        """Read each shard once, and deliver what is due. True when a batch was delivered."""
        delivered = False
        for shard in self.reader.readable_shards():
            self._fill(shard)
            batch = self._due_batch(shard)
            if not batch:
                continue
            if not self.delivery.deliver(batch):
                return True  # stopping
            last = batch[-1]
            self._positions.keep(
                self.where, self.spec.table_name, shard.shard_id, sequence_number(last), fingerprint(last)
            )
            del shard.pending[: len(batch)]
            shard.pending_since = time.monotonic() if shard.pending else None
            delivered = True
        return delivered

    def _fill(self, shard: Shard) -> None:
        """Read until the shard has a batch's worth pending or nothing more to give. Records no
        FilterCriteria pattern matches are skipped, as Lambda discards them."""
        while len(shard.pending) < self.spec.batch_size and not shard.exhausted:
            records = self.reader.read(shard, self.spec.batch_size - len(shard.pending))
            if not records:
                return
            if self._filter:
                records = [record for record in records if self._filter.matches(record)]
                if not records:
                    continue
            if not shard.pending:
                shard.pending_since = time.monotonic()
            shard.pending.extend(records)

    def _due_batch(self, shard: Shard) -> list[dict[str, Any]]:
        """The records to deliver now: none while a batching window is still open."""
        if not shard.pending:
            return []
        full = len(shard.pending) >= self.spec.batch_size
        window = self.spec.batching_window_s
        waited = time.monotonic() - (shard.pending_since or 0.0)
        if not full and window > 0 and waited < window and not shard.exhausted:
            return []
        return _within_payload_limit(shard.pending[: self.spec.batch_size])

    def _invoke(self, event: bytes) -> InvokeResult:
        # No trace header: a new trace per batch (see the module's docstring).
        return self._service.invoke(self.spec.function, event, None)


def _within_payload_limit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The longest head of `records` whose event fits in Lambda's 6 MB invoke payload (a
    record is at most two 400 KB images, so at least one always fits)."""
    size = _EVENT_OVERHEAD_BYTES
    for count, record in enumerate(records):
        size += len(event_json([record])) - _EVENT_OVERHEAD_BYTES + 2
        if size > MAX_PAYLOAD_BYTES and count > 0:
            return records[:count]
    return records


def _describe(error: Exception) -> str:
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
